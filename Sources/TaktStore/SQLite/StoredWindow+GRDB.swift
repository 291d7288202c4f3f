import Foundation
import GRDB
import TaktCore

/// The SQLite side of ``StoredWindow``: its columns read from a row, its upsert arguments.
extension StoredWindow {
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

    /// The arguments of the upsert statement, in its column order.
    var arguments: StatementArguments {
        let blob = HistogramBlob.encode(cycle).map { Data($0) }
        return [key.site, key.line, key.station, key.tier.rawValue, key.start, key.end, revision, good, scrap,
                energyKwh, unitMessages, blob, runMs, plannedMs, idealCycleS, isOutputStation]
    }
}
