internal import CMosquitto
import Synchronization

/// Subscribing and unsubscribing: the active subscriptions (kept in `State.subscriptions` and
/// sent again on every connection) and the tasks waiting for SUBACK/UNSUBACK.
extension ClientCore {
    /// A SUBACK value that means "the connection dropped before the SUBACK; re-subscribed on reconnect".
    static let subackInterrupted: Int32 = -1

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
            if s.lifecycle.isClosed { throw MosquittoError.closed }
            s.subscriptions[filter] = qos
            return s.lifecycle.isConnected
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
            if s.lifecycle.isClosed { throw MosquittoError.closed }
            s.subscriptions.removeValue(forKey: filter)
            return s.lifecycle.isConnected
        }
        guard connected else { return }
        var mid: Int32 = 0
        let rc = mosquitto_unsubscribe(handle, &mid, filter)
        kickPoll()
        if rc == Int32(MOSQ_ERR_NO_CONN.rawValue) { return }
        try check(rc)
        _ = try await awaitAck(mid, table: .unsuback)
    }

    /// Sends every active subscription again on a new connection (from on_connect). Nobody
    /// waits for these SUBACKs; a failure to queue one is retried by the next connection.
    func resubscribe(_ subscriptions: [String: MQTTQoS], _ handle: OpaquePointer) {
        for (filter, qos) in subscriptions {
            var mid: Int32 = 0
            if mosquitto_subscribe(handle, &mid, filter, qos.rawValue) == Int32(MOSQ_ERR_SUCCESS.rawValue) {
                // The SUBACK is read on this same thread later, so registering now cannot race it.
                state.withLock { $0.subacks.ignore(mid) }
            }
        }
    }

    private enum AckKind { case suback, unsuback }

    private func awaitAck(_ mid: Int32, table: AckKind) async throws -> Int32 {
        try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<Int32, any Error>) in
            state.withLock { s in
                if s.lifecycle.isClosed {
                    waiter.resume(throwing: MosquittoError.closed)
                } else if let early = table == .suback ? s.subacks.register(mid, waiter) : s.unsubacks.register(mid, waiter) {
                    waiter.resume(returning: early)
                }
            }
        }
    }
}
