import Foundation
import GRDB
import TaktCore

/// The primary key of a stored row (`WindowKey` without `end`, which follows from the start).
struct RowID: Hashable {
    var site: String
    var line: String
    var station: String
    var tier: WindowTier
    var start: Int64

    init(_ k: WindowKey) {
        site = k.site
        line = k.line
        station = k.station
        tier = k.tier
        start = k.start
    }
}

/// One row of `window_row` in memory: the merged counts and the latest state times, from
/// which the KPIs are recomputed.
struct StoredWindow {
    var key: WindowKey
    var revision: Int64 = 0
    var good: Int64 = 0
    var scrap: Int64 = 0
    var energyKwh: Double = 0
    var unitMessages: Int64 = 0
    var cycle = CycleHistogram()
    var runMs: Int64 = 0
    var plannedMs: Int64 = 0
    var idealCycleS: Double = 0
    var isOutputStation = false

    /// A row that does not exist yet (revision 0 until the first ``apply(_:)``).
    init(empty key: WindowKey) {
        self.key = key
    }

    /// Columns selected by ``columns``, in that order.
    static let columns = """
        site, line, station, tier, start_ms, end_ms, revision, good, scrap, energy_kwh, unit_messages,
        cycle_hist, run_ms, planned_ms, ideal_cycle_s, is_output
        """

    init(row: Row) throws(StoreError) {
        let tierText: String = row[3]
        guard let tier = WindowTier(rawValue: tierText) else { throw .corrupt("unknown window tier '\(tierText)'") }
        let start: Int64 = row[4]
        let end: Int64 = row[5]
        guard end > start else { throw .corrupt("a row ends before it starts (\(start) ≥ \(end))") }
        key = WindowKey(site: row[0], line: row[1], station: row[2], tier: tier, start: start, end: end)
        revision = row[6]
        good = row[7]
        scrap = row[8]
        energyKwh = row[9]
        unitMessages = row[10]
        let blob: [UInt8]? = (row[11] as Data?).map { [UInt8]($0) }
        cycle = try HistogramBlob.decode(blob)
        runMs = row[12]
        plannedMs = row[13]
        idealCycleS = row[14]
        isOutputStation = row[15]
    }

    /// Adds the update's deltas, merges its histogram, takes its absolute state times and its
    /// per-row settings, and raises the revision by one.
    mutating func apply(_ u: WindowUpdate) {
        key.end = u.key.end
        good += u.good
        scrap += u.scrap
        energyKwh += u.energyKwh
        unitMessages += u.unitMessages
        cycle.merge(u.cycle)
        runMs = u.runMs
        plannedMs = u.plannedMs
        idealCycleS = u.idealCycleS
        isOutputStation = u.isOutputStation
        revision += 1
    }

    /// The ideal cycle KPIs use: `nil` when none is known (≤ 0 or not finite).
    var idealForKPI: Double? { idealCycleS.isFinite && idealCycleS > 0 ? idealCycleS : nil }

    /// The window object of this station's window, KPIs from the merged counts.
    var windowRow: WindowRow {
        var counts = WindowAccumulator(
            tier: key.tier, bounds: WindowBounds(start: key.start, end: key.end), revision: revision)
        counts.good = good
        counts.scrap = scrap
        counts.energyKwh = energyKwh
        counts.unitMessages = unitMessages
        counts.cycle = cycle
        return WindowRow(site: key.site, line: key.line, station: key.station, counts: counts,
                         runMs: runMs, plannedMs: plannedMs, idealCycleS: idealForKPI)
    }

    /// The arguments of the upsert statement, in its column order.
    var arguments: StatementArguments {
        let blob = HistogramBlob.encode(cycle).map { Data($0) }
        return [key.site, key.line, key.station, key.tier.rawValue, key.start, key.end, revision, good, scrap,
                energyKwh, unitMessages, blob, runMs, plannedMs, idealCycleS, isOutputStation]
    }
}

extension WindowTier {
    /// Sort position: `1m`, `1h`, `1d`.
    var order: Int {
        switch self {
        case .minute: return 0
        case .hour: return 1
        case .day: return 2
        }
    }
}
