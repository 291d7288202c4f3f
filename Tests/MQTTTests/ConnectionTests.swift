import Foundation
import MQTT
import Testing
import TestSupport

@Suite("Connections: reconnect, credentials, TLS, will", .ownThreads)
struct ConnectionTests {
    @Test("the broker restarts on the same port: the client reconnects, re-subscribes and receives")
    func reconnectsAfterBrokerRestart() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        let subscriber = MQTTClient(configuration: .init(
            broker: url, clientID: "takt-test-reconnect", cleanSession: true,
            reconnect: .init(initialDelay: 0.1, maxDelay: 1)))
        defer { subscriber.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("restart/#", qos: .atLeastOnce)

        broker.stop()
        try await subscriber.waitForState { $0.isDisconnected }
        try await broker.restart()
        try await subscriber.waitForState { $0.isConnected }
        // A clean session lost its subscription on the broker; only a re-subscription brings this.
        // Give the SUBACK a moment by publishing until the first one arrives.
        let publisher = MQTTClient(configuration: .init(broker: url))
        defer { publisher.close() }
        try await publisher.connect()
        let receiving = Task { try await subscriber.receive(1, timeout: 20) }
        var sent = 0
        while !(receiving.isCancelled) && sent < 200 {
            try await publisher.publishAndWait(topic: "restart/after", payload: [UInt8(sent % 256)], qos: .atLeastOnce)
            sent += 1
            try await Task.sleep(for: .milliseconds(50))
            if try await Self.isDone(receiving) { break }
        }
        let received = try await receiving.value
        #expect(received.first?.topic == "restart/after")
    }

    @Test("QoS 1 messages published while the broker is down are delivered once it is back")
    func publishWhileDown() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        let fast = MQTTClient.ReconnectPolicy(initialDelay: 0.1, maxDelay: 0.5)
        let subscriber = MQTTClient(configuration: .init(broker: url, clientID: "down-sub", cleanSession: false, reconnect: fast))
        let publisher = MQTTClient(configuration: .init(broker: url, reconnect: fast))
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("down/#", qos: .atLeastOnce)
        try await publisher.connect()

        broker.stop()
        try await publisher.waitForState { $0.isDisconnected }
        for i in 0..<5 {
            try await publisher.publish(topic: "down/\(i)", payload: [UInt8(i)], qos: .atLeastOnce)
        }
        try await broker.restart()
        try await publisher.flush()
        let received = try await subscriber.receive(5, timeout: 20)
        #expect(received.map(\.payload) == (0..<5).map { [UInt8($0)] })
    }

    static func isDone(_ task: Task<[MQTTMessage], any Error>) async throws -> Bool {
        // A finished task's value returns at once; probe without waiting by racing a short sleep.
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { _ = try await task.value; return true }
            group.addTask { try await Task.sleep(for: .milliseconds(1)); return false }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    @Test("wrong password: connect() fails with the broker's reason instead of retrying, right password connects")
    func wrongPassword() async throws {
        let broker = try await MosquittoBroker.start(.init(credentials: ("line-engineer", "s3cret")))
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        let wrong = MQTTClient(configuration: .init(broker: url, username: "line-engineer", password: "nope"))
        defer { wrong.close() }
        // A client that retried the refusal would never return from connect(): the timeout (a
        // hang check, not a speed check — a loaded CI box took 5.4 s once) fails the predicate.
        // Alone it takes ~0.1 s.
        await #expect {
            try await withTimeout(20, "connect with a wrong password") { try await wrong.connect() }
        } throws: { error in
            guard let error = error as? MosquittoError else { return false }
            return error.kind == .connectionRefused && error.code == 5
                && error.message.lowercased().contains("not authorised")
        }

        let right = MQTTClient(configuration: .init(broker: url, username: "line-engineer", password: "s3cret"))
        defer { right.close() }
        try await right.connect()
        #expect(right.state.isConnected)
    }

    @Test("nothing listens on the port: connect() throws a network error instead of hanging")
    func noBroker() async throws {
        let port = try freeLoopbackPort()
        let client = MQTTClient(configuration: .init(broker: MQTTBrokerURL(host: "127.0.0.1", port: port)))
        defer { client.close() }
        await #expect {
            try await withTimeout(10, "connect to a closed port") { try await client.connect() }
        } throws: { error in
            (error as? MosquittoError)?.kind == .library
        }
    }

    @Test("TLS round trip against a broker with a test CA made here")
    func tlsRoundTrip() async throws {
        let directory = try TestProcess.temporaryDirectory("takt-tls")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates.make(in: directory)
        let broker = try await MosquittoBroker.start(.init(tls: (certificates.caFile, certificates.certFile, certificates.keyFile)))
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        #expect(url.usesTLS)
        let tls = MQTTClient.TLSOptions(caFile: certificates.caFile)
        let subscriber = MQTTClient(configuration: .init(broker: url, tls: tls))
        let publisher = MQTTClient(configuration: .init(broker: url, tls: tls))
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("secure/#", qos: .atLeastOnce)
        try await publisher.connect()
        try await publisher.publishAndWait(topic: "secure/x", payload: Array("über TLS".utf8), qos: .atLeastOnce)
        let received = try await subscriber.receive(1)
        #expect(received.first?.payload == Array("über TLS".utf8))

        // A client that trusts another CA must not get through.
        let otherDirectory = try TestProcess.temporaryDirectory("takt-tls-other")
        defer { try? FileManager.default.removeItem(at: otherDirectory) }
        let other = try TestCertificates.make(in: otherDirectory)
        let stranger = MQTTClient(configuration: .init(broker: url, tls: .init(caFile: other.caFile)))
        defer { stranger.close() }
        await #expect(throws: MosquittoError.self) {
            try await withTimeout(10, "TLS connect with the wrong CA") { try await stranger.connect() }
        }
    }

    @Test("the will is published when a client vanishes, not when it closes cleanly")
    func will() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        let watcher = MQTTClient(configuration: .init(broker: url))
        defer { watcher.close() }
        try await watcher.connect()
        try await watcher.subscribe("status/#", qos: .atLeastOnce)

        let polite = MQTTClient(configuration: .init(
            broker: url, clientID: "polite", will: MQTTWill(topic: "status/polite", payload: Array("gone".utf8), retain: false)))
        try await polite.connect()
        polite.close()
        let vanishing = MQTTClient(configuration: .init(
            broker: url, clientID: "vanishing", will: MQTTWill(topic: "status/vanishing", payload: Array("gone".utf8), retain: false)))
        try await vanishing.connect()
        // Another connection with the same client id takes over: the broker drops the first one
        // without a DISCONNECT, which publishes its will.
        let takeover = MQTTClient(configuration: .init(broker: url, clientID: "vanishing",
                                                       reconnect: .init(initialDelay: 60, maxDelay: 60)))
        defer { takeover.close(); vanishing.close() }
        try await takeover.connect()
        let received = try await watcher.receive(1, timeout: 10)
        #expect(received.map(\.topic) == ["status/vanishing"])
    }

    @Test("a closed client fails its operations with .closed and its state stream ends")
    func closedClient() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let client = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url)))
        try await client.connect()
        let states = client.connectionStates()
        client.close()
        client.close()
        #expect(client.state == .closed)
        await #expect {
            try await client.publish(topic: "x", payload: [1])
        } throws: { ($0 as? MosquittoError)?.kind == .closed }
        var seen: [MQTTConnectionState] = []
        for await state in states { seen.append(state) }
        #expect(seen.last == .closed)
    }
}
