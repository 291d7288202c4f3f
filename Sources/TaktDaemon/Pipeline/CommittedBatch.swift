import TaktCore

/// What one store commit wrote, as the committer (``Pipeline``) hands it on to its
/// ``CommitObserver``s — the live side (``LiveHub``: rings, live stream, alerts) and the metrics
/// publisher (``MetricsPublisher``) — so that nothing reads the store for what was just written.
///
/// Invariants: batches are handed on in commit order, each once, after its transaction ended
/// (the rows are durable in the store); `rows` are exactly what the store holds for those keys
/// after the commit (a later `takt query` of the same windows prints the same JSON until the
/// next commit touches them).
struct CommittedBatch: Sendable {
    /// The batch as written (with a ``CommitFence``, its site counters are increments).
    var batch: CommitBatch
    /// The resulting rows of the **output stations** the batch updated — the lines' metrics —,
    /// one per key at its latest revision, in the store's order: site, tier (`1m`, `1h`, `1d`),
    /// start, line, station.
    var rows: [WindowRow]
    /// Per row (same index): the ideal cycle (s) its performance used, 0 when none — what a
    /// `_site` total weighs the row with (``SiteMember``).
    var idealCycleS: [Double]
    /// Every row the store returned, in its order: the same as `rows` unless the committer reads
    /// every station's rows back (`CommittedRows.all`, for the live rings' `live_stations: all`).
    var stationRows: [WindowRow]
    /// Messages (events and dead letters) the batch covered.
    var events: Int
    /// When the transaction ended (continuous clock).
    var committedAt: ContinuousClock.Instant
    /// From the batch becoming due to the transaction's end.
    var delay: Duration

    /// The journal offset the commit recorded: every message before it is in the store.
    var journalOffset: Int64 { batch.journalOffset }

    /// The rows as `_site` members.
    var members: [SiteMember] {
        zip(rows, idealCycleS).map { SiteMember(row: $0, idealCycleS: $1) }
    }
}

/// Receives every ``CommittedBatch``, on the committer's task, in commit order.
/// - Important: `committed(_:)` must return at once (hand the batch to a task or a queue of
///   its own): the next commit waits for it, and with it the intake.
protocol CommitObserver: Sendable {
    func committed(_ batch: CommittedBatch)
}
