import Foundation
import MQTT
import TaktCore
@testable import TaktDaemon
import TaktStore
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's findings about the daemon around the core: configuration, the data directory,
/// the journal's offset under dead-letter floods, the HTTP API's bounds, the store's durability.
@Suite("taktd hardening", .serialized, .heavyweight)
struct HardeningTests {
    @Test("journal_fsync: always (or never) with journal_fsync_interval_ms is an error, in either order; interval alone still works")
    func fsyncSettingsContradict() throws {
        for text in ["journal_fsync: always\njournal_fsync_interval_ms: 50\n", "journal_fsync_interval_ms: 50\njournal_fsync: always\n",
                     "journal_fsync: never\njournal_fsync_interval_ms: 50\n"] {
            #expect(throws: DaemonConfigurationError.self) { try DaemonConfiguration.load(yaml: text, fileName: "t.yaml") }
        }
        #expect(try DaemonConfiguration.load(yaml: "journal_fsync: always\n", fileName: "t.yaml").journalFsync == .always)
        #expect(try DaemonConfiguration.load(yaml: "journal_fsync_interval_ms: 50\n", fileName: "t.yaml").journalFsync
                == .interval(milliseconds: 50))
        #expect(try DaemonConfiguration.load(yaml: "journal_fsync: interval\njournal_fsync_interval_ms: 50\n", fileName: "t.yaml")
                .journalFsync == .interval(milliseconds: 50))
        let bounds = try DaemonConfiguration.load(yaml: "max_past: 0\nmax_seq_gap: 10\nmax_boot_gap: 20\nmax_rows: 5\n", fileName: "t.yaml")
        #expect(bounds.maxPastMs == 0 && bounds.maxSeqGap == 10 && bounds.maxBootGap == 20 && bounds.maxRows == 5)
    }

    @Test("a second taktd on the same data directory exits 1 naming it; the first runs on and counts exactly")
    func dataDirectoryLock() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let first = try harness.startDaemon()
        defer { first.terminate() }
        _ = try await harness.waitUntilOnline()
        let second = try ChildProcess(harness.binary("taktd"),
                                      ["--broker", harness.broker.url, "--plant", harness.plant, "--data-dir", harness.dataDirectory,
                                       "--instance", "intruder"], logFile: harness.directory.appendingPathComponent("second.log").path)
        #expect(await second.exit(timeout: 30) == 1)
        #expect(harness.log("second.log").contains("in use by another taktd"), "\(harness.log("second.log"))")
        let truth = try await harness.runSimulator(["--duration", "2h", "--seed", "31"])
        let problems = try await harness.waitUntilCaughtUp(truth: truth)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
    }

    @Test("10,000 messages to an unknown site move the committed journal offset (no replay after a restart); the dead-letter topic is rate-limited, every one is counted")
    func unattributedDeadLettersCommit() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        try "journal_fsync: never\ncommit_interval_ms: 100\nmax_past: 0\ndead_letters_per_s: 50\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        let port = try freeLoopbackPort()
        var daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        _ = try await harness.waitUntilOnline()

        let watcher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(harness.broker.url)))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("takt/v1/deadletter", qos: .atLeastOnce)
        let letters = watcher.messages
        let lettersSeen = Task {
            var n = 0
            for await _ in letters { n += 1 }
            return n
        }
        let publisher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(harness.broker.url)))
        defer { publisher.close() }
        try await publisher.connect()
        let count = 10_000
        let started = ContinuousClock.now
        for i in 0..<count {
            try await publisher.publish(topic: "takt/v1/nowhere/l/s/unit", payload: Array(#"{"ts": 1, "seq": \#(i)}"#.utf8), qos: .atLeastOnce)
        }
        try await publisher.flush()
        // Every one counted, by reason, on /metrics.
        let metricsURL = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        var counted = 0.0
        let deadline = Date().addingTimeInterval(60)
        while counted < Double(count) && Date() < deadline {
            let (body, _) = try await URLSession.shared.data(from: metricsURL)
            counted = HTTPTests.sample(#"takt_dead_letters_by_reason_total{site="",reason="unknown_source"}"#,
                                       in: String(decoding: body, as: UTF8.self)) ?? 0
            if counted < Double(count) { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(counted == Double(count))
        try await Task.sleep(for: .milliseconds(500))  // the last commit
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 10) == 0)
        let elapsed = (ContinuousClock.now - started).components.seconds + 1
        try await Task.sleep(for: .milliseconds(500))
        watcher.close()  // ends the message sequence
        let published = await lettersSeen.value
        #expect(published <= 50 * Int(elapsed) + 50, "\(published) dead letters published in ~\(elapsed) s at 50/s")
        #expect(published >= 1)

        // The store's offset covers them: a restart replays nothing.
        let store = try SQLiteRollupStore(path: "\(harness.dataDirectory)/takt.sqlite", readOnly: true)
        let offset = try await store.loadState().journalOffset
        let journal = try Journal(directory: URL(fileURLWithPath: harness.dataDirectory).appendingPathComponent("journal"), fsync: .never)
        #expect(offset == journal.endOffset && offset > 0)
        journal.close()
        daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        #expect(!harness.log("taktd.log").contains("replayed "), "\(harness.log("taktd.log"))")
    }

    @Test("/api/v1/windows: an unbounded range is 400 naming from/to (max_rows); a station without its line is 400, not 500; errors are JSON")
    func windowsBounds() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let port = try freeLoopbackPort()
        let base = "http://127.0.0.1:\(port)/api/v1/windows?site=demo"
        let daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        func error(_ query: String) async throws -> (Int, String?) {
            let (status, body) = try await HTTPTests.get(base + query)
            let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
            return (status, object?["error"] as? String)
        }
        // 1m over 35 days of a 2-line site: ~150,000 rows.
        let (wide, wideError) = try await error("&window=1m&from=2026-10-01T00:00:00Z&to=2026-11-05T00:00:00Z")
        #expect(wide == 400)
        #expect(wideError?.contains("max_rows") == true && wideError?.contains("from") == true, "\(wideError ?? "")")
        let (station, stationError) = try await error("&station=eol&window=1h&from=0&to=3600000")
        #expect(station == 400)
        #expect(stationError?.contains("station") == true)
        let (site, siteError) = try await error("x&window=1h&from=0&to=3600000")
        #expect(site == 400 && siteError?.contains("site") == true)
        let (fine, _) = try await error("&window=1h&from=2026-11-01T00:00:00Z&to=2026-11-02T00:00:00Z")
        #expect(fine == 200)
    }

    @Test("the SQLite store commits with synchronous = FULL (journal segments are deleted right after a commit)")
    func storeSynchronousFull() async throws {
        let directory = try TestProcess.temporaryDirectory("takt-sync")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteRollupStore(path: directory.appendingPathComponent("s.sqlite").path)
        #expect(try await store.synchronousMode() == 2)
    }
}
