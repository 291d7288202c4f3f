import Foundation
import Logging
import PostgresNIO
import TaktCore

/// One row of `line_lease`, as ``PostgresRollupStore/leases()`` reads it (diagnostics, tests).
public struct LeaseRow: Sendable, Equatable {
    public var line: LineKey
    public var owner: String
    public var epoch: Int64
    /// Milliseconds until the lease lapses, on the database's clock (negative: lapsed).
    public var expiresInMs: Int64
    /// The site horizon (epoch ms) up to which the line's state time is in the store.
    public var stateHorizonMs: Int64
}

/// One row of `line_lease_event`: a lease that changed hands.
public struct LeaseEvent: Sendable, Equatable {
    public enum Kind: String, Sendable { case acquired, released }
    /// Epoch ms on the database's clock.
    public var atMs: Int64
    public var line: LineKey
    public var owner: String
    public var epoch: Int64
    public var kind: Kind
}

/// Line leases (contract section 11): every statement runs on the **database's** clock
/// (`clock_timestamp()`, not the transaction's start time), so daemons whose clocks disagree
/// still agree on who holds a line. Durations are milliseconds.
///
/// Invariants: a line has at most one unexpired lease; taking a lease that lapsed (or was
/// released) raises its epoch by one, so a fence of the previous holder fails even if the same
/// owner takes it again; a lease is renewed only while it has not lapsed.
extension PostgresRollupStore {
    /// Says that `owner` is alive for `ttlMs` (a member row; balancing counts the live ones).
    public func heartbeat(owner: String, ttlMs: Int64) async throws {
        try await run {
            try await self.client.checkedQuery("""
                INSERT INTO lease_member (owner, expires_at) VALUES (\(owner), clock_timestamp() + \(ttlMs) * interval '1 millisecond')
                ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at
                """, logger: self.logger)
        }
    }

    /// The live members' owners (member rows not lapsed), in byte order.
    public func liveMembers() async throws -> [String] {
        try await run {
            var owners: [String] = []
            for row in try await self.client.checkedQuery("""
                SELECT owner FROM lease_member WHERE expires_at > clock_timestamp() ORDER BY owner COLLATE "C"
                """, logger: self.logger) {
                owners.append(try row.decode(String.self))
            }
            return owners
        }
    }

    /// Takes the leases of those of `lines` that nobody holds or whose lease lapsed, for
    /// `ttlMs`; returns the leases granted (each with its new epoch) and logs them.
    ///
    /// The rows are locked `FOR UPDATE` first, which waits for every fenced commit in flight on
    /// them (those hold `FOR KEY SHARE`): a commit that passed its fence check is ordered before
    /// the next epoch. Renewals take weaker locks and never wait for commits.
    public func acquire(owner: String, lines: [LineKey], ttlMs: Int64) async throws -> [LineLease] {
        let wanted = Array(Set(lines)).sorted()
        guard !wanted.isEmpty else { return [] }
        let logger = self.logger
        return try await run {
            try await self.client.checkedTransaction(logger: logger) { connection in
                try await connection.checkedQuery("""
                    SELECT 1 FROM line_lease l
                    JOIN unnest(\(wanted.map(\.site))::text[], \(wanted.map(\.line))::text[]) AS w(site, line)
                      ON l.site = w.site AND l.line = w.line
                    FOR UPDATE OF l
                    """, logger: logger)
                var granted: [LineLease] = []
                for row in try await connection.checkedQuery("""
                    WITH granted AS (
                        INSERT INTO line_lease (site, line, owner, epoch, expires_at)
                        SELECT site, line, \(owner), 1, clock_timestamp() + \(ttlMs) * interval '1 millisecond'
                        FROM unnest(\(wanted.map(\.site))::text[], \(wanted.map(\.line))::text[]) AS w(site, line)
                        ON CONFLICT (site, line) DO UPDATE SET
                            owner = excluded.owner, epoch = line_lease.epoch + 1, expires_at = excluded.expires_at
                            WHERE line_lease.expires_at <= clock_timestamp()
                        RETURNING site, line, epoch
                    ), logged AS (
                        INSERT INTO line_lease_event (site, line, owner, epoch, kind)
                        SELECT site, line, \(owner), epoch, 'acquired' FROM granted
                    )
                    SELECT site, line, epoch FROM granted
                    """, logger: logger).collect() {
                    let (site, line, epoch) = try row.decode((String, String, Int64).self)
                    granted.append(LineLease(line: LineKey(site: site, line: line), epoch: epoch))
                }
                return granted.sorted { $0.line < $1.line }
            }
        }
    }

    /// Extends those of `leases` that `owner` still holds at their epoch and that have not
    /// lapsed, by `ttlMs` from now; returns them. A lease missing from the answer is lost.
    public func renew(owner: String, leases: [LineLease], ttlMs: Int64) async throws -> [LineLease] {
        guard !leases.isEmpty else { return [] }
        return try await run {
            var kept: [LineLease] = []
            for row in try await self.client.checkedQuery("""
                UPDATE line_lease l SET expires_at = clock_timestamp() + \(ttlMs) * interval '1 millisecond'
                FROM unnest(\(leases.map(\.line.site))::text[], \(leases.map(\.line.line))::text[], \(leases.map(\.epoch))::bigint[])
                    AS k(site, line, epoch)
                WHERE l.site = k.site AND l.line = k.line AND l.owner = \(owner) AND l.epoch = k.epoch
                  AND l.expires_at > clock_timestamp()
                RETURNING l.site, l.line, l.epoch
                """, logger: self.logger) {
                let (site, line, epoch) = try row.decode((String, String, Int64).self)
                kept.append(LineLease(line: LineKey(site: site, line: line), epoch: epoch))
            }
            return kept.sorted { $0.line < $1.line }
        }
    }

    /// Gives `leases` up at once (they lapse now; the next taker raises the epoch). Leases
    /// `owner` no longer holds are left alone.
    public func release(owner: String, leases: [LineLease]) async throws {
        guard !leases.isEmpty else { return }
        try await run {
            try await self.client.checkedQuery("""
                WITH released AS (
                    UPDATE line_lease l SET expires_at = clock_timestamp()
                    FROM unnest(\(leases.map(\.line.site))::text[], \(leases.map(\.line.line))::text[], \(leases.map(\.epoch))::bigint[])
                        AS k(site, line, epoch)
                    WHERE l.site = k.site AND l.line = k.line AND l.owner = \(owner) AND l.epoch = k.epoch
                      AND l.expires_at > clock_timestamp()
                    RETURNING l.site, l.line, l.epoch
                )
                INSERT INTO line_lease_event (site, line, owner, epoch, kind)
                SELECT site, line, \(owner), epoch, 'released' FROM released
                """, logger: self.logger)
        }
    }

    /// Ends `owner`'s membership (a graceful stop): its member row goes, so the others
    /// rebalance at once instead of after a TTL.
    public func leave(owner: String) async throws {
        try await run {
            try await self.client.checkedQuery("DELETE FROM lease_member WHERE owner = \(owner)", logger: self.logger)
        }
    }

    /// The stored horizon of every site (epoch ms): the newest event any daemon committed.
    public func siteHorizons() async throws -> [String: Int64] {
        try await run {
            var horizons: [String: Int64] = [:]
            for row in try await self.client.checkedQuery("SELECT site, horizon_ms FROM site_counters", logger: self.logger) {
                let (site, horizon) = try row.decode((String, Int64).self)
                horizons[site] = horizon
            }
            return horizons
        }
    }

    /// Every lease row, by line.
    public func leases() async throws -> [LeaseRow] {
        try await run {
            var rows: [LeaseRow] = []
            for row in try await self.client.checkedQuery("""
                SELECT site, line, owner, epoch,
                       (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint, state_horizon_ms
                FROM line_lease ORDER BY site COLLATE "C", line COLLATE "C"
                """, logger: self.logger) {
                let (site, line, owner, epoch, left, horizon) = try row.decode((String, String, String, Int64, Int64, Int64).self)
                rows.append(LeaseRow(line: LineKey(site: site, line: line), owner: owner, epoch: epoch, expiresInMs: left,
                                     stateHorizonMs: horizon))
            }
            return rows
        }
    }

    /// The lease log, oldest first.
    public func leaseEvents() async throws -> [LeaseEvent] {
        try await run {
            var events: [LeaseEvent] = []
            for row in try await self.client.checkedQuery("""
                SELECT (extract(epoch FROM at) * 1000)::bigint, site, line, owner, epoch, kind FROM line_lease_event ORDER BY id
                """, logger: self.logger) {
                let (at, site, line, owner, epoch, kind) = try row.decode((Int64, String, String, String, Int64, String).self)
                guard let k = LeaseEvent.Kind(rawValue: kind) else { throw StoreError.corrupt("lease event kind '\(kind)'") }
                events.append(LeaseEvent(atMs: at, line: LineKey(site: site, line: line), owner: owner, epoch: epoch, kind: k))
            }
            return events
        }
    }

    /// Inside a commit's transaction: every lease of `fence` must be held by its owner at its
    /// epoch and not lapsed. The rows stay locked `FOR KEY SHARE` until the transaction ends: a
    /// takeover (which locks them `FOR UPDATE` first) waits for this commit, so a commit that
    /// passed the check is ordered before the next owner's epoch; the owner's own renewals (plain
    /// updates) do not wait. Throws ``StoreError/fenced(_:)`` otherwise.
    static func checkFence(_ fence: CommitFence, on connection: PostgresConnection, logger: Logger) async throws {
        let l = fence.leases
        let held = try await connection.checkedQuery("""
            SELECT l.site, l.line FROM line_lease l
            JOIN unnest(\(l.map(\.line.site))::text[], \(l.map(\.line.line))::text[], \(l.map(\.epoch))::bigint[]) AS f(site, line, epoch)
              ON l.site = f.site AND l.line = f.line
            WHERE l.owner = \(fence.owner) AND l.epoch = f.epoch AND l.expires_at > clock_timestamp()
            FOR KEY SHARE OF l
            """, logger: logger).collect()
        guard held.count == l.count else {
            var kept = Set<LineKey>()
            for row in held {
                let (site, line) = try row.decode((String, String).self)
                kept.insert(LineKey(site: site, line: line))
            }
            let lost = l.filter { !kept.contains($0.line) }.map(\.description).joined(separator: ", ")
            throw StoreError.fenced("\(fence.owner) no longer holds \(lost)")
        }
    }

    /// Inside a fenced commit: the fence's lines have their state time in the store up to their
    /// site's horizon of this batch (a drain integrates every held station up to it).
    static func recordStateHorizons(_ sites: [SiteCounters], fence: CommitFence, on connection: PostgresConnection,
                                    logger: Logger) async throws {
        guard !sites.isEmpty else { return }
        let l = fence.leases
        try await connection.checkedQuery("""
            UPDATE line_lease l SET state_horizon_ms = GREATEST(l.state_horizon_ms, h.horizon)
            FROM unnest(\(l.map(\.line.site))::text[], \(l.map(\.line.line))::text[]) AS f(site, line)
            JOIN unnest(\(sites.map(\.site))::text[], \(sites.map(\.horizon))::bigint[]) AS h(site, horizon) ON h.site = f.site
            WHERE l.site = f.site AND l.line = f.line AND l.owner = \(fence.owner)
            """, logger: logger)
    }

    /// Runs a lease statement, mapping errors to ``StoreError``.
    private func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Self.storeError(error)
        }
    }
}
