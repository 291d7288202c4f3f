internal import CMosquitto
import Dispatch
import Foundation
import Synchronization

/// An MQTT client over libmosquitto: connect (TLS, credentials, will, persistent session, MQTT
/// 3.1.1 or 5), subscribe, publish with a bounded in-flight window, receive as an async sequence,
/// and reconnect with exponential back-off, re-subscribing every active subscription.
///
/// libmosquitto runs in threaded mode on one dedicated thread owned by this client (its own loop,
/// so that reconnects use our back-off and MQTT 5 session properties). That thread only copies
/// what arrives and hands it over; no user code runs on it except `Configuration.messageHandler`.
/// There is no global registry of clients: the C context pointer is an `Unmanaged` reference to
/// the client's core, released by `close()`.
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

    /// `close()`, then waits until DISCONNECT is sent and the network thread has ended (≤ ~1 s).
    public func closeAndWait() async {
        await core.closeAndWait()
    }
}

/// The part of the client that libmosquitto's callbacks reach through the context pointer.
final class ClientCore: @unchecked Sendable {
    // `handle` is set in init and destroyed in close(); libmosquitto calls made with it are
    // thread-safe in threaded mode. Everything mutable is in `state`.
    private let handle: OpaquePointer?
    private let creationError: MosquittoError?
    let configuration: MQTTClient.Configuration
    let inbox: MessageInbox
    private let state = Mutex(State())
    /// Wakes the network thread out of a back-off sleep when closing.
    private let wake = DispatchSemaphore(value: 0)
    /// Clients with a `messageHandler` run their own `poll` loop once connected (see
    /// `pollOnce`); a byte written to this pipe (`[read end, write end]`, non-blocking) wakes it
    /// when another thread queued a packet or closes. -1s for the other clients, which use
    /// `mosquitto_loop`.
    private let pollWakePipe: (read: Int32, write: Int32)
    /// True while `readBurst` runs. Only the network thread reads and writes it.
    private var inBurst = false

    struct State {
        var connection: MQTTConnectionState = .idle
        var started = false
        var stopRequested = false
        var closed = false
        /// True while the network thread's context pointer holds a retain on this object.
        var retainedByContext = false
        var threadEnded = false
        var endWaiters: [CheckedContinuation<Void, Never>] = []
        var connectWaiter: CheckedContinuation<Void, any Error>?
        var subscriptions: [String: MQTTQoS] = [:]
        var subacks = AckTable<Int32>()
        var unsubacks = AckTable<Int32>()
        // Publish window: `reserved` slots are taken (≤ maxInflight); `inflight` maps libmosquitto
        // message ids to their QoS until on_publish; `earlyPublishes` holds ids whose on_publish
        // came before the publishing task registered the id.
        var reserved = 0
        var inflight: [Int32: MQTTQoS] = [:]
        var earlyPublishes: Set<Int32> = []
        var slotWaiters: [CheckedContinuation<Void, any Error>] = []
        var publishWaiters: [Int32: CheckedContinuation<Void, any Error>] = [:]
        var flushWaiters: [CheckedContinuation<Void, any Error>] = []
        var observers: [Int: AsyncStream<MQTTConnectionState>.Continuation] = [:]
        var nextObserverID = 0

        var isConnected: Bool {
            if case .connected = connection { return true }
            return false
        }
    }

    /// A SUBACK value that means "the connection dropped before the SUBACK; re-subscribed on reconnect".
    private static let subackInterrupted: Int32 = -1

    init(configuration: MQTTClient.Configuration) {
        _ = mosquittoLibrary
        self.configuration = configuration
        self.inbox = MessageInbox(capacity: max(1, configuration.inboxCapacity))
        // Without the pipe (out of descriptors) the client uses `mosquitto_loop` throughout:
        // still correct, only without acknowledge-after-batch.
        self.pollWakePipe = configuration.messageHandler == nil ? (-1, -1)
            : (try? POSIX.pipe(flags: O_NONBLOCK | O_CLOEXEC)) ?? (-1, -1)
        let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil)
        self.handle = handle
        if let handle {
            creationError = nil
            mosquitto_threaded_set(handle, true)
            mosquitto_connect_with_flags_callback_set(handle, takt_mqtt_on_connect)
            mosquitto_disconnect_callback_set(handle, takt_mqtt_on_disconnect)
            mosquitto_publish_callback_set(handle, takt_mqtt_on_publish)
            mosquitto_message_callback_set(handle, takt_mqtt_on_message)
            mosquitto_subscribe_callback_set(handle, takt_mqtt_on_subscribe)
            mosquitto_unsubscribe_callback_set(handle, takt_mqtt_on_unsubscribe)
        } else {
            creationError = MosquittoError(returnCode: Int32(MOSQ_ERR_ERRNO.rawValue))
        }
    }

    deinit {
        if let handle { mosquitto_destroy(handle) }
        if pollWakePipe.read >= 0 {
            // A failed close leaves nothing to do: the descriptor is released either way and
            // nothing else holds it.
            try? POSIX.close(pollWakePipe.read)
            try? POSIX.close(pollWakePipe.write)
        }
    }

    /// Wakes the receiving loop's `poll` (after queueing a packet from another thread).
    private func kickPoll() {
        guard pollWakePipe.write >= 0 else { return }
        do {
            _ = try withUnsafeBytes(of: UInt8(1)) { byte throws(POSIX.Error) in try POSIX.write(pollWakePipe.write, byte) }
        } catch {
            // A full pipe (EAGAIN) already holds a wake-up that `poll` has not consumed yet, so
            // this one is not needed. Nothing else can fail: both ends stay open until deinit.
            assert(error.wouldBlock, "wake-up pipe: \(error)")
        }
    }

    var currentState: MQTTConnectionState { state.withLock { $0.connection } }

    // MARK: connect

    func connect() async throws {
        try configuration.validate()
        if let creationError { throw creationError }
        guard let handle else { throw MosquittoError.closed }
        try applyOptions(handle)
        // Cancelling the task that waits closes the client (which fails the wait with .closed),
        // so a caller's timeout can end a connect that would otherwise retry forever.
        try await withTaskCancellationHandler {
            try await startAndAwaitFirstConnection(handle)
        } onCancel: {
            close()
        }
    }

    private func startAndAwaitFirstConnection(_ handle: OpaquePointer) async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            // Resuming inside the lock is safe: a continuation only schedules its task.
            let context = Unmanaged.passUnretained(self).toOpaque()
            let proceed: Bool = state.withLock { s in
                if s.closed || s.started {
                    waiter.resume(throwing: s.closed ? MosquittoError.closed
                        : .invalidConfiguration("connect() was already called on this client"))
                    return false
                }
                s.started = true
                s.connectWaiter = waiter
                return true
            }
            guard proceed else { return }
            // The network thread's callbacks reach this object through `context`; the retain is
            // released by close() after the thread has ended.
            _ = Unmanaged.passRetained(self)
            state.withLock { $0.retainedByContext = true }
            mosquitto_user_data_set(handle, context)
            let thread = Thread { [self] in runNetworkLoop() }
            thread.name = "takt-mqtt"
            thread.start()
        }
    }

    private func applyOptions(_ handle: OpaquePointer) throws(MosquittoError) {
        let c = configuration
        try check(mosquitto_int_option(handle, MOSQ_OPT_PROTOCOL_VERSION,
                                       c.protocolVersion == .v5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311))
        try check(mosquitto_int_option(handle, MOSQ_OPT_TCP_NODELAY, c.tcpNoDelay ? 1 : 0))
        try check(mosquitto_max_inflight_messages_set(handle, UInt32(c.maxInflight)))
        if let username = c.username {
            try check(mosquitto_username_pw_set(handle, username, c.password))
        }
        if let will = c.will {
            let rc = will.payload.withUnsafeBytes { bytes in
                mosquitto_will_set(handle, will.topic, Int32(bytes.count), bytes.baseAddress, will.qos.rawValue, will.retain)
            }
            try check(rc)
        }
        if let tls = c.tls {
            try check(mosquitto_tls_set(handle, tls.caFile, tls.caPath, tls.certFile, tls.keyFile, nil))
            if tls.insecureSkipHostnameCheck {
                try check(mosquitto_tls_insecure_set(handle, true))
            }
        }
    }

    // MARK: the network thread

    /// Connects, runs libmosquitto's loop until the connection drops, backs off, reconnects —
    /// until `close()`.
    private func runNetworkLoop() {
        guard let handle else { return }
        let policy = configuration.reconnect
        var delay = policy.initialDelay
        var firstAttempt = true
        while !state.withLock({ $0.stopRequested }) {
            setConnection(.connecting)
            let rc = openConnection(handle, first: firstAttempt)
            firstAttempt = false
            if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) {
                let error = MosquittoError(returnCode: rc)
                let waiter: CheckedContinuation<Void, any Error>? = state.withLock { s in
                    guard let waiter = s.connectWaiter, !policy.retryInitialConnection else { return nil }
                    s.connectWaiter = nil
                    s.stopRequested = true
                    return waiter
                }
                setConnection(.disconnected(error))
                waiter?.resume(throwing: error)
            } else {
                var rc = Int32(MOSQ_ERR_SUCCESS.rawValue)
                while rc == Int32(MOSQ_ERR_SUCCESS.rawValue) {
                    if state.withLock({ $0.stopRequested }) {
                        disconnectAndDrain(handle)
                        break
                    }
                    rc = pollWakePipe.read >= 0 && state.withLock({ $0.isConnected })
                        ? pollOnce(handle) : mosquitto_loop(handle, 100, 1)
                }
                let wasConnected: Bool = state.withLock { s in
                    defer { if s.isConnected || s.connection == .connecting { s.connection = .disconnected(nil) } }
                    return s.isConnected
                }
                if wasConnected {
                    // on_disconnect did not run (libmosquitto skips it for some errors).
                    connectionDropped(rc: rc)
                }
                // The first connection failed after the TCP connect but before a CONNACK (a TLS
                // handshake that fails in the loop, a broker that hangs up): connect() must hear
                // of it, unless it is meant to keep retrying.
                let failedFirst: CheckedContinuation<Void, any Error>? = state.withLock { s in
                    guard let waiter = s.connectWaiter, !policy.retryInitialConnection else { return nil }
                    s.connectWaiter = nil
                    s.stopRequested = true
                    return waiter
                }
                if let failedFirst {
                    let error = rc == Int32(MOSQ_ERR_SUCCESS.rawValue)
                        ? MosquittoError(returnCode: Int32(MOSQ_ERR_CONN_LOST.rawValue)) : MosquittoError(returnCode: rc)
                    setConnection(.disconnected(error))
                    failedFirst.resume(throwing: error)
                }
            }
            if state.withLock({ $0.stopRequested }) { break }
            if state.withLock({ $0.connection }) == .connecting { delay = policy.initialDelay }
            _ = wake.wait(timeout: .now() + delay)
            delay = min(delay * 2, policy.maxDelay)
        }
        networkThreadEnded()
    }

    /// Packets read per `pollOnce` at most, before writing and keep-alive get their turn.
    static let receiveBurst = 512

    /// One turn of the receiving loop (a client with a `messageHandler`, once connected): wait
    /// for the socket or a wake-up, read every packet already waiting (up to `receiveBurst`) as
    /// one batch for the handler, end the batch (`messageBatchEnded`), and only then write what
    /// is queued (the PUBACKs of that batch) and do the keep-alive. `mosquitto_loop` cannot be
    /// used for this: it writes a PUBACK in the same call that read its message.
    private func pollOnce(_ handle: OpaquePointer) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        let sock = mosquitto_socket(handle)
        guard sock >= 0 else { return Int32(MOSQ_ERR_NO_CONN.rawValue) }
        let writeEvents = mosquitto_want_write(handle) ? Int16(POLLOUT) : 0
        var fds = [pollfd(fd: sock, events: Int16(POLLIN) | writeEvents, revents: 0),
                   pollfd(fd: pollWakePipe.read, events: Int16(POLLIN), revents: 0)]
        do {
            try POSIX.poll(&fds, timeout: 100)
        } catch {
            errno = error.code  // MOSQ_ERR_ERRNO: the caller's MosquittoError reads errno for the text
            return Int32(MOSQ_ERR_ERRNO.rawValue)
        }
        if fds[1].revents != 0 {
            // Up to 32 wake-ups per turn; more leave the pipe readable and the next poll returns
            // at once, which is right: each stands for a packet queued by another thread.
            var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
            do {
                _ = try withUnsafeMutableBytes(of: &bytes) { buffer throws(POSIX.Error) in
                    try POSIX.read(pollWakePipe.read, into: buffer)
                }
            } catch {
                // EAGAIN: nothing left to drain (only this thread reads the pipe, so a readiness
                // without bytes is spurious). Nothing else can fail on our own open pipe.
                assert(error.wouldBlock, "wake-up pipe: \(error)")
            }
        }
        if fds[0].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 {
            let rc = readBurst(handle)
            if rc != success { return rc }
        }
        if mosquitto_want_write(handle) {
            let rc = mosquitto_loop_write(handle, 1)
            if rc != success { return rc }
        }
        return mosquitto_loop_misc(handle)
    }

    /// Reads packets until the socket has none left (a read would block) or `receiveBurst`;
    /// messages reach the handler marked `acknowledgedAfterBatch`, and the batch is ended even
    /// when the connection drops half-way.
    ///
    /// "A read would block" is `errno == EAGAIN` after `mosquitto_loop_read`. libmosquitto also
    /// leaves EAGAIN behind when it queues a PUBACK: it writes a byte to its internal wake-up
    /// socketpair, which only `mosquitto_loop` drains, so that pair is full after a few hundred
    /// PUBACKs. `didReceive` therefore clears errno after the handler (the PUBACK is queued
    /// before the message callback), so only the socket's own reads decide. (libmosquitto's
    /// read loop, which keeps reading while TLS has decrypted bytes pending, stops on the same
    /// errno; clearing it keeps that working too.)
    private func readBurst(_ handle: OpaquePointer) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        inBurst = true
        defer {
            inBurst = false
            configuration.messageBatchEnded?()
        }
        for _ in 0..<Self.receiveBurst {
            errno = 0
            let rc = mosquitto_loop_read(handle, 1)
            if rc != success { return rc }
            if errno == EAGAIN || errno == EWOULDBLOCK || mosquitto_socket(handle) < 0 { break }
        }
        return success
    }

    /// TCP (+TLS) connect and CONNECT. MQTT 5 sends the session expiry property on every
    /// attempt; libmosquitto's own `mosquitto_reconnect` would drop it.
    private func openConnection(_ handle: OpaquePointer, first: Bool) -> Int32 {
        let c = configuration
        if c.protocolVersion == .v5 {
            var properties: OpaquePointer? = nil
            defer { mosquitto_property_free_all(&properties) }
            if !c.cleanSession {
                _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                                 c.sessionExpiryInterval)
            }
            return mosquitto_connect_bind_v5(handle, c.broker.host, Int32(c.broker.port), Int32(c.keepAlive), nil, properties)
        }
        if first {
            return mosquitto_connect(handle, c.broker.host, Int32(c.broker.port), Int32(c.keepAlive))
        }
        return mosquitto_reconnect(handle)
    }

    /// Sends DISCONNECT and runs the loop until it is written (at most ~1 s).
    private func disconnectAndDrain(_ handle: OpaquePointer) {
        guard mosquitto_disconnect(handle) == Int32(MOSQ_ERR_SUCCESS.rawValue) else { return }
        let deadline = DispatchTime.now() + 1
        while DispatchTime.now() < deadline {
            if mosquitto_loop(handle, 50, 1) != Int32(MOSQ_ERR_SUCCESS.rawValue) { break }
        }
    }

    // MARK: callbacks (libmosquitto's thread)

    func didConnect(rc: Int32, flags: Int32) {
        guard let handle else { return }
        if rc != 0 {
            let error = MosquittoError.connectionRefused(code: rc, protocolVersion: configuration.protocolVersion)
            let waiter: CheckedContinuation<Void, any Error>? = state.withLock { s in
                guard let waiter = s.connectWaiter else { return nil }
                // Refused on the very first attempt (wrong password, bad client id): say so and stop.
                s.connectWaiter = nil
                s.stopRequested = true
                return waiter
            }
            setConnection(.disconnected(error))
            waiter?.resume(throwing: error)
            return
        }
        let (waiter, subscriptions, lost) = state.withLock { s in
            let waiter = s.connectWaiter
            s.connectWaiter = nil
            return (waiter, s.subscriptions, s.dropUnsentQoS0())
        }
        for (filter, qos) in subscriptions {
            var mid: Int32 = 0
            if mosquitto_subscribe(handle, &mid, filter, qos.rawValue) == Int32(MOSQ_ERR_SUCCESS.rawValue) {
                // The SUBACK is read on this same thread later, so registering now cannot race it.
                state.withLock { $0.subacks.ignore(mid) }
            }
        }
        resumeAll(lost)
        setConnection(.connected(sessionPresent: flags & 1 == 1))
        waiter?.resume()
    }

    func didDisconnect(rc: Int32) {
        connectionDropped(rc: rc)
    }

    private func connectionDropped(rc: Int32) {
        let error: MosquittoError? = rc == 0 ? nil : MosquittoError(returnCode: rc)
        let (lost, interrupted) = state.withLock { s in
            (s.dropUnsentQoS0(), s.subacks.removeAll() + s.unsubacks.removeAll())
        }
        resumeAll(lost)
        for waiter in interrupted { waiter.resume(returning: ClientCore.subackInterrupted) }
        let closing = state.withLock { $0.stopRequested }
        setConnection(.disconnected(closing ? nil : error))
    }

    func didPublish(mid: Int32) {
        let wakeups: Wakeups = state.withLock { s in
            guard s.inflight.removeValue(forKey: mid) != nil else {
                s.earlyPublishes.insert(mid)
                return Wakeups()
            }
            var wakeups = s.releaseSlot()
            if let waiter = s.publishWaiters.removeValue(forKey: mid) { wakeups.succeeded.append(waiter) }
            return wakeups
        }
        wakeups.resume()
    }

    func didReceive(_ message: UnsafePointer<mosquitto_message>) {
        let m = message.pointee
        let qos: MQTTQoS = m.qos == 0 ? .atMostOnce : .atLeastOnce
        if let handler = configuration.messageHandler {
            let topic = m.topic.map { UnsafeRawBufferPointer(start: $0, count: strlen($0)) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
            let payload = UnsafeRawBufferPointer(start: m.payload, count: m.payload == nil ? 0 : Int(max(0, m.payloadlen)))
            handler(MQTTReceivedMessage(topic: topic, payload: payload, qos: qos, retain: m.retain,
                                         acknowledgedAfterBatch: inBurst))
            if inBurst { errno = 0 }  // see readBurst
            return
        }
        let topic = m.topic.map { String(cString: $0) } ?? ""
        let payload: [UInt8]
        if let bytes = m.payload, m.payloadlen > 0 {
            payload = Array(UnsafeRawBufferPointer(start: bytes, count: Int(m.payloadlen)))
        } else {
            payload = []
        }
        inbox.push(MQTTMessage(topic: topic, payload: payload, qos: qos, retain: m.retain))
    }

    func didSubscribe(mid: Int32, granted: Int32) {
        let waiter = state.withLock { $0.subacks.arrive(mid, granted) }
        waiter?.resume(returning: granted)
    }

    func didUnsubscribe(mid: Int32) {
        let waiter = state.withLock { $0.unsubacks.arrive(mid, 0) }
        waiter?.resume(returning: 0)
    }

    // MARK: subscriptions

    func subscribe(_ filter: String, qos: MQTTQoS) async throws -> MQTTQoS {
        guard let handle else { throw creationError ?? .closed }
        guard mosquitto_sub_topic_check(filter) == Int32(MOSQ_ERR_SUCCESS.rawValue) else {
            throw MosquittoError.invalidConfiguration("'\(filter)' is not a valid topic filter")
        }
        let connected: Bool = try state.withLock { s in
            if s.closed { throw MosquittoError.closed }
            s.subscriptions[filter] = qos
            return s.isConnected
        }
        guard connected else { return qos }
        var mid: Int32 = 0
        let rc = mosquitto_subscribe(handle, &mid, filter, qos.rawValue)
        kickPoll()
        if rc == Int32(MOSQ_ERR_NO_CONN.rawValue) { return qos }  // subscribed on reconnect
        try check(rc)
        let granted = try await awaitAck(mid, table: .suback)
        if granted == ClientCore.subackInterrupted { return qos }
        if granted >= 0x80 {
            _ = state.withLock { $0.subscriptions.removeValue(forKey: filter) }
            throw MosquittoError(kind: .subscriptionRejected, code: granted,
                                 message: "'\(filter)' rejected by the broker (code \(granted))")
        }
        return granted >= 1 ? .atLeastOnce : .atMostOnce
    }

    func unsubscribe(_ filter: String) async throws {
        guard let handle else { throw creationError ?? .closed }
        let connected: Bool = try state.withLock { s in
            if s.closed { throw MosquittoError.closed }
            s.subscriptions.removeValue(forKey: filter)
            return s.isConnected
        }
        guard connected else { return }
        var mid: Int32 = 0
        let rc = mosquitto_unsubscribe(handle, &mid, filter)
        kickPoll()
        if rc == Int32(MOSQ_ERR_NO_CONN.rawValue) { return }
        try check(rc)
        _ = try await awaitAck(mid, table: .unsuback)
    }

    private enum AckKind { case suback, unsuback }

    private func awaitAck(_ mid: Int32, table: AckKind) async throws -> Int32 {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Int32, any Error>) in
            state.withLock { s in
                if s.closed {
                    waiter.resume(throwing: MosquittoError.closed)
                } else if let early = table == .suback ? s.subacks.register(mid, waiter) : s.unsubacks.register(mid, waiter) {
                    waiter.resume(returning: early)
                }
            }
        }
    }

    // MARK: publishing

    func publish(topic: String, payload: [UInt8], qos: MQTTQoS, retain: Bool, waitForAck: Bool) async throws {
        guard let handle else { throw creationError ?? .closed }
        try await acquireSlot()
        var mid: Int32 = 0
        let rc = payload.withUnsafeBytes { bytes in
            mosquitto_publish(handle, &mid, topic, Int32(bytes.count), bytes.baseAddress, qos.rawValue, retain)
        }
        kickPoll()
        // While disconnected, libmosquitto keeps a QoS 1 message queued (it is sent after the
        // reconnect) but still answers MOSQ_ERR_NO_CONN: that is success for us. A QoS 0
        // message is dropped then, and the caller hears of it.
        let queuedForReconnect = rc == Int32(MOSQ_ERR_NO_CONN.rawValue) && qos == .atLeastOnce
        if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) && !queuedForReconnect {
            state.withLock { $0.releaseSlot() }.resume()
            throw MosquittoError(returnCode: rc)
        }
        if waitForAck {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                state.withLock { $0.register(mid: mid, qos: qos, waiter: waiter) }.resume()
            }
        } else {
            state.withLock { $0.register(mid: mid, qos: qos, waiter: nil) }.resume()
        }
    }

    private func acquireSlot() async throws {
        let limit = configuration.maxInflight
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, MosquittoError>? = state.withLock { s in
                if s.closed || s.stopRequested { return .failure(.closed) }
                if s.reserved < limit && s.slotWaiters.isEmpty {
                    s.reserved += 1
                    return .success(())
                }
                s.slotWaiters.append(waiter)
                return nil
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    func flush() async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, MosquittoError>? = state.withLock { s in
                if s.closed { return .failure(.closed) }
                if s.reserved == 0 { return .success(()) }
                s.flushWaiters.append(waiter)
                return nil
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    // MARK: state observation

    func observeStates() -> AsyncStream<MQTTConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MQTTConnectionState.self, bufferingPolicy: .bufferingNewest(256))
        let id: Int? = state.withLock { s in
            continuation.yield(s.connection)
            if s.closed { return nil }
            let id = s.nextObserverID
            s.nextObserverID += 1
            s.observers[id] = continuation
            return id
        }
        guard let id else {
            continuation.finish()
            return stream
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.observers.removeValue(forKey: id) }
        }
        return stream
    }

    private func setConnection(_ new: MQTTConnectionState) {
        let observers: [AsyncStream<MQTTConnectionState>.Continuation] = state.withLock { s in
            guard !s.closed, s.connection != new else { return [] }
            s.connection = new
            return Array(s.observers.values)
        }
        for observer in observers { observer.yield(new) }
    }

    // MARK: close

    /// Marks the client closed, fails every waiter, ends the streams and wakes the network
    /// thread, which disconnects and ends by itself. Never blocks (it may be called from async
    /// code, where blocking a thread of the cooperative pool could stall everything).
    func close() {
        let outcome: (failures: [CheckedContinuation<Void, any Error>], observers: [AsyncStream<MQTTConnectionState>.Continuation])? = state.withLock { s in
            if s.closed { return nil }
            s.closed = true
            s.stopRequested = true
            s.connection = .closed
            var failures = s.slotWaiters + s.flushWaiters + Array(s.publishWaiters.values)
            if let waiter = s.connectWaiter { failures.append(waiter) }
            s.slotWaiters.removeAll()
            s.flushWaiters.removeAll()
            s.publishWaiters.removeAll()
            s.connectWaiter = nil
            for waiter in s.subacks.removeAll() + s.unsubacks.removeAll() {
                waiter.resume(throwing: MosquittoError.closed)
            }
            let observers = Array(s.observers.values)
            s.observers.removeAll()
            return (failures, observers)
        }
        guard let outcome else { return }
        for waiter in outcome.failures { waiter.resume(throwing: MosquittoError.closed) }
        for observer in outcome.observers {
            observer.yield(.closed)
            observer.finish()
        }
        inbox.finish()
        wake.signal()
        kickPoll()
    }

    /// `close()`, then waits until the network thread has sent DISCONNECT and ended (≤ ~1 s).
    func closeAndWait() async {
        close()
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let finishedAlready: Bool = state.withLock { s in
                if !s.started || s.threadEnded { return true }
                s.endWaiters.append(waiter)
                return false
            }
            if finishedAlready { waiter.resume() }
        }
    }

    /// The network thread's last act: wake `closeAndWait` callers, then drop the retain that the
    /// context pointer held (which may free this object, and with it libmosquitto's client).
    private func networkThreadEnded() {
        let (waiters, retained) = state.withLock { s in
            s.threadEnded = true
            let waiters = s.endWaiters
            s.endWaiters.removeAll()
            let retained = s.retainedByContext
            s.retainedByContext = false
            return (waiters, retained)
        }
        for waiter in waiters { waiter.resume() }
        if retained {
            Unmanaged.passUnretained(self).release()
        }
    }

    private func resumeAll(_ wakeups: Wakeups) { wakeups.resume() }
}

/// Continuations to resume once the state lock is released.
struct Wakeups {
    var succeeded: [CheckedContinuation<Void, any Error>] = []
    var failed: [CheckedContinuation<Void, any Error>] = []
    var failure: MosquittoError = .connectionLost

    func resume() {
        for waiter in succeeded { waiter.resume() }
        for waiter in failed { waiter.resume(throwing: failure) }
    }
}

extension ClientCore.State {
    /// Frees one publish slot: hands it straight to the next waiter, or completes flushes when
    /// nothing is outstanding.
    mutating func releaseSlot() -> Wakeups {
        var wakeups = Wakeups()
        if !slotWaiters.isEmpty {
            wakeups.succeeded.append(slotWaiters.removeFirst())
        } else {
            reserved -= 1
            if reserved == 0 {
                wakeups.succeeded.append(contentsOf: flushWaiters)
                flushWaiters.removeAll()
            }
        }
        return wakeups
    }

    /// Records a publish that libmosquitto accepted under `mid`.
    mutating func register(mid: Int32, qos: MQTTQoS, waiter: CheckedContinuation<Void, any Error>?) -> Wakeups {
        if earlyPublishes.remove(mid) != nil {
            var wakeups = releaseSlot()
            if let waiter { wakeups.succeeded.append(waiter) }
            return wakeups
        }
        inflight[mid] = qos
        if let waiter { publishWaiters[mid] = waiter }
        return Wakeups()
    }

    /// libmosquitto discards unsent QoS 0 packets when a connection ends; their slots are freed
    /// and their waiters fail with `.connectionLost`. QoS 1 messages stay and are re-sent.
    mutating func dropUnsentQoS0() -> Wakeups {
        var wakeups = Wakeups()
        let lost = inflight.filter { $0.value == .atMostOnce }.map(\.key)
        for mid in lost {
            inflight.removeValue(forKey: mid)
            let released = releaseSlot()
            wakeups.succeeded.append(contentsOf: released.succeeded)
            if let waiter = publishWaiters.removeValue(forKey: mid) { wakeups.failed.append(waiter) }
        }
        return wakeups
    }
}

/// `mosquitto_lib_init` is not thread-safe; a global is initialised exactly once.
let mosquittoLibrary: Int32 = mosquitto_lib_init()
