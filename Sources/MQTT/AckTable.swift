/// Matches libmosquitto's acknowledgement callbacks (PUBACK, SUBACK, UNSUBACK, by message id) to
/// the tasks waiting for them.
///
/// The id is only known once the libmosquitto call returns, and the acknowledgement can arrive on
/// the network thread before the caller registers, so an early arrival is parked until the caller
/// comes for it. Not thread-safe: the owner keeps it behind its lock, and resumes the returned
/// continuations after releasing the lock.
struct AckTable<Value: Sendable> {
    private var waiters: [Int32: CheckedContinuation<Value, any Error>] = [:]
    private var early: [Int32: Value] = [:]
    private var ignored: Set<Int32> = []

    /// Records an acknowledgement; returns the waiter to resume, if one is registered.
    mutating func arrive(_ mid: Int32, _ value: Value) -> CheckedContinuation<Value, any Error>? {
        if ignored.remove(mid) != nil { return nil }
        if let waiter = waiters.removeValue(forKey: mid) { return waiter }
        early[mid] = value
        return nil
    }

    /// Registers a waiter; returns the value at once if the acknowledgement already arrived.
    mutating func register(_ mid: Int32, _ waiter: CheckedContinuation<Value, any Error>) -> Value? {
        if let value = early.removeValue(forKey: mid) { return value }
        waiters[mid] = waiter
        return nil
    }

    /// Nobody will wait for `mid` (a re-subscription after reconnect); drop its acknowledgement.
    /// Call before the acknowledgement can arrive (on the network thread itself).
    mutating func ignore(_ mid: Int32) {
        ignored.insert(mid)
    }

    /// Removes every waiter (on close); the caller fails them.
    mutating func removeAll() -> [CheckedContinuation<Value, any Error>] {
        let all = Array(waiters.values)
        waiters.removeAll()
        early.removeAll()
        ignored.removeAll()
        return all
    }
}
