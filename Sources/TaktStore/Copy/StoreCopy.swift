import TaktCore

/// `takt store copy`: moves an embedded store into a PostgreSQL store — window rows, station
/// snapshots (dedup state and state timelines), site counters and the journal position —
/// resumably, and verifies the result.
///
/// - Window rows go in chunks of ``chunkRows`` in primary-key order, each chunk in one
///   transaction together with the key it ends at (`store_copy`), so a copy stopped at any
///   moment resumes after the last chunk written. Rows are written with their absolute values,
///   so writing a chunk twice changes nothing.
/// - Snapshots, counters and the journal position go last, in one transaction that also marks
///   the copy finished.
/// - The destination must be empty, or hold an unfinished (or finished) copy of the same source:
///   a store a daemon has written to is never overwritten.
/// - Verification: per tier, the number of rows and the sums of revisions, good and scrap units
///   and unit messages; the numbers of snapshots and site counters.
public struct StoreCopy: Sendable {
    public let source: SQLiteRollupStore
    public let destination: PostgresRollupStore
    /// Window rows per transaction.
    public var chunkRows: Int

    public init(source: SQLiteRollupStore, destination: PostgresRollupStore, chunkRows: Int = 5_000) {
        self.source = source
        self.destination = destination
        self.chunkRows = max(1, chunkRows)
    }

    /// What a copy did.
    public struct Report: Sendable, Equatable {
        /// Window rows in the source (all copied).
        public var rows: Int64
        /// Rows copied by an earlier, interrupted run (0 for a fresh copy).
        public var resumedAfterRows: Int64
        public var stations: Int
        public var sites: Int
        public var journalOffset: Int64
        /// The per-tier totals both stores agree on.
        public var totals: [TierTotals]
        /// The destination already held this finished copy; only verified.
        public var wasComplete: Bool
    }

    /// Copies, then verifies. `progress(copied, total)` is called after each chunk.
    public func run(progress: @Sendable (Int64, Int64) -> Void = { _, _ in }) async throws -> Report {
        let sourceName = "sqlite:\(source.path)"
        let start = try await destination.beginCopy(source: sourceName)
        let sourceTotals = try await source.tierTotals()
        let total = sourceTotals.reduce(0) { $0 + $1.rows }
        var copied = start.rowsCopied
        if !start.finished {
            var after = start.lastKey
            while true {
                let chunk = try await source.windowRows(after: after, limit: chunkRows)
                guard let last = chunk.last else { break }
                after = RowID(last.key)
                copied += Int64(chunk.count)
                try await destination.writeCopiedRows(chunk, lastKey: RowID(last.key), rowsCopied: copied)
                progress(copied, total)
            }
            let state = try await source.loadState()
            try await destination.finishCopy(state)
        }
        let state = try await source.loadState()
        let destinationState = try await destination.loadState()
        let destinationTotals = try await destination.tierTotals()
        var problems: [String] = []
        if sourceTotals != destinationTotals {
            problems.append("window rows differ (source \(sourceTotals), destination \(destinationTotals))")
        }
        if state != destinationState {
            problems.append("snapshots, counters or journal position differ (source \(state.stations.count) snapshots, "
                + "\(state.sites.count) sites, offset \(state.journalOffset); destination \(destinationState.stations.count), "
                + "\(destinationState.sites.count), \(destinationState.journalOffset))")
        }
        guard problems.isEmpty else { throw StoreError.database("copy verification failed: " + problems.joined(separator: "; ")) }
        return Report(rows: total, resumedAfterRows: start.rowsCopied, stations: state.stations.count, sites: state.sites.count,
                      journalOffset: state.journalOffset, totals: sourceTotals, wasComplete: start.finished)
    }
}

/// Where a copy into a destination stands (`store_copy`).
struct CopyStart: Sendable {
    var lastKey: RowID?
    var rowsCopied: Int64
    var finished: Bool
}

/// The verification sums of one tier's window rows.
public struct TierTotals: Sendable, Equatable, CustomStringConvertible {
    public var tier: WindowTier
    public var rows: Int64
    public var revisions: Int64
    public var good: Int64
    public var scrap: Int64
    public var unitMessages: Int64

    public var description: String {
        "\(tier.rawValue): \(rows) rows, revisions \(revisions), good \(good), scrap \(scrap), unit messages \(unitMessages)"
    }
}
