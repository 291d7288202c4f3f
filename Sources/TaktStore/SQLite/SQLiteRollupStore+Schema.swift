import GRDB

extension SQLiteRollupStore {
    /// The schema versions, in order. A migration, once released, never changes: add a new one.
    static let migrator: DatabaseMigrator = {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            // One row per station window. `ideal_cycle_s` and `is_output` are the latest values
            // the daemon sent; counts are sums of deltas; run/planned are absolute.
            try db.execute(sql: """
                CREATE TABLE window_row (
                    site TEXT NOT NULL,
                    line TEXT NOT NULL,
                    station TEXT NOT NULL,
                    tier TEXT NOT NULL CHECK (tier IN ('1m', '1h', '1d')),
                    start_ms INTEGER NOT NULL,
                    end_ms INTEGER NOT NULL CHECK (end_ms > start_ms),
                    revision INTEGER NOT NULL CHECK (revision >= 1),
                    good INTEGER NOT NULL,
                    scrap INTEGER NOT NULL,
                    energy_kwh REAL NOT NULL,
                    unit_messages INTEGER NOT NULL,
                    cycle_hist BLOB,
                    run_ms INTEGER NOT NULL,
                    planned_ms INTEGER NOT NULL,
                    ideal_cycle_s REAL NOT NULL,
                    is_output INTEGER NOT NULL CHECK (is_output IN (0, 1)),
                    PRIMARY KEY (site, line, station, tier, start_ms)
                ) WITHOUT ROWID
                """)
            // Site-wide queries and `_site` rows: output-station rows of a site, tier and
            // start range. Partial: only output stations (one row per line and window).
            try db.execute(sql: """
                CREATE INDEX window_row_output ON window_row (site, tier, start_ms, line)
                WHERE is_output = 1
                """)
            try db.execute(sql: """
                CREATE TABLE station_snapshot (
                    site TEXT NOT NULL,
                    line TEXT NOT NULL,
                    station TEXT NOT NULL,
                    dedup BLOB NOT NULL,
                    timeline BLOB NOT NULL,
                    PRIMARY KEY (site, line, station)
                ) WITHOUT ROWID
                """)
            try db.execute(sql: """
                CREATE TABLE site_counters (
                    site TEXT NOT NULL PRIMARY KEY,
                    horizon_ms INTEGER NOT NULL,
                    accepted INTEGER NOT NULL,
                    duplicates INTEGER NOT NULL,
                    dead_letters INTEGER NOT NULL,
                    missing INTEGER NOT NULL
                ) WITHOUT ROWID
                """)
            try db.execute(sql: """
                CREATE TABLE journal_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    offset_bytes INTEGER NOT NULL CHECK (offset_bytes >= 0)
                )
                """)
            try db.execute(sql: "INSERT INTO journal_state (id, offset_bytes) VALUES (1, 0)")
        }
        // No table changes: station snapshots now hold timelines in StateTimeline's binary form,
        // which takt before v2 cannot restore. Registering the version makes an older binary
        // refuse this store with "written by a newer Takt" instead of failing to decode it.
        m.registerMigration("v2-binary-timeline") { _ in }
        return m
    }()
}

extension SQLiteRollupStore {
    /// The identifiers of the migrations applied to this file, in order (diagnostics, tests).
    public func appliedMigrations() async throws -> [String] {
        try await read { db in try Self.migrator.appliedMigrations(db) }
    }

    /// `PRAGMA synchronous` of the writer connection (2 = FULL; diagnostics, tests).
    public func synchronousMode() async throws -> Int {
        try await write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }
}
