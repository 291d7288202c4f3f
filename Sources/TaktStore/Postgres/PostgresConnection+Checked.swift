import Logging
import PostgresNIO
import Synchronization

/// The connection closed before a statement's answer arrived (or before it was sent).
///
/// postgres-nio 1.33 never answers a query written to a connection the server has closed (the
/// channel is gone, the query's promise is never completed): a commit on a connection that a
/// restarted server dropped while it sat in the pool waited forever. Every statement of the
/// store is therefore sent through ``PostgresConnection/checkedQuery(_:logger:)``, which looks
/// first and also gives up when the connection closes or the answer is overdue.
struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection to the server is closed" }
}

extension PostgresConnection {
    /// Longest wait for one statement's answer, seconds: the server's `statement_timeout` plus
    /// a margin. Past it the connection is closed (a server that went silent, a lost network).
    static let answerDeadline: Double = Double(PostgresRollupStore.statementTimeoutMs) / 1000 + 10

    /// `query`, unless the connection is or becomes closed, or the answer is overdue (then
    /// ``ConnectionClosed``; whether the statement ran is unknown).
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw ConnectionClosed() }
        let once = OnceResult<PostgresRowSequence>()
        return try await withCheckedThrowingContinuation { continuation in
            once.set(continuation)
            let task = Task {
                do { once.resume(.success(try await self.query(query, logger: logger))) } catch { once.resume(.failure(error)) }
            }
            closeFuture.whenComplete { _ in
                once.resume(.failure(ConnectionClosed()))
            }
            eventLoop.scheduleTask(in: .milliseconds(Int64(Self.answerDeadline * 1000))) {
                if once.resume(.failure(ConnectionClosed())) {
                    task.cancel()
                    let closed: EventLoopFuture<Void> = self.close()
                    _ = closed
                }
            }
        }
    }
}

/// Resumes a continuation once, with the first of several results (the rest are dropped).
private final class OnceResult<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, pending: Result<T, any Error>?, done: Bool)>(
        (nil, nil, false))

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        let pending: Result<T, any Error>? = state.withLock { s in
            if let p = s.pending { s.pending = nil; return p }
            s.continuation = continuation
            return nil
        }
        if let pending { continuation.resume(with: pending) }
    }

    /// True when this call's result was the one delivered.
    @discardableResult
    func resume(_ result: Result<T, any Error>) -> Bool {
        let (continuation, first): (CheckedContinuation<T, any Error>?, Bool) = state.withLock { s in
            guard !s.done else { return (nil, false) }
            s.done = true
            if let c = s.continuation { s.continuation = nil; return (c, true) }
            s.pending = result
            return (nil, true)
        }
        continuation?.resume(with: result)
        return first
    }
}

/// Set once a lease has its connection (read by ``PostgresClient/leased(_:)``'s timer).
private final class LeaseFlag: Sendable {
    let value = Atomic<Bool>(false)
}

/// No pooled connection within ``PostgresClient/leaseTimeout``: the server is down or
/// unreachable; nothing was sent.
struct NoConnection: Error, CustomStringConvertible {
    var description: String { "no connection to the server within \(PostgresClient.leaseTimeout)" }
}

extension PostgresClient {
    /// Longest wait for a pooled connection. postgres-nio's pool keeps a request waiting while
    /// it retries connecting (a daemon's commit waited for minutes with the server stopped); a
    /// store call gives up instead and says the store is unavailable.
    static let leaseTimeout: Duration = .seconds(10)

    /// `body` on a pooled connection, or ``NoConnection`` when none comes within
    /// ``leaseTimeout`` (the lease request is cancelled then).
    func leased<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let gotConnection = LeaseFlag()
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await self.withConnection { connection in
                    gotConnection.value.store(true, ordering: .releasing)
                    return try await body(connection)
                }
            }
            group.addTask {
                try await Task.sleep(for: Self.leaseTimeout)
                if !gotConnection.value.load(ordering: .acquiring) { throw NoConnection() }
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let result { return result }
            }
            throw NoConnection()  // unreachable: the body's task returns a value or throws
        }
    }

    /// One statement on a pooled connection, its rows collected.
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await leased { connection in
            try await connection.checkedQuery(query, logger: logger).collect()
        }
    }

    /// `body` in a transaction on a pooled connection: committed when it returns, rolled back
    /// when it throws (unless the connection is gone, which rolls it back anyway).
    func checkedTransaction<T: Sendable>(logger: Logger, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await leased { connection in
            try await connection.checkedQuery("BEGIN", logger: logger)
            do {
                let result = try await body(connection)
                try await connection.checkedQuery("COMMIT", logger: logger)
                return result
            } catch {
                if !connection.isClosed { _ = try? await connection.checkedQuery("ROLLBACK", logger: logger) }
                throw error
            }
        }
    }
}
