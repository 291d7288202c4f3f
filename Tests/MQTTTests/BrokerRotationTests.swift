@testable import MQTT
import Testing

@Suite("Broker rotation (no sockets)")
struct BrokerRotationTests {
    let a = MQTTBrokerURL(host: "a", port: 1)
    let b = MQTTBrokerURL(host: "b", port: 2)
    let c = MQTTBrokerURL(host: "c", port: 3)

    /// Fails `count` attempts in a row: whether each may be retried, and the node after each.
    static func fail(_ rotation: inout BrokerRotation, _ count: Int) -> [(retry: Bool, next: MQTTBrokerURL)] {
        (0..<count).map { _ in
            let retry = rotation.attemptFailed()
            return (retry, rotation.current)
        }
    }

    @Test("one broker: always that one, and a failed first attempt is not retried for another node")
    func single() {
        var rotation = BrokerRotation([a])
        #expect(rotation.current == a)
        let failed = Self.fail(&rotation, 2)
        #expect(failed.map(\.retry) == [false, false])
        #expect(failed.map(\.next) == [a, a])
        rotation.connected()
        rotation.connectionDropped()
        #expect(rotation.current == a)
    }

    @Test("the first connect tries every node once before it may fail; then the nodes go round")
    func firstRound() {
        var rotation = BrokerRotation([a, b, c])
        #expect(rotation.current == a)
        let failed = Self.fail(&rotation, 4)
        // a and b failed: try the next; c failed too: each was tried, the first connect() may give up.
        #expect(failed.map(\.retry) == [true, true, false, false])
        #expect(failed.map(\.next) == [b, c, a, b])
    }

    @Test("a dropped connection moves on to the next node, wrapping round")
    func dropMovesOn() {
        var rotation = BrokerRotation([a, b, c])
        _ = Self.fail(&rotation, 1)
        rotation.connected()  // on b
        #expect(rotation.current == b)
        rotation.connectionDropped()
        #expect(rotation.current == c)
        rotation.connected()
        rotation.connectionDropped()
        #expect(rotation.current == a)
        // Once connected, a failed attempt is retried by the lifecycle anyway; no first round left.
        #expect(Self.fail(&rotation, 1).map(\.retry) == [false])
        #expect(rotation.current == b)
    }
}
