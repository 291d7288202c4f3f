import Testing
import TaktCore
import TaktFuzzing
import TestSupport

/// The stateful fuzzer of issue 11 (Tests/Fuzz, `make fuzz` runs it for longer): seeded, so a
/// failure names a case seed that `takt-fuzz case SEED` replays step by step.
@Suite("Stateful fuzz", .heavyweight)
struct StatefulFuzzTests {
    /// 50,000 short sequences (the `quick` profile: no multi-day spans, few floods) through two
    /// engines with restores at random commits, every check after every step.
    @Test("50,000 sequences: no trap, bounded drains, exact restores, consistent outcomes and counters")
    func sequences() async throws {
        // ~50 s of CPU: on a thread of its own, not the test runner's cooperative pool.
        let stats = try await offCooperativePool {
            var runner = SequenceRunner()
            runner.stepTimeLimit = 20  // a debug build on a shared machine; the memory checks bound the work
            return FuzzRun.sequences(count: 50_000, seed: 2026_11, options: .quick, runner: runner, keepGoing: true, maxFailures: 10)
        }
        for f in stats.failures { Issue.record("\(f) — replay: takt-fuzz case \(f.caseSeed) --quick") }
        #expect(stats.cases == 50_000)
        // The stream really exercises the engine: counted messages, duplicates, restores.
        #expect(stats.outcomes[0] > 100_000 && stats.outcomes[1] > 5_000 && stats.restarts > 10_000)
    }

    @Test("200,000 decoder and topic cases: decoded within bounds or a dead letter with a reason")
    func decoders() async throws {
        let stats = try await offCooperativePool { FuzzRun.decoders(count: 200_000, seed: 2026_11, keepGoing: true, maxFailures: 10) }
        for f in stats.failures { Issue.record("\(f) — replay: takt-fuzz decoders-case \(f.caseSeed)") }
        #expect(stats.cases == 200_000 && stats.outcomes[0] > 1_000 && stats.topicsOK > 10_000 && stats.topicsBad > 10_000)
    }

    /// Found by the fuzzer before issue 11's fixes, minimised by hand (`KnownCases`).
    @Test("regression: boots 1…1025 with seq 0 and 2^53 − 1 do not overflow `missing`")
    func bootClimbOverflow() async throws {
        let failure = try await Self.runOffPool { KnownCases.bootClimbOverflow() }
        if let failure { Issue.record("\(failure)") }
    }

    @Test("regression: a state at ts 1000, then a unit now, does not open a window per minute since 1970")
    func epochStateThenNow() async throws {
        let failure = try await Self.runOffPool { KnownCases.epochStateThenNow() }
        if let failure { Issue.record("\(failure)") }
    }

    @Test("regression: a heartbeat is kept when a later seq with an earlier ts lands before it (run time ends where the device said)")
    func droppedHeartbeat() throws {
        // Known limitation (protocol.md, section 3): an unchanged state is not stored when every
        // seq before it was counted; a later seq whose ts goes back across it (a device clock
        // stepping back) then finds no entry where the state resumed. Kept as a known issue, so
        // the test says when a fix lands.
        try withKnownIssue("a dropped heartbeat cannot end a state that a later seq with an earlier ts inserts before it") {
            try droppedHeartbeatCase()
        }
    }

    private func droppedHeartbeatCase() throws {
        var stats = FuzzStats()
        let c = KnownCases.droppedHeartbeat()
        if let f = SequenceRunner().run(c, stats: &stats) { Issue.record("\(f)") }
        // The rows themselves: station a ran 30 s (T + 30 s … T + 60 s), in one hour.
        var a = try Aggregator(plants: c.plant.plants, settings: c.settings)
        var rows: [WindowUpdate] = []
        for step in c.steps {
            switch step {
            case .message(let t, let p, let now): _ = a.ingest(topic: String(decoding: t, as: UTF8.self), payload: p, now: now)
            case .drain: rows += a.drainCommit(journalOffset: 0).updates
            case .restart: break
            }
        }
        let hours = rows.filter { $0.key.station == "a" && $0.key.tier == .hour }
        #expect(hours.map(\.runMs).reduce(0, +) == 30_000, "\(hours.map { ($0.key.start, $0.runMs) })")
    }

    @Test("regression: a state_flood dead letter does not use up its seq (a redelivery is not a duplicate)")
    func stateFloodUsesSeq() async throws {
        let failure = try await Self.runOffPool { KnownCases.stateFloodUsesSeq() }
        if let failure { Issue.record("\(failure)") }
    }

    /// Runs one known case on a thread of its own (seconds of CPU in a debug build); returns its
    /// failure, if any, for the test to record.
    static func runOffPool(_ makeCase: @escaping @Sendable () -> SequenceCase) async throws -> String? {
        try await offCooperativePool {
            var stats = FuzzStats()
            return SequenceRunner().run(makeCase(), stats: &stats).map { "\($0)" }
        }
    }
}
