import TaktCore
import Testing

/// The daemon's ring buffers (``LiveRing``, ``LiveRow``) and the alert rules (``AlertRules``,
/// ``AlertBook``): pure code, time passed in.
@Suite("Live rings and alert rules")
struct LiveRingTests {
    /// A station row as the store returns it (KPIs from the counts, ideal cycle 6 s).
    static func row(start: Int64, length: Int64 = 60_000, revision: Int64 = 1, good: Int64 = 9, scrap: Int64 = 1,
                    energy: Double = 3.9741, runMs: Int64 = 55_000, plannedMs: Int64 = 60_000, cycles: [Int] = [6_010, 6_200]) -> WindowRow {
        var counts = WindowAccumulator(tier: .minute, bounds: WindowBounds(start: start, end: start + length), revision: revision)
        counts.good = good
        counts.scrap = scrap
        counts.energyKwh = energy
        for c in cycles { counts.cycle.add(c) }
        return WindowRow(site: "s", line: "l", station: "eol", counts: counts, runMs: runMs, plannedMs: plannedMs, idealCycleS: 6)
    }

    @Test("a row survives the 48-byte form exactly: counts, energy, times, KPIs, percentiles, nulls")
    func roundTrip() throws {
        for r in [Self.row(start: 60_000), Self.row(start: 120_000, good: 0, scrap: 0, energy: 0, runMs: 0, plannedMs: 0, cycles: []),
                  Self.row(start: 180_000, revision: 77, good: 4_000_000_000, energy: 0.1 + 0.2, runMs: 1, plannedMs: 59_999)] {
            let live = try #require(LiveRow(r))
            #expect(live.windowRow(site: "s", line: "l", station: "eol", tier: .minute, end: r.end, idealCycleS: 6) == r)
        }
        #expect(MemoryLayout<LiveRow>.stride == 48)
    }

    @Test("counts beyond 32 bits are not representable (the ring stops vouching, the store answers)")
    func unrepresentable() {
        #expect(LiveRow(Self.row(start: 0, good: 5_000_000_000)) == nil)
        #expect(LiveRow(Self.row(start: 0, revision: Int64(UInt32.max))) == nil)
        var ring = LiveRing(capacity: 4)
        ring.put(LiveRow(Self.row(start: 0)), ordinal: 0)
        ring.put(LiveRow(Self.row(start: 60_000)), ordinal: 1)
        ring.put(nil, ordinal: 1)  // ordinal 1 was rewritten with a row the ring cannot hold
        #expect(ring.rows(ordinals: 0, 3) == nil)
        #expect(ring.rows(ordinals: 1, 3) == nil)
        #expect(ring.rows(ordinals: 2, 3) == [])
    }

    @Test("any capacity: the last N ordinals are held, older ones leave, the floor says what is vouched for")
    func eviction() throws {
        var ring = LiveRing(capacity: 180, floor: -1)
        #expect(ring.rows(ordinals: 0, 10) == [])
        #expect(ring.rows(ordinals: -1, 10) == nil)
        for o in Int64(0)..<200 { ring.put(LiveRow(Self.row(start: o * 60_000)), ordinal: o) }
        #expect(ring.count == 180)
        #expect(ring.floor == 19)
        #expect(ring.rows(ordinals: 19, 199) == nil)
        let held = try #require(ring.rows(ordinals: 20, 400))
        #expect(held.map(\.start) == (Int64(20)..<200).map { $0 * 60_000 })
        // A late write below the floor changes nothing; above it, a later revision replaces,
        // an earlier one does not.
        ring.put(LiveRow(Self.row(start: 5 * 60_000, revision: 9)), ordinal: 5)
        #expect(ring.rows(ordinals: 20, 20)?.first?.revision == 1)
        ring.put(LiveRow(Self.row(start: 50 * 60_000, revision: 3)), ordinal: 50)
        ring.put(LiveRow(Self.row(start: 50 * 60_000, revision: 2)), ordinal: 50)
        #expect(ring.rows(ordinals: 50, 50)?.first?.revision == 3)
        // A jump past everything empties the ring; the floor follows.
        ring.put(LiveRow(Self.row(start: 10_000 * 60_000)), ordinal: 10_000)
        #expect(ring.count == 1)
        #expect(ring.rows(ordinals: 9_821, 10_000)?.count == 1)
        #expect(ring.rows(ordinals: 9_820, 10_000) == nil)
        #expect(ring.bytes == 180 * 56)
    }

    // MARK: - Alerts

    static let settings = AlertSettings(stoppedAfterMs: 600_000, silentAfterMs: 300_000)

    static func kinds(_ statuses: [AlertStatus]) -> [AlertKind: Bool] {
        Dictionary(uniqueKeysWithValues: statuses.map { ($0.kind, $0.active) })
    }

    @Test("silent: raised after silent_after without a message, cleared by the next one")
    func silent() {
        var o = LineObservation(watchedSince: 0)
        o.lastMessage = 1_000_000
        #expect(Self.kinds(AlertRules.evaluate(o, now: 1_299_999, horizon: 1_299_999, settings: Self.settings))[.silent] == false)
        let raised = AlertRules.evaluate(o, now: 1_300_000, horizon: 1_300_000, settings: Self.settings)
        #expect(Self.kinds(raised)[.silent] == true)
        #expect(raised.first { $0.kind == .silent }?.since == 1_000_000)
        o.lastMessage = 1_400_000
        #expect(Self.kinds(AlertRules.evaluate(o, now: 1_400_000, horizon: 1_400_000, settings: Self.settings))[.silent] == false)
    }

    @Test("stopped: no good unit for stopped_after in a planned state; not while unplanned (no shift)")
    func stopped() {
        var o = LineObservation(watchedSince: 0)
        o.noteMinute(start: 0, end: 60_000, good: 10, plannedS: 60, horizon: 60_000)
        #expect(o.lastGood == 60_000)
        o.noteMinute(start: 60_000, end: 120_000, good: 0, plannedS: 30, horizon: 90_000)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 659_999, horizon: 659_999, settings: Self.settings))[.stopped] == false)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 660_000, horizon: 660_000, settings: Self.settings))[.stopped] == true)
        // The line goes to "no shift": its newest minute holds no planned time.
        o.noteMinute(start: 600_000, end: 660_000, good: 0, plannedS: 0, horizon: 660_000)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 700_000, horizon: 700_000, settings: Self.settings))[.stopped] == false)
        // Back in a planned state and producing.
        o.noteMinute(start: 660_000, end: 720_000, good: 3, plannedS: 20, horizon: 680_000)
        #expect(o.lastGood == 680_000)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 690_000, horizon: 690_000, settings: Self.settings))[.stopped] == false)
    }

    @Test("oee_low: the newest full hour below the line's threshold; none without a threshold")
    func oeeLow() {
        var o = LineObservation(watchedSince: 0, oeeBelow: 0.6)
        o.noteHour(start: 0, end: 3_600_000, oee: 0.55)
        o.noteHour(start: 3_600_000, end: 7_200_000, oee: 0.1)  // open hour: not judged yet
        let low = AlertRules.evaluate(o, now: 3_700_000, horizon: 3_700_000, settings: Self.settings)
        #expect(Self.kinds(low)[.oeeLow] == true)
        #expect(low.first { $0.kind == .oeeLow }?.since == 3_600_000)
        o.noteHour(start: 3_600_000, end: 7_200_000, oee: 0.8)
        o.noteHour(start: 7_200_000, end: 10_800_000, oee: 0.2)
        #expect(o.hours.count == 2)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 7_300_000, horizon: 7_300_000, settings: Self.settings))[.oeeLow] == false)
        o.oeeBelow = nil
        o.noteHour(start: 0, end: 3_600_000, oee: 0.0)
        #expect(Self.kinds(AlertRules.evaluate(o, now: 11_000_000, horizon: 11_000_000, settings: Self.settings))[.oeeLow] == false)
    }

    @Test("the book reports every kind first, then only changes; a raised alert keeps its since, a cleared one says when")
    func book() {
        var book = AlertBook()
        let quiet = [AlertStatus(kind: .silent, active: false, since: 5, detail: ""),
                     AlertStatus(kind: .stopped, active: false, since: 5, detail: "")]
        #expect(book.update(line: "s/l", quiet, now: 10).count == 2)
        #expect(book.update(line: "s/l", quiet, now: 11).isEmpty)
        var raised = quiet
        raised[0] = AlertStatus(kind: .silent, active: true, since: 3, detail: "no message")
        #expect(book.update(line: "s/l", raised, now: 12).map(\.since) == [3])
        raised[0].since = 4
        #expect(book.update(line: "s/l", raised, now: 13).isEmpty)
        #expect(book.active.map(\.status.since) == [3])
        let cleared = book.update(line: "s/l", quiet, now: 20)
        #expect(cleared.map(\.active) == [false])
        #expect(cleared.map(\.since) == [20])
        #expect(book.active.isEmpty)
        book.forget(line: "s/l")
        #expect(book.update(line: "s/l", quiet, now: 21).count == 2)
    }
}
