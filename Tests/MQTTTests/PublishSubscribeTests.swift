import Foundation
import MQTT
import Testing
import TestSupport

/// Round trips through a real Mosquitto started for each test.
@Suite("Publish and subscribe against a real Mosquitto", .heavyweight)
struct PublishSubscribeTests {
    static func client(_ broker: MosquittoBroker, _ id: String? = nil, cleanSession: Bool = true,
                       version: MQTTProtocolVersion = .v311) throws -> MQTTClient {
        MQTTClient(configuration: .init(broker: try MQTTBrokerURL(broker.url), clientID: id,
                                        cleanSession: cleanSession, protocolVersion: version))
    }

    /// Deterministic bytes covering every value 0…255.
    static func payload(_ size: Int) -> [UInt8] {
        (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    @Test("payloads of 0 B, 1 B and 256 KiB arrive byte-exact", arguments: [MQTTQoS.atMostOnce, .atLeastOnce], [MQTTProtocolVersion.v311, .v5])
    func roundTrip(qos: MQTTQoS, version: MQTTProtocolVersion) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let subscriber = try Self.client(broker, version: version)
        let publisher = try Self.client(broker, version: version)
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await publisher.connect()
        let granted = try await subscriber.subscribe("rt/#", qos: qos)
        #expect(granted == qos)

        let sizes = [0, 1, 256 * 1024]
        for size in sizes {
            try await publisher.publishAndWait(topic: "rt/\(size)", payload: Self.payload(size), qos: qos)
        }
        let received = try await subscriber.receive(sizes.count)
        #expect(received.map(\.topic) == sizes.map { "rt/\($0)" })
        for (message, size) in zip(received, sizes) {
            #expect(message.payload == Self.payload(size), "payload of \(size) bytes differs")
            #expect(message.qos == qos)
            #expect(message.retain == false)
        }
    }

    @Test("a retained message reaches a subscriber that comes later")
    func retained() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let publisher = try Self.client(broker)
        defer { publisher.close() }
        try await publisher.connect()
        try await publisher.publishAndWait(topic: "takt/v1/status/a", payload: Array("online".utf8), qos: .atLeastOnce, retain: true)
        try await publisher.publishAndWait(topic: "takt/v1/status/b", payload: Array("other".utf8), qos: .atLeastOnce, retain: false)

        let late = try Self.client(broker)
        defer { late.close() }
        try await late.connect()
        try await late.subscribe("takt/v1/status/+", qos: .atLeastOnce)
        let received = try await late.receive(1)
        #expect(received.first?.topic == "takt/v1/status/a")
        #expect(received.first?.payload == Array("online".utf8))
        #expect(received.first?.retain == true)
        // The unretained message must not show up: publish a marker and check it is next.
        try await publisher.publishAndWait(topic: "takt/v1/status/c", payload: [1], qos: .atLeastOnce)
        let next = try await late.receive(1)
        #expect(next.map(\.topic) == ["takt/v1/status/c"])
    }

    @Test("persistent session: 1,000 QoS 1 messages published while away all arrive, once each", arguments: [MQTTProtocolVersion.v311, .v5])
    func persistentSession(version: MQTTProtocolVersion) async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let id = "takt-test-persistent-\(UUID().uuidString.prefix(8))"
        let first = try Self.client(broker, id, cleanSession: false, version: version)
        try await first.connect()
        try await first.subscribe("line/+/unit", qos: .atLeastOnce)
        // Wait until it is really gone: until its thread ends, it still reads (and acknowledges)
        // what the broker sends.
        await first.closeAndWait()

        let publisher = try Self.client(broker)
        defer { publisher.close() }
        try await publisher.connect()
        for i in 0..<1000 {
            try await publisher.publish(topic: "line/\(i % 4)/unit", payload: Array("\(i)".utf8), qos: .atLeastOnce)
        }
        try await publisher.flush()

        let again = try Self.client(broker, id, cleanSession: false, version: version)
        defer { again.close() }
        try await again.connect()
        #expect(again.state == .connected(sessionPresent: true))
        let received = try await again.receive(1000)
        let numbers = received.map { Int(String(decoding: $0.payload, as: UTF8.self))! }
        #expect(numbers.count == 1000)
        #expect(Set(numbers) == Set(0..<1000))
        #expect(numbers == Array(0..<1000), "the broker delivers one client's QoS 1 messages in order")
        // Nothing beyond the 1,000: a marker published now is the very next message.
        try await publisher.publishAndWait(topic: "line/x/unit", payload: [0xFF], qos: .atLeastOnce)
        let marker = try await again.receive(1)
        #expect(marker.first?.payload == [0xFF])
    }

    @Test("100,000 QoS 0 messages: all received, in order, none twice")
    func manyQoS0() async throws {
        let broker = try await MosquittoBroker.start()
        defer { broker.stop() }
        let subscriber = try Self.client(broker)
        let publisher = try Self.client(broker)
        defer { subscriber.close(); publisher.close() }
        try await subscriber.connect()
        try await subscriber.subscribe("bulk", qos: .atMostOnce)
        try await publisher.connect()
        let count = 100_000
        let receiving = Task { try await subscriber.receive(count, timeout: 120) }
        for i in 0..<count {
            var value = UInt32(i).bigEndian
            let bytes = withUnsafeBytes(of: &value) { Array($0) }
            try await publisher.publish(topic: "bulk", payload: bytes, qos: .atMostOnce)
        }
        try await publisher.flush()
        let received = try await receiving.value
        let numbers = received.map { $0.payload.reduce(0) { $0 << 8 | Int($1) } }
        #expect(numbers.count == count)
        #expect(numbers == Array(0..<count))
    }
}
