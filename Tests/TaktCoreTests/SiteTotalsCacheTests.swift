import Testing
@testable import TaktCore

/// `SiteTotals` on its own: which member a window keeps, and forgetting. (That its rows equal
/// the stores' `_site` rows is `TaktStoreTests.SiteTotalsTests`.)
@Suite("SiteTotals (the daemon's _site rows)")
struct SiteTotalsCacheTests {
    static func row(line: String, start: Int64 = 0, end: Int64 = 60_000, revision: Int64, good: Int64) -> WindowRow {
        var counts = WindowAccumulator(tier: .minute, bounds: WindowBounds(start: start, end: end), revision: revision)
        counts.good = good
        return WindowRow(site: "s", line: line, station: "eol", counts: counts, runMs: 30_000, plannedMs: 60_000, idealCycleS: 6)
    }

    @Test("a member is replaced by a higher revision only; rows of windows not held are ignored; the sum is over one row per line")
    func revisions() {
        var totals = SiteTotals()
        let id = SiteTotals.WindowID(site: "s", tier: .minute, start: 0)
        let held = totals.apply(SiteMember(row: Self.row(line: "a", revision: 1, good: 1), idealCycleS: 6))
        #expect(!held, "not held")
        #expect(totals.siteRow(id) == nil)
        totals.seed(id, members: [SiteMember(row: Self.row(line: "a", revision: 3, good: 3), idealCycleS: 6)])
        let heldNow = totals.apply(SiteMember(row: Self.row(line: "a", revision: 2, good: 2), idealCycleS: 6))
        #expect(heldNow)
        #expect(totals.siteRow(id)?.good == 3, "an older revision does not replace a newer one")
        totals.apply(SiteMember(row: Self.row(line: "a", revision: 4, good: 5), idealCycleS: 6))
        totals.apply(SiteMember(row: Self.row(line: "b", revision: 1, good: 7), idealCycleS: 6))
        let site = totals.siteRow(id)
        #expect(site?.good == 12 && site?.revision == 5 && site?.line == "_site" && site?.station == nil)
        // A later revision with another end (the site's time zone changed) replaces the row.
        totals.apply(SiteMember(row: Self.row(line: "a", end: 90_000, revision: 5, good: 6), idealCycleS: 6))
        #expect(totals.siteRow(id)?.good == 6 && totals.siteRow(id)?.end == 90_000, "the latest end's total")
    }

    @Test("beyond its capacity it forgets the least recently used half; a forgotten window is not summed until seeded again")
    func capacity() {
        var totals = SiteTotals(capacity: 4)
        for start in 0..<4 {
            totals.seed(.init(site: "s", tier: .minute, start: Int64(start) * 60_000), members: [])
        }
        totals.apply(SiteMember(row: Self.row(line: "a", start: 0, revision: 1, good: 1), idealCycleS: 6))  // window 0 used again
        totals.seed(.init(site: "s", tier: .minute, start: 4 * 60_000), members: [])
        #expect(totals.count <= 4)
        #expect(totals.contains(.init(site: "s", tier: .minute, start: 0)), "recently used: kept")
        #expect(!totals.contains(.init(site: "s", tier: .minute, start: 60_000)), "least recently used: forgotten")
    }
}
