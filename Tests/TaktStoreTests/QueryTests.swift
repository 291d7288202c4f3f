import Foundation
import Testing
import TaktCore
@testable import TaktStore

@Suite("SQLite store: query")
struct QueryTests {
    /// Two lines, each with an output station and another station, hours 0…3, plus a line of
    /// another site. Line ids straddle `_` in byte order (`Zeta` < `_site` < `alpha`), so the
    /// `_site`-last rule is visible.
    static func seeded(_ dir: TempDir) async throws -> SQLiteRollupStore {
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        var updates: [WindowUpdate] = []
        for hour: Int64 in 0...3 {
            updates.append(update(hourKey(line: "alpha", station: "eol", hour: hour), good: 100 + hour, scrap: 1,
                                  energy: 10, cycles: [6000], runMs: 3_000_000, plannedMs: 3_600_000, ideal: 30))
            updates.append(update(hourKey(line: "alpha", station: "press", hour: hour), good: 999,
                                  runMs: 3_600_000, plannedMs: 3_600_000, ideal: 3, output: false))
            updates.append(update(hourKey(line: "Zeta", station: "pack", hour: hour), good: 50, energy: 5,
                                  runMs: 1_800_000, plannedMs: 2_400_000, ideal: 20))
            updates.append(update(hourKey(site: "other", line: "alpha", station: "eol", hour: hour), good: 7,
                                  runMs: 1, plannedMs: 1, ideal: 1))
        }
        // A minute row and a day row that must not show up in hour queries.
        updates.append(update(WindowKey(site: "s", line: "alpha", station: "eol", tier: .minute, start: hourMs, end: hourMs + 60_000), good: 1))
        updates.append(update(WindowKey(site: "s", line: "alpha", station: "eol", tier: .day, start: 0, end: 86_400_000), good: 1))
        _ = try await store.commit(CommitBatch(updates: updates, journalOffset: 1))
        return store
    }

    static func label(_ r: WindowRow) -> String {
        "\(r.start / hourMs) \(r.line) \(r.station ?? "null")"
    }

    @Test("without a line: every line's output-station rows and a _site row per window, _site last")
    func siteWide() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try await Self.seeded(dir)
        let rows = try await store.rows(site: "s", line: nil, station: nil, tier: .hour, from: hourMs, to: 3 * hourMs)
        #expect(rows.map(Self.label) == [
            "1 Zeta pack", "1 alpha eol", "1 _site null",
            "2 Zeta pack", "2 alpha eol", "2 _site null",
        ])
        let site = rows[2]
        #expect(site.site == "s" && site.window == .hour && site.end == 2 * hourMs)
        #expect(site.good == 50 + 101 && site.scrap == 1 && site.energyKwh == 15)
    }

    @Test("[from, to) selects windows by their start: from inclusive, to exclusive")
    func boundaries() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try await Self.seeded(dir)
        func starts(_ from: Int64, _ to: Int64) async throws -> [Int64] {
            try await store.rows(site: "s", line: "alpha", station: nil, tier: .hour, from: from, to: to).map { $0.start / hourMs }
        }
        #expect(try await starts(hourMs, 3 * hourMs) == [1, 2])
        #expect(try await starts(hourMs + 1, 3 * hourMs + 1) == [2, 3])   // a window that started before `from` is out
        #expect(try await starts(hourMs - 1, hourMs) == [])
        #expect(try await starts(0, 100 * hourMs) == [0, 1, 2, 3])
        #expect(try await starts(5, 5) == [])
        #expect(try await starts(3 * hourMs, 0) == [])
    }

    @Test("with a line: its output station; with a station too: that station")
    func lineAndStation() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try await Self.seeded(dir)
        let line = try await store.rows(site: "s", line: "alpha", station: nil, tier: .hour, from: 0, to: 2 * hourMs)
        #expect(line.map(Self.label) == ["0 alpha eol", "1 alpha eol"])
        #expect(line.map(\.good) == [100, 101])
        let station = try await store.rows(site: "s", line: "alpha", station: "press", tier: .hour, from: 0, to: 2 * hourMs)
        #expect(station.map(Self.label) == ["0 alpha press", "1 alpha press"])
        #expect(station.allSatisfy { $0.good == 999 && $0.performance == min(1, 3.0 * 1000 * 999 / 3_600_000) })
        let other = try await store.rows(site: "other", line: nil, station: nil, tier: .hour, from: 0, to: hourMs)
        #expect(other.map(Self.label) == ["0 alpha eol", "0 _site null"])
        #expect(try await store.rows(site: "s", line: "nope", station: nil, tier: .hour, from: 0, to: 9 * hourMs).isEmpty)
        #expect(try await store.rows(site: "s", line: nil, station: nil, tier: .minute, from: 0, to: 9 * hourMs).map(\.start)
                == [hourMs, hourMs])
        await #expect(throws: StoreError.self) {
            _ = try await store.rows(site: "s", line: nil, station: "eol", tier: .hour, from: 0, to: hourMs)
        }
    }

    /// Hand-worked: line A (ideal 30 s) good 90, scrap 10, 40 kWh, run 3000 s of 3600 s planned;
    /// line B (ideal 20 s) good 50, 20.5 kWh, run 1800 s of 2400 s; B's other station is left out.
    /// Sums: good 140, scrap 10, 60.5 kWh, run 4800 s, planned 6000 s, downtime 1200 s.
    /// availability 4800/6000 = 0.8; performance = (30·100 + 20·50) / 4800 = 4000/4800 = 5/6;
    /// quality = 140/150 = 14/15; OEE = 0.8 · 5/6 · 14/15 = 0.6222…; good/h = 140 in a 1 h window;
    /// revision = 1 + 2 (B was written twice).
    @Test("_site row: sums of the lines' output rows, KPIs from the sums (hand-worked)")
    func siteTotals() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try SQLiteRollupStore(path: dir.path("takt.db"))
        _ = try await store.commit(CommitBatch(updates: [
            update(hourKey(line: "A", station: "eol", hour: 5), good: 90, scrap: 10, energy: 40, cycles: [30_000],
                   runMs: 3_000_000, plannedMs: 3_600_000, ideal: 30),
            update(hourKey(line: "B", station: "pack", hour: 5), good: 20, energy: 8.5,
                   runMs: 1_000_000, plannedMs: 1_200_000, ideal: 20),
            update(hourKey(line: "B", station: "weld", hour: 5), good: 1000, scrap: 500, energy: 999,
                   runMs: 3_600_000, plannedMs: 3_600_000, ideal: 1, output: false),
        ], journalOffset: 1))
        _ = try await store.commit(CommitBatch(updates: [
            update(hourKey(line: "B", station: "pack", hour: 5), good: 30, energy: 12,
                   runMs: 1_800_000, plannedMs: 2_400_000, ideal: 20),
        ], journalOffset: 2))

        let site = try #require(try await store.siteRow(site: "s", tier: .hour, start: 5 * hourMs))
        #expect(site.line == "_site" && site.station == nil && site.window == .hour)
        #expect(site.start == 5 * hourMs && site.end == 6 * hourMs)
        #expect(site.revision == 3)
        #expect(site.good == 140 && site.scrap == 10)
        #expect(site.energyKwh == 60.5)
        #expect(site.runS == 4800 && site.plannedS == 6000 && site.downtimeS == 1200)
        #expect(site.goodPerHour == 140)
        #expect(site.availability == 0.8)
        #expect(abs(site.performance! - 5.0 / 6.0) < 1e-15)
        #expect(abs(site.quality! - 14.0 / 15.0) < 1e-15)
        #expect(abs(site.oee! - 0.8 * 5 / 6 * 14 / 15) < 1e-15)
        #expect(site.cycleMsP50 == nil && site.cycleMsP90 == nil && site.cycleMsP99 == nil)

        // The same row as in a site-wide query, and as the core's own site total.
        let rows = try await store.rows(site: "s", line: nil, station: nil, tier: .hour, from: 0, to: 24 * hourMs)
        #expect(rows.map(\.line) == ["A", "B", "_site"])
        #expect(rows.last == site)
        let core = WindowRow(siteTotalOf: [(rows[0], 30), (rows[1], 20)], site: "s", tier: .hour,
                             bounds: WindowBounds(start: 5 * hourMs, end: 6 * hourMs))
        #expect(core == site)

        #expect(try await store.siteRow(site: "s", tier: .hour, start: 4 * hourMs) == nil)
        #expect(try await store.siteRow(site: "s", tier: .minute, start: 5 * hourMs) == nil)
        #expect(try await store.siteRow(site: "nope", tier: .hour, start: 5 * hourMs) == nil)
    }

    @Test("newest window start and pruning by window end")
    func newestAndPrune() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try await Self.seeded(dir)
        #expect(try await store.newestWindowStart(site: "s", tier: .hour) == 3 * hourMs)
        #expect(try await store.newestWindowStart(site: "s", tier: .minute) == hourMs)
        #expect(try await store.newestWindowStart(site: "nope", tier: .hour) == nil)
        // Hour windows ending at or before 2 h: hours 0 and 1 of 3 stations of site s + 1 of site other.
        #expect(try await store.pruneRows(tier: .hour, endingAtOrBefore: 2 * hourMs) == 8)
        #expect(try await store.rows(site: "s", line: "alpha", station: nil, tier: .hour, from: 0, to: 9 * hourMs).map(\.start)
                == [2 * hourMs, 3 * hourMs])
        #expect(try await store.rows(site: "s", line: nil, station: nil, tier: .day, from: 0, to: 1).count == 2)
    }

    @Test("the site-wide query uses the partial output index")
    func queryPlan() async throws {
        let dir = try TempDir()
        defer { dir.remove() }
        let store = try await Self.seeded(dir)
        let plan = try await store.explainOutputQuery()
        #expect(plan.contains("window_row_output"), "plan: \(plan)")
    }
}
