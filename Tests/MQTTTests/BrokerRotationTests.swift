@testable import MQTT
import Testing

@Suite("Broker rotation (no sockets)")
struct BrokerRotationTests {
    let a = MQTTBrokerURL(host: "a", port: 1)
    let b = MQTTBrokerURL(host: "b", port: 2)
    let c = MQTTBrokerURL(host: "c", port: 3)

    @Test("one broker: always that one, and a failed first attempt is not retried for another node")
    func single() {
        var rotation = BrokerRotation([a])
        #expect(rotation.current == a)
        #expect(!rotation.attemptFailed())
        #expect(rotation.current == a)
        rotation.connected()
        rotation.connectionDropped()
        #expect(rotation.current == a)
    }

    @Test("the first connect tries every node once before it may fail; then the nodes go round")
    func firstRound() {
        var rotation = BrokerRotation([a, b, c])
        #expect(rotation.current == a)
        #expect(rotation.attemptFailed())
        #expect(rotation.current == b)
        #expect(rotation.attemptFailed())
        #expect(rotation.current == c)
        #expect(!rotation.attemptFailed())  // a, b and c all failed: the first connect() may give up
        #expect(rotation.current == a)
        #expect(!rotation.attemptFailed())
        #expect(rotation.current == b)
    }

    @Test("a dropped connection moves on to the next node, wrapping round")
    func dropMovesOn() {
        var rotation = BrokerRotation([a, b, c])
        #expect(rotation.attemptFailed())
        rotation.connected()  // on b
        #expect(rotation.current == b)
        rotation.connectionDropped()
        #expect(rotation.current == c)
        rotation.connected()
        rotation.connectionDropped()
        #expect(rotation.current == a)
        #expect(!rotation.attemptFailed())  // once connected, failing no longer ends a first connect
        #expect(rotation.current == b)
    }
}
