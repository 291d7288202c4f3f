import GRDB
import TaktCore

extension SQLiteRollupStore {
    public func rows(site: String, line: String?, station: String?, tier: WindowTier, from: Int64, to: Int64) async throws -> [WindowRow] {
        if station != nil && line == nil { throw StoreError.invalidQuery("a station needs its line") }
        guard from < to else { return [] }
        return try await read { db in
            let stored: [StoredWindow]
            switch (line, station) {
            case let (line?, station?):
                stored = try Self.fetch(db, sql: """
                    SELECT \(StoredWindow.columns) FROM window_row
                    WHERE site = ? AND line = ? AND station = ? AND tier = ? AND start_ms >= ? AND start_ms < ?
                    ORDER BY start_ms
                    """, [site, line, station, tier.rawValue, from, to])
            case let (line?, nil):
                stored = try Self.fetch(db, sql: """
                    SELECT \(StoredWindow.columns) FROM window_row
                    WHERE site = ? AND tier = ? AND is_output = 1 AND start_ms >= ? AND start_ms < ? AND line = ?
                    ORDER BY start_ms, station
                    """, [site, tier.rawValue, from, to, line])
            case (nil, _):
                let lines = try Self.outputRows(db, site: site, tier: tier, from: from, to: to)
                return StoredWindow.withSiteRows(lines, site: site, tier: tier)
            }
            return stored.map(\.windowRow)
        }
    }

    public func siteRow(site: String, tier: WindowTier, start: Int64) async throws -> WindowRow? {
        try await read { db in
            let lines = try Self.outputRows(db, site: site, tier: tier, from: start, to: start &+ 1)
            return StoredWindow.withSiteRows(lines, site: site, tier: tier).last { $0.line == OutboundTopic.siteLine }
        }
    }

    public func siteMembers(site: String, tier: WindowTier, start: Int64) async throws -> [SiteMember] {
        try await read { db in
            try Self.outputRows(db, site: site, tier: tier, from: start, to: start &+ 1)
                .map { SiteMember(row: $0.windowRow, idealCycleS: $0.idealCycleS) }
        }
    }

    public func newestWindowStart(site: String, tier: WindowTier) async throws -> Int64? {
        try await read { db in
            try Int64.fetchOne(db, sql: "SELECT MAX(start_ms) FROM window_row WHERE site = ? AND tier = ?",
                               arguments: [site, tier.rawValue])
        }
    }

    @discardableResult
    public func pruneRows(tier: WindowTier, endingAtOrBefore before: Int64) async throws -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM window_row WHERE tier = ? AND end_ms <= ?", arguments: [tier.rawValue, before])
            return db.changesCount
        }
    }

    /// Output-station rows of a site and tier starting in `[from, to)`, by start, line, station
    /// (the partial index `window_row_output` serves this).
    static func outputRows(_ db: Database, site: String, tier: WindowTier, from: Int64, to: Int64) throws -> [StoredWindow] {
        try fetch(db, sql: """
            SELECT \(StoredWindow.columns) FROM window_row
            WHERE site = ? AND tier = ? AND is_output = 1 AND start_ms >= ? AND start_ms < ?
            ORDER BY start_ms, line, station
            """, [site, tier.rawValue, from, to])
    }

    static func fetch(_ db: Database, sql: String, _ arguments: StatementArguments) throws -> [StoredWindow] {
        let statement = try db.cachedStatement(sql: sql)
        return try Row.fetchAll(statement, arguments: arguments).map { row throws(StoreError) in try StoredWindow(row: row) }
    }
}

extension SQLiteRollupStore {
    /// SQLite's plan of the site-wide query (tests check that it uses `window_row_output`).
    func explainOutputQuery() async throws -> String {
        try await read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT \(StoredWindow.columns) FROM window_row
                WHERE site = ? AND tier = ? AND is_output = 1 AND start_ms >= ? AND start_ms < ?
                ORDER BY start_ms, line, station
                """, arguments: ["s", "1h", 0, 1]).map { row -> String in row["detail"] }.joined(separator: "; ")
        }
    }
}
