import Foundation
import MQTT
import Testing
import TestSupport
@testable import TaktDaemon

#if canImport(Glibc)
import Glibc
#endif

/// Commit on idle (issue 16): a message after a quiet spell is committed and published as soon
/// as the intake goes idle, not at the end of `commit_interval_ms` — a minute here, so a daemon
/// that waited for it would fail these tests' time-outs (which only catch hangs; the timings are
/// `make bench`'s freshness step) — and such commits stay exactly once across a `kill -9`.
@Suite("taktd commits when the intake goes idle", .serialized, .heavyweight)
struct FreshnessTests {
    static let topic = "takt/v1/demo/line-a/eol/unit"

    @Test("one unit, then another, nothing after either: each reaches the store and the metrics topics (line and _site) with a 60 s commit interval; after kill -9 and a restart, the next unit counts once more, nothing twice")
    func loneUnitsCommitOnIdle() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        try "journal_fsync: never\ncommit_interval_ms: 60000\nmax_past: 0\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        var daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        let started = try await harness.waitUntilOnline()

        let watcher = MQTTClient(configuration: try harness.clientConfiguration())
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("takt/v1/metrics/demo/+/1m", qos: .atLeastOnce)
        let device = MQTTClient(configuration: try harness.clientConfiguration())
        defer { device.close() }
        try await device.connect()
        // The current minute: not too old for the default max_future_s, one window for all.
        let minute = Int64(Date().timeIntervalSince1970 * 1000) / 60_000 * 60_000

        for seq in 1...3 {
            if seq == 3 {
                // Both units are committed (their rows were published after the commit): a
                // kill -9 now must not make the restart count them again.
                daemon.signal(SIGKILL)
                #expect(await daemon.exit(timeout: 10) == 128 + SIGKILL)
                // The status's `started` has one-second resolution: a restart within the second
                // of the first start would publish the same `started`, and waitUntilOnline could
                // not tell the new status from the old (a failure seen once commits got faster).
                let firstStart = try #require(ISO8601DateFormatter().date(from: started))
                while Date() < firstStart.addingTimeInterval(1) { try await Task.sleep(for: .milliseconds(50)) }
                daemon = try harness.startDaemon()
                _ = try await harness.waitUntilOnline(previousStarted: started)
            }
            try await device.publishAndWait(topic: Self.topic, payload: Array("{\"ts\": \(minute + Int64(seq)), \"seq\": \(seq)}".utf8))
            // Nothing else is sent: only a commit when the intake goes idle gets it out before
            // the 60 s interval.
            let rows = try await Self.rows(watcher, minute: minute, good: Int64(seq), timeout: 30)
            #expect(rows.line == Int64(seq) && rows.site == Int64(seq), "metrics after unit \(seq): \(rows)")
            let stored = try await offCooperativePool {
                try harness.query(site: "demo", line: "line-a", tier: "1m", from: minute, to: minute + 60_000)
                    .map { ($0["good"] as? NSNumber)?.int64Value ?? -1 }
            }
            #expect(stored == [Int64(seq)], "store after unit \(seq)")
        }
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log"))")
    }

    @Test("_site rows are derived from the daemon's own commits only for sites whose every line it subscribes to")
    func derivedSites() {
        #expect(MetricsPublisher.derivedSites(plants: ["a", "b"], subscriptions: ["takt/v1/#"]) == ["a", "b"])
        #expect(MetricsPublisher.derivedSites(plants: ["a", "b"], subscriptions: ["takt/v1/b/#", "takt/v1/a/l1/#"]) == ["b"])
        #expect(MetricsPublisher.derivedSites(plants: ["a"], subscriptions: ["takt/v1/a/+/eol/unit"]).isEmpty)
    }

    /// Reads the watcher's metrics until the `1m` rows of `minute` for line-a and `_site` both
    /// say at least `good` (or the time-out); returns the last `good` seen of each.
    static func rows(_ watcher: MQTTClient, minute: Int64, good: Int64, timeout: Double) async throws -> (line: Int64, site: Int64) {
        let batches = watcher.messageBatches
        return try await withTimeout(timeout, "metrics rows with good \(good)") {
            var line: Int64 = 0, site: Int64 = 0
            for await batch in batches {
                for message in batch {
                    guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                          (object["start"] as? NSNumber)?.int64Value == minute,
                          let value = (object["good"] as? NSNumber)?.int64Value else { continue }
                    switch object["line"] as? String {
                    case "line-a": line = value
                    case "_site": site = value
                    default: continue
                    }
                }
                if line >= good && site >= good { return (line, site) }
            }
            throw TestSupportError("metrics stream ended")
        }
    }
}
