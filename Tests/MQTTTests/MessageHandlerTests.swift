import Dispatch
import Foundation
import MQTT
import Synchronization
import Testing
import TestSupport

/// `Configuration.messageHandler`: messages handed over in place on the network thread, read in
/// bursts, each burst ended (`messageBatchEnded`) before any of its PUBACKs is written — what
/// the daemon's journal relies on.
@Suite("Message handler (in place, batched, PUBACK after the batch)", .ownThreads)
struct MessageHandlerTests {
    /// What a handler saw, copied out of libmosquitto's buffers.
    final class Seen: Sendable {
        struct State {
            var messages: [(topic: String, payload: [UInt8], qos: MQTTQoS, inBatch: Bool)] = []
            var batchesEnded = 0
        }
        let state = Mutex(State())
        var count: Int { state.withLock { $0.messages.count } }

        func waitFor(_ n: Int, timeout: Double = 30) async throws {
            let deadline = Date().addingTimeInterval(timeout)
            while count < n {
                guard Date() < deadline else { throw TimeoutError(count: count, wanted: n) }
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    struct TimeoutError: Error { var count: Int; var wanted: Int }

    static func handlerClient(_ broker: MosquittoBroker, seen: Seen, batchEnded: @escaping @Sendable () -> Void = {}) throws -> MQTTClient {
        handlerClient(try MQTTBrokerURL(broker.url), clientID: "handler", seen: seen, batchEnded: batchEnded)
    }

    /// A persistent-session client whose handler records every message into `seen`.
    static func handlerClient(_ url: MQTTBrokerURL, clientID: String, tls: MQTTClient.TLSOptions? = nil, seen: Seen,
                              batchEnded: @escaping @Sendable () -> Void = {}) -> MQTTClient {
        MQTTClient(configuration: .init(
            broker: url, clientID: clientID, cleanSession: false, tls: tls,
            messageHandler: { m in
                let copy = (String(decoding: m.topic, as: UTF8.self), Array(m.payload), m.qos, m.acknowledgedAfterBatch)
                seen.state.withLock { $0.messages.append(copy) }
            },
            messageBatchEnded: {
                seen.state.withLock { $0.batchesEnded += 1 }
                batchEnded()
            }))
    }

    /// Holds the first batch that carries a message in `messageBatchEnded` until `open()`.
    final class BatchGate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        private let holding = Mutex(false)
        var isHolding: Bool { holding.withLock { $0 } }
        func open() { semaphore.signal() }

        fileprivate func holdFirst(_ seen: Seen) {
            guard seen.count > 0, !holding.withLock({ $0 }) else { return }
            holding.withLock { $0 = true }
            semaphore.wait()
        }
    }

    /// A handler client (`handler`) whose first batch with a message is held at its end.
    static func holdingFirstBatch(_ broker: MosquittoBroker) throws -> (MQTTClient, Seen, BatchGate) {
        let seen = Seen(), gate = BatchGate()
        let client = try handlerClient(broker, seen: seen, batchEnded: { gate.holdFirst(seen) })
        return (client, seen, gate)
    }

    @Test("every message reaches the handler in order and byte-exact, read in bursts that are each ended", arguments: [MQTTQoS.atMostOnce, .atLeastOnce])
    func inOrder(qos: MQTTQoS) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let seen = Seen()
        let subscriber = try Self.handlerClient(broker, seen: seen)
        let publisher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url)))
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("h/#", qos: qos)  // after connect: the wake pipe must get the SUBSCRIBE out
        try await publisher.connect()

        let count = 5_000
        let payloads: [[UInt8]] = (0..<count).map { i in
            i == 7 ? [] : i == 11 ? PublishSubscribeTests.payload(256 * 1024) : Array("{\"seq\":\(i)}".utf8)
        }
        for (i, payload) in payloads.enumerated() {
            try await publisher.publish(topic: "h/\(i)", payload: payload, qos: qos)
        }
        try await publisher.flush()
        try await seen.waitFor(count)

        let state = seen.state.withLock { $0 }
        #expect(state.messages.count == count)
        #expect(state.messages.map(\.topic) == (0..<count).map { "h/\($0)" })
        #expect(state.messages.map(\.payload) == payloads)
        #expect(state.messages.allSatisfy { $0.qos == qos })
        // Connected before anything arrived: every message came in a burst, and bursts ended.
        #expect(state.messages.allSatisfy { $0.inBatch })
        #expect(state.batchesEnded >= 1)
        #expect(state.batchesEnded <= count)
    }

    @Test("the subscriber's PUBACK of a QoS 1 message goes out only after messageBatchEnded returned")
    func pubackAfterBatchEnd() async throws {
        // The broker's debug log shows the PUBACKs it receives from the subscriber ("handler").
        let broker = try await MosquittoBroker.start(.init(extraConfig: ["log_type debug"]))
        defer { broker.stop() }
        let (subscriber, seen, gate) = try Self.holdingFirstBatch(broker)
        let publisher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url)))
        defer { gate.open(); subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("gate/#", qos: .atLeastOnce)
        try await publisher.connect()
        try await publisher.publishAndWait(topic: "gate/1", payload: [1, 2, 3], qos: .atLeastOnce)
        try await seen.waitFor(1)

        func log() -> String { (try? String(contentsOf: broker.logFile, encoding: .utf8)) ?? "" }
        // The handler has the message and its batch is held: the broker has sent the PUBLISH to
        // the subscriber but must not have its PUBACK.
        try await Task.sleep(for: .milliseconds(500))
        #expect(gate.isHolding)
        #expect(log().contains("Sending PUBLISH to handler"), "\(log())")
        #expect(!log().contains("Received PUBACK from handler"), "the PUBACK went out before messageBatchEnded returned")
        gate.open()
        let deadline = Date().addingTimeInterval(10)
        while !log().contains("Received PUBACK from handler") && Date() < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(log().contains("Received PUBACK from handler"), "no PUBACK after the batch ended")
    }

    @Test("abandon() while a batch is held: its PUBACKs never go out, and the session's next connection receives the messages again")
    func abandonWithholdsPubacks() async throws {
        let broker = try await MosquittoBroker.start(.init(extraConfig: ["log_type debug"]))
        defer { broker.stop() }
        let (subscriber, seen, gate) = try Self.holdingFirstBatch(broker)
        let publisher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url)))
        defer { gate.open(); subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("abandon/#", qos: .atLeastOnce)
        try await publisher.connect()
        for i in 0..<3 { try await publisher.publishAndWait(topic: "abandon/\(i)", payload: [UInt8(i)], qos: .atLeastOnce) }
        try await seen.waitFor(1)
        #expect(gate.isHolding)
        // The holder gives the session up before the batch ends: nothing of it may be acknowledged.
        subscriber.abandon()
        gate.open()
        await subscriber.closeAndWait()
        func log() -> String { (try? String(contentsOf: broker.logFile, encoding: .utf8)) ?? "" }
        #expect(!log().contains("Received PUBACK from handler"), "an abandoned batch was acknowledged")
        #expect(!log().contains("Received DISCONNECT from handler"), "an abandoned connection sent DISCONNECT")
        // The same session again: the broker delivers what was never acknowledged.
        let again = Seen()
        let next = try Self.handlerClient(broker, seen: again)
        defer { next.close() }
        try await next.connect()
        try await again.waitFor(3)
        #expect(Set(again.state.withLock { $0.messages.map(\.topic) }) == ["abandon/0", "abandon/1", "abandon/2"])
    }

    @Test("a persistent session's backlog of 5,000 QoS 1 messages is read in bursts, not one message per poll")
    func backlogInBursts() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        // Create the session, then leave: the broker queues what is published meanwhile.
        let first = try Self.handlerClient(broker, seen: Seen())
        try await first.connect()
        try await first.subscribe("backlog/#", qos: .atLeastOnce)
        await first.closeAndWait()

        let count = 5_000
        let publisher = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url)))
        defer { publisher.close() }
        try await publisher.connect()
        for i in 0..<count {
            try await publisher.publish(topic: "backlog/\(i)", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        try await publisher.flush()

        let seen = Seen()
        let subscriber = try Self.handlerClient(broker, seen: seen)
        defer { subscriber.close() }
        try await subscriber.connect()
        try await seen.waitFor(count)
        let state = seen.state.withLock { $0 }
        #expect(state.messages.map(\.topic) == (0..<count).map { "backlog/\($0)" })
        // The broker sends up to 100 in flight (max_inflight_messages) before it needs PUBACKs,
        // so bursts average well above 4 messages. libmosquitto's stale EAGAIN (its wake-up
        // socketpair is full after a few hundred PUBACKs) once cut every burst to one message.
        #expect(state.batchesEnded < count / 4, "\(state.batchesEnded) batches for \(count) messages")
    }

    @Test("over TLS, a handler client (its own poll loop) gets a 3,000-message QoS 1 backlog and live messages, in order")
    func overTLS() async throws {
        let directory = try TestProcess.temporaryDirectory("takt-tls-handler")
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificates = try TestCertificates.make(in: directory)
        let broker = try await MosquittoBroker.start(.init(tls: (certificates.caFile, certificates.certFile, certificates.keyFile)))
        defer { broker.stop() }
        let url = try MQTTBrokerURL(broker.url)
        let tls = MQTTClient.TLSOptions(caFile: certificates.caFile)
        func handlerClient(_ seen: Seen) -> MQTTClient {
            Self.handlerClient(url, clientID: "tls-handler", tls: tls, seen: seen)
        }
        let first = handlerClient(Seen())
        try await first.connect()
        try await first.subscribe("tls/#", qos: .atLeastOnce)
        await first.closeAndWait()

        let publisher = MQTTClient(configuration: .init(broker: url, tls: tls))
        defer { publisher.close() }
        try await publisher.connect()
        let backlog = 3_000
        for i in 0..<backlog {
            try await publisher.publish(topic: "tls/\(i)", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        try await publisher.flush()

        let seen = Seen()
        let subscriber = handlerClient(seen)
        defer { subscriber.close() }
        try await subscriber.connect()
        try await seen.waitFor(backlog)
        for i in backlog..<(backlog + 100) {  // live, after the backlog
            try await publisher.publish(topic: "tls/\(i)", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        try await seen.waitFor(backlog + 100)
        let state = seen.state.withLock { $0 }
        #expect(state.messages.map(\.topic) == (0..<(backlog + 100)).map { "tls/\($0)" })
        #expect(state.messages.map(\.payload) == (0..<(backlog + 100)).map { Array("\($0)".utf8) })
        #expect(state.batchesEnded < backlog / 4, "\(state.batchesEnded) batches")
    }
}
