import Foundation
import Testing
import TaktCore
import TaktSimulation
import TestSupport

/// Acceptance 4: against a real Mosquitto at `--speed max`, QoS 1, an independent subscriber
/// (`mosquitto_sub`, started before the simulator) receives exactly what `--truth` says was
/// published — the same messages, not only the same number.
@Suite("takt-sim against Mosquitto", .heavyweight)
struct BrokerTests {
    @Test("mosquitto_sub at QoS 1 receives exactly the published messages")
    func subscriberCountsPublishedTotal() async throws {
        let broker = try await MosquittoBroker.start()
        // kill(), not stop(): children spawned from the test's dispatch threads inherit a signal
        // mask that blocks SIGTERM, so a terminated mosquitto would never exit.
        defer { broker.kill() }
        let dir = try Fixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }

        let plant = try Fixtures.plant("plant-demo.yaml")
        let faults = "dup=0.01,reorder=0.01,malformed=0.01,reboot=0.001"
        let options = SimulationOptions(
            from: Fixtures.november1, durationMs: 6 * 3_600_000, seed: 21, faults: try FaultRates.parse(faults))
        // The run is deterministic: the library tells how many messages the binary will publish.
        let (engine, stream) = try await Fixtures.simulate(plant, options)
        let expected = Int(engine.counts.total)
        #expect(expected > 10_000)

        let received = dir.appendingPathComponent("received.txt")
        FileManager.default.createFile(atPath: received.path, contents: nil)
        let subscriber = Process()
        // stdbuf: mosquitto_sub's stdout is a file, line-buffer it so the SUBACK shows at once.
        subscriber.executableURL = URL(fileURLWithPath: "/usr/bin/stdbuf")
        subscriber.arguments = [
            "-oL", "/usr/bin/mosquitto_sub", "-h", "127.0.0.1", "-p", "\(broker.port)", "-t", "takt/v1/#", "-q", "1", "-v", "-d",
            "-C", "\(expected)", "-W", "120",
        ]
        subscriber.standardOutput = try FileHandle(forWritingTo: received)
        subscriber.standardError = FileHandle.nullDevice
        try subscriber.run()
        defer { if subscriber.isRunning { kill(subscriber.processIdentifier, SIGKILL) } }
        // Wait for the SUBACK, so nothing is published before the subscription exists.
        let deadline = ContinuousClock.now + .seconds(10)
        while !((try? String(contentsOf: received, encoding: .utf8)) ?? "").contains("SUBACK") {
            try #require(ContinuousClock.now < deadline, "mosquitto_sub did not subscribe")
            try await Task.sleep(for: .milliseconds(20))
        }

        let truthFile = dir.appendingPathComponent("truth.json")
        let result = try Fixtures.runSimulator([
            "--plant", "Config/plant-demo.yaml", "--broker", broker.url, "--speed", "max", "--qos", "1",
            "--from", "2026-11-01T00:00:00Z", "--duration", "6h", "--seed", "21", "--faults", faults,
            "--truth", truthFile.path, "--client-id", "takt-sim-test",
        ])
        #expect(result.status == 0, "\(result.stderr)")

        let exitDeadline = ContinuousClock.now + .seconds(60)
        while subscriber.isRunning && ContinuousClock.now < exitDeadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: truthFile)) as? [String: Any])
        let published = try #require((truth["messages"] as? [String: Any])?["published"] as? Int)
        #expect(published == expected)

        let lines = try String(contentsOf: received, encoding: .utf8).split(separator: "\n").filter {
            $0.hasPrefix("takt/v1/")
        }
        #expect(lines.count == published)
        // Same messages: `topic payload` from mosquitto_sub -v against `topic<TAB>payload` lines.
        let sent = String(decoding: stream, as: UTF8.self).split(separator: "\n").map {
            $0.replacingOccurrences(of: "\t", with: " ")
        }
        #expect(lines.map(String.init).sorted() == sent.sorted())
    }
}
