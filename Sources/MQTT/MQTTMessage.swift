/// MQTT quality of service levels that Takt uses.
public enum MQTTQoS: Int32, Sendable, Comparable {
    case atMostOnce = 0
    case atLeastOnce = 1

    public static func < (lhs: MQTTQoS, rhs: MQTTQoS) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The MQTT protocol version spoken to the broker.
public enum MQTTProtocolVersion: Sendable, Equatable {
    case v311
    case v5
}

/// One received message, copied out of libmosquitto's buffers (which are freed when the callback
/// returns), so it is safe to keep and to send across tasks.
public struct MQTTMessage: Sendable, Equatable {
    public var topic: String
    /// The payload bytes exactly as published (may be empty).
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// A received message borrowed from libmosquitto's buffers, given to
/// `Configuration.messageHandler`: valid only during that call.
public struct MQTTReceivedMessage {
    /// The topic's UTF-8 bytes (no terminating NUL).
    public let topic: UnsafeRawBufferPointer
    /// The payload bytes exactly as published (may be empty).
    public let payload: UnsafeRawBufferPointer
    public let qos: MQTTQoS
    public let retain: Bool
    /// True when the message's PUBACK cannot reach the socket before
    /// `Configuration.messageBatchEnded` is called: the handler may defer making it durable
    /// until then (one `write(2)` per batch instead of one per message). False when the PUBACK
    /// may be written as soon as the handler returns.
    public let acknowledgedAfterBatch: Bool

    public init(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, qos: MQTTQoS, retain: Bool,
                acknowledgedAfterBatch: Bool = false) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
        self.acknowledgedAfterBatch = acknowledgedAfterBatch
    }

    /// The topic as a `String` (copies; for the rare path).
    public var topicString: String { String(decoding: topic, as: UTF8.self) }
}

/// The message the broker publishes for this client if it goes away without disconnecting.
public struct MQTTWill: Sendable, Equatable {
    public var topic: String
    public var payload: [UInt8]
    public var qos: MQTTQoS
    public var retain: Bool

    public init(topic: String, payload: [UInt8], qos: MQTTQoS = .atLeastOnce, retain: Bool = true) {
        self.topic = topic
        self.payload = payload
        self.qos = qos
        self.retain = retain
    }
}

/// Where the connection stands. Observe changes with `MQTTClient.connectionStates()`.
public enum MQTTConnectionState: Sendable, Equatable {
    /// Created; `connect()` not called yet.
    case idle
    /// A TCP/TLS connect or a CONNECT/CONNACK exchange is under way.
    case connecting
    /// CONNACK accepted. `sessionPresent` tells whether the broker kept a persistent session.
    case connected(sessionPresent: Bool)
    /// The connection is down; the client retries with back-off unless it was closed.
    case disconnected(MosquittoError?)
    /// `close()` ran; nothing more happens.
    case closed
}
