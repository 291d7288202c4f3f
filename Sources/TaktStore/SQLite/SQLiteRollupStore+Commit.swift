import Foundation
import GRDB
import TaktCore

extension SQLiteRollupStore {
    public func commit(_ batch: CommitBatch, returning: CommittedRows) async throws -> [WindowRow] {
        try batch.validateForStore()
        // Leases live in the shared PostgreSQL store only (contract section 11).
        guard batch.fence == nil else { throw StoreError.invalidUpdate("line leases need a PostgreSQL store") }
        // The batch's updates of one key, merged in batch order into one delta row (revision =
        // how many updates): one upsert per key that adds the deltas to whatever is stored — no
        // SELECT, and only the rows `returning` asks for are read back (RETURNING). Counts are
        // exactly those of applying the updates one by one; an energy sum of several updates of
        // one key in one batch is `stored + (u1 + u2)`, which can differ from `(stored + u1) + u2`
        // in the last bit (the daemon's batches carry one update per key).
        var deltas: [RowID: StoredWindow] = [:]
        deltas.reserveCapacity(batch.updates.count)
        for u in batch.updates {
            deltas[RowID(u.key), default: StoredWindow(empty: u.key)].apply(u)
        }
        let rows = Array(deltas.values)
        let committed: [StoredWindow] = try await write { db in
            let upsert = WindowRowUpsert(try db.cachedStatement(sql: Self.upsertSQL), returning: false)
            let upsertReturning = WindowRowUpsert(
                try db.cachedStatement(sql: Self.upsertSQL + " RETURNING \(WindowRowUpsert.returnedColumns)"), returning: true)
            var committed: [StoredWindow] = []
            for delta in rows {
                if returning == .all || delta.isOutputStation {
                    if let row = try upsertReturning.run(delta) { committed.append(row) }
                } else {
                    _ = try upsert.run(delta)
                }
            }

            let upsertStation = try db.cachedStatement(sql: """
                INSERT INTO station_snapshot (site, line, station, dedup, timeline) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (site, line, station) DO UPDATE SET dedup = excluded.dedup, timeline = excluded.timeline
                """)
            // A snapshot without timeline bytes keeps the stored ones (unchanged timeline).
            let updateDedup = try db.cachedStatement(
                sql: "UPDATE station_snapshot SET dedup = ? WHERE site = ? AND line = ? AND station = ?")
            for s in batch.stations {
                if let timeline = s.timeline {
                    try upsertStation.execute(arguments: [
                        s.station.site, s.station.line, s.station.station, Data(s.dedup), Data(timeline),
                    ])
                } else {
                    try updateDedup.execute(arguments: [Data(s.dedup), s.station.site, s.station.line, s.station.station])
                    guard db.changesCount == 1 else {
                        throw StoreError.invalidUpdate("snapshot of \(s.station) has no timeline and the store holds none")
                    }
                }
            }

            let upsertSite = try db.cachedStatement(sql: """
                INSERT INTO site_counters (site, horizon_ms, accepted, duplicates, dead_letters, missing)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (site) DO UPDATE SET
                    horizon_ms = excluded.horizon_ms, accepted = excluded.accepted,
                    duplicates = excluded.duplicates, dead_letters = excluded.dead_letters,
                    missing = excluded.missing
                """)
            for c in batch.sites {
                try upsertSite.execute(arguments: [c.site, c.horizon, c.accepted, c.duplicates, c.deadLetters, c.missing])
            }

            try db.execute(sql: "UPDATE journal_state SET offset_bytes = ? WHERE id = 1", arguments: [batch.journalOffset])
            return committed
        }
        return committed.sorted(by: StoredWindow.storedOrder).map(\.windowRow)
    }

    /// Adds a delta row (``StoredWindow`` built from updates, `revision` = their number) to the
    /// stored row of its key, or inserts it. In `DO UPDATE`, a bare column is the stored value.
    static let upsertSQL = """
        INSERT INTO window_row (\(StoredWindow.columns))
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, line, station, tier, start_ms) DO UPDATE SET
            end_ms = excluded.end_ms, revision = revision + excluded.revision, good = good + excluded.good,
            scrap = scrap + excluded.scrap, energy_kwh = energy_kwh + excluded.energy_kwh,
            unit_messages = unit_messages + excluded.unit_messages,
            cycle_hist = \(HistogramBlob.mergeFunctionName)(cycle_hist, excluded.cycle_hist),
            run_ms = excluded.run_ms, planned_ms = excluded.planned_ms,
            ideal_cycle_s = excluded.ideal_cycle_s, is_output = excluded.is_output
        """

    public func loadState() async throws -> StoreState {
        try await read { db in
            let offset = try Int64.fetchOne(db, sql: "SELECT offset_bytes FROM journal_state WHERE id = 1") ?? 0
            let stations = try Row.fetchAll(db, sql: """
                SELECT site, line, station, dedup, timeline FROM station_snapshot ORDER BY site, line, station
                """).map { r in
                StationSnapshot(station: StationKey(site: r[0], line: r[1], station: r[2]),
                                dedup: [UInt8](r[3] as Data), timeline: [UInt8](r[4] as Data))
            }
            let sites = try Row.fetchAll(db, sql: """
                SELECT site, horizon_ms, accepted, duplicates, dead_letters, missing FROM site_counters ORDER BY site
                """).map { r in
                SiteCounters(site: r[0], horizon: r[1], accepted: r[2], duplicates: r[3], deadLetters: r[4], missing: r[5])
            }
            return StoreState(journalOffset: offset, stations: stations, sites: sites)
        }
    }
}
