internal import CMosquitto
import Synchronization

/// Publishing through a bounded window of in-flight messages, and waiting for it to drain.
extension ClientCore {
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
            state.withLock { $0.window.releaseSlot() }.resume()
            throw MosquittoError(returnCode: rc)
        }
        if waitForAck {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
                state.withLock { $0.window.register(mid: mid, qos: qos, waiter: waiter) }.resume()
            }
        } else {
            state.withLock { $0.window.register(mid: mid, qos: qos, waiter: nil) }.resume()
        }
    }

    private func acquireSlot() async throws {
        let limit = configuration.maxInflight
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, MosquittoError>? = state.withLock { s in
                if s.lifecycle.isStopping { return .failure(.closed) }
                return s.window.reserve(limit: limit, orQueue: waiter) ? .success(()) : nil
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    func flush() async throws {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Void, any Error>) in
            let outcome: Result<Void, MosquittoError>? = state.withLock { s in
                if s.lifecycle.isClosed { return .failure(.closed) }
                return s.window.isEmpty(orQueue: waiter) ? .success(()) : nil
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }

    /// on_publish: libmosquitto is done with `mid` (QoS 1: PUBACK arrived; QoS 0: written).
    func didPublish(mid: Int32) {
        state.withLock { $0.window.published(mid: mid) }.resume()
    }
}

/// The publishes libmosquitto holds for us, at most `maxInflight`: a slot is reserved before
/// `mosquitto_publish` and freed by on_publish (QoS 1: PUBACK; QoS 0: written to the socket), or
/// when a QoS 0 message is dropped with its connection.
///
/// Not thread-safe: it lives in `ClientCore.State`, behind the state lock, and the `Wakeups` its
/// methods return are resumed after the lock is released.
struct PublishWindow {
    /// Slots taken, `0...maxInflight`. A freed slot passes straight to the first slot waiter
    /// (then `reserved` stays), so waiters are served in order.
    private var reserved = 0
    /// libmosquitto message id → QoS, from `register` until on_publish.
    private var inflight: [Int32: MQTTQoS] = [:]
    /// Ids whose on_publish came before the publishing task registered them (the id is only
    /// known once `mosquitto_publish` returns, and the network thread may be quicker).
    private var earlyPublishes: Set<Int32> = []
    private var slotWaiters: [CheckedContinuation<Void, any Error>] = []
    private var publishWaiters: [Int32: CheckedContinuation<Void, any Error>] = [:]
    private var flushWaiters: [CheckedContinuation<Void, any Error>] = []

    /// Takes a slot if one is free and nobody waits for one; otherwise queues `waiter` for the
    /// next freed slot. True when the slot was taken now (then `waiter` is the caller's to resume).
    mutating func reserve(limit: Int, orQueue waiter: CheckedContinuation<Void, any Error>) -> Bool {
        if reserved < limit && slotWaiters.isEmpty {
            reserved += 1
            return true
        }
        slotWaiters.append(waiter)
        return false
    }

    /// True when nothing is outstanding; otherwise queues `waiter` until nothing is.
    mutating func isEmpty(orQueue waiter: CheckedContinuation<Void, any Error>) -> Bool {
        if reserved == 0 { return true }
        flushWaiters.append(waiter)
        return false
    }

    /// Frees one slot: hands it straight to the next waiter, or completes flushes when nothing
    /// is outstanding.
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

    /// on_publish for `mid`: frees its slot, or parks the id when `register` has not run yet.
    mutating func published(mid: Int32) -> Wakeups {
        guard inflight.removeValue(forKey: mid) != nil else {
            earlyPublishes.insert(mid)
            return Wakeups()
        }
        var wakeups = releaseSlot()
        if let waiter = publishWaiters.removeValue(forKey: mid) { wakeups.succeeded.append(waiter) }
        return wakeups
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
            if let waiter = publishWaiters.removeValue(forKey: mid) { wakeups.lost.append(waiter) }
        }
        return wakeups
    }

    /// Every waiting publish, slot and flush (on close); the caller fails them.
    mutating func removeAllWaiters() -> [CheckedContinuation<Void, any Error>] {
        defer {
            slotWaiters.removeAll()
            flushWaiters.removeAll()
            publishWaiters.removeAll()
        }
        return slotWaiters + flushWaiters + Array(publishWaiters.values)
    }
}

/// Continuations to resume once the state lock is released.
struct Wakeups {
    var succeeded: [CheckedContinuation<Void, any Error>] = []
    /// Publishes that libmosquitto dropped with their connection: they fail with `.connectionLost`.
    var lost: [CheckedContinuation<Void, any Error>] = []

    func resume() {
        for waiter in succeeded { waiter.resume() }
        for waiter in lost { waiter.resume(throwing: MosquittoError.connectionLost) }
    }
}
