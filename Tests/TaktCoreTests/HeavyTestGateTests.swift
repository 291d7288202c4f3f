import Testing
import TestSupport

/// The test suite's own gate (Tests/TestSupport/HeavyTests.swift): slots, and first come first
/// served, so a test that needs several slots is not starved by single-slot tests behind it.
@Suite("Heavy-test gate: weighted slots, first come first served")
struct HeavyTestGateTests {
    /// Yields until `condition` holds (the gate's waiters are other tasks).
    func eventually(_ condition: @escaping () async -> Bool) async {
        for _ in 0..<100_000 where !(await condition()) { await Task.yield() }
    }

    @Test("a waiter needing 2 slots holds back a 1-slot waiter behind it, and both go in order once slots are free")
    func weightedFIFO() async {
        let gate = HeavyTestGate(width: 4)
        await gate.enter(slots: 3)
        await gate.enter()
        #expect(await gate.slotsTaken == 4)
        let two = Task { await gate.enter(slots: 2) }
        await eventually { await gate.waiters == 1 }
        let one = Task { await gate.enter() }
        await eventually { await gate.waiters == 2 }
        await gate.leave()
        // One slot is free: the 1-slot waiter would fit, but the 2-slot one is first.
        #expect(await gate.waiters == 2)
        #expect(await gate.slotsTaken == 3)
        await gate.leave(slots: 3)
        await two.value
        await one.value
        #expect(await gate.waiters == 0)
        #expect(await gate.slotsTaken == 3)
        // More slots than the gate has: it takes the whole gate, not a deadlock.
        await gate.leave(slots: 2)
        await gate.leave()
        await gate.enter(slots: 9)
        #expect(await gate.slotsTaken == 4)
        await gate.leave(slots: 9)
        #expect(await gate.slotsTaken == 0)
    }
}
