internal import CMosquitto
import Synchronization

extension ClientCore {
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
                if s.lifecycle.isStopping { return .failure(.closed) }
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
                if s.lifecycle.isClosed { return .failure(.closed) }
                if s.reserved == 0 { return .success(()) }
                s.flushWaiters.append(waiter)
                return nil
            }
            if let outcome { waiter.resume(with: outcome) }
        }
    }
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
