import TaktCore
import TaktStore

extension CapacityPlanInput {
    /// Reads what ``CapacityPlanner/plan(_:)`` needs from `store`, as `takt plan` does: the
    /// sums of each line's output-station `1h` rows that start in `[asOf − lookback, asOf)`,
    /// and each line's energy in `year` up to `asOf`: its `1d` rows that end by then, plus its
    /// `1h` rows after the last of them (with `asOf` at the newest data, that is all of the
    /// year's `1d` energy, as `takt plan` counts it).
    ///
    /// - Parameters:
    ///   - asOfMs: end of the lookback (the end of the newest `1h` window to count); `nil`: no data.
    ///   - year: the year-to-date year; `nil` is the year (site time zone) of `asOfMs − 1`.
    public static func load(store: any RollupStore, plant: Plant, targetGWh: Double, asOfMs: Int64?, year: Int?,
                            lookback: String, lookbackMs: Int64, whatIf: CapacityPlan.WhatIf = .init()) async throws -> CapacityPlanInput {
        let year = year ?? CapacityPlanner.year(containing: (asOfMs ?? 1) - 1, timeZone: plant.timeZone)
        let bounds = CapacityPlanner.yearBounds(year, timeZone: plant.timeZone)
        var sums: [String: LineSums] = [:]
        var ytd: [String: Double] = [:]
        for line in plant.lines {
            if let asOfMs {
                var s = LineSums()
                for row in try await store.rows(site: plant.site, line: line.id, station: nil, tier: .hour,
                                          from: asOfMs - lookbackMs, to: asOfMs) {
                    s.add(row)
                }
                sums[line.id] = s
            }
            // Whole days of the year that end by asOf, then the hours from there to asOf (a
            // report whose range ends in the past must not count energy after it).
            let upTo = min(bounds.end, asOfMs ?? bounds.end)
            let days = try await store.rows(site: plant.site, line: line.id, station: nil, tier: .day, from: bounds.start, to: upTo)
                .filter { $0.end <= upTo }
            let hoursFrom = days.last?.end ?? bounds.start
            let hours = try await store.rows(site: plant.site, line: line.id, station: nil, tier: .hour, from: hoursFrom, to: upTo)
            ytd[line.id] = days.reduce(0) { $0 + $1.energyKwh } + hours.reduce(0) { $0 + $1.energyKwh }
        }
        return CapacityPlanInput(plant: plant, targetGWh: targetGWh, year: year, lookback: lookback, asOfMs: asOfMs,
                                 lookbackSums: sums, ytdKWh: ytd, whatIf: whatIf)
    }
}
