import MQTT

/// Runs `body`, failing with `TestSupportError` when it takes longer than `seconds`, so a broken
/// test reports instead of hanging the suite.
public func withTimeout<T: Sendable>(
    _ seconds: Double, _ what: String = "operation",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            throw TestSupportError("\(what) did not finish within \(seconds) s")
        }
        defer { group.cancelAll() }
        return try await group.next()!
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
