import Foundation
import Logging
import PostgresNIO
import _ConnectionPoolModule
import Synchronization
import TaktCore

/// The shared store (contract section 11): the same rows, JSON and KPIs as
/// ``SQLiteRollupStore``, in PostgreSQL through postgres-nio's connection pool.
///
/// - One transaction per commit: window rows, station snapshots, site counters and the journal
///   position, each written by **one** batched statement (`UNNEST` of arrays), never one round
///   trip per row.
/// - Every statement has bound arguments; no SQL is built from values.
/// - Every session runs with `statement_timeout` (``statementTimeoutMs``) and `lock_timeout`.
/// - A commit whose connection is lost is never retried blindly: each commit writes a token
///   in the same transaction, and after a lost connection the store asks the database whether
///   that token is there (committed) or not (nothing written, ``StoreError/unavailable(_:)``),
///   waiting for the database to come back if it must. So a retried batch is applied once.
/// - Schema versions are migrations (`v1` …) recorded in `takt_migrations`, applied once under an
///   advisory lock, so daemons starting together migrate once.
///
/// Thread-safe (the pool hands each call its own connection). ``close()`` ends the pool.
public final class PostgresRollupStore: RollupStore {
    /// Where the store is (the password is never printed: see ``StoreURL/description``).
    public let location: StoreURL.PostgresLocation
    let client: PostgresClient
    let logger: Logger
    private let runTask: Task<Void, Never>
    /// Tests only: a fault injected into every commit (see ``CommitStage``).
    let commitFault = Mutex<CommitFault?>(nil)

    /// Longest a statement may run before the server cancels it (the commit is then rolled back
    /// and reported ``StoreError/unavailable(_:)``), ms.
    public static let statementTimeoutMs = 30_000
    /// Longest a statement waits for a row lock, ms.
    public static let lockTimeoutMs = 10_000
    /// Longest a session may sit idle inside a transaction before the server ends it, ms.
    public static let idleInTransactionTimeoutMs = 5_000

    /// Opens the store, creating and migrating its tables unless `readOnly`.
    ///
    /// - Parameter readOnly: for readers (`takt query`): the schema must exist and be this
    ///   program's; nothing is created.
    /// - Throws: ``StoreError/cannotOpen(path:reason:)`` (the server cannot be reached or refuses
    ///   us), ``StoreError/schemaMismatch(path:reason:)``.
    public init(location: StoreURL.PostgresLocation, readOnly: Bool, logger: Logger? = nil) async throws(StoreError) {
        self.location = location
        var storeLogger = logger ?? Logger(label: "takt.store.postgres")
        storeLogger[metadataKey: "store"] = "\(StoreURL.postgres(location))"
        self.logger = storeLogger
        let logger = storeLogger
        let client = PostgresClient(configuration: Self.configuration(location, applicationName: readOnly ? "takt" : "taktd"),
                                    backgroundLogger: Logger(label: "takt.store.postgres.pool", factory: { _ in SwiftLogNoOpLogHandler() }))
        self.client = client
        runTask = Task { await client.run() }
        do {
            try await Self.withOpenTimeout(location) {
                if readOnly {
                    try await Self.checkSchema(client, location: location, logger: logger)
                } else {
                    try await Self.migrate(client, location: location, logger: logger)
                }
            }
        } catch {
            runTask.cancel()
            throw Self.openError(error, location: location)
        }
    }

    deinit {
        runTask.cancel()
    }

    /// Ends the connection pool (open calls fail afterwards).
    public func close() {
        runTask.cancel()
    }

    /// The pool's configuration: TLS as `sslmode` asks, the session settings every connection
    /// starts with.
    static func configuration(_ l: StoreURL.PostgresLocation, applicationName: String) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch l.sslMode {
        case .disable:
            tls = .disable
        case .prefer, .require:
            // libpq's meaning: encrypted, the server's certificate not checked.
            var config = TLSConfiguration.makeClientConfiguration()
            config.certificateVerification = .none
            tls = l.sslMode == .prefer ? .prefer(config) : .require(config)
        case .verifyFull:
            tls = .require(.makeClientConfiguration())
        }
        var c = PostgresClient.Configuration(host: l.host, port: l.port, username: l.user ?? "postgres",
                                             password: l.password, database: l.database, tls: tls)
        c.options.connectTimeout = .seconds(5)
        c.options.maximumConnections = 8
        c.options.additionalStartupParameters = [
            ("application_name", applicationName),
            ("statement_timeout", String(statementTimeoutMs)),
            ("lock_timeout", String(lockTimeoutMs)),
            // A daemon stopped (SIGSTOP) inside a commit must not hold its lease rows' locks,
            // which a takeover waits for, longer than this.
            ("idle_in_transaction_session_timeout", String(idleInTransactionTimeoutMs)),
            ("TimeZone", "UTC"),
        ]
        return c
    }

    /// Runs `body`, giving up after the connect timeout plus a margin: the pool keeps retrying
    /// a server that does not answer, and `open` must fail instead (the operator sees why).
    private static func withOpenTimeout(_ l: StoreURL.PostgresLocation, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw StoreError.unavailable("no answer from \(l.host):\(l.port) within 30 s")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private static func openError(_ error: any Error, location: StoreURL.PostgresLocation) -> StoreError {
        let where_ = "\(StoreURL.postgres(location))"
        switch error {
        case let e as StoreError:
            switch e {
            case .unavailable(let reason): return .cannotOpen(path: where_, reason: reason)
            default: return e
            }
        case let e as PSQLError:
            return .cannotOpen(path: where_, reason: Self.message(e))
        default:
            return .cannotOpen(path: where_, reason: "\(error)")
        }
    }

    // MARK: errors

    /// The store error for a postgres-nio error: ``StoreError/unavailable(_:)`` when the same call
    /// may succeed later (connection lost, server restarting, out of resources, a timeout, a
    /// serialisation failure), ``StoreError/database(_:)`` otherwise.
    static func storeError(_ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if error is ConnectionClosed || error is NoConnection { return .unavailable("\(error)") }
        // The pool gave up connecting (its circuit breaker: no connection for `connectTimeout`).
        if let e = error as? ConnectionPoolError { return .unavailable("cannot connect: \(e)") }
        guard let e = error as? PSQLError else { return .database("\(error)") }
        return isTransient(e) ? .unavailable(message(e)) : .database(message(e))
    }

    /// Whether the call may succeed if tried again (see ``storeError(_:)``).
    static func isTransient(_ e: PSQLError) -> Bool {
        switch e.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
             .queryCancelled, .sslUnsupported, .failedToAddSSLHandler:
            return true
        case .server:
            let state = e.serverInfo?[.sqlState] ?? ""
            // 08 connection exception, 53 insufficient resources, 57P01-03 shutdown/cannot
            // connect now, 57014 statement timeout, 55P03 lock timeout, 40001/40P01 retryable.
            return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57P") || state == "57014"
                || state == "55P03" || state == "40001" || state == "40P01"
        default:
            return false
        }
    }

    /// Whether the connection was lost, so a `COMMIT` in flight may or may not have been applied.
    static func isConnectionLoss(_ error: any Error) -> Bool {
        if error is SimulatedConnectionLoss || error is ConnectionClosed { return true }
        guard let e = error as? PSQLError else { return false }
        switch e.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return true
        case .server:
            let state = e.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }

    /// One line: the server's message and SQLSTATE, or postgres-nio's code.
    static func message(_ e: PSQLError) -> String {
        if let text = e.serverInfo?[.message] {
            return text + (e.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        if let underlying = e.underlying { return "\(e.code): \(underlying)" }
        return "\(e.code)"
    }
}
