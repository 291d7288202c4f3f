import Foundation
import MQTT

/// Runs `body`, failing with `TestSupportError` when it takes longer than `seconds`, so a broken
/// test reports instead of hanging the suite. On a time-out the body's task is cancelled and
/// abandoned: unlike a task group, this returns even if the body ignores cancellation.
public func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let gate = TimeoutGate<T>()
    return try await withCheckedThrowingContinuation { continuation in
        gate.install(continuation)
        // On the test's own threads when it has them: a cooperative pool kept busy by other
        // suites would otherwise hold back the work and the timer alike, and release the timer
        // first (a time-out for a message that had long arrived).
        let executor = DedicatedThreadsExecutor.current
        let work = Task(executorPreference: executor) {
            do { gate.finish(.success(try await body())) } catch { gate.finish(.failure(error)) }
        }
        Task(executorPreference: executor) {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            if gate.finish(.failure(TestSupportError("\(what) did not finish within \(seconds) s"))) {
                work.cancel()
            }
        }
    }
}

/// Polls `condition` every 50 ms until it holds; when `timeout` seconds have passed, takes a
/// last look and then throws ``TestSupportError`` naming `what`. It sleeps with `Task.sleep`, so
/// the cooperative pool is never blocked.
public func waitUntil(_ what: String, timeout: Double = 15, _ condition: @Sendable () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline {
            if condition() { return }  // the last look
            throw TestSupportError("timed out waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(50))
    }
}

/// Resumes a continuation once, with whichever result comes first.
private final class TimeoutGate<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var done = false

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        lock.withLock { self.continuation = continuation }
    }

    /// True when this call resumed the continuation.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let waiting: CheckedContinuation<T, any Error>? = lock.withLock {
            guard !done else { return nil }
            done = true
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(with: result)
        return waiting != nil
    }
}

extension MQTTClient {
    /// Receives exactly `count` messages (or fails after `timeout` seconds with how many came).
    public func receive(_ count: Int, timeout: Double = 30) async throws -> [MQTTMessage] {
        let batches = messageBatches
        return try await withTimeout(timeout, "receiving \(count) messages") {
            var received: [MQTTMessage] = []
            received.reserveCapacity(count)
            for await batch in batches {
                received += batch
                if received.count >= count { break }
            }
            return received
        }
    }

    /// Waits until the connection reaches a state that `predicate` accepts.
    public func waitForState(timeout: Double = 30, _ predicate: @escaping @Sendable (MQTTConnectionState) -> Bool) async throws {
        let states = connectionStates()
        try await withTimeout(timeout, "waiting for a connection state") {
            for await state in states where predicate(state) { return }
            throw TestSupportError("state stream ended")
        }
    }
}

extension MQTTConnectionState {
    public var isConnected: Bool {
        if case .connected = self { return true }
        return false
    }
    public var isDisconnected: Bool {
        if case .disconnected = self { return true }
        return false
    }
}
