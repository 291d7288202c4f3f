import Foundation
import MQTT
@testable import TaktDaemon
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's security findings, each against the real binaries or files: no password of a
/// broker URL is echoed, the retained status says online again after the publisher's
/// connection comes back, the journal is readable by its owner only.
@Suite("Security findings", .heavyweight)
struct SecurityFindingsTests {
    static let secret = "s3cret-pw"

    /// Runs a binary of ours to its end (killed after `timeout` s: then the code is nil).
    static func run(_ name: String, _ arguments: [String], timeout: Double = 15) async throws -> (code: Int32?, output: String) {
        let directory = try TestProcess.temporaryDirectory("takt-redact")
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("out.log").path
        let binary = directory.appendingPathComponent(name).path
        try TestProcess.copyExecutable(from: try TaktBinaries.path(name), to: binary)
        let child = try ChildProcess(binary, arguments.map { $0.replacingOccurrences(of: "{dir}", with: directory.path) },
                                     logFile: log)
        let code = await child.exit(timeout: timeout)
        if code == nil { child.terminate(grace: 1) }
        return (code, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    @Test("taktd: a broker URL with a password is refused (exit 2), and the message shows *** instead of the password", arguments: [
        "mqtt://takt:\(secret)@127.0.0.1:1883",
        "mqtt://takt:\(secret)@broker.plant",
        "mqtts://takt:\(secret)@[::1]:8883/",
    ])
    func taktdRedacts(url: String) async throws {
        let result = try await Self.run("taktd", ["--broker", url, "--plant", TaktBinaries.file("Config/plant-demo.yaml"),
                                                  "--data-dir", "{dir}/data", "--instance", "redact"])
        #expect(result.code == 2, "exit \(String(describing: result.code)): \(result.output)")
        #expect(!result.output.contains(Self.secret), "\(result.output)")
        #expect(result.output.contains("takt:***@"), "\(result.output)")
    }

    @Test("taktd: the same from the settings file's broker key")
    func taktdRedactsSettingsFile() async throws {
        let directory = try TestProcess.temporaryDirectory("takt-redact-yaml")
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("taktd.yaml").path
        try "broker: mqtt://takt:\(Self.secret)@127.0.0.1:1883\n".write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await Self.run("taktd", ["--config", config, "--plant", TaktBinaries.file("Config/plant-demo.yaml"),
                                                  "--data-dir", "{dir}/data", "--instance", "redact"])
        #expect(result.code == 2, "exit \(String(describing: result.code)): \(result.output)")
        #expect(!result.output.contains(Self.secret), "\(result.output)")
    }

    @Test("takt-sim: a broker URL with a password is a usage error (exit 2) that shows *** instead of the password", arguments: [
        "mqtt://dev:\(secret)@127.0.0.1:1",
        "mqtt://dev:\(secret)@127.0.0.1",
        "dev:\(secret)@127.0.0.1:1883",
    ])
    func taktSimRedacts(url: String) async throws {
        let result = try await Self.run("takt-sim", ["--plant", TaktBinaries.file("Config/plant-demo.yaml"), "--broker", url,
                                                     "--speed", "max", "--duration", "1m"])
        #expect(result.code == 2, "exit \(String(describing: result.code)): \(result.output)")
        #expect(!result.output.contains(Self.secret), "\(result.output)")
        #expect(result.output.contains("dev:***@"), "\(result.output)")
    }

    @Test("journal segments are 0600 and the journal directory 0700, also segments started later")
    func journalIsPrivate() throws {
        let base = try TestProcess.temporaryDirectory("takt-journal-mode")
        defer { try? FileManager.default.removeItem(at: base) }
        let directory = base.appendingPathComponent("data/journal")
        var end: Int64 = 0
        do {
            let journal = try Journal(directory: directory, fsync: .never, segmentBytes: 200)
            for i in 0..<30 {
                end = try #require(journal.append(topic: "takt/v1/s/l/st/unit", payload: Array("{\"seq\":\(i)}".utf8)))
            }
            journal.close()
        }
        // Reopened past its end (a store offset ahead of the files): a fresh segment there.
        let reopened = try Journal(directory: directory, fsync: .never, segmentBytes: 200, minimumOffset: end + 1000)
        _ = reopened.append(topic: "t/x", payload: [1])
        reopened.close()

        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(directory.path) == 0o700)
        let segments = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".log") }
        #expect(segments.count > 2)
        for segment in segments {
            let found = try mode(directory.appendingPathComponent(segment).path)
            #expect(found == 0o600, "\(segment): \(String(found, radix: 8))")
        }
    }

    /// The instance's retained status as a new subscriber gets it (nil: none within `timeout`).
    static func retainedStatus(_ harness: DaemonHarness, timeout: Double = 3) async throws -> [String: Any]? {
        let client = MQTTClient(configuration: try harness.clientConfiguration())
        defer { client.close() }
        try await client.connect()
        try await client.subscribe("takt/v1/status/\(harness.instance)", qos: .atLeastOnce)
        guard let message = try? await client.receive(1, timeout: timeout).first else { return nil }
        return try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any]
    }

    /// Waits until the retained status says `online` (polling with new subscribers).
    static func waitForRetainedStatus(_ harness: DaemonHarness, online: Bool, started: String? = nil,
                                      timeout: Double = 20) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let status = try? await retainedStatus(harness, timeout: 1), status["online"] as? Bool == online,
               started == nil || status["started"] as? String == started {
                return true
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test("the publisher's connection dropped (the broker published the will, online false): after the reconnect the retained status is online again; SIGTERM leaves it offline")
    func statusOnlineAgainAfterWill() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        let started = try await harness.waitUntilOnline()

        let watcher = MQTTClient(configuration: try harness.clientConfiguration())
        defer { watcher.close() }
        let statuses = watcher.messages
        try await watcher.connect()
        try await watcher.subscribe("takt/v1/status/\(harness.instance)", qos: .atLeastOnce)
        // Another client with the publisher's client id: the broker drops taktd's connection
        // without a DISCONNECT, so its will fires, as on a network failure the broker notices.
        let intruder = MQTTClient(configuration: try harness.clientConfiguration(clientID: "taktd-\(harness.instance)-out"))
        try await intruder.connect()
        intruder.close()

        let sequence = try await withTimeout(30, "the will, then online again") {
            var seen: [Bool] = []
            for await message in statuses {
                guard let object = try? JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any],
                      let online = object["online"] as? Bool, object["started"] as? String == started else { continue }
                seen.append(online)
                if seen.contains(false) && online { return seen }
            }
            return seen
        }
        #expect(sequence.last == true && sequence.contains(false), "statuses seen: \(sequence)")
        #expect(try await Self.waitForRetainedStatus(harness, online: true, started: started, timeout: 5))

        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log"))")
        let last = try await Self.retainedStatus(harness)
        #expect(last?["online"] as? Bool == false, "retained after SIGTERM: \(String(describing: last))")
    }

    @Test("the broker killed and restarted without its retained messages (kill -9 before an autosave): the daemon's status is online again; SIGTERM leaves it offline")
    func statusAfterBrokerRestart() async throws {
        // Persistence on, but nothing saved before the kill: the retained status dies with it.
        let broker = try await MosquittoBroker.start(.init(extraConfig: ["autosave_interval 3600"]))
        let harness = try await DaemonHarness.make(broker: broker)
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        let started = try await harness.waitUntilOnline()

        harness.broker.kill()
        try await harness.broker.restart()
        let online = try await Self.waitForRetainedStatus(harness, online: true, started: started, timeout: 30)
        let retained = online ? nil : try await Self.retainedStatus(harness)
        #expect(online, "retained status: \(String(describing: retained))")

        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0, "\(harness.log("taktd.log"))")
        try await Task.sleep(for: .milliseconds(300))
        let last = try await Self.retainedStatus(harness)
        #expect(last?["online"] as? Bool == false, "retained after SIGTERM: \(String(describing: last))")
    }
}
