import Foundation
import MQTT
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The secure profile as shipped — `Config/mosquitto-secure.conf`, `Config/mosquitto-acl` and
/// the logins `scripts/dev-ca.sh` makes — on a real Mosquitto of the test's own (free loopback
/// port, temporary directory); only the port and the file paths are rewritten.
enum SecureProfile {
    /// What `scripts/dev-ca.sh DIR demo bishan` wrote.
    struct Secrets {
        let directory: URL
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        func password(_ user: String) throws -> String {
            try String(contentsOfFile: path("\(user).password"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        var caFile: String { path("ca.crt") }
    }

    static func makeSecrets() throws -> Secrets {
        let directory = try TestProcess.temporaryDirectory("takt-secrets")
        try TestProcess.run(TaktBinaries.file("scripts/dev-ca.sh"), [directory.path, "demo", "bishan"])
        return Secrets(directory: directory)
    }

    /// `Config/mosquitto-secure.conf` for this broker: the listener on `port`, the certificates,
    /// password file and persistence in the test's directories, the ACL file as shipped,
    /// autosave every second. Every other line as shipped. Fails when a line it must rewrite is
    /// missing, so the profile cannot drift away from what is tested.
    static func config(secrets: Secrets, port: Int, directory: URL) throws -> [String] {
        let shipped = try String(contentsOfFile: TaktBinaries.file("Config/mosquitto-secure.conf"), encoding: .utf8)
        let replacements: [String: String] = [
            "listener": "listener \(port) 127.0.0.1",
            "cafile": "cafile \(secrets.path("ca.crt"))",
            "certfile": "certfile \(secrets.path("server.crt"))",
            "keyfile": "keyfile \(secrets.path("server.key"))",
            "password_file": "password_file \(secrets.path("passwd"))",
            "acl_file": "acl_file \(TaktBinaries.file("Config/mosquitto-acl"))",
            "persistence_location": "persistence_location \(directory.path)/",
            "autosave_interval": "autosave_interval 1",
        ]
        var seen: [String: Int] = [:]
        let lines = shipped.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let key = String(line.split(separator: " ", maxSplits: 1).first ?? "")
            guard !line.hasPrefix("#"), let replacement = replacements[key] else { return String(line) }
            seen[key, default: 0] += 1
            return replacement
        }
        for key in replacements.keys.sorted() where seen[key] != 1 {
            throw TestSupportError("Config/mosquitto-secure.conf has \(seen[key] ?? 0) '\(key)' lines, the test rewrites exactly one")
        }
        return lines
    }

    static func startBroker(secrets: Secrets) async throws -> MosquittoBroker {
        try await MosquittoBroker.start(.init(customConfig: .init(usesTLS: true) { port, directory in
            try config(secrets: secrets, port: port, directory: directory)
        }))
    }

    /// A client of `broker` logging in as `user` (nil: anonymous) over TLS with the dev CA.
    static func client(_ broker: MosquittoBroker, secrets: Secrets, user: String?, password: String? = nil,
                       clientID: String? = nil) throws -> MQTTClient {
        MQTTClient(configuration: .init(
            broker: try MQTTBrokerURL(broker.url), clientID: clientID, username: user,
            password: try password ?? user.map { try secrets.password($0) }, tls: .init(caFile: secrets.caFile)))
    }
}

@Suite("Secure profile (TLS, logins, ACL)", .heavyweight)
struct SecureProfileTests {
    @Test("anonymous clients and wrong passwords are refused at CONNACK; plain TCP gets nowhere; a device login connects")
    func refusesAnonymous() async throws {
        let secrets = try SecureProfile.makeSecrets()
        defer { try? FileManager.default.removeItem(at: secrets.directory) }
        let broker = try await SecureProfile.startBroker(secrets: secrets)
        defer { broker.stop() }

        for (user, password) in [(nil, nil), ("demo", "wrong"), ("nobody", "secret")] as [(String?, String?)] {
            let client = try SecureProfile.client(broker, secrets: secrets, user: user, password: password)
            defer { client.close() }
            await #expect("\(user ?? "anonymous") must be refused") {
                try await withTimeout(15, "connect as \(user ?? "anonymous")") { try await client.connect() }
            } throws: { error in
                (error as? MosquittoError)?.kind == .connectionRefused
            }
        }
        // The TLS port does not speak plain MQTT.
        let plain = MQTTClient(configuration: .init(
            broker: MQTTBrokerURL(host: "127.0.0.1", port: broker.port), username: "demo", password: try secrets.password("demo")))
        defer { plain.close() }
        await #expect(throws: (any Error).self) {
            try await withTimeout(15, "plain TCP connect to the TLS listener") { try await plain.connect() }
        }
        let device = try SecureProfile.client(broker, secrets: secrets, user: "demo")
        defer { device.close() }
        try await withTimeout(15, "connect as demo") { try await device.connect() }
    }

    @Test("a device publishes only under its own site: other sites, the daemon's topics and oversized payloads never reach a reader of takt/v1/#")
    func deviceConfinedToItsSite() async throws {
        let secrets = try SecureProfile.makeSecrets()
        defer { try? FileManager.default.removeItem(at: secrets.directory) }
        let broker = try await SecureProfile.startBroker(secrets: secrets)
        defer { broker.stop() }

        let reader = try SecureProfile.client(broker, secrets: secrets, user: "taktd")
        defer { reader.close() }
        try await reader.connect()
        try await reader.subscribe("takt/v1/#", qos: .atLeastOnce)
        let nosy = try SecureProfile.client(broker, secrets: secrets, user: "bishan")
        defer { nosy.close() }
        try await nosy.connect()
        _ = try? await nosy.subscribe("takt/v1/#", qos: .atLeastOnce)  // refused or granted: it must read nothing

        let device = try SecureProfile.client(broker, secrets: secrets, user: "demo")
        defer { device.close() }
        try await device.connect()
        let refused = [
            "takt/v1/bishan/blade-01/eol/unit",  // another site
            "takt/v1/metrics/demo/line-a/1h",  // the daemon's outputs
            "takt/v1/status/taktd-a",
            "takt/v1/deadletter",
            "takt/v1/alerts/demo/line-a",
            "elsewhere/demo",
        ]
        for topic in refused {
            try await device.publishAndWait(topic: topic, payload: Array("spoof".utf8), qos: .atLeastOnce, retain: true)
        }
        // Over message_size_limit (dropped, acknowledged) and over max_packet_size (the client is
        // disconnected before the broker buffers it), on the device's own topic.
        try await device.publishAndWait(topic: "takt/v1/demo/line-a/eol/unit", payload: Array(repeating: 0x61, count: 262_145),
                                        qos: .atLeastOnce)
        // (No quick reconnect: the disconnect must still show when the test looks.)
        let big = MQTTClient(configuration: .init(
            broker: try MQTTBrokerURL(broker.url), username: "demo", password: try secrets.password("demo"),
            tls: .init(caFile: secrets.caFile), reconnect: .init(initialDelay: 60, maxDelay: 60)))
        defer { big.close() }
        try await big.connect()
        _ = try? await withTimeout(15, "an oversized publish") {
            try await big.publishAndWait(topic: "takt/v1/demo/line-a/eol/unit", payload: Array(repeating: 0x62, count: 1 << 20),
                                         qos: .atMostOnce)
        }
        try await big.waitForState(timeout: 15) { $0.isDisconnected }
        // Its own site: arrives, after everything above (one connection keeps its order).
        try await device.publishAndWait(topic: "takt/v1/demo/line-a/eol/unit", payload: Array("own".utf8), qos: .atLeastOnce)

        let received = try await reader.receive(1, timeout: 15)
        #expect(received.map(\.topic) == ["takt/v1/demo/line-a/eol/unit"])
        #expect(received.map { String(decoding: $0.payload, as: UTF8.self) } == ["own"])
        // Nothing else trickles in, and the other device read nothing at all.
        try await Task.sleep(for: .milliseconds(500))
        let late = try? await reader.receive(1, timeout: 0.5)
        #expect(late == nil, "unexpected: \(late?.map(\.topic) ?? [])")
        let seenByDevice = try? await nosy.receive(1, timeout: 0.5)
        #expect(seenByDevice == nil, "a device read \(seenByDevice?.map(\.topic) ?? [])")
        // Nothing was retained either: a new reader gets no retained spoof.
        let fresh = try SecureProfile.client(broker, secrets: secrets, user: "taktd")
        defer { fresh.close() }
        try await fresh.connect()
        try await fresh.subscribe("takt/v1/#", qos: .atLeastOnce)
        let retained = try? await fresh.receive(1, timeout: 1)
        #expect(retained == nil, "retained: \(retained?.map(\.topic) ?? [])")
    }

    @Test("taktd over TLS with user and password, takt-sim as the site's device user: the rollups equal the truth")
    func taktdOverTLSCountsExactly() async throws {
        let secrets = try SecureProfile.makeSecrets()
        defer { try? FileManager.default.removeItem(at: secrets.directory) }
        let broker = try await SecureProfile.startBroker(secrets: secrets)
        var harness = try await DaemonHarness.make(broker: broker)
        defer { harness.cleanUp() }
        harness.login = ("taktd", try secrets.password("taktd"), secrets.caFile)
        // The login dev-ca.sh wrote for taktd, and the harness's usual settings.
        let login = try String(contentsOfFile: secrets.path("taktd.yaml"), encoding: .utf8)
        try (login + "journal_fsync: never\ncommit_interval_ms: 100\n")
            .write(to: harness.directory.appendingPathComponent("taktd.yaml"), atomically: true, encoding: .utf8)
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()

        let truth = try await harness.runSimulator([
            "--from", "2026-11-01T00:00:00Z", "--duration", "6h", "--seed", "3", "--faults", "dup=0.01,reorder=0.01",
            "--username", "demo", "--password-file", secrets.path("demo.password"), "--ca-file", secrets.caFile,
        ])
        let counted = try #require(((truth["messages"] as? [String: Any])?["counted"] as? NSNumber)?.intValue)
        #expect(counted > 1000)
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 120)
        #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))\n\(harness.log("taktd.log"))")
        daemon.signal(SIGTERM)
        #expect(await daemon.exit(timeout: 15) == 0)
    }

    @Test("takt-sim logging in as another site's user: the broker drops every message, nothing is counted")
    func wrongSiteUserCountsNothing() async throws {
        let secrets = try SecureProfile.makeSecrets()
        defer { try? FileManager.default.removeItem(at: secrets.directory) }
        let broker = try await SecureProfile.startBroker(secrets: secrets)
        defer { broker.stop() }
        let reader = try SecureProfile.client(broker, secrets: secrets, user: "taktd")
        defer { reader.close() }
        try await reader.connect()
        try await reader.subscribe("takt/v1/#", qos: .atLeastOnce)
        let sim = try TaktBinaries.run("takt-sim", [
            "--plant", "Config/plant-demo.yaml", "--broker", broker.url, "--speed", "max", "--duration", "10m",
            "--username", "bishan", "--password-file", secrets.path("bishan.password"), "--ca-file", secrets.caFile,
        ])
        #expect(sim.status == 0, "\(sim.stderr)")
        let received = try? await reader.receive(1, timeout: 1)
        #expect(received == nil, "the broker let \(received?.first?.topic ?? "") through")
    }

    @Test("the secure profile keeps Config/mosquitto.conf's queue, persistence and size settings")
    func sameQueueSettings() throws {
        func settings(_ file: String) throws -> [String: String] {
            let text = try String(contentsOfFile: TaktBinaries.file(file), encoding: .utf8)
            var result: [String: String] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2 { result[parts[0]] = parts[1] }
            }
            return result
        }
        let plain = try settings("Config/mosquitto.conf")
        let secure = try settings("Config/mosquitto-secure.conf")
        for key in ["persistence", "persistence_file", "autosave_interval", "max_queued_messages", "max_queued_bytes",
                    "max_inflight_messages", "persistent_client_expiration", "sys_interval", "message_size_limit",
                    "max_packet_size"] {
            #expect(plain[key] != nil && plain[key] == secure[key], "\(key): \(plain[key] ?? "-") vs \(secure[key] ?? "-")")
        }
        #expect(secure["allow_anonymous"] == "false")
        #expect(secure["listener"] == "8883 127.0.0.1")
        #expect(secure["password_file"] != nil && secure["acl_file"] != nil)
        #expect(Int(secure["message_size_limit"] ?? "") ?? .max <= 262_144)
    }
}
