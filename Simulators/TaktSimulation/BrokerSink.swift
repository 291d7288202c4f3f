/// Publishes to an MQTT broker (placeholder until the MQTT module lands).
public final class BrokerSink: MessageSink {
    public static func connect(url: String, clientID: String, qos: Int) async throws -> BrokerSink {
        throw SimulationRuntimeError("publishing to a broker is not available yet; use --out")
    }

    public func write(_ batch: MessageBatch, topics: [String]) async throws {}
    public func finish() async throws {}
}
