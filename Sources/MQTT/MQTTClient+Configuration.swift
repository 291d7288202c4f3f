extension MQTTClient {
    /// TLS settings for `mqtts://` brokers (libmosquitto `mosquitto_tls_set`).
    public struct TLSOptions: Sendable, Equatable {
        /// PEM file of the certificate authorities that sign the broker's certificate.
        public var caFile: String?
        /// Directory of CA certificates (`c_rehash` layout); used when `caFile` is nil.
        public var caPath: String?
        /// Client certificate and key (PEM), for brokers that require client authentication.
        public var certFile: String?
        public var keyFile: String?
        /// Skip the check that the broker's certificate names the host. Only for tests.
        public var insecureSkipHostnameCheck: Bool

        public init(caFile: String? = nil, caPath: String? = nil, certFile: String? = nil,
                    keyFile: String? = nil, insecureSkipHostnameCheck: Bool = false) {
            self.caFile = caFile
            self.caPath = caPath
            self.certFile = certFile
            self.keyFile = keyFile
            self.insecureSkipHostnameCheck = insecureSkipHostnameCheck
        }
    }

    /// How the client reconnects after the connection drops: exponential back-off from
    /// `initialDelay` doubling up to `maxDelay` (seconds), reset after a successful CONNACK.
    public struct ReconnectPolicy: Sendable, Equatable {
        public var initialDelay: Double
        public var maxDelay: Double
        /// When true, `connect()` keeps retrying a broker that cannot be reached (it still throws
        /// at once on a refused CONNACK such as a wrong password). When false it throws the first
        /// network error.
        public var retryInitialConnection: Bool

        public init(initialDelay: Double = 0.25, maxDelay: Double = 30, retryInitialConnection: Bool = false) {
            self.initialDelay = initialDelay
            self.maxDelay = maxDelay
            self.retryInitialConnection = retryInitialConnection
        }
    }

    /// Everything needed to reach and talk to one broker (one node, or the nodes of a cluster).
    public struct Configuration: Sendable {
        /// The broker, or the first node of a clustered broker.
        public var broker: MQTTBrokerURL
        /// Other nodes of the same clustered broker, tried in turn after `broker`: every failed
        /// attempt and every dropped connection moves on to the next node of `brokers` (after the
        /// back-off wait), the last wraps round to the first. The session (client id, clean
        /// session) is the same on every node, so it survives a node only when the cluster shares
        /// sessions between its nodes (NATS JetStream does: docs/deploy.md). Empty: one broker,
        /// reconnected to as before.
        public var alternateBrokers: [MQTTBrokerURL]
        /// Fixed client id; required for a persistent session. Nil lets libmosquitto pick one
        /// (MQTT 3.1.1) or the broker assign one (MQTT 5).
        public var clientID: String?
        /// False asks the broker to keep the session (subscriptions and queued QoS 1 messages)
        /// across disconnects.
        public var cleanSession: Bool
        /// Keep-alive interval in seconds (libmosquitto requires ≥ 5).
        public var keepAlive: Int
        public var protocolVersion: MQTTProtocolVersion
        /// MQTT 5 only, with `cleanSession == false`: how long (seconds) the broker keeps the
        /// session after a disconnect. MQTT 3.1.1 sessions last until the broker expires them.
        public var sessionExpiryInterval: UInt32
        public var username: String?
        public var password: String?
        /// Required when `broker.usesTLS`.
        public var tls: TLSOptions?
        public var will: MQTTWill?
        public var reconnect: ReconnectPolicy
        /// Publishes that may be outstanding at once: QoS 1 until PUBACK, QoS 0 until written to
        /// the socket. `publish` suspends while the window is full, so memory stays bounded.
        public var maxInflight: Int
        /// Received messages held for the consumer before libmosquitto's thread waits (which in
        /// turn stops reading the socket, and the broker queues).
        public var inboxCapacity: Int
        /// Disable Nagle's algorithm (lower latency for small messages).
        public var tcpNoDelay: Bool
        /// When set, every received message goes to this handler **instead of** `messages` /
        /// `messageBatches` (which then never yield): called on libmosquitto's network thread with
        /// the message still in libmosquitto's buffers — nothing is copied or allocated.
        /// - Important: it runs before the PUBACK of a QoS 1 message reaches the socket (threaded
        ///   mode), so it is the place to make a message durable (append it to a journal). The
        ///   buffers are valid only during the call (copy what you keep). It must not call back
        ///   into this client; it may block (the broker then holds the messages, at QoS 1 in the
        ///   session), but not past the keep-alive.
        public var messageHandler: (@Sendable (MQTTReceivedMessage) -> Void)?
        /// With a `messageHandler`: called on the network thread after each batch of messages
        /// read in one go (those marked `acknowledgedAfterBatch`), before any of their PUBACKs is
        /// written. The place to write a journal's buffered records.
        public var messageBatchEnded: (@Sendable () -> Void)?

        public init(
            broker: MQTTBrokerURL,
            alternateBrokers: [MQTTBrokerURL] = [],
            clientID: String? = nil,
            cleanSession: Bool = true,
            keepAlive: Int = 30,
            protocolVersion: MQTTProtocolVersion = .v311,
            sessionExpiryInterval: UInt32 = 7 * 24 * 3600,
            username: String? = nil,
            password: String? = nil,
            tls: TLSOptions? = nil,
            will: MQTTWill? = nil,
            reconnect: ReconnectPolicy = ReconnectPolicy(),
            maxInflight: Int = 1000,
            inboxCapacity: Int = 65536,
            tcpNoDelay: Bool = true,
            messageHandler: (@Sendable (MQTTReceivedMessage) -> Void)? = nil,
            messageBatchEnded: (@Sendable () -> Void)? = nil
        ) {
            self.broker = broker
            self.alternateBrokers = alternateBrokers
            self.clientID = clientID
            self.cleanSession = cleanSession
            self.keepAlive = keepAlive
            self.protocolVersion = protocolVersion
            self.sessionExpiryInterval = sessionExpiryInterval
            self.username = username
            self.password = password
            self.tls = tls
            self.will = will
            self.reconnect = reconnect
            self.maxInflight = maxInflight
            self.inboxCapacity = inboxCapacity
            self.tcpNoDelay = tcpNoDelay
            self.messageHandler = messageHandler
            self.messageBatchEnded = messageBatchEnded
        }

        /// `broker` and then `alternateBrokers`: every node, in the order they are tried.
        public var brokers: [MQTTBrokerURL] { [broker] + alternateBrokers }

        /// Settings that cannot work, found before anything is started.
        func validate() throws(MosquittoError) {
            if keepAlive < 5 { throw .invalidConfiguration("keepAlive must be at least 5 seconds, got \(keepAlive)") }
            if maxInflight < 1 || maxInflight > 65535 {
                throw .invalidConfiguration("maxInflight must be 1 to 65535, got \(maxInflight)")
            }
            if inboxCapacity < 1 { throw .invalidConfiguration("inboxCapacity must be at least 1") }
            if !cleanSession && (clientID ?? "").isEmpty {
                throw .invalidConfiguration("a persistent session (cleanSession false) needs a fixed clientID")
            }
            if let other = alternateBrokers.first(where: { $0.usesTLS != broker.usesTLS }) {
                throw .invalidConfiguration("\(broker) and \(other) are one broker reached two ways; use mqtt:// or mqtts:// for every node")
            }
            if Set(brokers.map(\.description)).count != brokers.count {
                throw .invalidConfiguration("a broker is named twice in \(brokers.map(\.description).joined(separator: ","))")
            }
            if broker.usesTLS && tls?.caFile == nil && tls?.caPath == nil {
                throw .invalidConfiguration("\(broker) uses TLS: set tls.caFile or tls.caPath")
            }
            if !broker.usesTLS && tls != nil {
                throw .invalidConfiguration("TLS options given for \(broker); use an mqtts:// URL")
            }
            if (password != nil) && (username == nil) {
                throw .invalidConfiguration("a password needs a username")
            }
        }
    }
}
