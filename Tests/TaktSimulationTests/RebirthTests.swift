import Foundation
import MQTT
import Testing
import TaktCore
import TaktSimulation
import TestSupport

/// `takt-sim --dialect sparkplug` answers a host's rebirth request (NCMD `Node Control/Rebirth`)
/// the way a Sparkplug B 3.0 edge node does: NBIRTH (same `bdSeq`, `seq` 0, the counters as they
/// stand) and its DBIRTHs, before its next DATA. Against a real Mosquitto, with a test client
/// playing the host.
@Suite("takt-sim answers NCMD Rebirth", .heavyweight)
struct RebirthTests {
    @Test("an NCMD Rebirth to a running simulator's node: NBIRTH + DBIRTHs again, same bdSeq, seq 0, the counters' current values")
    func answersRebirth() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.kill() }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }

        let client = MQTTClient(configuration: MQTTClient.Configuration(
            broker: try MQTTBrokerURL(broker.url), clientID: "rebirth-test-host"))
        defer { client.close() }
        try await client.connect()
        _ = try await client.subscribe("spBv1.0/#", qos: .atLeastOnce)
        let seen = OrderedLog()
        let messages = client.messages
        let reader = Task { for await m in messages { seen.add(m.topic, m.payload) } }
        defer { reader.cancel() }

        // 2 simulated hours at 600× (about 12 s): the requests arrive mid-run.
        let truthFile = dir.appendingPathComponent("truth.json")
        let arguments = ["--plant", Fixtures.root.appendingPathComponent("Config/plant-dialects.yaml").path,
                         "--broker", broker.url, "--speed", "600", "--from", "2026-11-01T00:00:00Z", "--duration", "2h",
                         "--seed", "5", "--dialect", "sparkplug", "--truth", truthFile.path]
        let sim = try ChildProcess(try Fixtures.simulatorBinary.path, arguments, logFile: dir.appendingPathComponent("sim.log").path)
        defer { sim.terminate() }
        func simLog() -> String { (try? String(contentsOf: dir.appendingPathComponent("sim.log"), encoding: .utf8)) ?? "" }

        // plc-a: births only devices (line-a's three stations); plc-b-eol: its own metrics.
        // plc-b-stacking gets Rebirth = false, which asks nothing.
        try await waitUntil("40 DDATA of plc-a and 20 NDATA of plc-b-eol", timeout: 60) {
            seen.count(prefix: "spBv1.0/demo/DDATA/plc-a/") >= 40 && seen.count(prefix: "spBv1.0/demo/NDATA/plc-b-eol") >= 20
        }
        for (node, ask) in [("plc-a", true), ("plc-b-eol", true), ("plc-b-stacking", false)] {
            let command = SparkplugPayload(timestamp: 1, metrics: [
                .init(name: "Node Control/Rebirth", timestamp: 1, datatype: SparkplugDataType.boolean.rawValue, value: .boolean(ask)),
            ])
            try await client.publish(topic: SparkplugTopic.ncmd(group: "demo", node: node), payload: command.encoded(), qos: .atLeastOnce)
        }
        try await waitUntil("the second NBIRTHs", timeout: 30) {
            seen.count(prefix: "spBv1.0/demo/NBIRTH/plc-a") == 2 && seen.count(prefix: "spBv1.0/demo/NBIRTH/plc-b-eol") == 2
        }
        #expect(await sim.exit(timeout: 120) == 0, "takt-sim: \(simLog())")
        #expect(simLog().contains("rebirths 2"), "\(simLog())")

        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: truthFile)) as? [String: Any])
        let counts = try #require(truth["messages"] as? [String: Any])
        let published = try #require((counts["published"] as? NSNumber)?.intValue)
        #expect((counts["rebirths"] as? NSNumber)?.intValue == 2)
        try await waitUntil("every published message", timeout: 30) { seen.count(prefix: "spBv1.0/demo/") >= published }
        let all = seen.all().filter { !$0.topic.contains("/NCMD/") }
        #expect(all.count == published)
        #expect(seen.count(prefix: "spBv1.0/demo/NBIRTH/plc-b-stacking") == 1, "Rebirth = false asks nothing")

        // Up to the first answer the stream is byte for byte the run without NCMD traffic.
        let firstAnswer = try #require(all.indices.filter { all[$0].topic.contains("/NBIRTH/") }.dropFirst(3).first)
        let plant = try Fixtures.plant("plant-dialects.yaml")
        let options = SimulationOptions(from: Fixtures.november1, durationMs: 2 * 3_600_000, seed: 5, dialect: .sparkplug)
        let quiet = try await Self.messages(plant, options)
        #expect(all.count > firstAnswer && quiet.count > firstAnswer)
        #expect(Array(all[..<firstAnswer]) == Array(quiet[..<firstAnswer]))

        try Self.checkAnswer(all, node: "plc-a", devices: ["stacking", "welding", "eol"])
        try Self.checkAnswer(all, node: "plc-b-eol", devices: [])
    }

    /// The node's second NBIRTH: same `bdSeq` as its first, `seq` 0, then one DBIRTH per device
    /// (`seq` 1, 2, …) before any DATA of the node, and every value equal to where the node's
    /// earlier messages left that metric (the counters as they stand, the state).
    static func checkAnswer(_ all: [Received], node: String, devices: [String]) throws {
        let prefix = "spBv1.0/demo/"
        let mine = all.filter { $0.topic.hasPrefix(prefix) && $0.topic.split(separator: "/")[3] == node }
        let births = mine.indices.filter { mine[$0].topic.hasPrefix("\(prefix)NBIRTH/") }
        try #require(births.count == 2)
        let first = try SparkplugPayload.decode(mine[births[0]].payload)
        let answer = try SparkplugPayload.decode(mine[births[1]].payload)
        let bdSeq = { (p: SparkplugPayload) in p.metrics.first { $0.name == "bdSeq" }?.value }
        #expect(bdSeq(answer) != nil && bdSeq(answer) == bdSeq(first), "same bdSeq")
        #expect(answer.seq == 0)
        let deviceBirths = mine[(births[1] + 1)...].prefix(devices.count)
        #expect(deviceBirths.map(\.topic) == devices.map { "\(prefix)DBIRTH/\(node)/\($0)" })
        #expect(try deviceBirths.map { try SparkplugPayload.decode($0.payload).seq } == devices.indices.map { UInt64($0 + 1) })
        if let next = mine.dropFirst(births[1] + 1 + devices.count).first {
            #expect(next.topic.contains("DATA/"), "DATA follows the births")
            #expect(try SparkplugPayload.decode(next.payload).seq == UInt64(devices.count + 1))
        }

        // Track every scope's metrics as a host would: names and aliases from the births, values
        // from the births and DATA; at the answer, each value it states must equal the tracked one.
        var aliasName: [String: [UInt64: String]] = [:]
        var value: [String: [String: SparkplugPayload.RawValue]] = [:]
        var checked = 0
        for (i, m) in mine.enumerated() {
            let parts = m.topic.split(separator: "/").map(String.init)
            let type = parts[2]
            let scope = parts.count == 5 ? parts[4] : ""
            let p = try SparkplugPayload.decode(m.payload)
            if type == "NBIRTH" || type == "DBIRTH" {
                let isAnswer = (births[1]...(births[1] + devices.count)).contains(i)
                for metric in p.metrics {
                    guard let name = metric.name, name != "bdSeq", name != "Node Control/Rebirth" else { continue }
                    if isAnswer {
                        #expect(value[scope]?[name] == metric.value, "\(node) \(scope) \(name): the answer states the current value")
                        checked += 1
                    }
                    if let alias = metric.alias { aliasName[scope, default: [:]][alias] = name }
                    value[scope, default: [:]][name] = metric.value
                }
            } else if type == "NDATA" || type == "DDATA" {
                for metric in p.metrics {
                    guard let alias = metric.alias, let name = aliasName[scope]?[alias] else { continue }
                    value[scope, default: [:]][name] = metric.value
                }
            }
        }
        // Good and scrap of every scope at least (and state, energy where bound).
        #expect(checked >= 2 * max(1, devices.count), "\(node): \(checked) values compared")
    }

    /// The messages of an in-memory run (no broker, no NCMD), as (topic, payload).
    static func messages(_ plant: Plant, _ options: SimulationOptions) async throws -> [Received] {
        var engine = SimulationEngine(plant: plant, options: options)
        let sink = CollectingSink()
        _ = try await SimulationRunner.run(&engine, into: sink)
        return sink.messages
    }
}

/// One message as a subscriber received it.
struct Received: Equatable, Sendable {
    var topic: String
    var payload: [UInt8]
}

/// What a test client received, in arrival order (thread-safe).
final class OrderedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [Received] = []

    func add(_ topic: String, _ payload: [UInt8]) {
        lock.withLock { messages.append(Received(topic: topic, payload: payload)) }
    }

    func all() -> [Received] { lock.withLock { messages } }

    func count(prefix: String) -> Int { lock.withLock { messages.filter { $0.topic.hasPrefix(prefix) }.count } }
}

/// Keeps each message's topic and payload (binary Sparkplug payloads cannot go through
/// `topic<TAB>payload` lines).
final class CollectingSink: MessageSink {
    var messages: [Received] = []

    func write(_ batch: MessageBatch, topics: [String]) async throws {
        for i in 0..<batch.count {
            messages.append(Received(topic: topics[Int(batch.entries[i].topic)], payload: Array(batch.payload(i))))
        }
    }

    func finish() async throws {}
}
