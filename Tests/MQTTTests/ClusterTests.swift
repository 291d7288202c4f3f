import Foundation
import MQTT
import Synchronization
import Testing
import TestSupport

/// A 3-node NATS JetStream cluster's MQTT interface (Debian's `nats-server` 2.9): what a client
/// with every node in its list keeps when the node it is connected to dies.
@Suite("NATS cluster: a node dies under a client", .serialized, .ownThreads)
struct ClusterTests {
    @Test("the subscriber's node is killed mid-stream: the persistent session resumes on another node and every QoS 1 message arrives")
    func subscriberNodeKilled() async throws {
        let cluster = try await NATSCluster.start()
        defer { cluster.stop() }
        let nodes = try cluster.nodes.map { try MQTTBrokerURL($0.url) }
        let fast = MQTTClient.ReconnectPolicy(initialDelay: 0.1, maxDelay: 1)
        // Subscriber on node 1, publisher on node 2; node 1 is killed.
        let subscriber = MQTTClient(configuration: .init(
            broker: nodes[0], alternateBrokers: [nodes[1], nodes[2]], clientID: "cluster-sub", cleanSession: false,
            reconnect: fast))
        let publisher = MQTTClient(configuration: .init(
            broker: nodes[1], alternateBrokers: [nodes[2], nodes[0]], clientID: "cluster-pub", reconnect: fast, maxInflight: 100))
        defer { subscriber.close(); publisher.close() }

        let total = 4000
        let seen = Mutex((counts: [Int](repeating: 0, count: total), distinct: 0, duplicates: 0))
        let killed = Mutex<ContinuousClock.Instant?>(nil)
        let batches = subscriber.messageBatches
        let collecting = Task {
            for await batch in batches {
                let done = seen.withLock { s in
                    for message in batch where message.payload.count == 4 {
                        let i = message.payload.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
                        guard i < total else { continue }
                        s.counts[i] += 1
                        if s.counts[i] == 1 { s.distinct += 1 } else { s.duplicates += 1 }
                    }
                    return s.distinct == total
                }
                if done { return ContinuousClock.now }
            }
            return ContinuousClock.now
        }
        try await subscriber.connect()
        try await subscriber.subscribe("cluster/#", qos: .atLeastOnce)
        try await publisher.connect()
        #expect(subscriber.connectedBroker == nodes[0])

        let states = subscriber.connectionStates()
        let reconnected = Task { () -> (ContinuousClock.Instant, MQTTConnectionState)? in
            var wasDown = false
            for await state in states {
                if state.isDisconnected { wasDown = true }
                if wasDown, state.isConnected { return (ContinuousClock.now, state) }
            }
            return nil
        }
        for i in 0..<total {
            if i == total / 3 {
                // Let the subscriber hold messages in flight, then take its node away.
                try await Task.sleep(for: .milliseconds(100))
                killed.withLock { $0 = .now }
                cluster.kill(0)
            }
            var value = UInt32(i).littleEndian
            try await publisher.publish(topic: "cluster/\(i % 7)", payload: withUnsafeBytes(of: &value) { Array($0) }, qos: .atLeastOnce)
        }
        try await withTimeout(60, "the publisher's last PUBACKs") { try await publisher.flush() }
        let published = ContinuousClock.now
        let finished = try await withTimeout(120, "every message at the subscriber") { await collecting.value }
        let back = try await withTimeout(10, "the subscriber's reconnect") { await reconnected.value }
        let killedAt = try #require(killed.withLock { $0 })
        let figures = seen.withLock { $0 }
        #expect(figures.distinct == total)
        #expect(subscriber.connectedBroker != nodes[0])
        if let back {
            #expect(back.1 == .connected(sessionPresent: true), "the session must be the same on the other node")
            print("""
                cluster failover: subscriber connected again \(back.0 - killedAt) after the kill, on \
                \(subscriber.connectedBroker.map(String.init(describing:)) ?? "?"); all \(total) messages \
                \(finished - killedAt) after the kill (\(finished - published) after the last PUBACK); \
                \(figures.duplicates) delivered twice
                """)
        } else {
            Issue.record("the subscriber never reconnected")
        }
    }

    @Test("the node dies while the subscriber holds a burst unacknowledged (as taktd's intake does while journaling): NATS redelivers it after ack_wait, not at the reconnect")
    func heldBurstRedelivered() async throws {
        let cluster = try await NATSCluster.start()
        defer { cluster.stop() }
        let nodes = try cluster.nodes.map { try MQTTBrokerURL($0.url) }
        let total = 200
        let counts = Mutex([Int](repeating: 0, count: total))
        let holding = Mutex<ContinuousClock.Instant?>(nil)  // set while the handler holds its burst
        let release = DispatchSemaphore(value: 0)
        let arrivals = Mutex<[(Int, ContinuousClock.Instant)]>([])
        // In place, like the intake: the PUBACKs of a burst leave only after the handler returned.
        let subscriber = MQTTClient(configuration: .init(
            broker: nodes[0], alternateBrokers: [nodes[1], nodes[2]], clientID: "cluster-holder", cleanSession: false,
            reconnect: .init(initialDelay: 0.1, maxDelay: 1),
            messageHandler: { message in
                guard message.payload.count == 4 else { return }
                let i = Int(UInt32(littleEndian: message.payload.loadUnaligned(as: UInt32.self)))
                guard i < total else { return }
                let first = counts.withLock { c in
                    c[i] += 1
                    return c[i] == 1
                }
                arrivals.withLock { $0.append((i, .now)) }
                if i == total / 2 && first {
                    holding.withLock { $0 = .now }
                    release.wait()  // the test kills the node meanwhile
                }
            }))
        let publisher = MQTTClient(configuration: .init(broker: nodes[1], alternateBrokers: [nodes[2]], clientID: "cluster-pub2"))
        defer { subscriber.close(); publisher.close() }
        defer { release.signal() }  // first: never leave the network thread waiting
        try await subscriber.connect()
        try await subscriber.subscribe("held/#", qos: .atLeastOnce)
        try await publisher.connect()
        for i in 0..<total {
            var value = UInt32(i).littleEndian
            try await publisher.publish(topic: "held/x", payload: withUnsafeBytes(of: &value) { Array($0) }, qos: .atLeastOnce)
        }
        try await publisher.flush()
        try await withTimeout(30, "the handler holding message \(total / 2)") {
            while holding.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(10)) }
        }
        let killed = ContinuousClock.now
        cluster.kill(0)
        release.signal()
        try await withTimeout(90, "every message") {
            while counts.withLock({ $0.contains(0) }) { try await Task.sleep(for: .milliseconds(50)) }
        }
        // Redeliveries of what was in flight come ack_wait after their first delivery; wait past it.
        try await Task.sleep(for: .seconds(35) - (ContinuousClock.now - killed))
        let all = counts.withLock { $0 }
        let twice = all.filter { $0 > 1 }.count
        let lateArrivals = arrivals.withLock { $0 }.filter { $0.1 > killed }
        let lastLate = lateArrivals.map { $0.1 - killed }.max() ?? .zero
        #expect(!all.contains(0))
        #expect(subscriber.connectedBroker != nodes[0])
        print("""
            held burst: \(twice) of \(total) messages delivered twice (the burst held at the kill, redelivered), \
            \(lateArrivals.count) arrivals after the kill, the last \(lastLate) after it
            """)
    }
}
