import Foundation
import GRDB
import Testing
import TaktCore
@testable import TaktStore

@Suite("SQLite store: commit")
struct CommitTests {
    @Test("a commit adds count deltas, merges histograms, replaces state times and counts revisions")
    func mergesDeltas() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        let key = hourKey(line: "blade-01", station: "eol", hour: 10)
        let first = [6000, 6000, 6010, 6100, 6200, 6500, 6000, 5900, 6050, 6000, 7000]
        let second = [8000, 8000, 8100, 9000, 12000]

        let r1 = try await store.commit(CommitBatch(
            updates: [update(key, good: 10, scrap: 1, energy: 4.5, cycles: first, runMs: 1000, plannedMs: 2000)],
            journalOffset: 100))
        #expect(r1.count == 1)
        #expect(r1[0].revision == 1)
        #expect(r1[0].good == 10 && r1[0].scrap == 1)

        let r2 = try await store.commit(CommitBatch(
            updates: [update(key, good: 5, scrap: 0, energy: 2.25, cycles: second, runMs: 3000, plannedMs: 3500)],
            journalOffset: 200))
        let row = try #require(r2.first)
        #expect(row.revision == 2)
        #expect(row.good == 15)
        #expect(row.scrap == 1)
        #expect(row.energyKwh == 6.75)
        #expect(row.runS == 3)          // replaced, not added
        #expect(row.plannedS == 3.5)
        #expect(row.downtimeS == 0.5)
        #expect(row.availability == 3000.0 / 3500.0)
        let performance: Double = min(1, 6.0 * 1000 * 16 / 3000)
        #expect(row.performance == performance)
        #expect(row.quality == 15.0 / 16.0)
        #expect(row.goodPerHour == 15)
        let merged = histogram(first + second).p50p90p99
        #expect(row.cycleMsP50 == merged.p50)
        #expect(row.cycleMsP90 == merged.p90)
        #expect(row.cycleMsP99 == merged.p99)
        #expect(row.cycleMsP99 != histogram(first).p50p90p99.p99)  // the second delta counted
        #expect(row.station == "eol" && row.line == "blade-01" && row.window == .hour)
        #expect(row.start == 10 * hourMs && row.end == 11 * hourMs)

        // What a reader sees is what the commit returned.
        let read = try await store.rows(site: "s", line: "blade-01", station: "eol", tier: .hour, from: 0, to: 100 * hourMs)
        #expect(read == [row])
    }

    @Test("the same updates in two batches or in one batch give equal rows")
    func batchingDoesNotMatter() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let a = hourKey(line: "l1", station: "eol", hour: 0)
        let b = hourKey(line: "l1", station: "press", hour: 0)
        let c = hourKey(line: "l2", station: "eol", hour: 1)
        let updates = [
            update(a, good: 3, scrap: 1, energy: 1.25, cycles: [100, 200, 300], runMs: 500, plannedMs: 600),
            update(b, good: 7, energy: 0.5, cycles: [50], runMs: 100, plannedMs: 100, ideal: 2, output: false),
            update(a, good: 2, energy: 0.75, cycles: [250, 260], runMs: 900, plannedMs: 1000),
            update(c, good: 1, energy: 0.1, runMs: 10, plannedMs: 20),
            update(a, scrap: 2, cycles: [1000], runMs: 1200, plannedMs: 1500),
        ]
        let split = try SQLiteRollupStore(path: dir.path("split.db"))
        _ = try await split.commit(CommitBatch(updates: Array(updates[..<2]), journalOffset: 1))
        _ = try await split.commit(CommitBatch(updates: Array(updates[2...]), journalOffset: 2))
        let whole = try SQLiteRollupStore(path: dir.path("whole.db"))
        let returned = try await whole.commit(CommitBatch(updates: updates, journalOffset: 2))

        for (line, station) in [("l1", "eol"), ("l1", "press"), ("l2", "eol")] {
            let x = try await split.rows(site: "s", line: line, station: station, tier: .hour, from: 0, to: 10 * hourMs)
            let y = try await whole.rows(site: "s", line: line, station: station, tier: .hour, from: 0, to: 10 * hourMs)
            #expect(x == y)
            #expect(x.count == 1)
        }
        // One row per key, the latest revision, in (tier, start, line, station) order.
        #expect(returned.map { "\($0.line)/\($0.station!)@\($0.start)#\($0.revision)" }
                == ["l1/eol@0#3", "l1/press@0#1", "l2/eol@3600000#1"])
        let rowA = try #require(returned.first)
        #expect(rowA.good == 5 && rowA.scrap == 3 && rowA.runS == 1.2 && rowA.plannedS == 1.5)
        #expect(rowA.energyKwh == 1.25 + 0.75 + 0)
    }

    @Test("returning only output stations: the other rows are written all the same, not returned")
    func outputStationsOnly() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let eol = hourKey(line: "l1", station: "eol", hour: 0)
        let press = hourKey(line: "l1", station: "press", hour: 0)
        let batches = [
            [update(eol, good: 3, energy: 1.5, cycles: [100, 200]), update(press, good: 4, cycles: [50], output: false)],
            [update(press, good: 1, scrap: 1, cycles: [70, 80], runMs: 5, plannedMs: 9, output: false), update(eol, good: 2)],
        ]
        let daemon = try SQLiteRollupStore(path: dir.path("daemon.db"))
        let reference = try SQLiteRollupStore(path: dir.path("reference.db"))
        for (n, updates) in batches.enumerated() {
            let returned = try await daemon.commit(CommitBatch(updates: updates, journalOffset: Int64(n + 1)), returning: .outputStations)
            #expect(returned.map { $0.station } == ["eol"])
            let all = try await reference.commit(CommitBatch(updates: updates, journalOffset: Int64(n + 1)))
            #expect(all.map { $0.station } == ["eol", "press"])
            #expect(returned.first == all.first)
        }
        for station in ["eol", "press"] {
            let x = try await daemon.rows(site: "s", line: "l1", station: station, tier: .hour, from: 0, to: hourMs)
            let y = try await reference.rows(site: "s", line: "l1", station: station, tier: .hour, from: 0, to: hourMs)
            #expect(x == y && x.count == 1)
        }
        let press2 = try await #require(try daemon.rows(site: "s", line: "l1", station: "press", tier: .hour, from: 0, to: hourMs).first)
        #expect(press2.good == 5 && press2.scrap == 1 && press2.revision == 2 && press2.runS == 0.005)
        #expect(press2.cycleMsP50 == histogram([50, 70, 80]).p50p90p99.p50)
    }

    @Test("a stored cycle histogram that does not decode fails the commit, which writes nothing")
    func damagedStoredHistogram() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path("takt.db")
        let store = try SQLiteRollupStore(path: path)
        let key = hourKey(line: "l1", station: "eol", hour: 0)
        _ = try await store.commit(CommitBatch(updates: [update(key, good: 1, cycles: [100])], journalOffset: 1))
        try await store.writer!.write { db in
            try db.execute(sql: "UPDATE window_row SET cycle_hist = ?", arguments: [Data([1, 1, 0])])
        }
        await #expect(throws: StoreError.self) {
            try await store.commit(CommitBatch(updates: [update(key, good: 1, cycles: [200])], journalOffset: 2))
        }
        #expect(try await store.loadState().journalOffset == 1)
    }

    @Test("commits need SQLite 3.35 (UPSERT … RETURNING): versions compare numerically")
    func sqliteVersion() {
        #expect(SQLiteRollupStore.supports(sqliteVersion: "3.40.1"))
        #expect(SQLiteRollupStore.supports(sqliteVersion: "3.35.0"))
        #expect(SQLiteRollupStore.supports(sqliteVersion: "4.0"))
        #expect(!SQLiteRollupStore.supports(sqliteVersion: "3.34.9"))
        #expect(!SQLiteRollupStore.supports(sqliteVersion: "3.9.0"))
        #expect(!SQLiteRollupStore.supports(sqliteVersion: "unknown"))
    }

    @Test("commit returns rows ordered by site, tier (1m, 1h, 1d), start, line, station")
    func returnOrder() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        func key(_ site: String, _ tier: WindowTier, _ start: Int64, _ line: String, _ station: String) -> WindowKey {
            WindowKey(site: site, line: line, station: station, tier: tier, start: start, end: start + 60_000)
        }
        let keys = [
            key("t", .minute, 0, "a", "x"), key("s", .day, 0, "a", "x"), key("s", .hour, 60_000, "a", "x"),
            key("s", .hour, 0, "b", "x"), key("s", .hour, 0, "a", "y"), key("s", .hour, 0, "a", "x"),
            key("s", .minute, 120_000, "a", "x"),
        ]
        let rows = try await store.commit(CommitBatch(updates: keys.map { update($0, good: 1) }, journalOffset: 0))
        #expect(rows.map { "\($0.site) \($0.window.rawValue) \($0.start) \($0.line) \($0.station!)" } == [
            "s 1m 120000 a x", "s 1h 0 a x", "s 1h 0 a y", "s 1h 0 b x", "s 1h 60000 a x", "s 1d 0 a x",
            "t 1m 0 a x",
        ])
    }

    @Test("a row with no units and no cycles has null ratios where their denominators are 0")
    func emptyRow() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        let rows = try await store.commit(CommitBatch(updates: [update(hourKey(line: "l", station: "eol", hour: 0))], journalOffset: 0))
        let r = try #require(rows.first)
        #expect(r.good == 0 && r.revision == 1)
        #expect(r.availability == nil && r.performance == nil && r.quality == nil && r.oee == nil)
        #expect(r.cycleMsP50 == nil && r.cycleMsP90 == nil && r.cycleMsP99 == nil)
    }

    @Test("station snapshots and site counters round-trip through loadState; later commits replace them")
    func stateRoundTrip() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        #expect(try await store.loadState() == StoreState(journalOffset: 0, stations: [], sites: []))

        let eol = StationKey(site: "s", line: "l1", station: "eol")
        let press = StationKey(site: "s", line: "l1", station: "press")
        let big = [UInt8]((0..<70_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        _ = try await store.commit(CommitBatch(
            stations: [StationSnapshot(station: press, dedup: [1, 2, 3], timeline: []),
                       StationSnapshot(station: eol, dedup: big, timeline: [0, 255])],
            sites: [SiteCounters(site: "s", horizon: 123, accepted: 10, duplicates: 1, deadLetters: 2, missing: 3),
                    SiteCounters(site: "a", horizon: 5)],
            journalOffset: 4096))
        var state = try await store.loadState()
        #expect(state.journalOffset == 4096)
        #expect(state.stations == [StationSnapshot(station: eol, dedup: big, timeline: [0, 255]),
                                   StationSnapshot(station: press, dedup: [1, 2, 3], timeline: [])])
        #expect(state.sites == [SiteCounters(site: "a", horizon: 5),
                                SiteCounters(site: "s", horizon: 123, accepted: 10, duplicates: 1, deadLetters: 2, missing: 3)])

        _ = try await store.commit(CommitBatch(
            stations: [StationSnapshot(station: eol, dedup: [9], timeline: [8])],
            sites: [SiteCounters(site: "s", horizon: 999, accepted: 20, duplicates: 2, deadLetters: 2, missing: 0)],
            journalOffset: 8192))
        state = try await store.loadState()
        #expect(state.journalOffset == 8192)
        #expect(state.stations.first { $0.station == eol } == StationSnapshot(station: eol, dedup: [9], timeline: [8]))
        #expect(state.stations.first { $0.station == press } == StationSnapshot(station: press, dedup: [1, 2, 3], timeline: []))
        #expect(state.sites.last == SiteCounters(site: "s", horizon: 999, accepted: 20, duplicates: 2, deadLetters: 2, missing: 0))
    }

    @Test("a snapshot without timeline bytes keeps the stored ones; none stored is refused")
    func snapshotWithoutTimeline() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        let eol = StationKey(site: "s", line: "l1", station: "eol")
        _ = try await store.commit(CommitBatch(stations: [StationSnapshot(station: eol, dedup: [1], timeline: [7, 7])], journalOffset: 1))
        _ = try await store.commit(CommitBatch(stations: [StationSnapshot(station: eol, dedup: [2], timeline: nil)], journalOffset: 2))
        #expect(try await store.loadState().stations == [StationSnapshot(station: eol, dedup: [2], timeline: [7, 7])])
        // A station the store holds nothing for: the whole batch is refused, nothing written.
        let press = StationKey(site: "s", line: "l1", station: "press")
        await #expect(throws: StoreError.self) {
            try await store.commit(CommitBatch(stations: [StationSnapshot(station: eol, dedup: [3], timeline: nil),
                                                    StationSnapshot(station: press, dedup: [1], timeline: nil)],
                                         journalOffset: 3))
        }
        let state = try await store.loadState()
        #expect(state.journalOffset == 2)
        #expect(state.stations == [StationSnapshot(station: eol, dedup: [2], timeline: [7, 7])])
    }

    @Test("everything persists across close and reopen; migrations run once")
    func reopen() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let path = dir.path("takt.db")
        let key = hourKey(line: "l", station: "eol", hour: 3)
        do {
            let store = try SQLiteRollupStore(path: path)
            _ = try await store.commit(CommitBatch(
                updates: [update(key, good: 4, cycles: [1000], runMs: 10, plannedMs: 10)],
                stations: [StationSnapshot(station: StationKey(site: "s", line: "l", station: "eol"), dedup: [1], timeline: [2])],
                sites: [SiteCounters(site: "s", horizon: 42)],
                journalOffset: 777))
            try store.close()
        }
        for round in 1...2 {
            let store = try SQLiteRollupStore(path: path)
            let state = try await store.loadState()
            #expect(state.journalOffset == 777 + Int64(round - 1))
            #expect(state.stations.count == 1 && state.sites == [SiteCounters(site: "s", horizon: 42)])
            let rows = try await store.commit(CommitBatch(updates: [update(key, good: 1, runMs: 20, plannedMs: 20)],
                                                    journalOffset: 777 + Int64(round)))
            #expect(rows.first?.revision == Int64(1 + round))
            #expect(rows.first?.good == Int64(4 + round))
            #expect(rows.first?.cycleMsP50 == 1000)
            #expect(try await store.appliedMigrations() == ["v1", "v2-binary-timeline"])
            try store.close()
        }
        // A read-only open sees the same data.
        let reader = try SQLiteRollupStore(path: path, readOnly: true)
        #expect(try await reader.loadState().journalOffset == 779)
        await #expect(throws: StoreError.self) { try await reader.commit(CommitBatch(journalOffset: 1)) }
    }

    @Test("a bad update is rejected and nothing of its batch is written")
    func rejectsBadUpdate() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        var bad = update(hourKey(line: "l", station: "eol", hour: 0), good: 1)
        bad.key.end = bad.key.start
        let good = update(hourKey(line: "l", station: "eol", hour: 1), good: 1)
        await #expect(throws: StoreError.self) { try await store.commit(CommitBatch(updates: [good, bad], journalOffset: 5)) }
        var nan = good
        nan.energyKwh = .nan
        await #expect(throws: StoreError.self) { try await store.commit(CommitBatch(updates: [nan], journalOffset: 5)) }
        #expect(try await store.loadState().journalOffset == 0)
        #expect(try await store.rows(site: "s", line: "l", station: "eol", tier: .hour, from: 0, to: 10 * hourMs).isEmpty)
    }

    @Test("opening read-only needs an existing Takt store")
    func readOnlyOpen() throws {
        let dir = try TempDir()
        defer { dir.remove() }
        #expect(throws: StoreError.notFound(path: dir.path("missing.db"))) {
            _ = try SQLiteRollupStore(path: dir.path("missing.db"), readOnly: true)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("missing.db")))
        try Data("this is not a database, just some text that is long enough".utf8).write(to: URL(fileURLWithPath: dir.path("text.db")))
        #expect {
            _ = try SQLiteRollupStore(path: dir.path("text.db"), readOnly: true)
        } throws: { error in
            guard case StoreError.cannotOpen = error else { return false }
            return true
        }
        #expect(throws: StoreError.self) { _ = try SQLiteRollupStore(path: dir.path("no/such/dir/takt.db")) }
    }
}
