import Logging
import PostgresNIO

/// A statement on a connection that is already closed: nothing was sent.
///
/// postgres-nio 1.33 never answers a query written to a connection the server has closed (the
/// channel is gone, the query's promise is never completed): a commit on a connection that a
/// restarted server dropped while it sat in the pool waited forever. Every statement of the
/// store is therefore sent through ``PostgresConnection/checkedQuery(_:logger:)``, which looks
/// first.
struct ConnectionClosed: Error, CustomStringConvertible {
    var description: String { "the connection to the server is closed" }
}

extension PostgresConnection {
    /// `query`, unless the connection is closed (then ``ConnectionClosed``, nothing sent).
    @discardableResult
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        guard !isClosed else { throw ConnectionClosed() }
        return try await self.query(query, logger: logger)
    }
}

extension PostgresClient {
    /// One statement on a pooled connection, its rows collected.
    func checkedQuery(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await withConnection { connection in
            try await connection.checkedQuery(query, logger: logger).collect()
        }
    }

    /// `body` in a transaction on a pooled connection: committed when it returns, rolled back
    /// when it throws (unless the connection is gone, which rolls it back anyway).
    func checkedTransaction<T: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
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
