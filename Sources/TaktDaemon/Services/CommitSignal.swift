import Synchronization

/// Wakes the committer: raised from any thread (the intake's network thread when a batch is
/// queued or the first event after a drain is pending; the shutdown handler), awaited by one
/// task with an optional deadline. A raise while nobody waits is kept for the next wait, so a
/// wake-up is never lost; several raises before a wait count as one.
final class CommitSignal: Sendable {
    private struct State {
        var raised = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    init() {}

    /// Wakes the waiting task, or the next one to wait. Never blocks; safe on any thread.
    func raise() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let waiter = s.waiter else {
                s.raised = true
                return nil
            }
            s.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Whether a raise waits for the next ``wait(until:)`` (tests, diagnostics).
    var isRaised: Bool { state.withLock { $0.raised } }

    /// Returns when the signal was raised since the last return, at `deadline` (continuous
    /// clock; nil = no deadline), or when the task is cancelled — whichever comes first.
    /// - Important: one waiting task at a time.
    func wait(until deadline: ContinuousClock.Instant?) async {
        if state.withLock({ s in defer { s.raised = false }; return s.raised }) { return }
        guard let deadline else { return await waitRaised() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitRaised() }
            group.addTask { try? await Task.sleep(until: deadline, clock: .continuous) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Suspends until raised or cancelled; a cancelled wait leaves a later raise pending.
    private func waitRaised() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.raised {
                        s.raised = false
                        return true
                    }
                    // Checked under the lock: a cancellation handler that ran before this point
                    // found no waiter to resume.
                    if Task.isCancelled { return true }
                    s.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }?.resume()
        }
    }
}

/// A one-way start-up gate between services: closed until ``open()``, then open for good.
/// ``wait()`` suspends until it opens; a cancelled wait throws `CancellationError`.
final class StartupGate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())

    init() {}

    /// Opens the gate and releases every waiter. Idempotent.
    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.isOpen = true
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    var isOpen: Bool { state.withLock { $0.isOpen } }

    /// Returns once the gate is open. - Throws: `CancellationError` when the task is cancelled first.
    func wait() async throws {
        let id = state.withLock { s -> Int in
            defer { s.nextID += 1 }
            return s.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> Result<Void, any Error>? in
                    if s.isOpen { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    s.waiters[id] = continuation
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume(throwing: CancellationError())
        }
    }
}
