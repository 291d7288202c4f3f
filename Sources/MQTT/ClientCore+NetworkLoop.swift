internal import CMosquitto
internal import CSocketBatching
import Foundation
import Synchronization

/// The network thread: connecting and reconnecting with back-off, serving a connection
/// (`mosquitto_loop`, or our own poll loop that acknowledges after a batch), and the callbacks
/// about the connection and received messages that libmosquitto makes on it.
extension ClientCore {
    // MARK: the network thread

    /// The network thread's body: connect, serve the connection until it drops, back off,
    /// reconnect — until the first connection fails or `close()` runs.
    func runNetworkThread() {
        if let handle { connectUntilStopped(handle) }  // connect() starts this thread only with one
        networkThreadEnded()
    }

    private func connectUntilStopped(_ handle: OpaquePointer) {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        let policy = configuration.reconnect
        // The node libmosquitto's handle was last pointed at (nil before the first attempt).
        var lastTarget: MQTTBrokerURL?
        while !transition({ $0.lifecycle.beginAttempt() }).endNetworkThread {
            let target = rotation.current
            let rc = openConnection(handle, to: target, sameAsLast: target == lastTarget)
            lastTarget = target
            if rc != success {
                let error = MosquittoError(returnCode: rc)
                let anotherNode = rotation.attemptFailed()
                transition { $0.lifecycle.attemptFailed(error, retry: policy.retryInitialConnection || anotherNode) }
            } else {
                connectionEnded(rc: serveConnection(handle))
            }
            if state.withLock({ $0.lifecycle.isStopping }) { break }
            _ = wake.wait(timeout: .now() + backoff.next())
        }
    }

    /// Runs one connection until it ends or the client stops (then sends DISCONNECT first):
    /// `mosquitto_loop`, or `pollOnce` once connected when there is a wake-up pipe. Returns the
    /// libmosquitto code that ended it (success when the client stopped).
    private func serveConnection(_ handle: OpaquePointer) -> Int32 {
        var rc = Int32(MOSQ_ERR_SUCCESS.rawValue)
        while rc == Int32(MOSQ_ERR_SUCCESS.rawValue) {
            let (stopping, connected) = state.withLock { ($0.lifecycle.isStopping, $0.lifecycle.isConnected) }
            if stopping {
                if abandoned.load(ordering: .sequentiallyConsistent) {
                    shutDownSocket(handle)
                } else {
                    disconnectAndDrain(handle)
                }
                break
            }
            rc = pollWakePipe.read >= 0 && connected ? pollOnce(handle) : mosquitto_loop(handle, 100, 1)
        }
        return rc
    }

    /// A connection's loop returned `rc`. libmosquitto has usually reported the end through
    /// on_disconnect already, but skips it for some errors.
    private func connectionEnded(rc: Int32) {
        if state.withLock({ $0.lifecycle.isConnected }) {
            rotation.connectionDropped()
            connectionDropped(rc: rc)
            return
        }
        // No CONNACK accepted this connection: the TLS handshake failed in the loop, or the
        // broker hung up or refused (then `didConnect` already failed the attempt).
        let error = MosquittoError(returnCode: rc == Int32(MOSQ_ERR_SUCCESS.rawValue) ? Int32(MOSQ_ERR_CONN_LOST.rawValue) : rc)
        let anotherNode = rotation.attemptFailed()
        transition { $0.lifecycle.attemptFailed(error, retry: configuration.reconnect.retryInitialConnection || anotherNode) }
    }

    /// Packets read per `pollOnce` at most, before writing and keep-alive get their turn.
    static let receiveBurst = 512

    /// Whether `pollOnce` batches the socket's system calls (`CSocketBatching`): it reads the
    /// socket a burst at a time (libmosquitto reads the command byte and each remaining-length
    /// byte on their own: 3–4 reads per packet) and sends a burst's PUBACKs with one write
    /// (libmosquitto writes each on its own). Plain TCP only: under TLS OpenSSL reads and
    /// writes the socket in records already.
    var batchesSocketCalls: Bool {
        configuration.tls == nil && !configuration.broker.usesTLS && !configuration.alternateBrokers.contains { $0.usesTLS }
    }

    /// One turn of the receiving loop (a client with a `messageHandler`, once connected): wait
    /// for the socket or a wake-up, read every packet already waiting (up to `receiveBurst`) as
    /// one batch for the handler, end the batch (`messageBatchEnded`), and only then write what
    /// is queued (the PUBACKs of that batch) and do the keep-alive. `mosquitto_loop` cannot be
    /// used for this: it writes a PUBACK in the same call that read its message.
    private func pollOnce(_ handle: OpaquePointer) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        let sock = mosquitto_socket(handle)
        guard sock >= 0 else { return Int32(MOSQ_ERR_NO_CONN.rawValue) }
        let batches = self.batchesSocketCalls
        if batches { _ = takt_batching_register(sock) }
        let sendsGathered = batches && takt_gather_pending(sock) > 0
        let writeEvents = mosquitto_want_write(handle) || sendsGathered ? Int16(POLLOUT) : 0
        var fds = [pollfd(fd: sock, events: Int16(POLLIN) | writeEvents, revents: 0),
                   pollfd(fd: pollWakePipe.read, events: Int16(POLLIN), revents: 0)]
        // Packets already read ahead (a burst that stopped at `receiveBurst`) do not make the
        // socket readable again: look without waiting, and read them.
        let readAhead = batches && takt_readahead_buffered(sock) > 0
        do {
            try POSIX.poll(&fds, timeout: readAhead ? 0 : 100)
            if readAhead { fds[0].revents |= Int16(POLLIN) }
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
        // Abandoned while the batch's handler ran: its PUBACKs must not go out.
        if abandoned.load(ordering: .sequentiallyConsistent) {
            shutDownSocket(handle)
            return Int32(MOSQ_ERR_CONN_LOST.rawValue)
        }
        if mosquitto_want_write(handle) {
            // The burst's PUBACKs (one write(2) each inside libmosquitto) leave as one write.
            if batches { _ = takt_gather_begin(sock) }
            let rc = mosquitto_loop_write(handle, 1)
            if batches && takt_gather_end(sock) != 0 { return Int32(MOSQ_ERR_ERRNO.rawValue) }
            if rc != success { return rc }
        } else if sendsGathered && fds[0].revents & Int16(POLLOUT) != 0 {
            // What the socket would not take last time (it was full).
            if takt_gather_flush(sock) != 0 { return Int32(MOSQ_ERR_ERRNO.rawValue) }
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
    /// errno; clearing it keeps that working too.) The burst now mutes that byte (below), so
    /// the write no longer fails; the clearing stays as a guard for a client whose pair was
    /// not captured (`libraryWakeWrite` -1).
    private func readBurst(_ handle: OpaquePointer) -> Int32 {
        let success = Int32(MOSQ_ERR_SUCCESS.rawValue)
        inBurst = true
        // libmosquitto's wake-up byte for each PUBACK it queues would be read by
        // `mosquitto_loop` only, which is not running: this thread is the loop.
        if libraryWakeWrite >= 0 { takt_mute_begin(libraryWakeWrite) }
        defer {
            takt_mute_end()
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

    /// TCP (+TLS) connect and CONNECT to `broker`. MQTT 5 sends the session expiry property on
    /// every attempt; libmosquitto's own `mosquitto_reconnect` would drop it, and it can only
    /// return to the node of the previous attempt (`sameAsLast`). Either way libmosquitto keeps
    /// the QoS 1 publishes not acknowledged yet and sends them again once connected.
    private func openConnection(_ handle: OpaquePointer, to broker: MQTTBrokerURL, sameAsLast: Bool) -> Int32 {
        let c = configuration
        if c.protocolVersion == .v5 {
            var properties: OpaquePointer? = nil
            defer { mosquitto_property_free_all(&properties) }
            if !c.cleanSession {
                _ = mosquitto_property_add_int32(&properties, Int32(MQTT_PROP_SESSION_EXPIRY_INTERVAL.rawValue),
                                                 c.sessionExpiryInterval)
            }
            return mosquitto_connect_bind_v5(handle, broker.host, Int32(broker.port), Int32(c.keepAlive), nil, properties)
        }
        if !sameAsLast {
            return mosquitto_connect(handle, broker.host, Int32(broker.port), Int32(c.keepAlive))
        }
        return mosquitto_reconnect(handle)
    }

    /// Ends the connection without writing anything queued (see `abandon()`).
    private func shutDownSocket(_ handle: OpaquePointer) {
        let sock = mosquitto_socket(handle)
        if sock >= 0 { _ = shutdown(sock, Int32(SHUT_RDWR)) }
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

    /// on_connect: a CONNACK arrived, accepting (`rc` 0) or refusing the connection.
    func didConnect(rc: Int32, flags: Int32) {
        guard let handle else { return }
        if rc != 0 {
            // Refused: retrying the first attempt (wrong password, bad client id) cannot help.
            let error = MosquittoError.connectionRefused(code: rc, protocolVersion: configuration.protocolVersion)
            transition { $0.lifecycle.attemptFailed(error, retry: false) }
            return
        }
        backoff.reset()
        rotation.connected()
        let broker = rotation.current
        // One lock for the state change and the snapshot of subscriptions: a `subscribe` before
        // it is in the snapshot, one after it sees the connection and subscribes itself.
        let (effects, observers, subscriptions, lost) = state.withLock { s in
            let effects = s.lifecycle.connected(sessionPresent: flags & 1 == 1)
            s.connectedBroker = broker
            return (effects, s.observers(toTell: effects), s.subscriptions, s.window.dropUnsentQoS0())
        }
        resubscribe(subscriptions, handle)
        lost.resume()
        perform(effects, telling: observers)
    }

    /// on_disconnect: the connection ended (`rc` 0 after our own DISCONNECT).
    func didDisconnect(rc: Int32) {
        connectionDropped(rc: rc)
    }

    /// Publishes and acknowledgements that the connection took with it end; the state shows why.
    private func connectionDropped(rc: Int32) {
        let error: MosquittoError? = rc == 0 ? nil : MosquittoError(returnCode: rc)
        let (lost, interrupted) = state.withLock { s in
            (s.window.dropUnsentQoS0(), s.subacks.removeAll() + s.unsubacks.removeAll())
        }
        lost.resume()
        for waiter in interrupted { waiter.resume(returning: ClientCore.subackInterrupted) }
        transition { $0.lifecycle.connectionLost(error) }
    }

    func didReceive(_ message: UnsafePointer<mosquitto_message>) {
        let m = message.pointee
        let qos: MQTTQoS = m.qos == 0 ? .atMostOnce : .atLeastOnce
        if let handler = configuration.messageHandler {
            let topic = m.topic.map { UnsafeRawBufferPointer(start: $0, count: strlen($0)) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
            let payload = UnsafeRawBufferPointer(start: m.payload, count: m.payload == nil ? 0 : Int(max(0, m.payloadlen)))
            handler(MQTTReceivedMessage(topic: topic, payload: payload, qos: qos, retain: m.retain,
                                         acknowledgedAfterBatch: inBurst))
            // Outside a burst `mosquitto_loop` writes this message's PUBACK next: not when abandoned.
            if !inBurst, abandoned.load(ordering: .sequentiallyConsistent), let handle { shutDownSocket(handle) }
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
}

/// Waits between connection attempts: `initialDelay`, doubling after every failed attempt or
/// drop up to `maxDelay` (seconds), and `initialDelay` again after an accepted CONNACK, so a
/// connection that held for hours is retried quickly when it drops.
struct Backoff {
    let policy: MQTTClient.ReconnectPolicy
    /// The next wait, in seconds: `initialDelay`, or a doubling of it capped at `maxDelay`.
    private var delay: Double

    init(_ policy: MQTTClient.ReconnectPolicy) {
        self.policy = policy
        self.delay = policy.initialDelay
    }

    /// The wait before the next attempt (seconds); the one after it is twice as long, up to `maxDelay`.
    mutating func next() -> Double {
        defer { delay = min(delay * 2, policy.maxDelay) }
        return delay
    }

    /// A CONNACK accepted the connection: the next wait is `initialDelay` again.
    mutating func reset() {
        delay = policy.initialDelay
    }
}
