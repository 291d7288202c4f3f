internal import CMosquitto
internal import CSocketBatching
import Dispatch
import Foundation
import Synchronization

/// The part of the client that libmosquitto's callbacks reach through the context pointer.
final class ClientCore: @unchecked Sendable {
    // `handle` is set in init and destroyed in deinit; libmosquitto calls made with it are
    // thread-safe in threaded mode. Everything mutable is in `state`, except what only the
    // network thread touches (`inBurst`, `backoff`, `rotation`).
    let handle: OpaquePointer?
    let creationError: MosquittoError?
    let configuration: MQTTClient.Configuration
    let inbox: MessageInbox
    let state = Mutex(State())
    /// Wakes the network thread out of a back-off sleep when closing.
    let wake = DispatchSemaphore(value: 0)
    /// Clients with a `messageHandler` run their own `poll` loop once connected (see
    /// `pollOnce`); a byte written to this pipe (`[read end, write end]`, non-blocking) wakes it
    /// when another thread queued a packet or closes. -1s for the other clients, which use
    /// `mosquitto_loop`.
    let pollWakePipe: (read: Int32, write: Int32)
    /// The end of libmosquitto's internal wake-up socketpair that it writes a byte to for every
    /// packet it queues (-1 when unknown). Only `mosquitto_loop` reads the other end, so while
    /// `readBurst` runs on the network thread those bytes wake nobody: that thread mutes them.
    let libraryWakeWrite: Int32
    /// True while `readBurst` runs. Only the network thread reads and writes it.
    var inBurst = false
    /// Set by `abandon()`: the network thread writes nothing more (no PUBACK, no DISCONNECT);
    /// it shuts the socket down and ends.
    let abandoned = Atomic<Bool>(false)
    /// The wait before the next connection attempt. Only the network thread reads and writes it.
    var backoff: Backoff
    /// The node of the next connection attempt. Only the network thread reads and writes it.
    var rotation: BrokerRotation

    struct State {
        /// Where the client is in its life and which connection state it shows; see `Lifecycle`.
        var lifecycle = Lifecycle.idle
        /// Active subscriptions (filter → QoS), sent again on every connection.
        var subscriptions: [String: MQTTQoS] = [:]
        var subacks = AckTable<Int32>()
        var unsubacks = AckTable<Int32>()
        var window = PublishWindow()
        /// `connectionStates()` streams, by an id that only grows.
        var observers: [Int: AsyncStream<MQTTConnectionState>.Continuation] = [:]
        var nextObserverID = 0
        /// The node a CONNACK last accepted the connection on.
        var connectedBroker: MQTTBrokerURL?
    }

    init(configuration: MQTTClient.Configuration) {
        _ = mosquittoLibrary
        self.configuration = configuration
        self.inbox = MessageInbox(capacity: max(1, configuration.inboxCapacity))
        self.backoff = Backoff(configuration.reconnect)
        self.rotation = BrokerRotation(configuration.brokers)
        // Without the pipe (out of descriptors) the client uses `mosquitto_loop` throughout:
        // still correct, only without acknowledge-after-batch.
        self.pollWakePipe = configuration.messageHandler == nil ? (-1, -1)
            : (try? POSIX.pipe(flags: O_NONBLOCK | O_CLOEXEC)) ?? (-1, -1)
        // mosquitto_new creates the wake-up socketpair on this thread: capture which it is.
        takt_socketpair_capture_begin()
        let handle = mosquitto_new(configuration.clientID, configuration.cleanSession, nil)
        var libraryWakePair: [Int32] = [-1, -1]
        self.libraryWakeWrite = takt_socketpair_capture_end(&libraryWakePair) == 0 ? libraryWakePair[1] : -1
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
    func kickPoll() {
        guard pollWakePipe.write >= 0 else { return }
        do {
            _ = try withUnsafeBytes(of: UInt8(1)) { byte throws(POSIX.Error) in try POSIX.write(pollWakePipe.write, byte) }
        } catch {
            // A full pipe (EAGAIN) already holds a wake-up that `poll` has not consumed yet, so
            // this one is not needed. Nothing else can fail: both ends stay open until deinit.
            assert(error.wouldBlock, "wake-up pipe: \(error)")
        }
    }

    var currentState: MQTTConnectionState { state.withLock { $0.lifecycle.shown } }
    var connectedBroker: MQTTBrokerURL? { state.withLock { $0.connectedBroker } }

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
            guard transition({ $0.lifecycle.connect(waiter) }).startNetworkThread else { return }
            // The network thread's callbacks reach this object through the context pointer,
            // which holds this retain until the thread ends (`networkThreadEnded`).
            let context = Unmanaged.passRetained(self).toOpaque()
            mosquitto_user_data_set(handle, context)
            let thread = Thread { [self] in runNetworkThread() }
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

    // MARK: state observation

    func observeStates() -> AsyncStream<MQTTConnectionState> {
        let (stream, continuation) = AsyncStream.makeStream(of: MQTTConnectionState.self, bufferingPolicy: .bufferingNewest(256))
        let id: Int? = state.withLock { s in
            continuation.yield(s.lifecycle.shown)
            if s.lifecycle.isClosed { return nil }
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

    // MARK: lifecycle transitions

    /// Runs a `Lifecycle` transition under the state lock, then carries out its effects.
    @discardableResult
    func transition(_ body: (inout State) -> Lifecycle.Effects) -> Lifecycle.Effects {
        let (effects, observers) = state.withLock { s in
            let effects = body(&s)
            return (effects, s.observers(toTell: effects))
        }
        perform(effects, telling: observers)
        return effects
    }

    /// Carries out a transition's effects (outside the state lock): announce the new state,
    /// then resume whoever waits for it.
    func perform(_ effects: Lifecycle.Effects, telling observers: [AsyncStream<MQTTConnectionState>.Continuation]) {
        if let shown = effects.announce {
            for observer in observers { observer.yield(shown) }
        }
        if let (waiter, result) = effects.connectResult { waiter.resume(with: result) }
        for waiter in effects.threadEnded { waiter.resume() }
    }

    // MARK: close

    /// Marks the client closed, fails every waiter, ends the streams and wakes the network
    /// thread, which disconnects and ends by itself. Never blocks (it may be called from async
    /// code, where blocking a thread of the cooperative pool could stall everything).
    func close() {
        typealias Closing = (effects: Lifecycle.Effects, failures: [CheckedContinuation<Void, any Error>],
                             observers: [AsyncStream<MQTTConnectionState>.Continuation])
        let closing: Closing? = state.withLock { s in
            guard let effects = s.lifecycle.close() else { return nil }
            let failures = s.window.removeAllWaiters()
            for waiter in s.subacks.removeAll() + s.unsubacks.removeAll() {
                waiter.resume(throwing: MosquittoError.closed)
            }
            let observers = Array(s.observers.values)
            s.observers.removeAll()
            return (effects, failures, observers)
        }
        guard let closing else { return }
        for waiter in closing.failures { waiter.resume(throwing: MosquittoError.closed) }
        perform(closing.effects, telling: closing.observers)  // .closed, and connect() fails
        for observer in closing.observers { observer.finish() }
        inbox.finish()
        wake.signal()
        kickPoll()
    }

    /// Closes without writing anything more on the connection: the PUBACKs of messages received
    /// but not yet acknowledged are never sent, so the broker keeps those messages in the
    /// session and delivers them again to whoever takes the session next. The network thread
    /// shuts the socket down as soon as the message handler it is in (if any) returns.
    func abandon() {
        abandoned.store(true, ordering: .sequentiallyConsistent)
        close()
    }

    /// `close()`, then waits until the network thread has sent DISCONNECT and ended (≤ ~1 s).
    func closeAndWait() async {
        close()
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            transition { $0.lifecycle.awaitNetworkThreadEnd(waiter) }
        }
    }

    /// The network thread's last act: wake `closeAndWait` callers, then drop the retain that
    /// `connect()` took for the context pointer (which may free this object, and with it
    /// libmosquitto's client, once the thread's closure lets go of it too).
    func networkThreadEnded() {
        transition { $0.lifecycle.networkThreadEnded() }
        Unmanaged.passUnretained(self).release()
    }
}

extension ClientCore.State {
    /// The observers to tell about `effects.announce`: none when the state did not change.
    func observers(toTell effects: ClientCore.Lifecycle.Effects) -> [AsyncStream<MQTTConnectionState>.Continuation] {
        effects.announce == nil ? [] : Array(observers.values)
    }
}

/// `mosquitto_lib_init` is not thread-safe; a global is initialised exactly once.
let mosquittoLibrary: Int32 = mosquitto_lib_init()
