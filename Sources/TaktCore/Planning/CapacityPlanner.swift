import Foundation

/// Everything ``CapacityPlanner/plan(_:)`` needs; the caller reads the store and the plant file.
public struct CapacityPlanInput: Sendable {
    public var plant: Plant
    /// The target, GWh in ``year`` (≥ 0).
    public var targetGWh: Double
    public var year: Int
    /// The `--lookback` flag as given; only echoed.
    public var lookback: String
    /// End of the site's newest data (end of its newest `1h` window), epoch ms; `nil`: no data.
    public var asOfMs: Int64?
    /// Sums of each line's output-station `1h` rows that start in the lookback, by line id; a
    /// line that is absent had no rows.
    public var lookbackSums: [String: LineSums]
    /// Each line's energy in ``year`` so far (its `1d` rows), kWh, by line id.
    public var ytdKWh: [String: Double]
    public var whatIf: CapacityPlan.WhatIf

    public init(plant: Plant, targetGWh: Double, year: Int, lookback: String, asOfMs: Int64?,
                lookbackSums: [String: LineSums], ytdKWh: [String: Double], whatIf: CapacityPlan.WhatIf = .init()) {
        self.plant = plant
        self.targetGWh = targetGWh
        self.year = year
        self.lookback = lookback
        self.asOfMs = asOfMs
        self.lookbackSums = lookbackSums
        self.ytdKWh = ytdKWh
        self.whatIf = whatIf
    }
}

/// The capacity maths of contract section 6 (and `docs/planning.md`). Pure: no I/O, no clock.
public enum CapacityPlanner {
    /// Computes the plan. See `docs/planning.md` for every formula and every `nil`.
    public static func plan(_ input: CapacityPlanInput) -> CapacityPlan {
        let plant = input.plant
        let hours = plant.plannedHoursPerYear
        let whatIf = input.whatIf

        var lines: [CapacityPlan.LinePlan] = []
        lines.reserveCapacity(plant.lines.count)
        for line in plant.lines {
            let s = input.lookbackSums[line.id] ?? LineSums()
            let nameplate = 3600 / (whatIf.cycleS ?? line.idealCycleS) * line.unitKWh * hours / 1e6
            let units = s.good + s.scrap
            let a: Double? = s.plannedS > 0 ? s.runS / s.plannedS : nil
            let p: Double? = s.runS > 0 ? min(1, line.idealCycleS * Double(units) / s.runS) : nil
            let q: Double? = units > 0 ? Double(s.good) / Double(units) : nil
            let oee = KPI.oee(a, p, q)
            let measured: Double? = s.plannedS > 0 ? s.energyKwh / (s.plannedS / 3600) * hours / 1e6 : nil
            let projected: Double?
            if let assumed = whatIf.oee {
                projected = nameplate * assumed
            } else if whatIf.cycleS != nil {
                projected = oee.map { nameplate * $0 }
            } else {
                projected = measured
            }
            lines.append(CapacityPlan.LinePlan(
                line: line.id, nameplateGWhPerYear: nameplate, oee: oee, availability: a, performance: p, quality: q,
                projectedGWhPerYear: projected, ytdGWh: (input.ytdKWh[line.id] ?? 0) / 1e6,
                kwhPerUnit: s.good > 0 ? s.energyKwh / Double(s.good) : line.unitKWh,
                kwhPerUnitMeasured: s.good > 0))
        }

        // Site totals; what-if lines are copies of the average line.
        let target = input.targetGWh
        let nameplateSum = lines.reduce(0) { $0 + $1.nameplateGWhPerYear }
        let projections = lines.compactMap(\.projectedGWhPerYear)
        let projectedSum = projections.reduce(0, +)
        let averageNameplate = lines.isEmpty ? 0 : nameplateSum / Double(lines.count)
        let averageProjected: Double? = projections.isEmpty ? nil : projectedSum / Double(projections.count)
        let added = Double(whatIf.addLines)
        let nameplateTotal = nameplateSum + added * averageNameplate
        let projectedTotal = averageProjected.map { projectedSum + added * $0 }
        let linesNeeded: Int? = averageProjected.flatMap { average in
            target <= 0 ? 0 : (average > 0 ? ceilTolerant(target / average) : nil)
        }
        let ytdKWh = plant.lines.reduce(0.0) { $0 + (input.ytdKWh[$1.id] ?? 0) }

        let pace = yearToDatePace(ytdKWh: ytdKWh, targetGWh: target, year: input.year,
                                  asOfMs: input.asOfMs, timeZone: plant.timeZone)
        // The date comes from the lookback's pace (the measured projections, what-ifs aside).
        let measured = lines.compactMap { l in input.lookbackSums[l.line].flatMap { s in
            s.plannedS > 0 ? s.energyKwh / (s.plannedS / 3600) * hours / 1e6 : nil
        } }
        let targetDate = lookbackPaceDate(ytdKWh: ytdKWh, targetGWh: target, year: input.year, asOfMs: input.asOfMs,
                                          timeZone: plant.timeZone, gwhPerYear: measured.isEmpty ? nil : measured.reduce(0, +))
        return CapacityPlan(
            site: plant.site, year: input.year, targetGWh: target, lookback: input.lookback, asOfMs: input.asOfMs,
            lines: lines,
            siteTotal: CapacityPlan.SiteTotal(
                nameplateGWhPerYear: nameplateTotal, projectedGWhPerYear: projectedTotal, ytdGWh: ytdKWh / 1e6,
                gapGWh: projectedTotal.map { max(0, target - $0) }, linesNeeded: linesNeeded,
                oeeNeeded: nameplateTotal > 0 ? target / nameplateTotal : nil,
                lineCount: lines.count + whatIf.addLines, ytdPaceGWhPerYear: pace.gwhPerYear),
            targetDate: targetDate, whatIf: whatIf)
    }

    /// The local date on which the year's energy reaches the target when the rest of the year
    /// runs at the lookback's pace (`gwhPerYear`, the site's measured projection, spread over
    /// 365 days); `nil` after the year's end, without data or without a pace.
    ///
    /// A target the year to date already holds was reached in the past: its date is the
    /// year-to-date pace's (``yearToDatePace(ytdKWh:targetGWh:year:asOfMs:timeZone:)``). A
    /// future year runs at the lookback's pace from its 1 January.
    static func lookbackPaceDate(ytdKWh: Double, targetGWh: Double, year: Int, asOfMs: Int64?, timeZone: TimeZone,
                                 gwhPerYear: Double?) -> String? {
        guard asOfMs != nil else { return nil }
        if ytdKWh > 0, targetGWh * 1e6 <= ytdKWh {
            return yearToDatePace(ytdKWh: ytdKWh, targetGWh: targetGWh, year: year, asOfMs: asOfMs, timeZone: timeZone).targetDate
        }
        guard let asOfMs, let gwhPerYear, gwhPerYear > 0 else { return nil }
        let bounds = yearBounds(year, timeZone: timeZone)
        let from = min(max(asOfMs, bounds.start), bounds.end)
        // (target − ytd) kWh at gwhPerYear × 1e6 kWh per 365 days (multiplied first, so
        // hand-worked whole days stay whole).
        let offset = (targetGWh * 1e6 - ytdKWh) * 31_536_000_000 / (gwhPerYear * 1e6)
        guard Double(from - bounds.start) + offset <= Double(bounds.lengthMs) else { return nil }
        let reach = from + max(0, Int64(offset.rounded(.up)) - 1)
        return localDate(reach, timeZone: timeZone)
    }

    /// The year-to-date pace (kWh per elapsed millisecond of the year) extrapolated: the whole
    /// year's GWh at that pace, and the local date on which the cumulative energy reaches the
    /// target (`nil` after the year's end, or without energy or elapsed time).
    ///
    /// Elapsed time runs from the year's first local midnight to `asOfMs` (clamped to the year),
    /// so a leap year has 366 days of pace; the date is that of the instant the target is
    /// reached (an instant exactly at midnight counts for the day that ends there).
    static func yearToDatePace(ytdKWh: Double, targetGWh: Double, year: Int, asOfMs: Int64?,
                               timeZone: TimeZone) -> (gwhPerYear: Double?, targetDate: String?) {
        let bounds = yearBounds(year, timeZone: timeZone)
        guard let asOfMs else { return (nil, nil) }
        let elapsed = min(max(asOfMs, bounds.start), bounds.end) - bounds.start
        guard elapsed > 0 else { return (nil, nil) }
        let gwhPerYear = ytdKWh / Double(elapsed) * Double(bounds.lengthMs) / 1e6
        guard ytdKWh > 0 else { return (gwhPerYear, nil) }
        // Offset of the instant the target is reached: target × elapsed / ytd (multiplied
        // first, so hand-worked whole days stay whole).
        let reachOffset = targetGWh * 1e6 * Double(elapsed) / ytdKWh
        guard reachOffset <= Double(bounds.lengthMs) else { return (gwhPerYear, nil) }
        let reach = bounds.start + max(0, Int64(reachOffset.rounded(.up)) - 1)
        return (gwhPerYear, localDate(reach, timeZone: timeZone))
    }

    /// `ceil(x)`, but a quotient within 1e-9 (relative) of an integer is that integer, so
    /// float noise in `target / average` does not ask for one line more.
    static func ceilTolerant(_ x: Double) -> Int {
        let nearest = x.rounded()
        if abs(x - nearest) <= 1e-9 * max(1, abs(nearest)) { return Int(nearest) }
        return Int(x.rounded(.up))
    }

    // MARK: - Calendar years in the site's time zone

    /// `[first instant of 1 January, first instant of the next 1 January)` of `year` in
    /// `timeZone`, epoch ms.
    public static func yearBounds(_ year: Int, timeZone: TimeZone) -> WindowBounds {
        let calendar = gregorian(timeZone)
        func start(_ y: Int) -> Int64 {
            let date = calendar.date(from: DateComponents(year: y, month: 1, day: 1)) ?? Date(timeIntervalSince1970: 0)
            return Int64((calendar.startOfDay(for: date).timeIntervalSince1970 * 1000).rounded())
        }
        return WindowBounds(start: start(year), end: start(year + 1))
    }

    /// The calendar year, in `timeZone`, of the instant `ms` (epoch ms).
    public static func year(containing ms: Int64, timeZone: TimeZone) -> Int {
        gregorian(timeZone).component(.year, from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }

    /// `YYYY-MM-DD` of the instant `ms` in `timeZone`.
    public static func localDate(_ ms: Int64, timeZone: TimeZone) -> String {
        let c = gregorian(timeZone).dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(ms) / 1000))
        func pad(_ v: Int?, _ width: Int) -> String {
            let s = String(v ?? 0)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(c.year, 4))-\(pad(c.month, 2))-\(pad(c.day, 2))"
    }

    private static func gregorian(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }
}
