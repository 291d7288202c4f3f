import Foundation
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// DESIGN.md property 1 (nothing lost, nothing twice) under the two failures that matter:
/// the daemon killed at random moments, and the broker restarted mid-run.
@Suite("Chaos: kill -9 and broker restarts", .serialized, .heavyweight)
struct ChaosTests {
    @Test("kill -9 the daemon at 10 random moments of a ≥ 200,000-message run: the rollups still equal the truth")
    func killNine() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        var daemon = try harness.startDaemon()
        _ = try await harness.waitUntilOnline()

        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.broker.url, "--speed", "max",
                                    "--from", "2026-10-01T00:00:00Z", "--duration", "90h", "--seed", "11",
                                    "--faults", "dup=0.005,reorder=0.005,reboot=0.0002", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        var pauses = SplitMix64(seed: 2026)  // deterministic pauses between kills, replayable
        var kills = 0
        while kills < 10 {
            try await Task.sleep(for: .milliseconds(Int(pauses.double(in: 0.3...1.5) * 1000)))
            daemon.signal(SIGKILL)
            #expect(await daemon.exit(timeout: 10) == 128 + SIGKILL)
            kills += 1
            daemon = try harness.startDaemon()
        }
        let simCode = await sim.exit(timeout: 300)
        #expect(simCode == 0, "takt-sim: \(harness.log("sim.log"))")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let published = try #require(((truth["messages"] as? [String: Any])?["published"] as? NSNumber)?.intValue)
        #expect(published >= 200_000)
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 180)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0)
    }

    @Test("the broker restarted mid-run (persistence on): nothing it kept is lost, the rollups equal the truth")
    func brokerRestart() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()

        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.broker.url, "--speed", "max",
                                    "--from", "2026-09-01T00:00:00Z", "--duration", "120h", "--seed", "5",
                                    "--faults", "dup=0.01,reorder=0.01", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        try await Task.sleep(for: .seconds(1.5))
        #expect(sim.isRunning, "the run must still be going when the broker restarts")
        try await harness.broker.restart()
        let simCode = await sim.exit(timeout: 300)
        #expect(simCode == 0, "takt-sim: \(harness.log("sim.log"))")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 120)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
    }

    @Test("SIGTERM while commits lag behind the intake (commit_max_events 64): exit 0, and after a restart the rollups equal the truth")
    func shutdownUnderLoad() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        // Small batches: every receive burst fills the committer's queue, so the network thread
        // is still reading (and would wait for queue space) when the shutdown begins.
        try "journal_fsync: never\ncommit_interval_ms: 100\ncommit_max_events: 64\nmax_past: 0\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        var daemon = try harness.startDaemon()
        _ = try await harness.waitUntilOnline()

        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.broker.url, "--speed", "max",
                                    "--from", "2026-08-01T00:00:00Z", "--duration", "24h", "--seed", "3", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        try await Task.sleep(for: .seconds(1.5))
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 20) == 0, "taktd did not stop: \(harness.log("taktd.log").suffix(2000))")
        daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        let simCode = await sim.exit(timeout: 300)
        #expect(simCode == 0, "takt-sim: \(harness.log("sim.log"))")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 120)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
    }
}
