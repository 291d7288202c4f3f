import Foundation
import Logging
import MQTT
import TaktCore

#if canImport(Glibc)
import Glibc
#endif

/// What ``Intake/statistics()`` reports for `/metrics`.
struct IntakeStatistics: Sendable {
    var sites: [SiteCounters]
    /// Journal offset just past the last message given to the aggregator.
    var journalOffset: Int64
    /// Messages processed but not committed yet.
    var pendingEvents: Int
    /// Dead letters since start by site (nil: no known site — bad topics, unknown sources)
    /// and reason.
    var deadLettersByReason: [(site: String?, reason: DeadLetterReason, count: Int64)]
    /// The broker's `$SYS/broker/publish/messages/dropped` as last received (all its clients).
    var brokerDropped: Int64?
}

/// One drained commit batch and the dead letters of the messages it covers: what the
/// committer (``Pipeline``) takes from the ``Intake``.
struct PendingCommit: Sendable {
    var batch: CommitBatch
    var deadLetters: [DeadLetterMessage]
    /// Messages (events and dead letters) the batch covers.
    var events: Int
    /// When the batch became due (continuous clock): the moment a full batch was drained, or the
    /// end of the commit interval for a timed drain. Commit delay = commit end − this.
    var dueAt: ContinuousClock.Instant

    var isEmpty: Bool {
        batch.updates.isEmpty && batch.stations.isEmpty && batch.sites.isEmpty && deadLetters.isEmpty
    }
}

/// The daemon's hot path. ``receive(_:)`` runs on the intake connection's network thread for
/// every message while it is still in libmosquitto's buffers: journal append (before the
/// callback returns, so before the PUBACK), then decode, validate, dedup and window aggregation
/// in place. Nothing is copied or allocated per message, and nothing wakes another thread per
/// message: every `commitMaxEvents` events the aggregator is drained into a ``PendingCommit``
/// and queued for the committer, which also drains what is pending when the intake goes idle
/// (``commitDue(maxDelay:)``, ``take(_:)``). The committer sleeps on `signal`, raised when a
/// batch is queued and when a receive burst ends with events pending while the committer waits
/// for that (at most once per look of the committer, not per burst): no polling.
///
/// Invariants: the journal offset of a drained batch is the end of the last journal record its
/// events came from (journal order = ingest order, one network thread), and those records are
/// written before the batch leaves the intake; batches are taken in drain order; when
/// `maxQueued` drained batches wait, the network thread waits too at the end of its burst
/// (``batchEnded()``), stops reading its socket, and the broker holds the messages (in the
/// persistent session).
///
/// **Without a journal** (several daemons on PostgreSQL: no local disk may matter) the offsets
/// count messages instead, and a network thread — there is one per leased line — returns from a
/// burst (which lets its PUBACKs go out) only once the committer has committed every message of
/// it (``committed(through:)``): what the broker sees acknowledged is in the store. A waiting
/// thread makes the committer commit at once instead of at the end of the commit interval.
final class Intake: @unchecked Sendable {
    static let droppedTopic = "$SYS/broker/publish/messages/dropped"
    private static let droppedTopicBytes = Array(droppedTopic.utf8)

    /// What ``take(_:)`` may hand out.
    enum Take {
        /// Only batches that filled up (`commitMaxEvents`).
        case queued
        /// Those, or whatever is pending now.
        case everything
    }

    /// When the committer should commit (``commitDue(maxDelay:)``).
    enum Due: Equatable {
        /// Nothing is pending: wait for `signal`.
        case nothing
        /// Commit now: a full batch waits, or events are pending and the intake is idle (its
        /// last receive burst ended: the socket had nothing more), or the oldest pending event
        /// has waited `maxDelay`.
        case now
        /// Events are pending while a burst is being read: its end raises `signal`; commit at
        /// this instant at the latest (the oldest event + `maxDelay`).
        case at(ContinuousClock.Instant)
    }

    /// nil: acknowledge after the commit instead (see the type's comment).
    private let journal: Journal?
    private let logger: Logger
    private let commitMaxEvents: Int
    private let maxQueued: Int
    /// Longest single wait for queue space, seconds (well below the intake's keep-alive).
    private let maxWait: TimeInterval
    private let sites: [String]
    /// Wakes the committer (see the type's comment).
    let signal: CommitSignal

    // Everything below is guarded by `condition`.
    private let condition = NSCondition()
    private var aggregator: Aggregator
    /// Journal offset just past the last message given to the aggregator.
    private var offset: Int64
    private var pendingEvents = 0
    private var deadLetters: [DeadLetterMessage] = []
    private var queue: [PendingCommit] = []
    /// When the oldest pending event arrived (valid while `pendingEvents > 0`).
    private var firstPending = ContinuousClock.now
    /// The network thread is inside a receive burst (between its first message and
    /// ``batchEnded()``).
    private var inBurst = false
    /// The end of a burst with events pending has raised `signal` since the committer last
    /// looked (``commitDue(maxDelay:)``): later bursts do not raise it again.
    private var idleRaised = false
    private var lastDroppedCount: Int64?
    private var finished = false
    /// Without a journal: the offset (message count) up to which the store has every message.
    private var committedOffset: Int64
    /// Without a journal: network threads waiting for a commit before their PUBACKs go out.
    private var commitWaiters = 0
    /// A site horizon was raised from outside (another daemon's lines): the windows it extends
    /// need a drain even with no event pending.
    private var horizonRaised = false
    /// When the network thread last ended a burst (or took a message outside one).
    private var lastActivity = ContinuousClock.now

    /// - Parameters:
    ///   - offset: the journal offset the aggregator's state reflects (the store's, at start).
    ///   - maxQueued: drained batches that may wait for the committer before the network thread
    ///     waits too (≥ 1).
    ///   - maxWait: the longest the network thread waits for queue space at once (seconds;
    ///     keep it well below the keep-alive).
    init(aggregator: Aggregator, journal: Journal?, offset: Int64, sites: [String], commitMaxEvents: Int,
         maxQueued: Int = 1, maxWait: TimeInterval = 5, logger: Logger) {
        self.aggregator = aggregator
        self.journal = journal
        self.offset = offset
        self.committedOffset = offset
        self.sites = sites
        self.commitMaxEvents = max(1, commitMaxEvents)
        self.maxQueued = max(1, maxQueued)
        self.maxWait = maxWait
        self.logger = logger
        self.signal = CommitSignal()
    }

    /// The intake connection's message handler (its network thread).
    func receive(_ message: MQTTReceivedMessage) {
        guard IntakeFilter.isDeviceTraffic(message.topic) else {
            if message.topic.elementsEqual(Intake.droppedTopicBytes) { noteBrokerDrops(message.payload) }
            return
        }
        guard let journal else { return receiveAcknowledgingAfterCommit(message) }
        // Buffered when no PUBACK can go out before `batchEnded` writes the buffer (or when
        // there is no PUBACK: QoS 0); written at once otherwise.
        let deferWrite = message.acknowledgedAfterBatch || message.qos == .atMostOnce
        let now = Intake.nowMs()
        condition.lock()
        // Journal order is ingest order, also for the clock records another thread adds
        // (``tick()``): the append happens under the lock.
        if Aggregator.isSparkplug(message.topic) { clockRecordLocked(now: now, deferWrite: deferWrite) }
        let written = deferWrite ? journal.appendBuffered(topic: message.topic, payload: message.payload)
                                 : journal.append(topic: message.topic, payload: message.payload)
        guard let end = written else { journalFailed() }
        inBurst = message.acknowledgedAfterBatch
        ingestLocked(topic: message.topic, payload: message.payload, endOffset: end, now: now)
        // Outside a burst (the client's `mosquitto_loop` phases) no `batchEnded` follows: the
        // intake is idle again after this message.
        if !message.acknowledgedAfterBatch {
            lastActivity = .now
            raiseIfIdleLocked()
            waitForQueueSpaceLocked()
        }
        condition.unlock()
    }

    /// ``receive(_:)`` without a journal: the offset counts messages; a QoS 1 message outside a
    /// burst (its PUBACK goes out as soon as this returns) waits for its commit here.
    private func receiveAcknowledgingAfterCommit(_ message: MQTTReceivedMessage) {
        let now = Intake.nowMs()
        condition.lock()
        ingestLocked(topic: message.topic, payload: message.payload, endOffset: offset &+ 1, now: now)
        if !message.acknowledgedAfterBatch && message.qos != .atMostOnce { waitForCommitLocked() }
        condition.unlock()
    }

    /// Without a journal: waits (releasing the lock) until every message given to the aggregator
    /// so far is committed, or the intake finishes (then the caller's connection was abandoned
    /// first, so nothing uncommitted is acknowledged). No time limit: a store that stays away
    /// holds the PUBACKs, and the broker ends the connection after its keep-alive and delivers
    /// the messages again.
    private func waitForCommitLocked() {
        let target = offset
        guard committedOffset < target else { return }
        commitWaiters += 1
        signal.raise()
        while committedOffset < target && !finished {
            condition.wait()
        }
        commitWaiters -= 1
    }

    /// The committer: every message up to `offset` is in the store (without a journal, this
    /// releases the network threads waiting to acknowledge them).
    func committed(through offset: Int64) {
        condition.lock()
        if offset > committedOffset {
            committedOffset = offset
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Raises sites' horizons to what other daemons committed (epoch ms by site): state time of
    /// this daemon's lines then runs up to the site's newest event, as one daemon's would.
    func raiseHorizons(_ horizons: [String: Int64]) {
        condition.lock()
        var raised = false
        for (site, horizon) in horizons where aggregator.raiseHorizon(site: site, to: horizon) {
            raised = true
        }
        if raised {
            if !hasPendingLocked { firstPending = .now }
            horizonRaised = true
            signal.raise()
        }
        condition.unlock()
    }

    /// Without a journal: a network thread waits for the next commit before its PUBACKs go out.
    var acknowledgementsWaiting: Bool {
        condition.lock()
        defer { condition.unlock() }
        return commitWaiters > 0
    }

    /// Events or a raised horizon wait for a drain.
    private var hasPendingLocked: Bool { pendingEvents > 0 || horizonRaised }

    /// The intake connection's `messageBatchEnded` (its network thread): the batch's journal
    /// records are written before any of its PUBACKs.
    ///
    /// Back-pressure: while `maxQueued` drained batches wait for the committer, the network
    /// thread waits here (it stops reading; the broker holds the messages in the session) — at
    /// most `maxWait` at a time, so that the client's loop still sends its keep-alive when the
    /// committer is stuck (a store or a publisher that hangs), and then again after the next
    /// burst. Between waits the queue can grow by one burst of messages.
    ///
    /// The end of a burst is the intake going idle (the socket had nothing more to read, or the
    /// burst reached its packet limit): with events pending, it wakes the committer, which
    /// commits them now rather than on a timer (``commitDue(maxDelay:)``).
    func batchEnded() {
        guard let journal else {
            condition.lock()
            waitForCommitLocked()
            condition.unlock()
            return
        }
        if !journal.writeBuffered() { journalFailed() }
        condition.lock()
        inBurst = false
        lastActivity = .now
        raiseIfIdleLocked()
        waitForQueueSpaceLocked()
        condition.unlock()
    }

    /// Wakes the committer for the events pending now, once per look of the committer.
    private func raiseIfIdleLocked() {
        guard pendingEvents > 0, !idleRaised else { return }
        idleRaised = true
        signal.raise()
    }

    /// Waits (releasing the lock) while `maxQueued` batches wait for the committer, at most
    /// `maxWait`.
    private func waitForQueueSpaceLocked() {
        // The deadline on the monotonic clock: a wall clock stepped back must not stretch it.
        let deadline = ContinuousClock.now + .milliseconds(Int64(maxWait * 1000))
        while queue.count >= maxQueued && !finished {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { break }
            _ = condition.wait(until: Date().addingTimeInterval(left.inSeconds))
        }
    }

    /// Returning would acknowledge messages we could not keep. Die instead: the broker
    /// redelivers them to the next run, which replays the journal up to what was written.
    private func journalFailed() -> Never {
        logger.critical("journal write failed (\(journal?.failure ?? "unknown")); exiting without acknowledging")
        _exit(70)
    }

    /// Start-up: a journaled message that was received but not committed before the last stop.
    /// Never waits (the caller commits what ``take(_:)`` hands out as it goes).
    func replay(_ record: Journal.Record, now: Int64) {
        record.topic.withUnsafeBytes { topic in
            record.payload.withUnsafeBytes { payload in
                condition.lock()
                ingestLocked(topic: topic, payload: payload, endOffset: record.endOffset, now: now)
                condition.unlock()
            }
        }
    }

    /// The oldest drained batch, or a fresh drain when `policy` allows one and anything is
    /// pending; nil when there is nothing to commit.
    func take(_ policy: Take) -> PendingCommit? {
        condition.lock()
        defer { condition.unlock() }
        if !queue.isEmpty {
            condition.broadcast()
            return queue.removeFirst()
        }
        guard case .everything = policy else { return nil }
        let pending = drainLocked(dueAt: .now)
        return pending.isEmpty ? nil : pending
    }

    /// Whether what is pending should be committed now (see ``Due``). When the answer is not
    /// `.now`, the next burst that ends with events pending raises `signal` (once).
    /// - Parameter maxDelay: the longest a pending event waits while bursts keep it busy
    ///   (`commit_interval_ms`).
    func commitDue(maxDelay: Duration) -> Due {
        condition.lock()
        defer { condition.unlock() }
        if !queue.isEmpty { return .now }
        guard hasPendingLocked else {
            idleRaised = false
            return .nothing
        }
        // A network thread waiting to acknowledge (no journal) makes what is pending due now.
        if commitWaiters > 0 { return .now }
        let latest = firstPending + maxDelay
        if !inBurst || ContinuousClock.now >= latest { return .now }
        idleRaised = false
        return .at(latest)
    }

    /// The instant at which the intake will have read nothing for `quiet` (now or earlier: it
    /// has): the stream paused, and what is pending is its tail. While a burst is being read,
    /// `quiet` from now.
    func quietAt(after quiet: Duration) -> ContinuousClock.Instant {
        condition.lock()
        defer { condition.unlock() }
        return (inBurst ? .now : lastActivity) + quiet
    }

    /// Called when the committer stops taking batches (the intake is closing, or a commit
    /// failed): the network thread no longer waits for queue space, so it can end.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// The sites' counters, the journal offset reached and the events not committed yet.
    func statistics() -> IntakeStatistics {
        condition.lock()
        defer { condition.unlock() }
        let queued = queue.reduce(0) { $0 + $1.events }
        var byReason: [(site: String?, reason: DeadLetterReason, count: Int64)] = []
        for site in sites {
            for (reason, count) in aggregator.deadLetters(site: site) where count > 0 { byReason.append((site, reason, count)) }
        }
        for (reason, count) in aggregator.unattributedDeadLetters where count > 0 { byReason.append((nil, reason, count)) }
        return IntakeStatistics(sites: sites.compactMap { aggregator.counters(site: $0) }, journalOffset: offset,
                                pendingEvents: pendingEvents + queued, deadLettersByReason: byReason,
                                brokerDropped: lastDroppedCount)
    }

    /// The oldest horizon (epoch ms) among sites that have one.
    func oldestHorizon() -> Int64? {
        condition.lock()
        defer { condition.unlock() }
        return sites.compactMap { aggregator.counters(site: $0)?.horizon }.filter { $0 > 0 }.min()
    }

    // MARK: under the lock

    /// Sends what the Sparkplug host asks edge nodes (NCMD Rebirth); set before the intake
    /// connects. Called on the thread that ingested, under the intake's lock: it must not block.
    var sendCommand: (@Sendable (_ topic: String, _ payload: [UInt8]) -> Void)?
    /// A clock record was journaled by this run (the first one says the daemon resumed).
    private var clockResumed = false

    /// The Sparkplug host's timer (``SparkplugTickService``): when a reorder timeout is due,
    /// journals a clock record and ingests it, so the timeout fires — in a replay too, at the
    /// same place in the stream.
    func tick() {
        condition.lock()
        defer { condition.unlock() }
        guard aggregator.hasSparkplugStations, aggregator.sparkplugTimeoutDue(now: Intake.nowMs()) else { return }
        clockRecordLocked(now: Intake.nowMs(), deferWrite: false)
        // No burst may follow (the node went quiet after the gap): what the timeout applied is
        // committed now, not whenever the next message happens to arrive.
        raiseIfIdleLocked()
    }

    /// Journals and ingests a clock record when the host clock is behind `now`.
    private func clockRecordLocked(now: Int64, deferWrite: Bool) {
        // Without a journal (shared lines) there is no Sparkplug input: Daemon.openShared refuses it.
        guard let journal, aggregator.hasSparkplugStations, now > aggregator.sparkplugClock else { return }
        var topic = Aggregator.clockTopic
        let payload = Aggregator.clockPayload(now, resumed: !clockResumed)
        clockResumed = true
        topic.withUTF8 { t in
            payload.withUnsafeBytes { p in
                let topic = UnsafeRawBufferPointer(t)
                let written = deferWrite ? journal.appendBuffered(topic: topic, payload: p) : journal.append(topic: topic, payload: p)
                guard let end = written else { journalFailed() }
                ingestLocked(topic: topic, payload: p, endOffset: end, now: now)
            }
        }
    }

    private func ingestLocked(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, endOffset: Int64, now: Int64) {
        offset = endOffset
        let outcome = aggregator.ingest(topic: topic, payload: payload, now: now)
        if aggregator.hasSparkplugStations {
            for command in aggregator.takeSparkplugCommands() { sendCommand?(command.topic, command.payload) }
        }
        if case .deadLetter(let reason, let detail) = outcome {
            deadLetters.append(DeadLetterMessage(topic: String(decoding: topic, as: UTF8.self), reason: reason.rawValue,
                                                 detail: detail, payload: Array(payload)))
        }
        pendingEvents += 1
        if pendingEvents >= commitMaxEvents {
            queue.append(drainLocked(dueAt: .now))
            signal.raise()
        } else if pendingEvents == 1 {
            firstPending = .now  // the burst's end (or `maxDelay`) commits it
        }
    }

    private func drainLocked(dueAt: ContinuousClock.Instant) -> PendingCommit {
        // The batch's offset must be in the file before the store can record it.
        if let journal, !journal.writeBuffered() { journalFailed() }
        let pending = PendingCommit(batch: aggregator.drainCommit(journalOffset: offset), deadLetters: deadLetters,
                                    events: pendingEvents, dueAt: dueAt)
        deadLetters = []
        pendingEvents = 0
        horizonRaised = false
        return pending
    }

    /// Logs when the broker reports dropped messages (its queues overflowed: a config problem).
    private func noteBrokerDrops(_ payload: UnsafeRawBufferPointer) {
        let text = String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard let count = Int64(text) else { return }
        condition.lock()
        defer { condition.unlock() }
        if count > (lastDroppedCount ?? 0) {
            logger.warning("the broker dropped \(count - (lastDroppedCount ?? 0)) messages (\(Intake.droppedTopic) = \(count)): raise its queue limits")
        }
        lastDroppedCount = count
    }

    /// Wall-clock now, epoch ms (what `max_future_s` is checked against).
    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
