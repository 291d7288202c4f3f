import TaktCore

/// Where the daemon keeps its rollups, and what `takt query` / `takt plan` read.
///
/// Rows are per `(site, line, station, tier, window start)`; `_site` totals are never stored,
/// they are sums of the output-station rows computed when read (so several daemons that own
/// disjoint lines can share one store).
///
/// Every call is `async` and runs on the store's own threads (SQLite: GRDB's writer and
/// reader queues; PostgreSQL: the connection's event loop), never blocking Swift's cooperative
/// pool: a long read (an HTTP query of 100,000 rows) and a commit proceed side by side.
/// Implementations are thread-safe; commits are serialised by the caller (one committer).
public protocol RollupStore: Sendable {
    /// Applies `batch` in **one** transaction: adds every update's deltas to its row (creating
    /// it at revision 1), replaces the state times, raises `revision` by 1 per update, replaces
    /// the station snapshots, upserts the site counters and sets the journal offset.
    ///
    /// - Returns: the resulting rows of the keys the batch updated that `returning` selects
    ///   (one per key, latest revision), ordered by site, tier (`1m`, `1h`, `1d`), start, line,
    ///   station. The daemon asks for ``CommittedRows/outputStations`` (what it publishes), so the
    ///   other rows are written without being read back.
    /// - Throws: ``StoreError`` (nothing is written then).
    func commit(_ batch: CommitBatch, returning: CommittedRows) async throws -> [WindowRow]

    /// What the daemon needs at start-up: the journal offset, every station snapshot and every
    /// site's counters.
    func loadState() async throws -> StoreState

    /// The rows of `takt query` (contract section 5): windows of `tier` that **start** in
    /// `[from, to)`.
    ///
    /// - `line == nil`: every line's output-station rows plus one `_site` row per window.
    /// - `line` set, `station == nil`: that line's output-station rows.
    /// - `line` and `station` set: that station's rows.
    ///
    /// Ordered by start, then line (`_site` last), then station.
    /// - Throws: ``StoreError/invalidQuery(_:)`` for a station without a line.
    func rows(site: String, line: String?, station: String?, tier: WindowTier, from: Int64, to: Int64) async throws -> [WindowRow]

    /// The `_site` row of one window (what the daemon publishes on
    /// `takt/v1/metrics/{site}/_site/{window}`); `nil` when no line has an output-station row
    /// for it.
    func siteRow(site: String, tier: WindowTier, start: Int64) async throws -> WindowRow?

    /// What the `_site` row of one window sums: every line's output-station row of that window
    /// start, each with its stored ideal cycle (``SiteMember``), ordered by line, then station.
    /// `WindowRow.siteTotal(of:site:tier:)` of them is ``siteRow(site:tier:start:)``; the daemon
    /// reads them once per window and keeps the `_site` row up to date from committed rows
    /// (``SiteTotals``).
    func siteMembers(site: String, tier: WindowTier, start: Int64) async throws -> [SiteMember]

    /// Start (epoch ms) of the site's newest stored window of `tier`, or `nil` when the site has
    /// none.
    func newestWindowStart(site: String, tier: WindowTier) async throws -> Int64?

    /// Deletes the rows of `tier` whose window **ends** at or before `before` (retention);
    /// returns how many were deleted.
    @discardableResult
    func pruneRows(tier: WindowTier, endingAtOrBefore before: Int64) async throws -> Int
}

extension RollupStore {
    /// ``commit(_:returning:)`` returning every updated row.
    public func commit(_ batch: CommitBatch) async throws -> [WindowRow] {
        try await commit(batch, returning: .all)
    }
}

/// Which resulting rows ``RollupStore/commit(_:returning:)`` reads back and returns.
public enum CommittedRows: Sendable {
    /// Every row the batch updated.
    case all
    /// Only the rows of output stations (the line's metrics); none of the others are read.
    case outputStations
}

/// What ``RollupStore/loadState()`` returns.
public struct StoreState: Sendable, Equatable {
    /// Journal byte offset up to which every message is reflected in the store (0 when nothing
    /// was committed yet).
    public var journalOffset: Int64
    /// Every station's snapshot, ordered by site, line, station.
    public var stations: [StationSnapshot]
    /// Every site's counters, ordered by site.
    public var sites: [SiteCounters]

    public init(journalOffset: Int64 = 0, stations: [StationSnapshot] = [], sites: [SiteCounters] = []) {
        self.journalOffset = journalOffset
        self.stations = stations
        self.sites = sites
    }
}

/// Why a store operation failed. `description` is one line, fit for stderr.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A read-only open of a store file that does not exist.
    case notFound(path: String)
    /// The file could not be opened or is not a Takt store.
    case cannotOpen(path: String, reason: String)
    /// The store's schema is older than this program's and the store was opened read-only, or
    /// newer than this program knows.
    case schemaMismatch(path: String, reason: String)
    /// A store kind that is parsed but not implemented yet (PostgreSQL).
    case notBuilt(String)
    /// An update or query that cannot be right (e.g. `end <= start`); names the value.
    case invalidUpdate(String)
    case invalidQuery(String)
    /// A stored value that cannot be decoded (a damaged file).
    case corrupt(String)
    /// Any other database error, with the database's message.
    case database(String)
    /// The database cannot take the write now but may later: its disk is full or read-only,
    /// another process holds a lock, an I/O error. Nothing was written; the same call may be
    /// retried once the operator has cleared the fault.
    case unavailable(String)
    /// A fenced commit (``CommitBatch/fence``) whose daemon no longer holds a lease it names:
    /// nothing was written; the daemon must give its lines up and start again from the store.
    case fenced(String)

    public var description: String {
        switch self {
        case .notFound(let path): return "store '\(path)' does not exist"
        case .cannotOpen(let path, let reason): return "cannot open store '\(path)': \(reason)"
        case .schemaMismatch(let path, let reason): return "store '\(path)': \(reason)"
        case .notBuilt(let what): return what
        case .invalidUpdate(let what): return "invalid update: \(what)"
        case .invalidQuery(let what): return "invalid query: \(what)"
        case .corrupt(let what): return "store is damaged: \(what)"
        case .database(let message): return "database error: \(message)"
        case .unavailable(let message): return "store unavailable: \(message)"
        case .fenced(let message): return "commit refused, lease lost: \(message)"
        }
    }
}
