import Testing
@testable import TaktCore

private func e(_ ts: Int64, _ code: UInt32, seq: Int64 = 0, boot: Int64 = 0) -> StateTimeline.Entry {
    StateTimeline.Entry(ts: ts, boot: boot, seq: seq, state: StateCode(rawValue: code))
}

@Suite("StateTimeline")
struct StateTimelineTests {
    let w = WindowBounds(start: 0, end: 3_600_000)  // one hour, 0…3600 s

    @Test("run and planned over a window, hand-worked")
    func handWorked() {
        var t = StateTimeline()
        // 0–600 s: running (10000); 600–660 s: failure (180000); 660–1800 s: running below
        // full speed (20000); 1800–2400 s: no order (160000, not planned); 2400–2700 s: unknown
        // (30000); 2700 s–horizon 3000 s: micro-stop (50000).
        t.insert(e(0, 10_000, seq: 1))
        t.insert(e(600_000, 180_000, seq: 2))
        t.insert(e(660_000, 20_000, seq: 3))
        t.insert(e(1_800_000, 160_000, seq: 4))
        t.insert(e(2_400_000, 30_000, seq: 5))
        t.insert(e(2_700_000, 50_000, seq: 6))
        // run = 600 + 1140 = 1740 s; planned = 600 + 60 + 1140 + 300 (50000 until 3000 s) = 2100 s.
        let r = t.accumulate(over: w, horizon: 3_000_000)
        #expect(r.runMs == 1_740_000)
        #expect(r.plannedMs == 2_100_000)
        // Horizon past the window end: 50000 holds to 3600 s → planned 2100 + 600 = 2700 s.
        #expect(t.accumulate(over: w, horizon: 10_000_000).plannedMs == 2_700_000)
        // A window in the middle: [630 s, 700 s) = 30 s failure + 40 s running.
        let mid = t.accumulate(over: WindowBounds(start: 630_000, end: 700_000), horizon: 3_000_000)
        #expect(mid.runMs == 40_000 && mid.plannedMs == 70_000)
        // Entirely after the horizon: nothing known.
        #expect(t.accumulate(over: WindowBounds(start: 3_000_000, end: 3_600_000), horizon: 3_000_000) == (0, 0))
    }

    @Test("time before the first state is unknown")
    func beforeFirst() {
        var t = StateTimeline()
        t.insert(e(1_200_000, 10_000))
        // [0, 1200 s) unknown; [1200 s, 3600 s) running.
        let r = t.accumulate(over: w, horizon: 3_600_000)
        #expect(r.runMs == 2_400_000 && r.plannedMs == 2_400_000)
        #expect(t.state(at: 1_199_999) == nil)
        #expect(t.state(at: 1_200_000) == StateCode(rawValue: 10_000))
        #expect(StateTimeline().accumulate(over: w, horizon: 3_600_000) == (0, 0))
    }

    @Test("arrival order does not matter; late states report the changed range")
    func lateStates() {
        var inOrder = StateTimeline()
        let all = [e(0, 10_000, seq: 1), e(600_000, 180_000, seq: 2), e(900_000, 10_000, seq: 3), e(2_000_000, 40_000, seq: 4)]
        for x in all { inOrder.insert(x) }
        var late = StateTimeline()
        #expect(late.insert(all[0]) == 0..<Int64.max)
        #expect(late.insert(all[3]) == 2_000_000..<Int64.max)
        // The failure arrives late: it changes [600 s, 2000 s) (until the next entry).
        #expect(late.insert(all[1]) == 600_000..<2_000_000)
        // Back to running at 900 s: changes [900 s, 2000 s).
        #expect(late.insert(all[2]) == 900_000..<2_000_000)
        #expect(late == inOrder)
        #expect(late.accumulate(over: w, horizon: 3_600_000) == inOrder.accumulate(over: w, horizon: 3_600_000))
        // Replayed entry: nothing changes.
        #expect(late.insert(all[2]) == nil)
        // The same state again (a heartbeat): nothing changes.
        #expect(late.insert(e(100_000, 10_000, seq: 9)) == nil)
    }

    @Test("equal ts: the higher (boot, seq) holds, whatever the arrival order")
    func equalTs() {
        var a = StateTimeline()
        a.insert(e(0, 10_000, seq: 1))
        a.insert(e(0, 180_000, seq: 2))
        var b = StateTimeline()
        b.insert(e(0, 180_000, seq: 2))
        #expect(b.insert(e(0, 10_000, seq: 1)) == nil)  // hidden
        #expect(a == b)
        #expect(a.state(at: 5) == StateCode(rawValue: 180_000))
        let r = a.accumulate(over: w, horizon: 3_600_000)
        #expect(r.runMs == 0 && r.plannedMs == 3_600_000)
    }

    @Test("prune keeps the last entry before the cutoff")
    func prune() {
        var t = StateTimeline()
        for (k, ts) in [0, 100, 200, 300, 400].enumerated() { t.insert(e(Int64(ts) * 1000, k % 2 == 0 ? 10_000 : 180_000, seq: Int64(k))) }
        let before = t.accumulate(over: WindowBounds(start: 250_000, end: 500_000), horizon: 500_000)
        t.prune(before: 250_000)
        #expect(t.entries.map(\.ts) == [200_000, 300_000, 400_000])
        #expect(t.accumulate(over: WindowBounds(start: 250_000, end: 500_000), horizon: 500_000) == before)
        t.prune(before: 0)
        #expect(t.entries.count == 3)
        t.prune(before: 1_000_000)
        #expect(t.entries.map(\.ts) == [400_000])
    }
}
