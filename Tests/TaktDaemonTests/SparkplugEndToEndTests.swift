import Foundation
import MQTT
import TaktCore
import Testing
import TestSupport

/// Sparkplug B (contract section 9) end to end: the real `taktd`, a real Mosquitto, edge-node
/// messages published by a test client (some encoded by Python's protobuf from the same .proto,
/// an encoder that shares no code with Takt) or by `takt-sim --dialect sparkplug`.
@Suite("Sparkplug B end to end", .serialized, .heavyweight)
struct SparkplugEndToEndTests {
    /// Line L1 (output eol) on the node g1/n1's own metrics; line L2 (output out) on its device d1.
    static let plant = """
        site: s1
        timezone: UTC
        calendar: {planned_hours_per_year: 8000}
        lines:
          - id: L1
            product: p
            ideal_cycle_s: 6
            unit_kwh: 0.5
            output_station: eol
            stations:
              - id: eol
                cycle_s: 6
                sparkplug:
                  group: g1
                  node: n1
                  metrics: {good: Production/Good, scrap: Production/Scrap, state: Status/StateCode}
          - id: L2
            product: p
            ideal_cycle_s: 4
            unit_kwh: 0.25
            output_station: out
            stations:
              - id: out
                cycle_s: 4
                sparkplug:
                  group: g1
                  node: n1
                  device: d1
                  metrics: {good: Good, scrap: Scrap, energy_kwh: Energy, running: Running}
        """

    /// 2026-11-02T00:00:00Z: minutes from here.
    static let t0: Int64 = 1_794_009_600_000
    static func minute(_ k: Int64) -> Int64 { t0 + k * 60_000 }

    /// A published message: topic and payload bytes.
    struct Message {
        var topic: String
        var payload: [UInt8]
    }

    static func msg(_ type: SparkplugTopic.MessageType, device: String? = nil, _ p: SparkplugPayload) -> Message {
        Message(topic: SparkplugTopic(group: "g1", type: type, node: "n1", device: device).text, payload: p.encoded())
    }

    /// Payloads from the independent encoder (scripts/sparkplug-encode.py), one per spec.
    static func pythonPayloads(_ specs: [[String: Any]]) throws -> [[UInt8]] {
        let input = try JSONSerialization.data(withJSONObject: specs)
        let inFile = try TestProcess.temporaryDirectory("sp-py").appendingPathComponent("specs.json")
        try input.write(to: inFile)
        let output = try TestProcess.run("/bin/sh", ["-c", "python3 '\(TaktBinaries.file("scripts/sparkplug-encode.py"))' < '\(inFile.path)'"])
        return output.split(separator: "\n").map { line in
            var bytes: [UInt8] = []
            var i = line.startIndex
            while i < line.endIndex {
                let j = line.index(i, offsetBy: 2)
                bytes.append(UInt8(line[i..<j], radix: 16)!)
                i = j
            }
            return bytes
        }
    }

    @Test("every case of the issue on a real broker: order, gaps, wrap, shared seq, births, deaths, aliases, signed types, history, resets, STATE and NCMD")
    func cases() async throws {
        let harness = try await DaemonHarness.make(plant: try Self.writePlant())
        defer { harness.cleanUp() }
        try "journal_fsync: never\ncommit_interval_ms: 100\nmax_past: 0\nmax_future_s: 0\nsparkplug: {host_id: takt-test, reorder_timeout_ms: 1000}\n"
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()

        let client = MQTTClient(configuration: try harness.clientConfiguration(clientID: "sp-test-node"))
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("spBv1.0/#", qos: .atLeastOnce)
        let seen = MessageLog()
        let messages = client.messages
        let reader = Task { for await m in messages { seen.add(m.topic, m.payload) } }
        defer { reader.cancel() }
        func publish(_ ms: [Message]) async throws {
            for m in ms { try await client.publish(topic: m.topic, payload: m.payload, qos: .atLeastOnce) }
        }
        func good(_ v: UInt64, ts: Int64, alias: UInt64 = 1, historical: Bool = false) -> SparkplugPayload.Metric {
            .init(alias: alias, timestamp: ts, isHistorical: historical, value: .long(v))
        }

        // The host's STATE birth (retained, on its own connection, with the will's timestamp).
        try await waitUntil("STATE online") { seen.payloads("spBv1.0/STATE/takt-test").contains { String(decoding: $0, as: UTF8.self).contains("\"online\":true") } }

        // 1. Births: node (good 100, scrap Int32 −12 sent as 4294967284, state), device d1 (Good
        //    UInt32 4,000,000,000 in long_value, Scrap Int16 −87 as 0xFFFFFFA9, Energy, Running).
        let births = try Self.pythonPayloads([
            ["timestamp": Self.minute(0), "seq": 0, "metrics": [
                ["name": "bdSeq", "datatype": 8, "long_value": 5],
                ["name": "Production/Good", "alias": 1, "datatype": 8, "long_value": 100, "timestamp": Self.minute(0)],
                ["name": "Production/Scrap", "alias": 2, "datatype": 3, "int_value": 4_294_967_284, "timestamp": Self.minute(0)],
                ["name": "Status/StateCode", "alias": 3, "datatype": 7, "int_value": 10_000, "timestamp": Self.minute(0)],
            ]],
            ["timestamp": Self.minute(0), "seq": 1, "metrics": [
                ["name": "Good", "alias": 10, "datatype": 7, "long_value": 4_000_000_000, "timestamp": Self.minute(0)],
                ["name": "Scrap", "alias": 11, "datatype": 2, "int_value": 0xFFFF_FFA9, "timestamp": Self.minute(0)],
                ["name": "Energy", "alias": 12, "datatype": 10, "double_value": 1000.0, "timestamp": Self.minute(0)],
                ["name": "Running", "alias": 13, "datatype": 11, "boolean_value": true, "timestamp": Self.minute(0)],
            ]],
            // 2. Signed values crossing zero: scrap −12 → 3 is 15 units (read unsigned it would be a reset: 3);
            //    Int16 −87 → 13 is 100; UInt32 in long_value 4,000,000,000 → 4,000,000,050 is 50.
            ["timestamp": Self.minute(1), "seq": 2, "metrics": [["alias": 2, "int_value": 3, "timestamp": Self.minute(1)]]],
            ["timestamp": Self.minute(1), "seq": 3, "metrics": [
                ["alias": 10, "long_value": 4_000_000_050, "timestamp": Self.minute(1)],
                ["alias": 11, "int_value": 13, "timestamp": Self.minute(1)],
                ["alias": 12, "double_value": 1025.0, "timestamp": Self.minute(1)],
            ]],
            // 3. Several values of one metric in one payload, out of timestamp order: 10 units in each of
            //    minutes 2, 3, 4; historical values land in minutes 40 and 41 of the hour before.
            ["timestamp": Self.minute(5), "seq": 4, "metrics": [
                ["alias": 1, "long_value": 130, "timestamp": Self.minute(4)],
                ["alias": 1, "long_value": 110, "timestamp": Self.minute(2)],
                ["alias": 1, "long_value": 120, "timestamp": Self.minute(3)],
            ]],
            ["timestamp": Self.minute(5), "seq": 5, "metrics": [
                ["alias": 1, "long_value": 131, "timestamp": Self.minute(-20), "is_historical": true],
                ["alias": 1, "long_value": 133, "timestamp": Self.minute(-19), "is_historical": true],
            ]],
        ])
        try await publish([
            Message(topic: "spBv1.0/g1/NBIRTH/n1", payload: births[0]),
            Message(topic: "spBv1.0/g1/DBIRTH/n1/d1", payload: births[1]),
            Message(topic: "spBv1.0/g1/NDATA/n1", payload: births[2]),
            Message(topic: "spBv1.0/g1/DDATA/n1/d1", payload: births[3]),
            Message(topic: "spBv1.0/g1/NDATA/n1", payload: births[4]),
            Message(topic: "spBv1.0/g1/NDATA/n1", payload: births[5]),
        ])
        // 4. Out of order within the timeout: seq 7 before 6 (node and device share the seq).
        try await publish([
            Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(7), seq: 7, metrics: [good(140, ts: Self.minute(7))])),
            Self.msg(.ddata, device: "d1", SparkplugPayload(timestamp: Self.minute(6), seq: 6, metrics: [
                .init(alias: 10, timestamp: Self.minute(6), value: .long(4_000_000_055))])),
        ])
        try await waitForRows(harness, line: "L1", station: "eol", minute: 7, good: 7)
        #expect(seen.count("spBv1.0/g1/NCMD/n1") == 0)

        // 5. Duplicates (a redelivery of seq 4) change nothing.
        try await publish([Message(topic: "spBv1.0/g1/NDATA/n1", payload: births[4])])

        // 6. A gap never filled: seq 8 missing, 9 and 10 wait, then go in after the timeout;
        //    exactly one NCMD Rebirth, by name, without seq.
        try await publish([
            Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(9), seq: 9, metrics: [good(150, ts: Self.minute(9))])),
            Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(10), seq: 10, metrics: [good(151, ts: Self.minute(10))])),
        ])
        try await waitUntil("NCMD Rebirth") { seen.count("spBv1.0/g1/NCMD/n1") >= 1 }
        let firstRequest = Date()
        try await Task.sleep(for: .milliseconds(1500))
        if Date().timeIntervalSince(firstRequest) < 4.5 { #expect(seen.count("spBv1.0/g1/NCMD/n1") == 1) }
        let ncmd = try SparkplugPayload.decode(try #require(seen.payloads("spBv1.0/g1/NCMD/n1").first))
        #expect(ncmd.seq == nil && ncmd.metrics.map(\.name) == ["Node Control/Rebirth"] && ncmd.metrics[0].alias == nil)
        #expect(ncmd.metrics[0].value == .boolean(true))
        try await waitForRows(harness, line: "L1", station: "eol", minute: 9, good: 10)
        // A second gap right away: throttled (at most one request per node per 5 s).
        try await publish([Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(12), seq: 12, metrics: [good(152, ts: Self.minute(12))]))])
        try await waitForRows(harness, line: "L1", station: "eol", minute: 12, good: 1)
        // The throttle is 5 s of the daemon's clock: only a check made within it can expect one
        // request (a loaded CI machine may take longer to get here; then a second one is right).
        if Date().timeIntervalSince(firstRequest) < 4.5 {
            #expect(seen.count("spBv1.0/g1/NCMD/n1") == 1)
        } else {
            #expect(seen.count("spBv1.0/g1/NCMD/n1") <= 2)
        }
        let requestsBeforeWrap = seen.count("spBv1.0/g1/NCMD/n1")

        // 7. The rebirth with the same bdSeq: new aliases; counts nothing twice (the BIRTH says 152).
        //    Then seq wraps 255 → 0 without a gap, and a counter reset (152 → 4: 4 units).
        try await publish([Self.msg(.nbirth, SparkplugPayload(timestamp: Self.minute(13), seq: 0, metrics: [
            .init(name: "bdSeq", datatype: 8, value: .long(5)),
            .init(name: "Production/Good", alias: 21, timestamp: Self.minute(13), datatype: 8, value: .long(152)),
            .init(name: "Production/Scrap", alias: 22, timestamp: Self.minute(13), datatype: 3, value: .int(3)),
        ]))])
        var wrap: [Message] = []
        for s in 1...256 as ClosedRange<UInt64> {  // seq 1 … 255, then 0
            wrap.append(Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(14), seq: s % 256, metrics: [
                .init(alias: 21, timestamp: Self.minute(14), value: .long(152 + s))])))
        }
        wrap.append(Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(15), seq: 1, metrics: [
            .init(alias: 21, timestamp: Self.minute(15), value: .long(4))])))
        try await publish(wrap)
        try await waitForRows(harness, line: "L1", station: "eol", minute: 15, good: 4)
        try await waitForRows(harness, line: "L1", station: "eol", minute: 14, good: 256)
        #expect(seen.count("spBv1.0/g1/NCMD/n1") == requestsBeforeWrap, "255 → 0 is not a gap")

        // 8. A stale NDEATH (bdSeq 4) is ignored; the matching one (5) makes both stations unknown
        //    from its time (minute 20: no run time after it).
        try await publish([
            Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(18), seq: 2, metrics: [.init(alias: 21, timestamp: Self.minute(18), value: .long(5))])),
            Self.msg(.ndeath, SparkplugPayload(timestamp: Self.minute(19), metrics: [.init(name: "bdSeq", datatype: 8, value: .long(4))])),
            Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(20), seq: 3, metrics: [.init(alias: 21, timestamp: Self.minute(20), value: .long(6))])),
            Self.msg(.ndeath, SparkplugPayload(timestamp: Self.minute(20), metrics: [.init(name: "bdSeq", datatype: 8, value: .long(5))])),
        ])
        try await waitForRows(harness, line: "L1", station: "eol", minute: 20, good: 1)

        // 9. DATA before the BIRTH of the new session: a rebirth request (5 s after the first), nothing
        //    counted; the BIRTH then counts the 9 units made meanwhile (6 → 15) at its time.
        try await Task.sleep(for: .seconds(5))
        try await publish([Self.msg(.ndata, SparkplugPayload(timestamp: Self.minute(22), seq: 1, metrics: [.init(alias: 21, timestamp: Self.minute(22), value: .long(10))]))])
        try await waitUntil("another NCMD Rebirth") { seen.count("spBv1.0/g1/NCMD/n1") == requestsBeforeWrap + 1 }
        try await publish([Self.msg(.nbirth, SparkplugPayload(timestamp: Self.minute(23), seq: 0, metrics: [
            .init(name: "bdSeq", datatype: 8, value: .long(6)),
            .init(name: "Production/Good", alias: 31, timestamp: Self.minute(23), datatype: 8, value: .long(15)),
            .init(name: "Status/StateCode", alias: 33, timestamp: Self.minute(23), datatype: 7, value: .int(10_000)),
        ]))])
        try await waitForRows(harness, line: "L1", station: "eol", minute: 23, good: 9)

        // Every figure, from 1m rows.
        let eol = try minuteRows(harness, line: "L1", station: "eol")
        #expect(eol[-20]?.good == 1 && eol[-19]?.good == 2, "historical values in their windows")
        #expect(eol[1]?.scrap == 15, "Int32 −12 → 3 is 15 units")
        #expect(eol[2]?.good == 10 && eol[3]?.good == 10 && eol[4]?.good == 10, "values applied in timestamp order")
        #expect(eol[7]?.good == 7 && eol[9]?.good == 10 && eol[10]?.good == 1 && eol[12]?.good == 1)
        #expect(eol[13]?.good ?? 0 == 0, "the rebirth counted nothing twice")
        #expect(eol[14]?.good == 256 && eol[15]?.good == 4 && eol[18]?.good == 1 && eol[20]?.good == 1)
        #expect(eol[22]?.good ?? 0 == 0 && eol[23]?.good == 9)
        let expectedTotal: Int64 = [3, 30, 7, 10, 1, 1, 256, 4, 1, 1, 9].reduce(0, +)
        let eolTotal: Int64 = eol.values.reduce(0) { $0 + $1.good }
        #expect(eolTotal == expectedTotal)
        #expect((eol[19]?.runS ?? -1) == 60 && (eol[21]?.runS ?? 0) == 0, "unknown from the matching NDEATH, not the stale one")
        let out = try minuteRows(harness, line: "L2", station: "out")
        #expect(out[1]?.good == 50 && out[1]?.scrap == 100, "UInt32 in long_value; Int16 0xFFFFFFA9 is −87")
        #expect(abs((out[1]?.energy ?? 0) - 25) < 1e-9, "energy from the energy counter")
        #expect(out[6]?.good == 5)
        let outTotal: Int64 = out.values.reduce(0) { $0 + $1.good }
        #expect(outTotal == 55)
        // The will: a crash (kill -9) makes the broker publish STATE offline, same timestamp.
        let online = try #require(seen.payloads("spBv1.0/STATE/takt-test").first)
        daemon.signal(SIGKILL)
        _ = await daemon.exit(timeout: 10)
        try await waitUntil("STATE offline (the will)", timeout: 30) {
            seen.payloads("spBv1.0/STATE/takt-test").contains { String(decoding: $0, as: UTF8.self).contains("\"online\":false") }
        }
        let will = try #require(seen.payloads("spBv1.0/STATE/takt-test").last)
        let stamp = { (b: [UInt8]) in (try? JSONSerialization.jsonObject(with: Data(b)) as? [String: Any])?["timestamp"] as? NSNumber }
        #expect(stamp(online) != nil && stamp(online) == stamp(will))
    }

    @Test("takt-sim --dialect sparkplug, 48 h with reorder, duplicates, drops, garbage and node restarts: every row equals the truth")
    func simulatorEqualsTruth() async throws {
        let truth = try await simulateAndCompare(plant: "Config/plant-dialects.yaml",
                                                 ["--seed", "13", "--dialect", "sparkplug",
                                                  "--faults", "dup=0.01,reorder=0.01,malformed=0.002,reboot=0.0005,drop=0.002"])
        let faults = try #require(truth["faults"] as? [String: Any])
        #expect((faults["drop"] as? NSNumber)?.intValue ?? 0 > 0 && (faults["reboot"] as? NSNumber)?.intValue ?? 0 > 0)
    }

    @Test("a gap never filled (takt-sim's drop fault): taktd asks for a rebirth, takt-sim answers, every row equals the truth")
    func rebirthAnswered() async throws {
        let harness = try await DaemonHarness.make(plant: TaktBinaries.file("Config/plant-dialects.yaml"))
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        // The host's side of the conversation, as the broker carries it.
        let client = MQTTClient(configuration: try harness.clientConfiguration(clientID: "sp-rebirth-watch"))
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("spBv1.0/demo/NCMD/#", qos: .atLeastOnce)
        try await client.subscribe("spBv1.0/demo/NBIRTH/#", qos: .atLeastOnce)
        let seen = MessageLog()
        let messages = client.messages
        let reader = Task { for await m in messages { seen.add(m.topic, m.payload) } }
        defer { reader.cancel() }

        // Paced (12 simulated hours in about 12 s, the last --speed wins): the daemon keeps up,
        // so its requests reach the simulator while it still runs.
        let truth = try await harness.runSimulator(["--speed", "3600", "--from", "2026-11-01T00:00:00Z", "--duration", "12h",
                                                    "--seed", "29", "--dialect", "sparkplug", "--faults", "drop=0.004"])
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 180)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")

        let counts = try #require(truth["messages"] as? [String: Any])
        let rebirths = (counts["rebirths"] as? NSNumber)?.intValue ?? 0
        #expect(((truth["faults"] as? [String: Any])?["drop"] as? NSNumber)?.intValue ?? 0 > 0)
        #expect(rebirths >= 1, "takt-sim answered no rebirth request: \(harness.log("sim.log"))")
        let nodes = ["plc-a", "plc-b-stacking", "plc-b-eol"]
        let requests = nodes.map { seen.count("spBv1.0/demo/NCMD/\($0)") }.reduce(0, +)
        let births = nodes.map { seen.count("spBv1.0/demo/NBIRTH/\($0)") }.reduce(0, +)
        #expect(requests >= rebirths, "every answer had a request (\(requests) NCMD, \(rebirths) answers)")
        #expect(births == nodes.count + rebirths, "one NBIRTH per node, then one per answer")
        for node in nodes {
            let payloads = try seen.payloads("spBv1.0/demo/NBIRTH/\(node)").map { try SparkplugPayload.decode($0) }
            let bdSeqs = payloads.map { $0.metrics.first { $0.name == "bdSeq" }?.value }
            #expect(bdSeqs.allSatisfy { $0 != nil && $0 == bdSeqs.first } && payloads.allSatisfy { $0.seq == 0 },
                    "\(node): a rebirth keeps bdSeq, seq 0")
        }
    }

    @Test("takt-sim --dialect umh, 48 h with duplicates, reordering and garbage: every row equals the truth")
    func umhEqualsTruth() async throws {
        _ = try await simulateAndCompare(plant: "Config/plant-dialects.yaml",
                                         ["--seed", "19", "--dialect", "umh", "--faults", "dup=0.01,reorder=0.01,malformed=0.002"])
    }

    @Test("one site whose lines speak Sparkplug, UMH and Takt JSON together (--dialect mixed), 48 h with faults: every row equals the truth")
    func mixedSite() async throws {
        let truth = try await simulateAndCompare(plant: "Config/plant-mixed.yaml",
                                                 ["--seed", "23", "--dialect", "mixed",
                                                  "--faults", "dup=0.01,reorder=0.01,malformed=0.002,reboot=0.0005"])
        let published = try #require(truth["messages"] as? [String: Any])
        #expect((published["control"] as? NSNumber)?.intValue ?? 0 > 0, "Sparkplug births were published")
    }

    @Test("kill -9 of taktd during a Sparkplug stream, five times: every row equals the truth")
    func killNine() async throws {
        let harness = try await DaemonHarness.make(plant: TaktBinaries.file("Config/plant-dialects.yaml"))
        defer { harness.cleanUp() }
        var daemon = try harness.startDaemon()
        _ = try await harness.waitUntilOnline()
        let truthPath = harness.directory.appendingPathComponent("truth.json").path
        let sim = try ChildProcess(harness.binary("takt-sim"),
                                   ["--plant", harness.plant, "--broker", harness.broker.url, "--speed", "max",
                                    "--from", "2026-10-01T00:00:00Z", "--duration", "72h", "--seed", "17", "--dialect", "sparkplug",
                                    "--faults", "dup=0.005,reorder=0.005,reboot=0.0002", "--truth", truthPath],
                                   logFile: harness.directory.appendingPathComponent("sim.log").path)
        var pauses = SplitMix64(seed: 2027)
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(Int(pauses.double(in: 0.3...1.2) * 1000)))
            daemon.signal(SIGKILL)
            #expect(await daemon.exit(timeout: 10) == 128 + SIGKILL)
            daemon = try harness.startDaemon()
        }
        #expect(await sim.exit(timeout: 300) == 0, "takt-sim: \(harness.log("sim.log"))")
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: truthPath))) as? [String: Any])
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 180)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0)
    }

    // MARK: helpers

    /// 48 simulated hours of `plant` (from 2026-11-01) through a fresh daemon: every line,
    /// station and window must equal the truth, which it returns.
    func simulateAndCompare(plant: String, _ arguments: [String]) async throws -> [String: Any] {
        let harness = try await DaemonHarness.make(plant: TaktBinaries.file(plant))
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        let truth = try await harness.runSimulator(["--from", "2026-11-01T00:00:00Z", "--duration", "48h"] + arguments)
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 180)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
        let expectedDeadLetters = (truth["expected_dead_letters"] as? NSNumber)?.intValue ?? -1
        #expect(expectedDeadLetters > 0 || !arguments.joined().contains("malformed"))
        return truth
    }

    static func writePlant() throws -> String {
        let file = try TestProcess.temporaryDirectory("sp-plant").appendingPathComponent("plant.yaml")
        try plant.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    struct Figures {
        var good: Int64
        var scrap: Int64
        var energy: Double
        var runS: Double
    }

    /// 1m rows of a station by minute index from ``t0``.
    func minuteRows(_ h: DaemonHarness, line: String, station: String) throws -> [Int64: Figures] {
        let rows = try h.query(site: "s1", line: line, station: station, tier: "1m", from: Self.minute(-120), to: Self.minute(120))
        var out: [Int64: Figures] = [:]
        for r in rows {
            let start = (r["start"] as? NSNumber)?.int64Value ?? 0
            out[(start - Self.t0) / 60_000] = Figures(good: (r["good"] as? NSNumber)?.int64Value ?? 0,
                                                      scrap: (r["scrap"] as? NSNumber)?.int64Value ?? 0,
                                                      energy: (r["energy_kwh"] as? NSNumber)?.doubleValue ?? 0,
                                                      runS: (r["run_s"] as? NSNumber)?.doubleValue ?? 0)
        }
        return out
    }

    /// Polls until the station's 1m row of `minute` has `good` units (off the cooperative pool).
    func waitForRows(_ h: DaemonHarness, line: String, station: String, minute: Int64, good: Int64, timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last: Int64 = -1
        while true {
            let rows = try await TestSupport.offCooperativePool { try minuteRows(h, line: line, station: station) }
            last = rows[minute]?.good ?? 0
            if last == good { return }
            if Date() > deadline { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let all = (try? minuteRows(h, line: line, station: station)) ?? [:]
        Issue.record("\(line)/\(station) minute \(minute): good \(last), expected \(good); rows by minute: \(all.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.good)" })\n\(h.log("taktd.log"))")
    }
}

/// Messages a test client received, by topic (thread-safe).
final class MessageLog: @unchecked Sendable {
    private let lock = NSLock()
    private var byTopic: [String: [[UInt8]]] = [:]

    func add(_ topic: String, _ payload: [UInt8]) {
        lock.lock()
        byTopic[topic, default: []].append(payload)
        lock.unlock()
    }

    func payloads(_ topic: String) -> [[UInt8]] {
        lock.lock()
        defer { lock.unlock() }
        return byTopic[topic] ?? []
    }

    func count(_ topic: String) -> Int { payloads(topic).count }
}
