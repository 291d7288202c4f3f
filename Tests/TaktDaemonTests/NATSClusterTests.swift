import Foundation
import MQTT
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 12, a clustered broker: takt-sim → a 3-node NATS JetStream cluster's MQTT interface →
/// taktd, both given every node (`--broker mqtt://n1,mqtt://n2,mqtt://n3`), and the node both
/// are connected to killed mid-run.
@Suite("taktd on a 3-node NATS JetStream cluster", .serialized, .heavyweight)
struct NATSClusterTests {
    @Test("the node taktd and takt-sim are connected to is killed mid-run: every line, station and window equals the truth")
    func nodeKilledMidRun() async throws {
        let cluster = try await NATSCluster.start()
        let harness = try DaemonHarness.make(cluster: cluster)
        defer { harness.cleanUp() }
        let port = try freeLoopbackPort()
        let daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        // Both connections of taktd are on node 0 (the first of the list, and up).
        try await harness.waitForLog("intake subscribed to takt/v1/# on \(cluster.nodes[0].url)")
        // An independent subscriber on node 1 (persistent session, like the intake): what the
        // cluster delivered, to tell a broker loss from a daemon loss if the rows differ.
        let nodes = try cluster.nodes.map { try MQTTBrokerURL($0.url) }
        let watcher = MQTTClient(configuration: .init(
            broker: nodes[1], alternateBrokers: [nodes[2], nodes[0]], clientID: "takt-test-watcher", cleanSession: false,
            reconnect: .init(initialDelay: 0.1, maxDelay: 1), inboxCapacity: 1 << 20))
        defer { watcher.close() }
        let seen = Mutex((distinct: Set<[UInt8]>(), total: 0))
        let batches = watcher.messageBatches
        let watching = Task {
            for await batch in batches {
                seen.withLock { s in
                    for message in batch {
                        s.total += 1
                        s.distinct.insert(Array(message.topic.utf8) + [0] + message.payload)
                    }
                }
            }
        }
        defer { watching.cancel() }
        try await watcher.connect()
        try await watcher.subscribe("takt/v1/demo/#", qos: .atLeastOnce)

        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.brokerURL, "--speed", "max",
                                    "--from", "2026-09-01T00:00:00Z", "--duration", Self.duration, "--seed", "12",
                                    "--faults", "dup=0.01,reorder=0.01,malformed=0.001", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        defer { sim.terminate() }
        try await Task.sleep(for: .seconds(2))
        #expect(sim.isRunning, "the run must still be going when the node dies")
        let killed = ContinuousClock.now
        cluster.kill(0)
        try await harness.waitForLog("intake connected to ", timeout: 60)
        let intakeBack = ContinuousClock.now - killed
        let simCode = await sim.exit(timeout: 600)
        #expect(simCode == 0, "takt-sim: \(harness.log("sim.log"))")
        let simDone = ContinuousClock.now - killed
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 150)
        let caughtUp = ContinuousClock.now - killed
        let metricsText = String(decoding: try await HTTPTests.get("http://127.0.0.1:\(port)/metrics").body, as: UTF8.self)
        let watched = seen.withLock { ($0.distinct.count, $0.total) }
        let missing = Self.counter("takt_seq_missing", in: metricsText)
        let details = """
            \(problems.prefix(10).joined(separator: "\n"))
            truth messages: \(truth["messages"] ?? "?")
            watcher on node 1: \(watched.0) distinct messages of \(watched.1) received
            \(metricsText.split(separator: "\n").filter { !$0.hasPrefix("#") && ($0.contains("messages") || $0.contains("dead_letters") || $0.contains("missing")) }.joined(separator: "\n"))
            \(harness.log("taktd.log"))
            """
        // Nothing counted twice, whatever the cluster sent again: no window holds more than the truth.
        // ~20 `takt query` runs: off the cooperative pool (2 threads here).
        let excess = try await offCooperativePool {
            let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any]
            return try Self.windowsAboveTruth(harness, truth: truth ?? [:])
        }
        #expect(excess.isEmpty, "\(excess.prefix(10).joined(separator: "\n"))\n\(details)")
        // Exactly the truth. NATS 2.9.10 (Debian bookworm) sometimes never delivers a few QoS 1
        // messages it had acknowledged to their publisher, to persistent sessions whose JetStream
        // consumer was led by the killed node — reproduced without any Takt code (a raw MQTT
        // publisher that checks every PUBACK, two mosquitto_sub on the surviving nodes: 13 and 1
        // of 8,000 never arrived, one run in three). docs/deploy.md, "What survives".
        withKnownIssue("NATS 2.9.10 loses a few acknowledged QoS 1 messages of a persistent session whose consumer leader dies", isIntermittent: true) {
            #expect(problems.isEmpty, "\(details)")
        }
        // That loss is tens of messages; a broken failover (the intake never back, or back without
        // its session) would miss everything after the kill: thousands.
        #expect((missing ?? -1) >= 0 && (missing ?? 0) <= 200, "seq gaps \(missing.map(String.init) ?? "?")\n\(details)")

        let messages = try #require(truth["messages"] as? [String: Any])
        let injected = (messages["duplicate"] as? NSNumber)?.intValue ?? 0
        let published = (messages["published"] as? NSNumber)?.intValue ?? 0
        let duplicates = Self.counter("takt_messages_duplicate_total", in: metricsText)
        let log = harness.log("taktd.log")
        #expect(!log.contains("WITHOUT its session"), "\(log)")
        print("""
            NATS cluster, node 0 killed: \(published) messages published; taktd's intake connected again \
            \(intakeBack) after the kill; takt-sim done \(simDone), rows compared \(caughtUp) after it (\(problems.count) windows off, seq gaps \(missing.map(String.init) ?? "?")); \
            duplicates counted \(duplicates.map(String.init) ?? "?") of which \(injected) injected by the simulator; \
            an independent subscriber got \(watched.0) distinct messages (\(watched.1) with repeats)
            """)

        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log"))")
    }

    /// Simulated time of the run: long enough that the kill lands mid-run on a loaded machine,
    /// short enough for NATS 2.9's slowest QoS 1 rate seen here (≈ 50 msg/s after the kill, in a
    /// CI dry run: 16 h = 42,554 messages did not finish in 600 s). 4 h ≈ 10,600 messages.
    static let duration = "4h"

    /// The windows (1h, 1d) of every station where the store holds more good or scrap units than
    /// the truth: units counted twice.
    static func windowsAboveTruth(_ harness: DaemonHarness, truth: [String: Any]) throws -> [String] {
        // Plain throws, no #require: this runs on a thread of its own, outside the test's task.
        func field<T>(_ value: Any?, _ name: String) throws -> T {
            guard let typed = value as? T else { throw TestSupportError("truth: no \(name)") }
            return typed
        }
        let site: String = try field(truth["site"], "site")
        let from = (try field(truth["from"], "from") as NSNumber).int64Value - 2 * 86_400_000
        let to = (try field(truth["to"], "to") as NSNumber).int64Value + 2 * 86_400_000
        var excess: [String] = []
        for line: [String: Any] in try field(truth["lines"], "lines") as [[String: Any]] {
            let lineID: String = try field(line["line"], "line")
            for station: [String: Any] in try field(line["stations"], "stations") as [[String: Any]] {
                let stationID: String = try field(station["station"], "station")
                let windows: [String: Any] = try field(station["windows"], "windows")
                for tier in ["1h", "1d"] {
                    var expected: [Int64: WindowFigures] = [:]
                    for row in (try field(windows[tier], tier) as [[String: Any]]).map(WindowFigures.init) { expected[row.start] = row }
                    let stored = try harness.query(site: site, line: lineID, station: stationID, tier: tier, from: from, to: to)
                        .map(WindowFigures.init)
                    for row in stored {
                        let truthRow = expected[row.start]
                        if row.good > (truthRow?.good ?? 0) || row.scrap > (truthRow?.scrap ?? 0) {
                            excess.append("\(lineID)/\(stationID) \(tier): stored \(row), truth \(truthRow.map(String.init(describing:)) ?? "none")")
                        }
                    }
                }
            }
        }
        return excess
    }

    /// The sum of a Prometheus counter's samples.
    static func counter(_ name: String, in text: String) -> Int? {
        let values = text.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        return values.isEmpty ? nil : Int(values.reduce(0, +))
    }
}
