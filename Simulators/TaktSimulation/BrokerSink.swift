import MQTT

/// Publishes to an MQTT broker through the `MQTT` module.
///
/// Memory stays bounded: `MQTTClient.publish` suspends while `maxInflight` publishes are
/// unacknowledged (QoS 1) or unwritten (QoS 0), so a fast simulation is paced by the broker.
public final class BrokerSink: MessageSink {
    let client: MQTTClient
    let qos: MQTTQoS

    init(client: MQTTClient, qos: MQTTQoS) {
        self.client = client
        self.qos = qos
    }

    /// Connects; a bad URL is a ``SimulationUsageError`` naming `--broker`, an unreachable
    /// broker a ``SimulationRuntimeError``.
    public static func connect(url: String, clientID: String, qos: Int, maxInflight: Int = 1000) async throws -> BrokerSink {
        let brokerURL: MQTTBrokerURL
        do {
            brokerURL = try MQTTBrokerURL(url)
        } catch {
            throw SimulationUsageError(flag: "--broker", "'\(url)': \(error)")
        }
        let client = MQTTClient(
            configuration: MQTTClient.Configuration(
                broker: brokerURL, clientID: clientID, cleanSession: true, maxInflight: maxInflight))
        do {
            try await client.connect()
        } catch {
            client.close()
            throw SimulationRuntimeError("cannot connect to \(url): \(error)")
        }
        return BrokerSink(client: client, qos: qos == 0 ? .atMostOnce : .atLeastOnce)
    }

    public func write(_ batch: MessageBatch, topics: [String]) async throws {
        for i in 0..<batch.count {
            let entry = batch.entries[i]
            try await client.publish(
                topic: topics[Int(entry.topic)], payload: Array(batch.payload(i)), qos: qos, retain: false)
        }
    }

    /// Waits until the broker has every message (QoS 1: acknowledged), then disconnects.
    public func finish() async throws {
        defer { client.close() }
        try await client.flush()
    }
}
