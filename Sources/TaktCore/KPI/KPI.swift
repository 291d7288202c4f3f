/// The KPI maths of contract section 3 (ISO 22400 / OEE conventions).
///
/// Inputs are integer milliseconds and unit counts; ratios are `nil` when their denominator
/// is 0. Nothing is rounded: writers print the exact `Double`.
public enum KPI {
    /// `run / planned`; `nil` when `plannedMs == 0`.
    public static func availability(runMs: Int64, plannedMs: Int64) -> Double? {
        plannedMs > 0 ? Double(runMs) / Double(plannedMs) : nil
    }

    /// `min(1, ideal_cycle_s × (good + scrap) / run_s)`; `nil` when `runMs == 0` or there is
    /// no ideal cycle.
    ///
    /// - Parameter idealCycleS: the station's `cycle_s`, or the line's `ideal_cycle_s` for the
    ///   output station, seconds per unit.
    public static func performance(idealCycleS: Double?, units: Int64, runMs: Int64) -> Double? {
        guard let idealCycleS, runMs > 0 else { return nil }
        return min(1, idealCycleS * 1000 * Double(units) / Double(runMs))
    }

    /// `good / (good + scrap)`; `nil` when no units.
    public static func quality(good: Int64, scrap: Int64) -> Double? {
        good + scrap > 0 ? Double(good) / Double(good + scrap) : nil
    }

    /// `availability × performance × quality`; `nil` when any is `nil`.
    public static func oee(_ a: Double?, _ p: Double?, _ q: Double?) -> Double? {
        guard let a, let p, let q else { return nil }
        return a * p * q
    }

    /// `good / (window seconds / 3600)`, over the whole window length (23/24/25 h for days).
    public static func goodPerHour(good: Int64, windowMs: Int64) -> Double {
        Double(good) * 3_600_000 / Double(windowMs)
    }
}

extension WindowRow {
    /// Builds the row of one station's window.
    ///
    /// - Parameters:
    ///   - counts: the window's unit counts (its `revision` is used as is).
    ///   - runMs, plannedMs: from ``StateTimeline/accumulate(over:horizon:)``.
    ///   - idealCycleS: see ``KPI/performance(idealCycleS:units:runMs:)``.
    public init(site: String, line: String, station: String?, counts: WindowAccumulator,
                runMs: Int64, plannedMs: Int64, idealCycleS: Double?) {
        let a = KPI.availability(runMs: runMs, plannedMs: plannedMs)
        let p = KPI.performance(idealCycleS: idealCycleS, units: counts.good + counts.scrap, runMs: runMs)
        let q = KPI.quality(good: counts.good, scrap: counts.scrap)
        let c = counts.cycle.p50p90p99
        self.init(
            site: site, line: line, station: station, window: counts.tier,
            start: counts.bounds.start, end: counts.bounds.end, revision: counts.revision,
            good: counts.good, scrap: counts.scrap, energyKwh: counts.energyKwh,
            goodPerHour: KPI.goodPerHour(good: counts.good, windowMs: counts.bounds.lengthMs),
            runS: Double(runMs) / 1000, plannedS: Double(plannedMs) / 1000,
            downtimeS: Double(plannedMs - runMs) / 1000,
            availability: a, performance: p, quality: q, oee: KPI.oee(a, p, q),
            cycleMsP50: c.p50, cycleMsP90: c.p90, cycleMsP99: c.p99)
    }

    /// The `_site` row of one window: sums of the lines' (output-station) rows, KPIs from the
    /// sums.
    ///
    /// - `performance = min(1, Σ(ideal_l × (good_l + scrap_l)) / Σrun)` — the ideal time of
    ///   all lines over their run time, capped once at the end.
    /// - `revision` is the sum of the lines' revisions (it goes up whenever a line's does).
    /// - `cycle_ms` percentiles are `nil`: cycles of different lines do not mix.
    /// - Precondition: every row is for the same `site`, `window`, `start`, `end`.
    public init(siteTotalOf lines: [(row: WindowRow, idealCycleS: Double)], site: String,
                tier: WindowTier, bounds: WindowBounds) {
        var good: Int64 = 0, scrap: Int64 = 0, runMs: Int64 = 0, plannedMs: Int64 = 0, revision: Int64 = 0
        var energy = 0.0, idealMs = 0.0
        for (r, ideal) in lines {
            precondition(r.site == site && r.window == tier && r.start == bounds.start && r.end == bounds.end,
                         "site total over rows of another window")
            good += r.good
            scrap += r.scrap
            energy += r.energyKwh
            runMs += Int64((r.runS * 1000).rounded())
            plannedMs += Int64((r.plannedS * 1000).rounded())
            revision += r.revision
            idealMs += ideal * 1000 * Double(r.good + r.scrap)
        }
        let a = KPI.availability(runMs: runMs, plannedMs: plannedMs)
        let p: Double? = runMs > 0 ? min(1, idealMs / Double(runMs)) : nil
        let q = KPI.quality(good: good, scrap: scrap)
        self.init(
            site: site, line: OutboundTopic.siteLine, station: nil, window: tier,
            start: bounds.start, end: bounds.end, revision: revision,
            good: good, scrap: scrap, energyKwh: energy,
            goodPerHour: KPI.goodPerHour(good: good, windowMs: bounds.lengthMs),
            runS: Double(runMs) / 1000, plannedS: Double(plannedMs) / 1000,
            downtimeS: Double(plannedMs - runMs) / 1000,
            availability: a, performance: p, quality: q, oee: KPI.oee(a, p, q),
            cycleMsP50: nil, cycleMsP90: nil, cycleMsP99: nil)
    }
}
