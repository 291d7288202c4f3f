import MQTT

/// Publishes to an MQTT broker through the `MQTT` module.
///
/// Memory stays bounded: `MQTTClient.publish` suspends while `maxInflight` publishes are
/// unacknowledged (QoS 1) or unwritten (QoS 0), so a fast simulation is paced by the broker.
public final class BrokerSink: MessageSink {
    let client: MQTTClient
    let qos: MQTTQoS
    /// What went wrong without stopping the run (a refused NCMD subscription), one line each.
    public private(set) var warnings: [String] = []

    init(client: MQTTClient, qos: MQTTQoS) {
        self.client = client
        self.qos = qos
    }

    /// Broker credentials and TLS (`--username`, `--password`, `--ca-file`).
    public struct Credentials: Sendable {
        public var username: String?
        public var password: String?
        /// PEM file of the CA that signed the broker's certificate; required for `mqtts://`.
        public var caFile: String?

        public init(username: String? = nil, password: String? = nil, caFile: String? = nil) {
            self.username = username
            self.password = password
            self.caFile = caFile
        }
    }

    /// Connects; a bad URL or TLS setting is a ``SimulationUsageError`` naming the flag, an
    /// unreachable broker or a refused login a ``SimulationRuntimeError``. No message repeats
    /// a password.
    /// - Parameter rebirths: with NCMD topics (``RebirthRequests/topics``), subscribes to them
    ///   (QoS 1, before the first publish, again after a reconnect) and hands every command to
    ///   it on the client's network thread.
    public static func connect(url: String, clientID: String, qos: Int, credentials: Credentials = Credentials(),
                               maxInflight: Int = 1000, rebirths: RebirthRequests? = nil) async throws -> BrokerSink {
        let brokerURLs: [MQTTBrokerURL]
        do {
            brokerURLs = try MQTTBrokerURL.list(url)
        } catch {
            throw SimulationUsageError(flag: "--broker", error.message)
        }
        let brokerURL = brokerURLs[0]  // every node has its scheme (`list` refuses a mix)
        if brokerURL.usesTLS && credentials.caFile == nil {
            throw SimulationUsageError(flag: "--ca-file", "\(brokerURL) uses TLS: give the CA that signed the broker's certificate")
        }
        if !brokerURL.usesTLS && credentials.caFile != nil {
            throw SimulationUsageError(flag: "--ca-file", "\(brokerURL) is plain TCP; use an mqtts:// URL for TLS")
        }
        if credentials.password != nil && credentials.username == nil {
            throw SimulationUsageError(flag: "--password", "a password needs --username")
        }
        let listener = rebirths?.topics.isEmpty == false ? rebirths : nil
        var handler: (@Sendable (MQTTReceivedMessage) -> Void)?
        if let listener {
            handler = { message in _ = listener.receive(topic: message.topicString, payload: message.payload) }
        }
        let client = MQTTClient(
            configuration: MQTTClient.Configuration(
                broker: brokerURL, alternateBrokers: Array(brokerURLs.dropFirst()), clientID: clientID, cleanSession: true,
                username: credentials.username,
                password: credentials.password, tls: credentials.caFile.map { MQTTClient.TLSOptions(caFile: $0) },
                maxInflight: maxInflight,
                messageHandler: handler))
        do {
            try await client.connect()
        } catch {
            client.close()
            throw SimulationRuntimeError("cannot connect to \(brokerURLs.map(\.description).joined(separator: ",")): \(error)")
        }
        var warnings: [String] = []
        for topic in listener?.topics ?? [] {
            do {
                _ = try await client.subscribe(topic, qos: .atLeastOnce)
            } catch let error as MosquittoError where error.kind == .subscriptionRejected {
                // The broker's ACL forbids it: the run goes on, that node's requests unanswered.
                warnings.append("\(topic): subscription refused by the broker; rebirth requests to this node go unanswered")
            } catch {
                client.close()
                throw SimulationRuntimeError("cannot subscribe to \(topic): \(error)")
            }
        }
        let sink = BrokerSink(client: client, qos: qos == 0 ? .atMostOnce : .atLeastOnce)
        sink.warnings = warnings
        return sink
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
