import Foundation
import GRDB
import TaktCore

/// The embedded store: one SQLite file through GRDB.
///
/// - WAL journal, `synchronous = FULL`: a commit is on disk when it returns, power loss
///   included. It must be: right after a commit the daemon deletes the journal segments it
///   covers, so a commit rolled back by a power loss (what `NORMAL` allows) could not be
///   replayed.
/// - Every statement has bound arguments; no SQL is built from values.
/// - Schema versions are GRDB migrations (`v1` …), applied once, on a read-write open.
///
/// Thread-safe: a `DatabasePool` (one writer, concurrent readers) when read-write, a read-only
/// `DatabaseQueue` when read-only. See `docs/store.md` for the schema.
public final class SQLiteRollupStore: RollupStore {
    /// The file this store reads and writes.
    public let path: String
    let reader: any DatabaseReader
    let writer: (any DatabaseWriter)?

    /// Opens (creating it if needed) the store at `path` and migrates it.
    ///
    /// - Parameter readOnly: for readers such as `takt query`: the file must exist, is not
    ///   migrated and must already have this program's schema.
    /// - Throws: ``StoreError/notFound(path:)``, ``StoreError/cannotOpen(path:reason:)``,
    ///   ``StoreError/schemaMismatch(path:reason:)``.
    public init(path: String, readOnly: Bool = false) throws(StoreError) {
        self.path = path
        var config = Configuration()
        config.label = "takt-store"
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            db.add(function: HistogramBlob.mergeFunction)
        }
        let migrator = Self.migrator
        do {
            if readOnly {
                guard FileManager.default.fileExists(atPath: path) else { throw StoreError.notFound(path: path) }
                config.readonly = true
                let queue = try DatabaseQueue(path: path, configuration: config)
                try queue.read { db in
                    guard try db.tableExists("grdb_migrations") else {
                        throw StoreError.cannotOpen(path: path, reason: "not a Takt store (no schema)")
                    }
                    if try migrator.hasBeenSuperseded(db) {
                        throw StoreError.schemaMismatch(path: path, reason: "written by a newer Takt; upgrade takt")
                    }
                    guard try migrator.hasCompletedMigrations(db) else {
                        throw StoreError.schemaMismatch(
                            path: path, reason: "its schema is older than this takt; start taktd once to migrate it")
                    }
                }
                reader = queue
                writer = nil
            } else {
                let pool = try DatabasePool(path: path, configuration: config)
                // Commits use UPSERT … RETURNING (SQLite 3.35, March 2021; Debian 12 has 3.40).
                let version = try pool.read { try String.fetchOne($0, sql: "SELECT sqlite_version()") } ?? "0"
                guard Self.supports(sqliteVersion: version) else {
                    throw StoreError.cannotOpen(path: path, reason: "SQLite \(version) is too old; taktd needs 3.35 or newer")
                }
                if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                    throw StoreError.schemaMismatch(path: path, reason: "written by a newer Takt; upgrade taktd")
                }
                try migrator.migrate(pool)
                // After GRDB's WAL set-up, which chooses NORMAL: FULL on the one writer
                // connection, so every commit fsyncs the WAL (see the type's comment).
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
                reader = pool
                writer = pool
            }
        } catch let error as StoreError {
            throw error
        } catch let error as DatabaseError {
            throw .cannotOpen(path: path, reason: error.message ?? "\(error.resultCode)")
        } catch {
            throw .cannotOpen(path: path, reason: "\(error)")
        }
    }

    /// Whether a `sqlite_version()` string is at least 3.35.0 (UPSERT … RETURNING).
    static func supports(sqliteVersion: String) -> Bool {
        let parts = sqliteVersion.split(separator: ".").map { Int($0) ?? 0 }
        return (parts + [0, 0, 0]).prefix(3).lexicographicallyPrecedes([3, 35, 0]) == false
    }

    /// Closes the connections; later calls fail. Optional (the last reference closes too).
    public func close() throws(StoreError) {
        do {
            if let pool = reader as? DatabasePool { try pool.close() }
            if let queue = reader as? DatabaseQueue { try queue.close() }
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Maps any error thrown inside a GRDB access to a ``StoreError``.
    static func storeError(_ error: any Error) -> StoreError {
        if let e = error as? StoreError { return e }
        if let e = error as? DatabaseError {
            let message = e.message ?? "\(e.resultCode)"
            switch e.resultCode {
            case .SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_FULL, .SQLITE_READONLY, .SQLITE_IOERR, .SQLITE_CANTOPEN:
                return .unavailable("\(message) (\(e.resultCode))")
            default:
                return .database(message)
            }
        }
        return .database("\(error)")
    }

    /// Runs `body` in a read transaction on one of GRDB's reader queues (concurrent with the
    /// writer in WAL mode); the calling task suspends meanwhile.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await reader.read(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` in one write transaction (rolled back when it throws) on GRDB's writer
    /// queue; the calling task suspends meanwhile.
    func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        guard let writer else { throw .database("the store is open read-only") }
        do {
            return try await writer.write(body)
        } catch {
            throw Self.storeError(error)
        }
    }
}
