import Foundation
import MQTT
import Testing
import TestSupport

/// Several brokers in `Configuration.alternateBrokers`: tried in turn on connect and reconnect.
/// Two independent Mosquittos stand in for the nodes here (they share no session); the NATS
/// cluster test below shares one.
@Suite("Failover between the nodes of a broker", .ownThreads)
struct FailoverTests {
    @Test("the first connect goes on to the next node when one cannot be reached")
    func firstConnectTriesTheNext() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let dead = MQTTBrokerURL(host: "127.0.0.1", port: try freeLoopbackPort())
        let live = try MQTTBrokerURL(broker.url)
        let client = MQTTClient(configuration: .init(broker: dead, alternateBrokers: [live],
                                                     reconnect: .init(initialDelay: 0.05, maxDelay: 0.2)))
        defer { client.close() }
        try await withTimeout(60, "connect") { try await client.connect() }
        #expect(client.connectedBroker == live)
    }

    @Test("every node unreachable: the first connect fails once each was tried")
    func allUnreachable() async throws {
        let nodes = [MQTTBrokerURL(host: "127.0.0.1", port: try freeLoopbackPort()),
                     MQTTBrokerURL(host: "127.0.0.1", port: try freeLoopbackPort())]
        let client = MQTTClient(configuration: .init(broker: nodes[0], alternateBrokers: [nodes[1]],
                                                     reconnect: .init(initialDelay: 0.05, maxDelay: 0.2)))
        defer { client.close() }
        // Without retryInitialConnection it gives up (the time-out only catches a hang: a loaded
        // 2-core suite took 17.6 s for what takes 0.06 s alone).
        await #expect(throws: MosquittoError.self) {
            try await withTimeout(60, "connect") { try await client.connect() }
        }
        #expect(client.connectedBroker == nil)
    }

    @Test("the node it is connected to stops: the client moves to the next, re-subscribes and receives")
    func dropMovesToTheNextNode() async throws {
        let first = try await MosquittoBroker.start()
        let second = try await MosquittoBroker.start()
        defer { first.stop(); second.stop() }
        let a = try MQTTBrokerURL(first.url), b = try MQTTBrokerURL(second.url)
        let subscriber = MQTTClient(configuration: .init(broker: a, alternateBrokers: [b], clientID: "failover-sub",
                                                         reconnect: .init(initialDelay: 0.05, maxDelay: 0.5)))
        defer { subscriber.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("failover/#", qos: .atLeastOnce)
        #expect(subscriber.connectedBroker == a)

        first.stop()
        try await subscriber.waitForState(timeout: 60) { $0.isDisconnected }
        try await subscriber.waitForState(timeout: 60) { $0.isConnected }
        #expect(subscriber.connectedBroker == b)

        // Only a re-subscription on `second` brings these (it never saw the first SUBSCRIBE).
        let publisher = MQTTClient(configuration: .init(broker: b))
        defer { publisher.close() }
        try await publisher.connect()
        let receiving = Task { try await subscriber.receive(1, timeout: 20) }
        for i in 0..<200 {
            try await publisher.publishAndWait(topic: "failover/after", payload: [UInt8(i % 256)], qos: .atLeastOnce)
            try await Task.sleep(for: .milliseconds(50))
            if try await ConnectionTests.isDone(receiving) { break }
        }
        #expect(try await receiving.value.first?.topic == "failover/after")
    }
}
