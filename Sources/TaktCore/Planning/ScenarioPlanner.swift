/// The Monte Carlo of `takt plan --scenario` (`docs/planning.md`). Pure: no I/O, no clock;
/// the same input and seed give the same percentiles.
///
/// Each run draws, for every line, blocks of ``Scenario/blockDays`` consecutive history days
/// (a circular block bootstrap: a bad week stays a week), each at a uniform start; a line's
/// energy on a simulated day is the drawn day's kWh per planned hour × the day's planned hours
/// × the ramp's OEE / the full OEE. Lines draw independently, each from its own stream, so a
/// lever that adds a line leaves the other lines' draws as they were (common random numbers).
public enum ScenarioPlanner {
    /// The three levers of the lever table.
    public static let leverVariants: [(name: String, variant: ScenarioModel.Variant)] = [
        ("add_line", ScenarioModel.Variant(extraLines: 1)),
        ("oee_point", ScenarioModel.Variant(oeeBoost: 0.01)),
        ("cycle_cut", ScenarioModel.Variant(cycleCutS: 0.1)),
    ]

    /// Simulates the scenario, and (with ``ScenarioInput/levers``) each lever.
    ///
    /// - Complexity: O(runs × Σ lines' simulated days) per variant, plus sorting runs per month.
    public static func plan(_ input: ScenarioInput) throws(ScenarioError) -> ScenarioPlan {
        var input = input
        input.runs = max(1, input.runs)
        input.horizonDays = max(1, input.horizonDays)
        let base = try ScenarioModel(input)
        let scenario = input.scenario
        let calendar = HorizonCalendar(start: input.start, days: input.horizonDays)
        let targetDay = scenario.targetDate - input.start
        let result = simulate(base, input: input, calendar: calendar, targetDay: targetDay)

        let targetKWh = scenario.targetGWhPerYear * 1e6
        let horizon = input.horizonDays
        func date(_ d: Int) -> CivilDay? { d < horizon ? input.start + d : nil }
        let reachSorted = result.reach.sorted()
        let reach = ScenarioPlan.DatePercentiles(
            p10: date(rank(reachSorted, 0.1)), p50: date(rank(reachSorted, 0.5)), p90: date(rank(reachSorted, 0.9)))
        let probability: Double? = targetDay < 0 ? nil : Double(result.reach.count { $0 <= targetDay }) / Double(max(1, input.runs))
        let rateAtTarget: ScenarioPlan.Percentiles? = targetDay >= 0 && targetDay < horizon
            ? percentiles(result.rateAtTarget, scale: 1e-6) : nil

        // The plan's energy per day of the horizon (the target pace).
        let plan = (0..<horizon).map { base.planKWh(on: input.start + $0, scenario: scenario) }
        var months: [ScenarioPlan.Period] = []
        var column = [Double](repeating: 0, count: input.runs)
        for m in 0..<calendar.monthCount {
            for r in 0..<input.runs { column[r] = result.months[r * calendar.monthCount + m] }
            let first = calendar.monthFirst[m]
            let monthStart = CivilDay(year: first.year, month: first.components.month, day: 1)!
            let monthDays = CivilDay.daysIn(month: first.components.month, year: first.year)
            var planKWh = 0.0
            for d in 0..<monthDays { planKWh += base.planKWh(on: monthStart + d, scenario: scenario) }
            months.append(ScenarioPlan.Period(label: first.monthLabel, days: calendar.monthDays[m], actualGWh: 0,
                                              gwh: percentiles(column, scale: 1e-6), planGWh: planKWh / 1e6))
        }
        var years: [ScenarioPlan.Period] = []
        for y in 0..<calendar.yearCount {
            let year = calendar.yearFirst[y].year
            let actual = year == input.start.year ? input.actualKWhInStartYear : 0
            for r in 0..<input.runs { column[r] = result.years[r * calendar.yearCount + y] + actual }
            let jan1 = CivilDay(year: year, month: 1, day: 1)!
            let yearDays = CivilDay.isLeap(year) ? 366 : 365
            var planKWh = 0.0
            for d in 0..<yearDays { planKWh += base.planKWh(on: jan1 + d, scenario: scenario) }
            years.append(ScenarioPlan.Period(label: String(year), days: calendar.yearDays[y], actualGWh: actual / 1e6,
                                             gwh: percentiles(column, scale: 1e-6), planGWh: planKWh / 1e6))
        }
        var fan: [ScenarioPlan.FanPoint] = []
        var cumulative = [Double](repeating: 0, count: input.runs)
        var planCumulative = 0.0
        var planDay = 0
        for m in 0..<calendar.monthCount {
            for r in 0..<input.runs {
                cumulative[r] += result.months[r * calendar.monthCount + m]
                column[r] = result.monthEndRate[r * calendar.monthCount + m]
            }
            let end = calendar.monthEnd[m]
            while planDay <= end {
                planCumulative += plan[planDay]
                planDay += 1
            }
            fan.append(ScenarioPlan.FanPoint(day: input.start + end, cumulativeGWh: percentiles(cumulative, scale: 1e-6),
                                             annualisedGWh: percentiles(column, scale: 1e-6), planCumulativeGWh: planCumulative / 1e6))
        }

        var levers: [ScenarioPlan.Lever] = []
        if input.levers {
            for (name, variant) in leverVariants {
                let model = try ScenarioModel(input, variant: variant)
                let r = simulate(model, input: input, calendar: calendar, targetDay: targetDay)
                let p50 = date(rank(r.reach.sorted(), 0.5))
                let delta: Int? = (p50 != nil && reach.p50 != nil) ? p50! - reach.p50! : nil
                let prob: Double? = targetDay < 0 ? nil : Double(r.reach.count { $0 <= targetDay }) / Double(max(1, input.runs))
                let rate: Double? = targetDay >= 0 && targetDay < horizon ? percentiles(r.rateAtTarget, scale: 1e-6).p50 : nil
                levers.append(ScenarioPlan.Lever(name: name, label: label(name, model: model, base: base), reachP50: p50,
                                                 deltaDays: delta, probabilityByTargetDate: prob, rateAtTargetDateP50: rate))
            }
        }

        var extraLines: Int?
        if let rate = rateAtTarget?.p50, let added = levers.first(where: { $0.name == "add_line" })?.rateAtTargetDateP50 {
            let target = scenario.targetGWhPerYear
            if rate >= target * (1 - reachTolerance) {
                extraLines = 0
            } else if added > rate {
                extraLines = CapacityPlanner.ceilTolerant((target - rate) / (added - rate))
            }
        }
        let ceiling = base.ceilingKWhPerYear
        return ScenarioPlan(
            start: input.start, horizonDays: horizon, runs: input.runs, seed: input.seed, blockDays: scenario.blockDays,
            lookbackDays: scenario.lookbackDays, targetGWhPerYear: scenario.targetGWhPerYear, targetDate: scenario.targetDate,
            lines: base.lines.map {
                ScenarioPlan.LineSummary(line: $0.id, phase: $0.phase, template: $0.template, commissioning: $0.commissioning,
                                         sampleDays: $0.rates.count, observedOEE: $0.observedOEE,
                                         meanGWhPerYear: $0.meanRate * base.plannedHoursPerDay * 365 / 1e6,
                                         nameplateGWhPerYear: $0.nameplateKWhPerHour * base.plannedHoursPerDay * 365 / 1e6)
            },
            nameplateGWhPerYear: base.nameplateGWhPerYear, ceilingGWhPerYear: ceiling / 1e6,
            impossible: targetKWh > ceiling * (1 + 1e-12), reach: reach, probabilityByTargetDate: probability,
            rateAtTargetDate: rateAtTarget, months: months, years: years, fan: fan, levers: levers, extraLinesNeeded: extraLines)
    }

    static func label(_ name: String, model: ScenarioModel, base: ScenarioModel) -> String {
        switch name {
        case "add_line":
            if let added = model.lines.last, model.lines.count > base.lines.count {
                return "+1 line (\(added.id) from \(added.commissioning.map(String.init(describing:)) ?? "the start"))"
            }
            return "+1 line"
        case "oee_point": return "+1 point of OEE on every line"
        default: return "−0.1 s of ideal cycle on every line"
        }
    }

    /// Nearest-rank percentile of sorted values: the ⌈q·n⌉-th smallest.
    static func rank<T>(_ sorted: [T], _ q: Double) -> T {
        let n = sorted.count
        let k = Int((q * Double(n)).rounded(.up)) - 1
        return sorted[min(n - 1, max(0, k))]
    }

    static func percentiles(_ values: [Double], scale: Double) -> ScenarioPlan.Percentiles {
        guard !values.isEmpty else { return ScenarioPlan.Percentiles(p10: 0, p50: 0, p90: 0) }
        let s = values.sorted()
        return ScenarioPlan.Percentiles(p10: rank(s, 0.1) * scale, p50: rank(s, 0.5) * scale, p90: rank(s, 0.9) * scale)
    }

    // MARK: - The Monte Carlo

    /// Per-run results, flat: `months[run × monthCount + m]`.
    struct RunResults {
        var months: [Double]
        var monthEndRate: [Double]
        var years: [Double]
        /// Day index of the first day at or above the target; `horizon` when never.
        var reach: [Int]
        /// The annualised rate on the target day (kWh a year), when it is in the horizon.
        var rateAtTarget: [Double]
    }

    /// The 30-day annualised rate counts a rate within 1e-9 (relative) below the target as
    /// reaching it, so a hand-worked exact rate is not lost to float noise.
    static let reachTolerance = 1e-9

    static func simulate(_ model: ScenarioModel, input: ScenarioInput, calendar: HorizonCalendar, targetDay: Int) -> RunResults {
        let runs = input.runs
        let horizon = model.horizonDays
        let block = max(1, input.scenario.blockDays)
        let targetKWh = input.scenario.targetGWhPerYear * 1e6 * (1 - reachTolerance)
        let monthCount = calendar.monthCount, yearCount = calendar.yearCount
        var out = RunResults(
            months: [Double](repeating: 0, count: runs * monthCount), monthEndRate: [Double](repeating: 0, count: runs * monthCount),
            years: [Double](repeating: 0, count: runs * yearCount), reach: [Int](repeating: horizon, count: runs),
            rateAtTarget: targetDay >= 0 && targetDay < horizon ? [Double](repeating: 0, count: runs) : [])

        // Each line's rates repeated until a block starting anywhere in the history fits: a
        // circular bootstrap without a wrap test in the loop.
        let drawn = model.lines.filter { !$0.rates.isEmpty && $0.firstDay < horizon }
        let rates: [[Double]] = drawn.map { l in
            var r = l.rates
            while r.count < l.rates.count + block { r += l.rates }
            return r
        }
        var site = [Double](repeating: 0, count: horizon)
        site.withUnsafeMutableBufferPointer { s in
            let sp = s.baseAddress!
            for run in 0..<runs {
                sp.update(repeating: 0, count: horizon)
                for (i, line) in drawn.enumerated() {
                    var rng = SeededRandom(seed: input.seed, run: run, stream: line.stream)
                    let k = line.rates.count
                    line.dayFactor.withUnsafeBufferPointer { f in
                        rates[i].withUnsafeBufferPointer { r in
                            let fp = f.baseAddress!, rp = r.baseAddress!
                            var d = line.firstDay
                            while d < horizon {
                                let k0 = rng.below(k)
                                let n = min(block, horizon - d)
                                let dst = sp + d, fac = fp + d, src = rp + k0
                                for j in 0..<n { dst[j] += fac[j] * src[j] }
                                d += block
                            }
                        }
                    }
                }
                // Reduce the run: months, years, the rolling 30-day rate.
                var window = 0.0
                var reached = horizon
                let mBase = run * monthCount, yBase = run * yearCount
                for d in 0..<horizon {
                    let e = sp[d]
                    out.months[mBase + calendar.monthOf[d]] += e
                    out.years[yBase + calendar.yearOf[d]] += e
                    window += e
                    if d >= 30 { window -= sp[d - 30] }
                    let rate = window * 365 / Double(min(d + 1, 30))
                    if reached == horizon, rate >= targetKWh { reached = d }
                    if calendar.isMonthEnd[d] { out.monthEndRate[mBase + calendar.monthOf[d]] = rate }
                    if d == targetDay { out.rateAtTarget[run] = rate }
                }
                out.reach[run] = reached
            }
        }
        return out
    }
}

/// The months and years of a horizon, by day index.
struct HorizonCalendar {
    var monthOf: [Int]
    var yearOf: [Int]
    var isMonthEnd: [Bool]
    /// First simulated day of each month / year.
    var monthFirst: [CivilDay] = []
    var monthEnd: [Int] = []
    var monthDays: [Int] = []
    var yearFirst: [CivilDay] = []
    var yearDays: [Int] = []

    var monthCount: Int { monthFirst.count }
    var yearCount: Int { yearFirst.count }

    init(start: CivilDay, days: Int) {
        monthOf = [Int](repeating: 0, count: days)
        yearOf = [Int](repeating: 0, count: days)
        isMonthEnd = [Bool](repeating: false, count: days)
        var lastMonth = Int.min, lastYear = Int.min
        for d in 0..<days {
            let day = start + d
            let c = day.components
            let mk = c.year * 12 + c.month - 1
            if mk != lastMonth {
                if d > 0 {
                    isMonthEnd[d - 1] = true
                    monthEnd.append(d - 1)
                }
                monthFirst.append(day)
                monthDays.append(0)
                lastMonth = mk
            }
            if c.year != lastYear {
                yearFirst.append(day)
                yearDays.append(0)
                lastYear = c.year
            }
            monthOf[d] = monthFirst.count - 1
            yearOf[d] = yearFirst.count - 1
            monthDays[monthDays.count - 1] += 1
            yearDays[yearDays.count - 1] += 1
        }
        if days > 0 {
            isMonthEnd[days - 1] = true
            monthEnd.append(days - 1)
        }
    }
}
