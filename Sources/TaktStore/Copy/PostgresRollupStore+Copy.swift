import PostgresNIO
import TaktCore

extension PostgresRollupStore {
    /// Starts or resumes a copy of `source`: the destination must be empty or hold a copy of
    /// that same source.
    func beginCopy(source: String) async throws -> CopyStart {
        do {
            let logger = logger
            return try await client.checkedTransaction(logger: logger) { connection in
                let existing = try await connection.checkedQuery("""
                    SELECT source, last_site, last_line, last_station, last_tier, last_start_ms, rows_copied, finished
                    FROM store_copy WHERE id = 1 FOR UPDATE
                    """, logger: logger).collect()
                if let row = existing.first {
                    let (from, site, line, station, tierText, start, copied, finished) = try row.decode(
                        (String, String?, String?, String?, String?, Int64?, Int64, Bool).self)
                    guard from == source else {
                        throw StoreError.invalidUpdate("the destination holds a copy of \(from), not of \(source)")
                    }
                    var last: RowID?
                    if let site, let line, let station, let tierText, let tier = WindowTier(rawValue: tierText), let start {
                        last = RowID(site: site, line: line, station: station, tier: tier, start: start)
                    }
                    return CopyStart(lastKey: last, rowsCopied: copied, finished: finished)
                }
                let used = try await connection.checkedQuery("""
                    SELECT (SELECT count(*) FROM (SELECT 1 FROM window_row LIMIT 1) r)
                         + (SELECT count(*) FROM (SELECT 1 FROM station_snapshot LIMIT 1) s)
                    """, logger: logger).collect().first?.decode(Int64.self) ?? 0
                guard used == 0 else {
                    throw StoreError.invalidUpdate("the destination already holds rows or snapshots (a daemon's?); copy into an empty database")
                }
                try await connection.checkedQuery("INSERT INTO store_copy (id, source) VALUES (1, \(source))", logger: logger)
                return CopyStart(lastKey: nil, rowsCopied: 0, finished: false)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// One chunk of rows and the key it ends at, in one transaction.
    func writeCopiedRows(_ rows: [StoredWindow], lastKey: RowID, rowsCopied: Int64) async throws {
        do {
            let logger = logger
            try await client.checkedTransaction(logger: logger) { connection in
                try await Self.upsert(rows, on: connection, logger: logger)
                try await connection.checkedQuery("""
                    UPDATE store_copy SET last_site = \(lastKey.site), last_line = \(lastKey.line),
                        last_station = \(lastKey.station), last_tier = \(lastKey.tier.rawValue),
                        last_start_ms = \(lastKey.start), rows_copied = \(rowsCopied)
                    WHERE id = 1
                    """, logger: logger)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Snapshots, counters and the journal position of the source, and the copy marked finished.
    func finishCopy(_ state: StoreState) async throws {
        let plan = CommitPlan(CommitBatch(stations: state.stations, sites: state.sites, journalOffset: state.journalOffset))
        do {
            let logger = logger
            try await client.checkedTransaction(logger: logger) { connection in
                try await Self.writeSnapshots(plan, on: connection, logger: logger)
                try await Self.writeSiteCounters(plan.sites, on: connection, logger: logger)
                try await connection.checkedQuery("UPDATE journal_state SET offset_bytes = \(state.journalOffset) WHERE id = 1", logger: logger)
                try await connection.checkedQuery("UPDATE store_copy SET finished = true WHERE id = 1", logger: logger)
            }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Per tier (`1m`, `1h`, `1d`; tiers without rows left out): rows and sums (``StoreCopy``).
    func tierTotals() async throws -> [TierTotals] {
        do {
            var out: [TierTotals] = []
            for row in try await client.checkedQuery("""
                SELECT tier, count(*)::bigint, sum(revision)::bigint, sum(good)::bigint, sum(scrap)::bigint,
                       sum(unit_messages)::bigint
                FROM window_row GROUP BY tier
                """, logger: logger) {
                let (tierText, rows, revisions, good, scrap, units) = try row.decode((String, Int64, Int64, Int64, Int64, Int64).self)
                guard let tier = WindowTier(rawValue: tierText) else { continue }
                out.append(TierTotals(tier: tier, rows: rows, revisions: revisions, good: good, scrap: scrap, unitMessages: units))
            }
            return out.sorted { $0.tier.order < $1.tier.order }
        } catch {
            throw Self.storeError(error)
        }
    }
}
