import Foundation
import Logging
import PostgresNIO
import Synchronization
import TaktCore

extension PostgresRollupStore {
    public func commit(_ batch: CommitBatch, returning: CommittedRows) async throws -> [WindowRow] {
        try batch.validateForStore()
        let plan = CommitPlan(batch)
        let token = UUID()
        let merged: [StoredWindow]
        do {
            let logger = logger, fault = commitFault.withLock { $0 }
            merged = try await client.leased { connection in
                try await Self.runCommit(plan, token: token, on: connection, logger: logger, fault: fault)
            }
        } catch {
            guard Self.isConnectionLoss(error) else { throw Self.storeError(error) }
            // The connection died; the COMMIT may have reached the server. Ask it.
            merged = try await resolveLostCommit(token: token, plan: plan, error: error)
        }
        return merged.filter { returning == .all || $0.isOutputStation }
            .sorted(by: StoredWindow.storedOrder).map(\.windowRow)
    }

    /// After a commit's connection was lost: waits until the database answers, then returns the
    /// rows if the commit (its token) is there, or throws ``StoreError/unavailable(_:)`` if it is
    /// not (nothing was written; the caller retries the same batch). Ends only with an answer or
    /// when the task is cancelled: a blind retry could count the batch twice.
    private func resolveLostCommit(token: UUID, plan: CommitPlan, error: any Error) async throws -> [StoredWindow] {
        logger.warning("commit's connection lost; asking the database whether it was applied",
                       metadata: ["error": "\(Self.storeError(error))"])
        var delay = Duration.milliseconds(100)
        while true {
            try Task.checkCancellation()
            do {
                let query: PostgresQuery = plan.fence.map { "SELECT commit_token FROM lease_member WHERE owner = \($0.owner)" }
                    ?? "SELECT commit_token FROM journal_state WHERE id = 1"
                let stored = try await client.checkedQuery(query, logger: logger).first?.decode(UUID?.self)
                guard stored == token else {
                    throw StoreError.unavailable("the commit was not applied (connection lost: \(Self.storeError(error)))")
                }
                // Applied: the rows are what the transaction computed under its row locks.
                return plan.lastMerged.withLock { $0 }
            } catch let e as StoreError {
                throw e
            } catch {
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// One commit transaction on `connection`: locks and reads the stored rows of the batch's
    /// keys, merges the deltas in Swift (the same arithmetic as SQLite's upsert), writes every
    /// row, snapshot and counter with one statement each, then the journal position and token.
    static func runCommit(_ plan: CommitPlan, token: UUID, on connection: PostgresConnection, logger: Logger,
                          fault: CommitFault? = nil) async throws -> [StoredWindow] {
        try await connection.checkedQuery("BEGIN", logger: logger)
        do {
            // First, under share locks that a takeover must wait for until this commit ends.
            if let fence = plan.fence { try await checkFence(fence, on: connection, logger: logger) }
            let merged = try await mergeWithStored(plan.deltas, on: connection, logger: logger)
            plan.lastMerged.withLock { $0 = merged }
            try await upsert(merged, on: connection, logger: logger)
            try await writeSnapshots(plan, on: connection, logger: logger)
            if let fence = plan.fence {
                try await addSiteCounters(plan.sites, on: connection, logger: logger)
                try await recordStateHorizons(plan.sites, fence: fence, on: connection, logger: logger)
                try await connection.checkedQuery("""
                    UPDATE lease_member SET commit_token = \(token) WHERE owner = \(fence.owner)
                    """, logger: logger)
            } else {
                try await writeSiteCounters(plan.sites, on: connection, logger: logger)
                try await connection.checkedQuery("""
                    UPDATE journal_state SET offset_bytes = \(plan.journalOffset), commit_token = \(token) WHERE id = 1
                    """, logger: logger)
            }
            try await fault?(.beforeCommitStatement)
            try await connection.checkedQuery("COMMIT", logger: logger)
            try await fault?(.afterCommitStatement)
            return merged
        } catch {
            if !isConnectionLoss(error) { _ = try? await connection.checkedQuery("ROLLBACK", logger: logger) }
            throw error
        }
    }

    /// The stored rows of the deltas' keys (locked `FOR UPDATE` until the commit ends) plus
    /// the deltas: counts and energy added, histograms merged, the rest taken from the delta.
    private static func mergeWithStored(_ deltas: [StoredWindow], on connection: PostgresConnection, logger: Logger) async throws -> [StoredWindow] {
        guard !deltas.isEmpty else { return [] }
        let k = KeyColumns(deltas)
        let rows = try await connection.checkedQuery("""
            SELECT w.site, w.line, w.station, w.tier, w.start_ms, w.revision, w.good, w.scrap, w.energy_kwh,
                   w.unit_messages, w.cycle_hist
            FROM window_row w
            JOIN unnest(\(k.sites)::text[], \(k.lines)::text[], \(k.stations)::text[], \(k.tiers)::text[], \(k.starts)::bigint[])
                AS k(site, line, station, tier, start_ms)
              ON w.site = k.site AND w.line = k.line AND w.station = k.station AND w.tier = k.tier AND w.start_ms = k.start_ms
            FOR UPDATE OF w
            """, logger: logger)
        var index: [RowID: Int] = [:]
        index.reserveCapacity(deltas.count)
        for (i, d) in deltas.enumerated() { index[RowID(d.key)] = i }
        var merged = deltas
        for try await (site, line, station, tierText, start, revision, good, scrap, energy, unitMessages, hist)
            in rows.decode((String, String, String, String, Int64, Int64, Int64, Int64, Double, Int64, ByteBuffer?).self) {
            guard let tier = WindowTier(rawValue: tierText) else { throw StoreError.corrupt("unknown window tier '\(tierText)'") }
            guard let i = index[RowID(site: site, line: line, station: station, tier: tier, start: start)] else { continue }
            let d = deltas[i]
            var row = d
            row.revision = revision &+ d.revision
            row.good = good &+ d.good
            row.scrap = scrap &+ d.scrap
            row.energyKwh = energy + d.energyKwh
            row.unitMessages = unitMessages &+ d.unitMessages
            var cycle = try HistogramBlob.decode(hist.map { Array($0.readableBytesView) })
            cycle.merge(d.cycle)
            row.cycle = cycle
            merged[i] = row
        }
        return merged
    }

    /// Writes `rows` (absolute values) with one `INSERT … SELECT FROM unnest(…) ON CONFLICT`.
    static func upsert(_ rows: [StoredWindow], on connection: PostgresConnection, logger: Logger) async throws {
        guard !rows.isEmpty else { return }
        let k = KeyColumns(rows)
        let ends = rows.map(\.key.end), revisions = rows.map(\.revision), goods = rows.map(\.good)
        let scraps = rows.map(\.scrap), energies = rows.map(\.energyKwh), units = rows.map(\.unitMessages)
        // An empty histogram travels as an empty byte string and is stored as NULL.
        let hists = rows.map { ByteBuffer(bytes: HistogramBlob.encode($0.cycle) ?? []) }
        let runs = rows.map(\.runMs), planned = rows.map(\.plannedMs), ideals = rows.map(\.idealCycleS)
        let outputs = rows.map(\.isOutputStation)
        try await connection.checkedQuery("""
            INSERT INTO window_row (site, line, station, tier, start_ms, end_ms, revision, good, scrap, energy_kwh,
                                    unit_messages, cycle_hist, run_ms, planned_ms, ideal_cycle_s, is_output)
            SELECT site, line, station, tier, start_ms, end_ms, revision, good, scrap, energy_kwh, unit_messages,
                   NULLIF(cycle_hist, ''::bytea), run_ms, planned_ms, ideal_cycle_s, is_output
            FROM unnest(\(k.sites)::text[], \(k.lines)::text[], \(k.stations)::text[], \(k.tiers)::text[],
                        \(k.starts)::bigint[], \(ends)::bigint[], \(revisions)::bigint[], \(goods)::bigint[],
                        \(scraps)::bigint[], \(energies)::float8[], \(units)::bigint[], \(hists)::bytea[],
                        \(runs)::bigint[], \(planned)::bigint[], \(ideals)::float8[], \(outputs)::boolean[])
                AS r(site, line, station, tier, start_ms, end_ms, revision, good, scrap, energy_kwh, unit_messages,
                     cycle_hist, run_ms, planned_ms, ideal_cycle_s, is_output)
            ON CONFLICT (site, line, station, tier, start_ms) DO UPDATE SET
                end_ms = excluded.end_ms, revision = excluded.revision, good = excluded.good, scrap = excluded.scrap,
                energy_kwh = excluded.energy_kwh, unit_messages = excluded.unit_messages,
                cycle_hist = excluded.cycle_hist, run_ms = excluded.run_ms, planned_ms = excluded.planned_ms,
                ideal_cycle_s = excluded.ideal_cycle_s, is_output = excluded.is_output
            """, logger: logger)
    }

    /// Snapshots with a timeline are upserted; those without one replace only the dedup bytes
    /// of a snapshot that must exist (else the commit fails, as in SQLite).
    static func writeSnapshots(_ plan: CommitPlan, on connection: PostgresConnection, logger: Logger) async throws {
        let full = plan.stations.filter { $0.timeline != nil }
        if !full.isEmpty {
            try await connection.checkedQuery("""
                INSERT INTO station_snapshot (site, line, station, dedup, timeline)
                SELECT * FROM unnest(\(full.map(\.station.site))::text[], \(full.map(\.station.line))::text[],
                                     \(full.map(\.station.station))::text[],
                                     \(full.map { ByteBuffer(bytes: $0.dedup) })::bytea[],
                                     \(full.map { ByteBuffer(bytes: $0.timeline ?? []) })::bytea[])
                ON CONFLICT (site, line, station) DO UPDATE SET dedup = excluded.dedup, timeline = excluded.timeline
                """, logger: logger)
        }
        let dedupOnly = plan.stations.filter { $0.timeline == nil }
        if !dedupOnly.isEmpty {
            let updated = try await connection.checkedQuery("""
                UPDATE station_snapshot s SET dedup = u.dedup
                FROM unnest(\(dedupOnly.map(\.station.site))::text[], \(dedupOnly.map(\.station.line))::text[],
                            \(dedupOnly.map(\.station.station))::text[],
                            \(dedupOnly.map { ByteBuffer(bytes: $0.dedup) })::bytea[]) AS u(site, line, station, dedup)
                WHERE s.site = u.site AND s.line = u.line AND s.station = u.station
                RETURNING s.station
                """, logger: logger).collect()
            guard updated.count == dedupOnly.count else {
                let known = Set(try updated.map { try $0.decode(String.self) })
                let missing = dedupOnly.first { !known.contains($0.station.station) }.map { "\($0.station)" } ?? "a station"
                throw StoreError.invalidUpdate("snapshot of \(missing) has no timeline and the store holds none")
            }
        }
    }

    static func writeSiteCounters(_ sites: [SiteCounters], on connection: PostgresConnection, logger: Logger) async throws {
        guard !sites.isEmpty else { return }
        try await connection.checkedQuery("""
            INSERT INTO site_counters (site, horizon_ms, accepted, duplicates, dead_letters, missing)
            SELECT * FROM unnest(\(sites.map(\.site))::text[], \(sites.map(\.horizon))::bigint[],
                                 \(sites.map(\.accepted))::bigint[], \(sites.map(\.duplicates))::bigint[],
                                 \(sites.map(\.deadLetters))::bigint[], \(sites.map(\.missing))::bigint[])
            ON CONFLICT (site) DO UPDATE SET
                horizon_ms = excluded.horizon_ms, accepted = excluded.accepted, duplicates = excluded.duplicates,
                dead_letters = excluded.dead_letters, missing = excluded.missing
            """, logger: logger)
    }

    /// Site counters of a fenced commit: increments since the daemon's previous commit, added
    /// to the stored totals (several daemons count into one site); the horizon only rises.
    static func addSiteCounters(_ sites: [SiteCounters], on connection: PostgresConnection, logger: Logger) async throws {
        guard !sites.isEmpty else { return }
        try await connection.checkedQuery("""
            INSERT INTO site_counters (site, horizon_ms, accepted, duplicates, dead_letters, missing)
            SELECT * FROM unnest(\(sites.map(\.site))::text[], \(sites.map(\.horizon))::bigint[],
                                 \(sites.map(\.accepted))::bigint[], \(sites.map(\.duplicates))::bigint[],
                                 \(sites.map(\.deadLetters))::bigint[], \(sites.map(\.missing))::bigint[])
            ON CONFLICT (site) DO UPDATE SET
                horizon_ms = GREATEST(site_counters.horizon_ms, excluded.horizon_ms),
                accepted = site_counters.accepted + excluded.accepted,
                duplicates = site_counters.duplicates + excluded.duplicates,
                dead_letters = site_counters.dead_letters + excluded.dead_letters,
                missing = site_counters.missing + excluded.missing
            """, logger: logger)
    }

    public func loadState() async throws -> StoreState {
        do {
            let offset = try await client.checkedQuery("SELECT offset_bytes FROM journal_state WHERE id = 1", logger: logger).first?.decode(Int64.self) ?? 0
            var stations: [StationSnapshot] = []
            for row in try await client.checkedQuery("""
                SELECT site, line, station, dedup, timeline FROM station_snapshot ORDER BY site COLLATE "C", line COLLATE "C", station COLLATE "C"
                """, logger: logger) {
                let (site, line, station, dedup, timeline) = try row.decode((String, String, String, ByteBuffer, ByteBuffer).self)
                stations.append(StationSnapshot(station: StationKey(site: site, line: line, station: station),
                                                dedup: Array(dedup.readableBytesView), timeline: Array(timeline.readableBytesView)))
            }
            var sites: [SiteCounters] = []
            for row in try await client.checkedQuery("""
                SELECT site, horizon_ms, accepted, duplicates, dead_letters, missing FROM site_counters ORDER BY site COLLATE "C"
                """, logger: logger) {
                let (site, horizon, accepted, duplicates, deadLetters, missing) = try row.decode((String, Int64, Int64, Int64, Int64, Int64).self)
                sites.append(SiteCounters(site: site, horizon: horizon, accepted: accepted, duplicates: duplicates,
                                          deadLetters: deadLetters, missing: missing))
            }
            return StoreState(journalOffset: offset, stations: stations, sites: sites)
        } catch {
            throw Self.storeError(error)
        }
    }
}

/// Where a test's fault strikes a commit (``PostgresRollupStore/commitFault``).
enum CommitStage: Sendable {
    /// Every row is written, `COMMIT` not sent yet.
    case beforeCommitStatement
    /// `COMMIT` answered.
    case afterCommitStatement
}

/// A test's fault at a ``CommitStage``: for example restarting the server (a real lost
/// connection) or throwing ``SimulatedConnectionLoss`` (a `COMMIT` whose answer was lost).
typealias CommitFault = @Sendable (CommitStage) async throws -> Void

/// Thrown by a test's ``CommitFault`` to stand for a connection lost after the server applied
/// the `COMMIT` (its answer never arrived), which a test cannot time on a real socket.
struct SimulatedConnectionLoss: Error {}

/// A batch prepared for a PostgreSQL commit: one delta row per key (updates of one key merged in
/// batch order, as the SQLite store does), one snapshot per station and one counter row per
/// site (the last of each wins; a snapshot without a timeline keeps the previous timeline).
final class CommitPlan: Sendable {
    let deltas: [StoredWindow]
    let stations: [StationSnapshot]
    let sites: [SiteCounters]
    let journalOffset: Int64
    let fence: CommitFence?
    /// What the last attempt computed (read back when its connection was lost after COMMIT).
    let lastMerged = Mutex<[StoredWindow]>([])

    init(_ batch: CommitBatch) {
        var deltaIndex: [RowID: Int] = [:]
        var deltas: [StoredWindow] = []
        deltas.reserveCapacity(batch.updates.count)
        for u in batch.updates {
            let id = RowID(u.key)
            if let i = deltaIndex[id] {
                deltas[i].apply(u)
            } else {
                deltaIndex[id] = deltas.count
                var d = StoredWindow(empty: u.key)
                d.apply(u)
                deltas.append(d)
            }
        }
        self.deltas = deltas
        var stationIndex: [StationKey: Int] = [:]
        var stations: [StationSnapshot] = []
        for s in batch.stations {
            if let i = stationIndex[s.station] {
                stations[i].dedup = s.dedup
                if let timeline = s.timeline { stations[i].timeline = timeline }
            } else {
                stationIndex[s.station] = stations.count
                stations.append(s)
            }
        }
        self.stations = stations
        var siteIndex: [String: Int] = [:]
        var sites: [SiteCounters] = []
        for c in batch.sites {
            if let i = siteIndex[c.site] {
                if batch.fence == nil {
                    sites[i] = c
                } else {
                    // Increments: they add up; the horizon only rises.
                    sites[i].horizon = max(sites[i].horizon, c.horizon)
                    sites[i].accepted &+= c.accepted
                    sites[i].duplicates &+= c.duplicates
                    sites[i].deadLetters &+= c.deadLetters
                    sites[i].missing &+= c.missing
                }
            } else {
                siteIndex[c.site] = sites.count
                sites.append(c)
            }
        }
        self.sites = sites
        journalOffset = batch.journalOffset
        fence = batch.fence
    }
}

/// The key columns of some rows, as arrays for `unnest`.
struct KeyColumns {
    var sites: [String] = []
    var lines: [String] = []
    var stations: [String] = []
    var tiers: [String] = []
    var starts: [Int64] = []

    init(_ rows: [StoredWindow]) {
        for r in rows {
            sites.append(r.key.site)
            lines.append(r.key.line)
            stations.append(r.key.station)
            tiers.append(r.key.tier.rawValue)
            starts.append(r.key.start)
        }
    }
}
