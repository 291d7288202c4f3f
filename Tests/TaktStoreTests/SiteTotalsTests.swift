import Foundation
import Testing
import TaktCore
@testable import TaktStore

/// `_site` rows derived from committed rows (`SiteTotals`, what the daemon publishes) against
/// the store's own read of the same window (`RollupStore.siteRow`, what `takt query` prints):
/// byte-identical JSON after every commit of random batches. The PostgreSQL case is in
/// `PostgresStoreTests` (its server suite is serialized).
@Suite("_site rows from committed rows")
struct SiteTotalsTests {
    /// Random batches (`PostgresStoreTests.randomBatches`), and from the 20th batch on the day
    /// windows of line `alpha` end 25 h after their start (a site whose time zone changed: one
    /// start, rows with two ends, the latest end's total is the `_site` row).
    static func batches(seed: UInt64, count: Int) -> [CommitBatch] {
        PostgresStoreTests.randomBatches(seed: seed, count: count).enumerated().map { i, batch in
            var batch = batch
            if i >= 20 {
                for u in batch.updates.indices where batch.updates[u].key.tier == .day && batch.updates[u].key.line == "alpha" {
                    batch.updates[u].key.end = batch.updates[u].key.start + 25 * hourMs
                }
            }
            return batch
        }
    }

    /// Commits `batches` into `store`; after each, for every window the commit returned rows of,
    /// derives the `_site` row the daemon's way (apply the returned rows with the batch's ideal
    /// cycles; seed a window from `siteMembers` on its first use or after it was forgotten)
    /// and reads it from the store. Returns how many windows were compared and the mismatches.
    static func compare(_ store: any RollupStore, _ batches: [CommitBatch], capacity: Int) async throws -> (compared: Int, mismatches: [String]) {
        var totals = SiteTotals(capacity: capacity)
        var compared = 0
        var mismatches: [String] = []
        for (i, batch) in batches.enumerated() {
            let rows = try await PostgresStoreTests.commitRetrying(store, batch)
            var windows: [SiteTotals.WindowID] = []
            for (row, ideal) in zip(rows, batch.idealCycles(of: rows)) {
                totals.apply(SiteMember(row: row, idealCycleS: ideal))
                let id = SiteTotals.WindowID(site: row.site, tier: row.window, start: row.start)
                if !windows.contains(id) { windows.append(id) }
            }
            for id in windows {
                if !totals.contains(id) {
                    totals.seed(id, members: try await store.siteMembers(site: id.site, tier: id.tier, start: id.start))
                }
                let derived = totals.siteRow(id)?.json
                let read = try await store.siteRow(site: id.site, tier: id.tier, start: id.start)?.json
                compared += 1
                if derived != read || derived == nil {
                    mismatches.append("batch \(i) \(id.site) \(id.tier.rawValue) \(id.start):\n  derived \(derived ?? "nil")\n  read    \(read ?? "nil")")
                }
            }
            #expect(totals.count <= capacity)
        }
        return (compared, mismatches)
    }

    @Test("SQLite: after each of 60 random commits, every touched window's derived _site row = the store's, byte for byte (also with windows forgotten and seeded again, and a day with two ends)")
    func sqlite() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        for (seed, capacity) in [(UInt64(20_261_201), 4096), (7, 5)] {
            let store = try SQLiteRollupStore(path: dir.path("takt-\(seed).db"))
            let (compared, mismatches) = try await Self.compare(store, Self.batches(seed: seed, count: 60), capacity: capacity)
            #expect(compared > 100, "the batches must touch windows")
            #expect(mismatches.isEmpty, "\(mismatches.prefix(3).joined(separator: "\n"))")
        }
    }

    @Test("siteMembers: the rows and ideal cycles the store's own _site row sums")
    func members() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        let a = hourKey(line: "b", station: "eol", hour: 3), b = hourKey(line: "a", station: "eol", hour: 3)
        _ = try await store.commit(CommitBatch(updates: [
            update(a, good: 5, energy: 1.25, runMs: 1000, plannedMs: 2000, ideal: 6),
            update(b, good: 7, scrap: 1, runMs: 3000, plannedMs: 3000, ideal: 0),
            update(hourKey(line: "a", station: "press", hour: 3), good: 9, output: false),
        ], journalOffset: 1))
        let members = try await store.siteMembers(site: "s", tier: .hour, start: 3 * hourMs)
        #expect(members.map(\.row.line) == ["a", "b"], "output stations only, by line")
        #expect(members.map(\.idealCycleS) == [0, 6])
        #expect(WindowRow.siteTotal(of: members.reversed(), site: "s", tier: .hour)?.json
                    == (try await store.siteRow(site: "s", tier: .hour, start: 3 * hourMs))?.json)
        #expect(try await store.siteMembers(site: "s", tier: .hour, start: 4 * hourMs).isEmpty)
    }
}
