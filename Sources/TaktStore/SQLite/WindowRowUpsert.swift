import GRDB
import GRDBSQLite
import TaktCore

/// The commit's per-row statement, run through SQLite's C API: a delta row's 16 columns bound
/// directly and, when asked, the merged counts read back (`RETURNING`) without GRDB's argument
/// and row values. It is the commit's inner loop (≈ 1,300 rows per 10,000 Bishan events), where
/// GRDB's boxing of every argument cost as much as SQLite itself.
///
/// The statement is a GRDB cached statement of the writer (GRDB prepares and finalizes it; this
/// struct holds the `Statement` so it stays alive); use it only inside that writer's
/// transaction. GRDB never runs it, so GRDB's transaction observers do not see these writes
/// (the store has none).
struct WindowRowUpsert {
    /// `upsertSQL` (see `SQLiteRollupStore.commit`), with or without the `RETURNING` clause.
    let grdbStatement: Statement
    let returning: Bool

    init(_ statement: Statement, returning: Bool) {
        self.grdbStatement = statement
        self.returning = returning
    }

    private var statement: SQLiteStatement { grdbStatement.sqliteStatement }

    /// Columns the `RETURNING` clause names, in order: what the upsert changes by adding.
    static let returnedColumns = "revision, good, scrap, energy_kwh, unit_messages, cycle_hist"

    /// Adds `delta` to its stored row (or inserts it). With `returning`, the stored row after
    /// the change; otherwise nil.
    func run(_ delta: StoredWindow) throws -> StoredWindow? {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
        let k = delta.key
        // A bind that fails (out of memory) must not leave the previous row's value bound.
        var failed = SQLITE_OK
        func check(_ rc: Int32) { if failed == SQLITE_OK { failed = rc } }
        check(bindText(1, k.site))
        check(bindText(2, k.line))
        check(bindText(3, k.station))
        check(bindText(4, k.tier.rawValue))
        check(sqlite3_bind_int64(statement, 5, k.start))
        check(sqlite3_bind_int64(statement, 6, k.end))
        check(sqlite3_bind_int64(statement, 7, delta.revision))
        check(sqlite3_bind_int64(statement, 8, delta.good))
        check(sqlite3_bind_int64(statement, 9, delta.scrap))
        check(sqlite3_bind_double(statement, 10, delta.energyKwh))
        check(sqlite3_bind_int64(statement, 11, delta.unitMessages))
        if let blob = HistogramBlob.encode(delta.cycle) {
            check(blob.withUnsafeBytes { sqlite3_bind_blob(statement, 12, $0.baseAddress, Int32($0.count), transient) })
        } else {
            check(sqlite3_bind_null(statement, 12))
        }
        check(sqlite3_bind_int64(statement, 13, delta.runMs))
        check(sqlite3_bind_int64(statement, 14, delta.plannedMs))
        check(sqlite3_bind_double(statement, 15, delta.idealCycleS))
        check(sqlite3_bind_int(statement, 16, delta.isOutputStation ? 1 : 0))
        guard failed == SQLITE_OK else { throw error(failed) }

        let rc = sqlite3_step(statement)
        defer { sqlite3_reset(statement) }
        guard returning else {
            guard rc == SQLITE_DONE else { throw error(rc) }
            return nil
        }
        guard rc == SQLITE_ROW else { throw rc == SQLITE_DONE ? StoreError.database("an upsert returned no row") : error(rc) }
        // The columns that are not added are the delta's (the upsert replaces them).
        var row = delta
        row.revision = sqlite3_column_int64(statement, 0)
        row.good = sqlite3_column_int64(statement, 1)
        row.scrap = sqlite3_column_int64(statement, 2)
        row.energyKwh = sqlite3_column_double(statement, 3)
        row.unitMessages = sqlite3_column_int64(statement, 4)
        if sqlite3_column_type(statement, 5) == SQLITE_NULL {
            row.cycle = CycleHistogram()
        } else {
            let count = Int(sqlite3_column_bytes(statement, 5))
            let bytes = sqlite3_column_blob(statement, 5).map { [UInt8](UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
            row.cycle = try HistogramBlob.decode(bytes)
        }
        return row
    }

    private func bindText(_ index: Int32, _ text: String) -> Int32 {
        var text = text
        return text.withUTF8 { sqlite3_bind_text(statement, index, $0.baseAddress, Int32($0.count), transient) }
    }

    private func error(_ rc: Int32) -> StoreError {
        let message = sqlite3_db_handle(statement).flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "code \(rc)"
        return .database(message)
    }
}

/// `SQLITE_TRANSIENT`: SQLite copies the bound bytes before the bind call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
