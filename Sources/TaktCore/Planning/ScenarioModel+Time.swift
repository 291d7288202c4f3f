import Foundation

extension CivilDay {
    /// The local date, in `timeZone`, of the instant `ms` (epoch ms).
    public init(containing ms: Int64, timeZone: TimeZone) {
        let seconds = Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(ms) / 1000)))
        let local = ms + seconds * 1000
        self.init(Int((local - (local % 86_400_000 + 86_400_000) % 86_400_000) / 86_400_000))
    }

    /// The first instant of this local date in `timeZone`, epoch ms.
    public func startMs(timeZone: TimeZone) -> Int64 {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let c = components
        let date = calendar.date(from: DateComponents(year: c.year, month: c.month, day: c.day)) ?? Date(timeIntervalSince1970: 0)
        return Int64((calendar.startOfDay(for: date).timeIntervalSince1970 * 1000).rounded())
    }
}

extension ScenarioModel {
    /// The plan's energy between two instants (epoch ms), kWh: each local day's plan, pro rata
    /// for the part of the day inside `[fromMs, toMs)`.
    public func planKWh(fromMs: Int64, toMs: Int64, timeZone: TimeZone, scenario: Scenario) -> Double {
        guard toMs > fromMs else { return 0 }
        var total = 0.0
        var day = CivilDay(containing: fromMs, timeZone: timeZone)
        var dayStart = day.startMs(timeZone: timeZone)
        var t = fromMs
        while t < toMs {
            let next = day + 1
            let nextStart = next.startMs(timeZone: timeZone)
            let end = min(nextStart, toMs)
            total += planKWh(on: day, scenario: scenario) * Double(end - t) / Double(max(1, nextStart - dayStart))
            t = end
            day = next
            dayStart = nextStart
        }
        return total
    }
}
