import Foundation
import TaktCore

extension CapacityPlanInput {
    /// Where a plan's year to date stops.
    public enum YearToDateEnd: Sendable, Equatable {
        /// The whole year: every `1d` row of the year (contract section 6; `takt plan`, whose
        /// `asOf` is the newest data, so this is all the year's energy stored).
        case wholeYear
        /// At `asOf` (`takt report`, whose range may end in the past): energy after it does
        /// not count.
        case asOf
    }

    /// The one reader of a plan's input, for `takt plan` and `takt report`.
    ///
    /// - Lookback: the sums of each line's output-station `1h` rows that start in
    ///   `[asOf − lookback, asOf)`.
    /// - Year to date: each line's output-station energy in `year` up to the cut (`ytdEnd`):
    ///   the `1d` rows of the local days that end by the cut, plus the `1h` rows of the day the
    ///   cut falls inside, from its local midnight to the cut. A cut at a day boundary (always
    ///   so for ``YearToDateEnd/wholeYear``: the end of the year) reads `1d` rows only.
    ///
    /// - Parameters:
    ///   - asOfMs: end of the lookback, epoch ms (the end of the newest `1h` window to count);
    ///     `nil`: no data (no lookback sums).
    ///   - year: the year-to-date year; `nil` is the year (site time zone) of `asOfMs − 1`, or
    ///     of the current time without data (the only place the clock is read).
    ///   - lookback: the lookback as the user wrote it (only echoed); `lookbackMs` its length, ms.
    ///   - ytdEnd: where the year to date stops.
    /// - Throws: ``StoreError``.
    /// - Complexity: per line, one `1h` query for the lookback and one `1d` query (plus one
    ///   `1h` query when the cut falls inside a day).
    public static func load(store: any RollupStore, plant: Plant, targetGWh: Double, asOfMs: Int64?, year: Int?,
                            lookback: String, lookbackMs: Int64, ytdEnd: YearToDateEnd,
                            whatIf: CapacityPlan.WhatIf = .init()) async throws -> CapacityPlanInput {
        let timeZone = plant.timeZone
        let year = year ?? CapacityPlanner.year(containing: (asOfMs ?? Int64(Date().timeIntervalSince1970 * 1000)) - 1,
                                                timeZone: timeZone)
        let bounds = CapacityPlanner.yearBounds(year, timeZone: timeZone)
        // The cut, and the local midnight at or before it: 1d rows before that, 1h rows after.
        let cut = ytdEnd == .asOf ? max(bounds.start, min(bounds.end, asOfMs ?? bounds.end)) : bounds.end
        let dayStart = cut == bounds.end
            ? cut : max(bounds.start, WindowCalendar(timeZone: timeZone).window(containing: cut, tier: .day).start)
        var sums: [String: LineSums] = [:]
        var ytd: [String: Double] = [:]
        for line in plant.lines {
            if let asOfMs {
                var s = LineSums()
                for row in try await StoreReads.rows(store, site: plant.site, line: line.id, tier: .hour,
                                                     from: asOfMs - lookbackMs, to: asOfMs) {
                    s.add(row)
                }
                sums[line.id] = s
            }
            ytd[line.id] = try await energyKwh(store, site: plant.site, line: line.id, .day, from: bounds.start, to: dayStart)
                + energyKwh(store, site: plant.site, line: line.id, .hour, from: dayStart, to: cut)
        }
        return CapacityPlanInput(plant: plant, targetGWh: targetGWh, year: year, lookback: lookback, asOfMs: asOfMs,
                                 lookbackSums: sums, ytdKWh: ytd, whatIf: whatIf)
    }

    /// A line's output-station energy in its `tier` windows that start in `[from, to)` (epoch
    /// ms), kWh; 0 without a query when the interval is empty.
    private static func energyKwh(_ store: any RollupStore, site: String, line: String, _ tier: WindowTier,
                                  from: Int64, to: Int64) async throws -> Double {
        guard from < to else { return 0 }
        return try await StoreReads.rows(store, site: site, line: line, tier: tier, from: from, to: to).reduce(0) { $0 + $1.energyKwh }
    }
}
