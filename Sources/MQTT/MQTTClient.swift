/// An MQTT client over libmosquitto: connect (TLS, credentials, will, persistent session, MQTT
/// 3.1.1 or 5), subscribe, publish with a bounded in-flight window, receive as an async sequence,
/// and reconnect with exponential back-off, re-subscribing every active subscription.
///
/// libmosquitto runs in threaded mode on one dedicated thread owned by this client (its own loop,
/// so that reconnects use our back-off and MQTT 5 session properties). That thread only copies
/// what arrives and hands it over; no user code runs on it except `Configuration.messageHandler`
/// and `messageBatchEnded`. There is no global registry of clients: the C context pointer is an
/// `Unmanaged` reference to the client's core, released by the network thread when it ends.
///
/// - Important: call `close()` when done (deinit does it too). `close()` must not be called from
///   `Configuration.messageHandler`.
public final class MQTTClient: Sendable {
    public let configuration: Configuration
    let core: ClientCore

    public init(configuration: Configuration) {
        self.configuration = configuration
        self.core = ClientCore(configuration: configuration)
    }

    deinit {
        core.close()
    }

    /// Starts the network thread and waits for the first CONNACK.
    /// - Throws: `MosquittoError` — `.connectionRefused` (wrong credentials, …) at once;
    ///   a network error at once unless `reconnect.retryInitialConnection`; `.invalidConfiguration`.
    public func connect() async throws {
        try await core.connect()
    }

    /// Subscribes now if connected (waiting for the SUBACK) and again after every reconnect.
    /// - Returns: the QoS the broker granted (the requested one when not connected yet).
    @discardableResult
    public func subscribe(_ topicFilter: String, qos: MQTTQoS = .atLeastOnce) async throws -> MQTTQoS {
        try await core.subscribe(topicFilter, qos: qos)
    }

    /// Removes a subscription (waiting for the UNSUBACK when connected).
    public func unsubscribe(_ topicFilter: String) async throws {
        try await core.unsubscribe(topicFilter)
    }

    /// Queues a message. Suspends while `maxInflight` publishes are outstanding, so a fast
    /// producer is paced by the broker instead of filling memory. Returns once libmosquitto
    /// holds the message (a QoS 1 message queued while disconnected is sent after reconnect).
    public func publish(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) async throws {
        try await core.publish(topic: topic, payload: payload, qos: qos, retain: retain, waitForAck: false)
    }

    /// Publishes and returns when the broker acknowledged it (QoS 1: PUBACK) or, for QoS 0,
    /// when it was written to the socket.
    public func publishAndWait(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = false) async throws {
        try await core.publish(topic: topic, payload: payload, qos: qos, retain: retain, waitForAck: true)
    }

    /// Returns when every publish made so far is acknowledged (QoS 1) or written (QoS 0).
    public func flush() async throws {
        try await core.flush()
    }

    /// Received messages in batches (one wake-up per batch). Single consumer; use this or
    /// `messages`, not both.
    public var messageBatches: MQTTMessageBatches { MQTTMessageBatches(inbox: core.inbox) }

    /// Received messages one by one. Single consumer; use this or `messageBatches`, not both.
    public var messages: MQTTMessages { MQTTMessages(inbox: core.inbox) }

    /// The connection state now.
    public var state: MQTTConnectionState { core.currentState }

    /// The node a CONNACK last accepted this client on (`configuration.broker` or one of
    /// `alternateBrokers`); it stays set while the client is disconnected. Nil before the first.
    public var connectedBroker: MQTTBrokerURL? { core.connectedBroker }

    /// Every state change from now on, starting with the current state. Ends on `close()`.
    public func connectionStates() -> AsyncStream<MQTTConnectionState> {
        core.observeStates()
    }

    /// Closes the client: whatever still waits fails with `.closed`, the message sequences end,
    /// and the network thread sends DISCONNECT (so the broker does not publish the will), ends,
    /// and frees libmosquitto's client. Idempotent; returns at once without waiting for the
    /// thread (use `closeAndWait()` for that).
    /// - Important: until the thread ends (≤ ~100 ms) it may still read messages; they reach
    ///   `Configuration.messageHandler` (and are acknowledged) but no longer the message sequences.
    ///   A persistent-session consumer that hands a reconnect to another client should
    ///   `closeAndWait()` first, and one that must not lose any makes them durable in `messageHandler`.
    public func close() {
        core.close()
    }

    /// Closes without acknowledging anything more: messages the handler received whose PUBACK
    /// has not gone out yet stay unacknowledged (the broker delivers them again to the next
    /// connection of this session), and no DISCONNECT is sent. For a consumer that acknowledges
    /// only what it made durable elsewhere and must give the session up before it could.
    public func abandon() {
        core.abandon()
    }

    /// `close()`, then waits until DISCONNECT is sent and the network thread has ended (≤ ~1 s).
    public func closeAndWait() async {
        await core.closeAndWait()
    }
}
