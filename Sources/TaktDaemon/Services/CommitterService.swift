import Logging
import MQTT
import ServiceLifecycle
import TaktCore

/// Commits what the intake aggregates: first the journal's backlog (what was received but not
/// committed before the last stop), then every batch the intake drains — at once for a full
/// batch, at the end of the commit interval for the rest. It sleeps on the intake's
/// ``CommitSignal`` and never polls.
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
    let commitInterval: Duration
    let publisherConnected: StartupGate
    /// Opened when the backlog is committed: the intake may connect.
    let replayed: StartupGate
    let logger: Logger

    func run() async throws {
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
                while !Task.isShuttingDownGracefully {
                    try await pipeline.commitReady(.due(commitInterval))
                    await intake.signal.wait(until: intake.drainDeadline(interval: commitInterval))
                }
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
            throw error
        }
        // The intake service has closed its connection (it stops first); whatever it read is
        // committed now.
        intake.finish()
        try await pipeline.commitReady(.everything)
        await pipeline.pruneMinuteRows()
        journal?.flush()
        logger.info("committer stopped after \(pipeline.statistics.snapshot.commits) commits")
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
