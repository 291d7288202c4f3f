import Foundation
import Logging
import MQTT
import TaktCore
import TaktStore

/// The committer: takes drained batches from the ``Intake`` (which aggregates on the network
/// thread), writes each to the store in one transaction, then publishes its dead letters and
/// the rows that changed on the metrics topics. One actor, so commits happen one at a time and
/// in drain order.
actor Pipeline {
    private let intake: Intake
    private let store: any RollupStore
    private let journal: Journal
    private let publisher: MQTTClient
    private let logger: Logger
    /// `1m` rows whose window ended this long (ms) before the oldest site horizon are deleted.
    private let minuteRetentionMs: Int64
    private var lastPrune = ContinuousClock.now
    private(set) var commits = 0

    init(intake: Intake, store: any RollupStore, journal: Journal, publisher: MQTTClient,
         minuteRetentionMs: Int64, logger: Logger) {
        self.intake = intake
        self.minuteRetentionMs = minuteRetentionMs
        self.store = store
        self.journal = journal
        self.publisher = publisher
        self.logger = logger
    }

    /// The counters `/metrics` shows.
    func statistics() -> PipelineStatistics {
        let s = intake.statistics()
        return PipelineStatistics(sites: s.sites, commits: commits, journalOffset: s.journalOffset, pendingEvents: s.pendingEvents)
    }

    /// Commits every batch the intake hands out under `policy` (see ``Intake/Take``).
    func commitReady(_ policy: Intake.Take) async throws {
        while let pending = intake.take(policy) {
            try await commit(pending)
        }
    }

    /// Writes one batch in one store transaction, drops the journal segments it covers, and
    /// publishes its dead letters and the rows that changed.
    private func commit(_ pending: PendingCommit) async throws {
        let batch = pending.batch
        // Before the commit that counts them: a crash in between replays their messages, and the
        // replay publishes them again (at least once).
        for letter in pending.deadLetters {
            try await publisher.publish(topic: OutboundTopic.deadLetter, payload: letter.bytes, qos: .atLeastOnce)
        }
        var rows: [WindowRow] = []
        if !batch.updates.isEmpty || !batch.stations.isEmpty || !batch.sites.isEmpty {
            do {
                rows = try store.commit(batch, returning: .outputStations)
            } catch {
                // The drained deltas exist only in memory now; carrying on would lose them. Stop,
                // and let the restart replay the journal from the last committed offset.
                logger.critical("commit failed, stopping so that a restart replays the journal: \(error)")
                throw error
            }
            commits += 1
            journal.release(before: batch.journalOffset)
        }
        try await publish(rows)
        if ContinuousClock.now - lastPrune >= .seconds(60) { pruneMinuteRows() }
    }

    /// Deletes `1m` rows that no event can reach any more: their window ended `minute_retention`
    /// (≥ `max_age`) before the oldest site horizon, so a late event for them is `too_old`
    /// anyway. `1h` and `1d` rows are kept. Runs at most once a minute and at shutdown.
    func pruneMinuteRows() {
        lastPrune = .now
        guard let oldest = intake.oldestHorizon() else { return }
        do {
            let deleted = try store.pruneRows(tier: .minute, endingAtOrBefore: oldest - minuteRetentionMs)
            if deleted > 0 { logger.info("pruned \(deleted) 1m rows older than the minute retention") }
        } catch {
            logger.error("pruning 1m rows failed: \(error)")
        }
    }

    /// Publishes the committed rows — the store returned only output stations' rows
    /// (`.outputStations`), which are the lines' metrics — and the `_site` rows of their windows.
    private func publish(_ rows: [WindowRow]) async throws {
        var siteWindows: [String: (site: String, tier: WindowTier, start: Int64)] = [:]
        for row in rows {
            try await publisher.publish(topic: OutboundTopic.metrics(site: row.site, line: row.line, tier: row.window),
                                        payload: row.jsonBytes, qos: .atLeastOnce, retain: true)
            siteWindows["\(row.site)/\(row.window.rawValue)/\(row.start)"] = (row.site, row.window, row.start)
        }
        for window in siteWindows.values.sorted(by: { ($0.site, $0.tier.rawValue, $0.start) < ($1.site, $1.tier.rawValue, $1.start) }) {
            if let siteRow = try store.siteRow(site: window.site, tier: window.tier, start: window.start) {
                try await publisher.publish(topic: OutboundTopic.siteMetrics(site: window.site, tier: window.tier),
                                            payload: siteRow.jsonBytes, qos: .atLeastOnce, retain: true)
            }
        }
    }
}
