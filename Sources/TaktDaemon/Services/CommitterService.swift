import Logging
import MQTT
import ServiceLifecycle
import TaktCore

/// Commits what the intake aggregates: first the journal's backlog (what was received but not
/// committed before the last stop), then every batch the intake drains — at once for a full
/// batch; for the rest as soon as the intake goes idle (a receive burst ended with events
/// pending), or `commitInterval` after the oldest of them while bursts keep coming. Commits are
/// paced by ``CommitPacing``: the next starts no sooner than a gap after the last one ended,
/// so under load the batches grow instead of the commits multiplying. It sleeps on the intake's
/// ``CommitSignal`` and never polls. It also runs the ``MetricsPublisher``'s task, which
/// publishes what each commit wrote.
///
/// Graceful shutdown reaches it after the intake has closed: it stops a replay at the next
/// commit (the rest of the journal is replayed at the next start), commits everything the
/// intake holds, prunes, and fsyncs the journal. A publisher that cannot reach the broker then
/// is closed first, so nothing waits for it; the rows are in the store.
struct CommitterService: Service {
    let pipeline: Pipeline
    let intake: Intake
    /// nil when several daemons share the store: nothing to replay (the broker delivers again
    /// what was never acknowledged).
    let journal: Journal?
    let publisher: MQTTClient
    /// The store's journal offset at start-up.
    let replayFrom: Int64
    /// The longest a pending event waits for its commit while receive bursts keep coming.
    let commitInterval: Duration
    /// The gap between commits (`commit_min_gap_ms` and the last commit's duration).
    let pacing: CommitPacing
    let metrics: MetricsPublisher
    let publisherConnected: StartupGate
    /// Opened when the backlog is committed: the intake may connect.
    let replayed: StartupGate
    let logger: Logger

    func run() async throws {
        let publishing = Task { await metrics.run() }
        defer { metrics.finish() }
        do {
            try await withGracefulShutdownHandler {
                do {
                    try await cancelWhenGracefulShutdown { try await publisherConnected.wait() }
                } catch is CancellationError {
                    return  // shut down before the broker was reached: the journal waits for the next start
                }
                if let journal { try await replay(journal) }
                guard !Task.isShuttingDownGracefully else { return }
                replayed.open()
                try await commitAsDue()
            } onGracefulShutdown: {
                if case .connected = publisher.state {} else { publisher.close() }
                Task { await pipeline.beginShutdown() }
                intake.signal.raise()
            }
        } catch {
            // Never leave the network thread waiting for queue space. Without a journal the
            // waiting threads hold unacknowledged messages: only the line sessions, once
            // abandoned, may let them go (LineSessionsService).
            if journal != nil { intake.finish() }
            metrics.finish()
            await publishing.value
            throw error
        }
        // The intake service has closed its connection (it stops first); whatever it read is
        // committed now.
        intake.finish()
        try await pipeline.commitReady(.everything)
        // Every committed row published (handed to the publisher connection) before the
        // publisher service says offline.
        metrics.finish()
        await publishing.value
        await pipeline.pruneMinuteRows()
        journal?.flush()
        logger.info("committer stopped after \(pipeline.statistics.snapshot.commits) commits")
    }

    /// The committing loop, until a graceful shutdown: full batches at once; what is pending
    /// when ``Intake/commitDue(maxDelay:)`` says so, paced.
    private func commitAsDue() async throws {
        var notBefore = ContinuousClock.now
        var minGapEnd = notBefore
        while !Task.isShuttingDownGracefully {
            try await pipeline.commitReady(.queued)
            switch intake.commitDue(maxDelay: commitInterval) {
            case .nothing:
                await intake.signal.wait(until: nil)
            case .at(let deadline):
                await intake.signal.wait(until: deadline)
            case .now:
                // Without a journal, network threads waiting for this commit hold their PUBACKs
                // (and with them the broker's next messages): no pacing then. Nor when the
                // stream paused (nothing read for `pacing.quiet`): what is pending is its tail,
                // and no later batch would join it.
                let now = ContinuousClock.now
                if now < notBefore && !intake.acknowledgementsWaiting {
                    // The gap's floor (`minGap`) holds either way: a slow stream still gets at
                    // most one commit per `minGap`, not one per message.
                    let earliestIfQuiet = max(minGapEnd, intake.quietAt(after: pacing.quiet))
                    if earliestIfQuiet > now {
                        // A full batch still wakes it (the network thread waits for those).
                        await intake.signal.wait(until: min(notBefore, earliestIfQuiet))
                        continue
                    }
                }
                let started = ContinuousClock.now
                try await pipeline.commitPending()
                let ended = ContinuousClock.now
                notBefore = pacing.next(started: started, ended: ended)
                minGapEnd = ended + pacing.minGap
            }
        }
    }

    /// Replays the journal past the store's offset, committing as it goes; stops early at a
    /// graceful shutdown (what is committed is consistent: each commit carries its offset).
    /// Reads one segment at a time; damaged stretches are skipped, logged and counted.
    private func replay(_ journal: Journal) async throws {
        var reader = try journal.reader(from: replayFrom)
        let now = Intake.nowMs()
        var replayed = 0
        var stopped = false
        var reportedDamage = 0
        func reportDamage() {
            for damage in reader.damaged.dropFirst(reportedDamage) {
                logger.error("journal damaged at offset \(damage.offset): \(damage.bytes) bytes skipped to the next valid record")
                pipeline.statistics.journalDamaged(bytes: damage.bytes)
            }
            reportedDamage = reader.damaged.count
        }
        while let record = try reader.next() {
            if replayed == 0 { logger.info("replaying journaled messages past offset \(replayFrom)") }
            reportDamage()
            if Task.isShuttingDownGracefully {
                stopped = true
                break
            }
            intake.replay(record, now: now)
            replayed += 1
            try await pipeline.commitReady(.queued)
        }
        reportDamage()
        guard replayed > 0 else { return }
        try await pipeline.commitReady(.everything)
        if stopped {
            logger.info("replay stopped by shutdown after \(replayed) messages; the rest is replayed at the next start")
        } else {
            logger.info("replayed \(replayed) journaled messages")
        }
    }
}

/// How soon a commit may follow the last one: `minGap`, or `factor` × the last commit's
/// duration when that is longer, at most `maxGap`. With the intake idle a message therefore
/// waits at most about `minGap` for its commit; under load the committer is busy at most
/// 1 / (1 + `factor`) of the time and the batches grow to fill the gap (adaptive batch size),
/// so the commits' fixed cost (a transaction, an fsync) does not multiply with the rate. When
/// the stream pauses for `quiet`, the gap ends early (but not before `minGap`): the batch cannot
/// grow any more, and a burst's last events — a run's end — would otherwise wait up to `maxGap`.
struct CommitPacing: Sendable {
    var minGap: Duration
    var factor: Int = 4
    var maxGap: Duration
    /// A pause of the stream this long ends the gap early: nothing more is coming to grow the
    /// batch, and the last events of a burst (a run's end) would otherwise wait up to `maxGap`.
    var quiet: Duration = .milliseconds(5)

    /// The earliest start of the next commit after one that ran from `started` to `ended`.
    func next(started: ContinuousClock.Instant, ended: ContinuousClock.Instant) -> ContinuousClock.Instant {
        ended + min(maxGap, max(minGap, (ended - started) * factor))
    }
}
