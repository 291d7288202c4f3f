import Foundation
import MQTT
import Testing
import TestSupport

/// Starts the real binaries (`taktd`, `takt-sim`, `takt`) against a real Mosquitto (or a NATS
/// cluster: ``make(cluster:)``) for the end-to-end tests, and reads their outputs.
struct DaemonHarness {
    /// The harness's Mosquitto; nil only in a harness made on a NATS cluster.
    let broker: MosquittoBroker!
    /// The clustered broker of ``make(cluster:)``.
    var cluster: NATSCluster?
    let directory: URL
    let instance: String
    let plant: String
    /// The harness's own MQTT clients log in with this (a broker on the secure profile).
    var login: (username: String, password: String, caFile: String)?

    /// Path of this harness's copy of a binary.
    func binary(_ name: String) -> String { directory.appendingPathComponent("bin/\(name)").path }

    var dataDirectory: String { directory.appendingPathComponent("data").path }
    var storeURL: String { "sqlite:\(dataDirectory)/takt.sqlite" }
    var daemonLog: String { directory.appendingPathComponent("taktd.log").path }
    /// What `taktd --broker` and `takt-sim --broker` are given: the Mosquitto's URL, or every
    /// node of the cluster (comma-separated, node 0 first).
    var brokerURL: String { cluster?.url ?? broker.url }

    static func make(plant: String = TaktBinaries.file("Config/plant-demo.yaml"), broker existing: MosquittoBroker? = nil) async throws -> DaemonHarness {
        let broker: MosquittoBroker
        if let existing { broker = existing } else { broker = try await MosquittoBroker.start() }
        return try make(plant: plant, broker: broker, cluster: nil)
    }

    /// A harness whose tools are given every node of `cluster` (it starts no Mosquitto).
    static func make(plant: String = TaktBinaries.file("Config/plant-demo.yaml"), cluster: NATSCluster) throws -> DaemonHarness {
        try make(plant: plant, broker: nil, cluster: cluster)
    }

    private static func make(plant: String, broker: MosquittoBroker?, cluster: NATSCluster?) throws -> DaemonHarness {
        let directory = try TestProcess.temporaryDirectory("takt-e2e")
        // Private copies of the binaries: a build running meanwhile (relinking them) cannot
        // make a spawn fail with "Text file busy".
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        for name in ["taktd", "takt", "takt-sim"] {
            try TestProcess.copyExecutable(from: try TaktBinaries.path(name), to: bin.appendingPathComponent(name).path)
        }
        return DaemonHarness(broker: broker, cluster: cluster, directory: directory,
                             instance: "test-\(UUID().uuidString.prefix(8))", plant: plant, login: nil)
    }

    func cleanUp() {
        broker?.stop()
        cluster?.stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Starts `taktd` (journal fsync off: a kill -9 of the process loses nothing written;
    /// `max_past: 0`: the tests replay fixed dates of 2026, further back than the default).
    func startDaemon(extra: [String] = []) throws -> ChildProcess {
        let config = directory.appendingPathComponent("taktd.yaml")
        if !FileManager.default.fileExists(atPath: config.path) {
            try "journal_fsync: never\ncommit_interval_ms: 100\nmax_past: 0\n".write(to: config, atomically: true, encoding: .utf8)
        }
        return try ChildProcess(binary("taktd"),
                                ["--config", config.path, "--broker", brokerURL, "--plant", plant,
                                 "--data-dir", dataDirectory, "--instance", instance] + extra,
                                logFile: daemonLog)
    }

    /// Waits until the daemon's intake session exists on the broker: its retained status says
    /// online with a `started` other than `previous`.
    func waitUntilOnline(previousStarted: String? = nil, timeout: Double = 60) async throws -> String {
        let client = MQTTClient(configuration: try clientConfiguration())
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("takt/v1/status/\(instance)", qos: .atLeastOnce)
        let messages = client.messages
        do {
            return try await waitForOnline(messages, previousStarted: previousStarted, timeout: timeout)
        } catch {
            throw TestSupportError("\(error); taktd.log ends: \(log("taktd.log"))")
        }
    }

    private func waitForOnline(_ messages: MQTTMessages, previousStarted: String?, timeout: Double) async throws -> String {
        try await withTimeout(timeout, "taktd coming online") {
            for await message in messages {
                guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                      object["online"] as? Bool == true, let started = object["started"] as? String,
                      started != previousStarted else { continue }
                return started
            }
            throw TestSupportError("status stream ended")
        }
    }

    /// An MQTT client of the harness's broker, with `login` when it is set.
    func clientConfiguration(clientID: String? = nil) throws -> MQTTClient.Configuration {
        let nodes = try MQTTBrokerURL.list(brokerURL)
        return MQTTClient.Configuration(broker: nodes[0], alternateBrokers: Array(nodes.dropFirst()), clientID: clientID,
                                        username: login?.username,
                                 password: login?.password, tls: login.map { MQTTClient.TLSOptions(caFile: $0.caFile) })
    }

    /// Runs `takt-sim` to the end against the broker and returns its truth.
    func runSimulator(_ arguments: [String], timeout: Double = 300) async throws -> [String: Any] {
        let truth = directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(binary("takt-sim"),
                                   ["--plant", plant, "--broker", brokerURL, "--speed", "max", "--truth", truth] + arguments,
                                   logFile: directory.appendingPathComponent("sim.log").path)
        let code = await sim.exit(timeout: timeout)
        #expect(code == 0, "takt-sim exited \(String(describing: code)): \(log("sim.log"))")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truth))) as? [String: Any])
    }

    /// `takt query --format json` rows (of `store`, default this harness's).
    func query(site: String, line: String? = nil, station: String? = nil, tier: String, from: Int64, to: Int64,
               store: String? = nil) throws -> [[String: Any]] {
        var arguments = ["query", "--store", store ?? storeURL, "--site", site, "--window", tier, "--from", String(from), "--to", String(to), "--format", "json"]
        if let line { arguments += ["--line", line] }
        if let station { arguments += ["--station", station] }
        let output = try TestProcess.run(binary("takt"), arguments)
        return try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [[String: Any]])
    }

    /// Polls the daemon's log until it contains `text`; throws when the time is up.
    /// Waits until taktd's log holds `text` more than `seen` times (pass the count from before a
    /// restart to wait for the restarted daemon's line, not the last one's).
    func waitForLog(_ text: String, beyond seen: Int = 0, timeout: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if logCount(text) > seen { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestSupportError("taktd never logged '\(text)': \(log("taktd.log"))")
    }

    /// How many times taktd's whole log holds `text`.
    func logCount(_ text: String) -> Int {
        let all = (try? String(contentsOfFile: daemonLog, encoding: .utf8)) ?? ""
        return all.components(separatedBy: text).count - 1
    }

    func log(_ name: String) -> String {
        (try? String(contentsOfFile: directory.appendingPathComponent(name).path, encoding: .utf8)).map { String($0.suffix(3000)) } ?? ""
    }
}

/// A truth row or a query row reduced to what both carry, for exact comparison.
struct WindowFigures: Equatable, CustomStringConvertible {
    var start: Int64
    var good: Int64
    var scrap: Int64
    var energyKwh: Double
    var runS: Double
    var plannedS: Double

    init(_ object: [String: Any]) {
        start = (object["start"] as? NSNumber)?.int64Value ?? -1
        good = (object["good"] as? NSNumber)?.int64Value ?? -1
        scrap = (object["scrap"] as? NSNumber)?.int64Value ?? -1
        energyKwh = (object["energy_kwh"] as? NSNumber)?.doubleValue ?? -1
        runS = (object["run_s"] as? NSNumber)?.doubleValue ?? -1
        plannedS = (object["planned_s"] as? NSNumber)?.doubleValue ?? -1
    }

    /// Counts and seconds exactly; energy to 1e-9 relative (sums in another order).
    func matches(_ other: WindowFigures) -> Bool {
        start == other.start && good == other.good && scrap == other.scrap && runS == other.runS
            && plannedS == other.plannedS
            && abs(energyKwh - other.energyKwh) <= 1e-9 * max(1, abs(energyKwh))
    }

    var description: String { "start \(start): good \(good) scrap \(scrap) kWh \(energyKwh) run \(runS) planned \(plannedS)" }
}

extension DaemonHarness {
    /// Every line, station and window (1h, 1d) of the truth, against `takt query`: the list of
    /// mismatches (empty when all equal).
    func mismatches(truth: [String: Any], store: String? = nil) throws -> [String] {
        let site = try #require(truth["site"] as? String)
        let from = try #require((truth["from"] as? NSNumber)?.int64Value) - 2 * 86_400_000
        let to = try #require((truth["to"] as? NSNumber)?.int64Value) + 2 * 86_400_000
        var problems: [String] = []
        for line in try #require(truth["lines"] as? [[String: Any]]) {
            let lineID = try #require(line["line"] as? String)
            for station in try #require(line["stations"] as? [[String: Any]]) {
                let stationID = try #require(station["station"] as? String)
                let windows = try #require(station["windows"] as? [String: Any])
                for tier in ["1h", "1d"] {
                    let expected = try #require(windows[tier] as? [[String: Any]]).map(WindowFigures.init)
                    let actual = try query(site: site, line: lineID, station: stationID, tier: tier, from: from, to: to, store: store)
                        .map(WindowFigures.init)
                    if expected.count != actual.count {
                        problems.append("\(lineID)/\(stationID) \(tier): \(expected.count) windows expected, \(actual.count) stored")
                    }
                    for (e, a) in zip(expected, actual) where !e.matches(a) {
                        problems.append("\(lineID)/\(stationID) \(tier): expected \(e), stored \(a)")
                    }
                }
            }
        }
        return problems
    }

    /// Polls until the stored rollups equal the truth (the daemon has caught up), or the time is up.
    /// Each comparison runs `takt query` once per station and tier: seconds of blocking process
    /// waits, done off Swift's cooperative pool (on 2 cores, two such polls at once starved
    /// every other suite's tasks: a 1.5 s sleep came back after 48 s in a CI dry run).
    func waitUntilCaughtUp(truth: [String: Any], timeout: Double = 120, store: String? = nil) async throws -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        let truthData = try JSONSerialization.data(withJSONObject: truth)
        let harness = self
        let check = { @Sendable () async throws -> [String] in
            try await offCooperativePool {
                let truth = try JSONSerialization.jsonObject(with: truthData) as? [String: Any] ?? [:]
                return try harness.mismatches(truth: truth, store: store)
            }
        }
        var problems = try await check()
        while !problems.isEmpty && Date() < deadline {
            try await Task.sleep(for: .milliseconds(500))
            problems = try await check()
        }
        return problems
    }
}

/// Another process (the `sqlite3` shell) holding a store's write lock (`BEGIN EXCLUSIVE`) until
/// ``release()``: a store the daemon cannot commit to, without touching the daemon.
final class StoreLocker {
    private let process = Process()
    private let input = Pipe()

    init(store path: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path]
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(Data("PRAGMA busy_timeout = 5000;\nBEGIN EXCLUSIVE;\nSELECT 1;\n".utf8))
    }

    /// Rolls back, quits and waits for the shell to end.
    func release() throws {
        input.fileHandleForWriting.write(Data("ROLLBACK;\n.quit\n".utf8))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}
