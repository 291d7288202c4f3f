import Foundation
import Logging
import MQTT
import Synchronization
import TaktCore
import TaktStore

/// The committer: takes drained batches from the ``Intake`` (which aggregates on the network
/// thread), publishes their dead letters, writes each to the store in one transaction, and
/// hands what it wrote (a ``CommittedBatch``: the output stations' rows) to its
/// ``CommitObserver``s — the ``MetricsPublisher`` encodes and publishes them on a task of its
/// own, so no JSON, `_site` row or metrics publish sits between two commits. One actor, so
/// commits happen one at a time and in drain order; the store does its work on its own threads
/// (the actor only awaits it), and nothing else — HTTP included — ever waits on this actor (its
/// counters are in ``CommitterStatistics``).
actor Pipeline {
    private let intake: Intake
    private let store: any RollupStore
    /// nil when the daemon shares the store with others (no local journal; see ``Intake``).
    private let journal: Journal?
    private let publisher: MQTTClient
    /// Several daemons on one store: the leases every commit is fenced with, and the site
    /// counters as last committed (commits then carry increments since those).
    private let fence: CommitFence?
    private var committedSites: [String: SiteCounters]
    /// Which rows each commit reads back: the output stations' (the lines' metrics), or every
    /// station's when the live rings keep them all.
    private let returning: CommittedRows
    private let logger: Logger
    /// `1m` rows whose window ended this long (ms) before the oldest site horizon are deleted.
    private let minuteRetentionMs: Int64
    private var lastPrune = ContinuousClock.now
    /// Set once a publish failed because the publisher was closed (shutdown with the broker
    /// unreachable): the rest is committed without publishing.
    private var publisherGone = false
    /// A commit that ends this long after it was due is logged (one commit interval).
    private let slowCommit: Duration
    /// Counters for `/metrics`, readable from any thread.
    nonisolated let statistics: CommitterStatistics
    /// The journal offset of the last commit (the store's at start-up).
    private var committedOffset: Int64
    /// `takt/v1/deadletter` rate limit: at most `deadLetterRate` a second (token bucket).
    private var deadLetterTokens: Double
    private let deadLetterRate: Double
    private var deadLetterRefill = ContinuousClock.now
    /// Told of every commit, in order (``CommitObserver``).
    private let observers: [any CommitObserver]

    /// - Parameters:
    ///   - fence: set when several daemons share the store: every commit is fenced with it, and
    ///     `siteBaseline` (the aggregator's counters when it was restored) is where the site
    ///     counters' increments start.
    ///   - observers: told of every commit, in this order.
    init(intake: Intake, store: any RollupStore, journal: Journal?, publisher: MQTTClient,
         minuteRetentionMs: Int64, slowCommit: Duration, committedOffset: Int64, deadLettersPerSecond: Int = 100,
         fence: CommitFence? = nil, siteBaseline: [SiteCounters] = [], returning: CommittedRows = .outputStations,
         statistics: CommitterStatistics = CommitterStatistics(), observers: [any CommitObserver] = [], logger: Logger) {
        self.fence = fence
        self.committedSites = Dictionary(siteBaseline.map { ($0.site, $0) }, uniquingKeysWith: { $1 })
        self.returning = returning
        self.intake = intake
        self.statistics = statistics
        self.observers = observers
        self.committedOffset = committedOffset
        self.deadLetterRate = Double(max(1, deadLettersPerSecond))
        self.deadLetterTokens = Double(max(1, deadLettersPerSecond))
        self.slowCommit = slowCommit
        self.minuteRetentionMs = minuteRetentionMs
        self.store = store
        self.journal = journal
        self.publisher = publisher
        self.logger = logger
    }

    /// Commits every batch the intake hands out under `policy` (see ``Intake/Take``); with
    /// `.everything`, also what arrives while it commits, until nothing is pending.
    func commitReady(_ policy: Intake.Take) async throws {
        while let pending = intake.take(policy) {
            try await commit(pending)
        }
    }

    /// Commits the full batches waiting, then one drain of what is pending now; what arrives
    /// meanwhile waits for the next call (the committer paces those, ``CommitPacing``).
    func commitPending() async throws {
        while let pending = intake.take(.queued) {
            try await commit(pending)
        }
        if let pending = intake.take(.everything) { try await commit(pending) }
    }

    /// Publishes the batch's dead letters, writes it in one store transaction, drops the journal
    /// segments it covers, and hands the committed rows to the observers.
    private func commit(_ pending: PendingCommit) async throws {
        var batch = pending.batch
        if let fence { fenceAndCountIncrements(&batch, fence) }
        // Before the commit that counts them: a crash in between replays their messages, and the
        // replay publishes them again (at least once).
        for letter in pending.deadLetters {
            guard takeDeadLetterToken() else {
                statistics.deadLetterNotPublished()
                continue
            }
            try await publish(topic: OutboundTopic.deadLetter, payload: letter.bytes, retain: false)
        }
        let takenAt = ContinuousClock.now
        // A batch of only unattributed dead letters still moves the journal offset: otherwise
        // the journal would grow for ever and a restart would replay (and republish) them all.
        if !batch.updates.isEmpty || !batch.stations.isEmpty || !batch.sites.isEmpty || batch.journalOffset != committedOffset {
            let rows = try await commitRetrying(batch)
            committedOffset = batch.journalOffset
            for site in pending.batch.sites { committedSites[site.site] = site }
            intake.committed(through: batch.journalOffset)
            let committedAt = ContinuousClock.now
            let delay = committedAt - pending.dueAt
            statistics.committed(delay: delay)
            if delay > slowCommit {
                logger.notice("slow commit: due \(delay) ago; waited \(takenAt - pending.dueAt) to start, store \(committedAt - takenAt); \(pending.events) messages, \(batch.updates.count) rows")
            }
            journal?.release(before: batch.journalOffset)
            let lineRows = returning == .outputStations ? rows : batch.outputStationRows(of: rows)
            let committed = CommittedBatch(batch: batch, rows: lineRows, idealCycleS: batch.idealCycles(of: lineRows),
                                           stationRows: rows, events: pending.events, committedAt: committedAt, delay: delay)
            for observer in observers { observer.committed(committed) }
        }
        if ContinuousClock.now - lastPrune >= .seconds(60) { await pruneMinuteRows() }
    }

    /// A shared store's commit: fenced with this daemon's leases, its site counters the
    /// increments since the last commit (the horizon as is: the store keeps the larger).
    private func fenceAndCountIncrements(_ batch: inout CommitBatch, _ fence: CommitFence) {
        batch.fence = fence
        batch.sites = batch.sites.map { total in
            let last = committedSites[total.site] ?? SiteCounters(site: total.site)
            return SiteCounters(site: total.site, horizon: total.horizon,
                                accepted: total.accepted &- last.accepted, duplicates: total.duplicates &- last.duplicates,
                                deadLetters: total.deadLetters &- last.deadLetters, missing: total.missing &- last.missing)
        }
    }

    /// Commits `batch`, retrying while the store is ``StoreError/unavailable(_:)`` (disk full or
    /// read-only, locked by another process): the failed transaction wrote nothing, the batch
    /// is still here, and the intake waits meanwhile (its queue is full), so the broker holds
    /// the rest. Any other error — or a shutdown while waiting — stops the daemon: the drained
    /// deltas exist only in memory, and the restart replays the journal from the last
    /// committed offset.
    private func commitRetrying(_ batch: CommitBatch) async throws -> [WindowRow] {
        var delay: Duration = .milliseconds(100)
        var attempts = 0
        while true {
            do {
                let rows = try await store.commit(batch, returning: returning)
                if attempts > 0 { logger.notice("store available again: committed after \(attempts) failed attempts") }
                return rows
            } catch StoreError.fenced(let why) {
                // Another daemon holds a line now: nothing of this batch may be written, and
                // the messages it covers were never acknowledged. Give the lines up.
                logger.warning("commit refused, a lease was lost: \(why)")
                throw LeaseLost(reason: why)
            } catch let error as StoreError {
                guard case .unavailable = error, !shuttingDown else {
                    logger.critical("commit failed, stopping so that a restart replays the journal: \(error)")
                    throw error
                }
                attempts += 1
                statistics.commitFailed()
                if attempts == 1 || attempts.isMultiple(of: 10) {
                    logger.error("commit failed (\(error)); retrying every \(delay) until the store takes it")
                }
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(2))
            }
        }
    }

    /// Set at a graceful shutdown: a commit the store cannot take is no longer retried.
    private var shuttingDown = false

    func beginShutdown() { shuttingDown = true }

    /// One token of the dead-letter topic's rate limit, if there is one: the bucket refills at
    /// `deadLetterRate` a second up to one second's worth (a flood of bad messages must not
    /// turn into a flood on the topic; every dead letter is counted all the same).
    private func takeDeadLetterToken() -> Bool {
        let now = ContinuousClock.now
        let elapsed = now - deadLetterRefill
        deadLetterRefill = now
        deadLetterTokens = min(deadLetterRate, deadLetterTokens + elapsed.inSeconds * deadLetterRate)
        guard deadLetterTokens >= 1 else { return false }
        deadLetterTokens -= 1
        return true
    }

    /// Deletes `1m` rows that no event can reach any more: their window ended `minute_retention`
    /// (≥ `max_age`) before the oldest site horizon, so a late event for them is `too_old`
    /// anyway. `1h` and `1d` rows are kept. Runs at most once a minute and at shutdown.
    func pruneMinuteRows() async {
        lastPrune = .now
        guard let oldest = intake.oldestHorizon() else { return }
        do {
            let deleted = try await store.pruneRows(tier: .minute, endingAtOrBefore: oldest - minuteRetentionMs)
            if deleted > 0 { logger.info("pruned \(deleted) 1m rows older than the minute retention") }
        } catch {
            logger.error("pruning 1m rows failed: \(error)")
        }
    }

    /// One QoS 1 publish. A publisher closed at shutdown (the broker was unreachable) is not an
    /// error: the rows are in the store, and retained metrics are published again with the
    /// window's next revision.
    private func publish(topic: String, payload: [UInt8], retain: Bool) async throws {
        guard !publisherGone else { return statistics.notPublished() }
        do {
            try await publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: retain)
        } catch let error as MosquittoError where error.kind == .closed {
            publisherGone = true
            statistics.notPublished()
            logger.warning("publisher closed: committing the rest without publishing metrics or dead letters")
        }
    }
}

/// A fenced commit was refused: this daemon no longer holds a line it committed for. The
/// daemon's current set of lines ends (nothing more acknowledged) and starts again from the store.
struct LeaseLost: Error, CustomStringConvertible {
    var reason: String
    var description: String { "lease lost: \(reason)" }
}

/// The committer's counters, updated by the ``Pipeline`` and read by `/metrics` from any thread.
final class CommitterStatistics: Sendable {
    struct Snapshot: Sendable {
        /// Store transactions committed since start.
        var commits = 0
        /// Longest time from a batch becoming due to its transaction's end, seconds.
        var maxCommitDelaySeconds = 0.0
        /// Sum of those times, seconds (with `commits`: the mean).
        var commitDelaySumSeconds = 0.0
        /// Publishes skipped because the publisher was closed at shutdown.
        var unpublished = 0
        /// Commit attempts the store refused (full, read-only, locked); each was retried.
        var failedCommits = 0
        /// Damaged journal stretches skipped at replay, and their bytes.
        var journalDamages = 0
        var journalDamagedBytes = 0
        /// Dead letters not published on `takt/v1/deadletter` because of its rate limit (they
        /// are counted all the same).
        var deadLettersNotPublished = 0
    }
    private let state = Mutex(Snapshot())

    func committed(delay: Duration) {
        let seconds = delay.inSeconds
        state.withLock { s in
            s.commits += 1
            s.commitDelaySumSeconds += seconds
            s.maxCommitDelaySeconds = max(s.maxCommitDelaySeconds, seconds)
        }
    }

    func notPublished() { state.withLock { $0.unpublished += 1 } }

    func commitFailed() { state.withLock { $0.failedCommits += 1 } }

    func journalDamaged(bytes: Int) {
        state.withLock { s in
            s.journalDamages += 1
            s.journalDamagedBytes += bytes
        }
    }

    func deadLetterNotPublished() { state.withLock { $0.deadLettersNotPublished += 1 } }

    var snapshot: Snapshot { state.withLock { $0 } }
}
