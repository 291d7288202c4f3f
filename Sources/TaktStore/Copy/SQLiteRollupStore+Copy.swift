import GRDB
import TaktCore

extension SQLiteRollupStore {
    /// Window rows in primary-key order (byte order), after `after` (exclusive), at most `limit`.
    func windowRows(after: RowID?, limit: Int) async throws -> [StoredWindow] {
        try await read { db in
            if let a = after {
                return try Self.fetch(db, sql: """
                    SELECT \(StoredWindow.columns) FROM window_row
                    WHERE (site, line, station, tier, start_ms) > (?, ?, ?, ?, ?)
                    ORDER BY site, line, station, tier, start_ms LIMIT ?
                    """, [a.site, a.line, a.station, a.tier.rawValue, a.start, limit])
            }
            return try Self.fetch(db, sql: """
                SELECT \(StoredWindow.columns) FROM window_row ORDER BY site, line, station, tier, start_ms LIMIT ?
                """, [limit])
        }
    }

    /// Per tier (`1m`, `1h`, `1d`; tiers without rows left out): rows and sums (``StoreCopy``).
    func tierTotals() async throws -> [TierTotals] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT tier, COUNT(*), SUM(revision), SUM(good), SUM(scrap), SUM(unit_messages) FROM window_row GROUP BY tier
                """).compactMap { r -> TierTotals? in
                guard let tier = WindowTier(rawValue: r[0]) else { return nil }
                return TierTotals(tier: tier, rows: r[1], revisions: r[2], good: r[3], scrap: r[4], unitMessages: r[5])
            }.sorted { $0.tier.order < $1.tier.order }
        }
    }
}
