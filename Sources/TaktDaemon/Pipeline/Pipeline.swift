import Foundation
import Logging
import MQTT
import TaktCore
import TaktStore

/// The pipeline's single owner of mutable state: the aggregator, the journal offset that the
/// next commit records, and the commit schedule. Messages come in batches from the intake;
/// commits go to the store in one transaction each, then their rows go out on the metrics topics.
actor Pipeline {
    private var aggregator: Aggregator
    private let store: any RollupStore
    private let journal: Journal
    private let publisher: MQTTClient
    private let logger: Logger
    private let commitMaxEvents: Int
    private let commitInterval: Duration
    /// `1m` rows whose window ended this long (ms) before the oldest site horizon are deleted.
    private let minuteRetentionMs: Int64
    private var lastPrune = ContinuousClock.now
    /// Output station of each (site, line): their rows are the line's metrics.
    private let outputStations: [String: Set<String>]
    /// The sites of the plant files, in file order.
    private let sites: [String]

    /// Journal offset just past the last message given to the aggregator.
    private var offset: Int64
    private var pendingEvents = 0
    private var lastCommit = ContinuousClock.now
    private var lastDroppedCount: Int64?
    private(set) var commits = 0

    init(aggregator: Aggregator, store: any RollupStore, journal: Journal, publisher: MQTTClient,
         plants: [Plant], offset: Int64, commitMaxEvents: Int, commitIntervalMs: Int, minuteRetentionMs: Int64,
         logger: Logger) {
        self.minuteRetentionMs = minuteRetentionMs
        self.aggregator = aggregator
        self.store = store
        self.journal = journal
        self.publisher = publisher
        self.offset = offset
        self.commitMaxEvents = commitMaxEvents
        self.commitInterval = .milliseconds(commitIntervalMs)
        self.logger = logger
        var outputs: [String: Set<String>] = [:]
        for plant in plants {
            for line in plant.lines { outputs[plant.site, default: []].insert("\(line.id)/\(line.outputStation)") }
        }
        self.outputStations = outputs
        self.sites = plants.map(\.site)
    }

    /// The counters `/metrics` shows.
    func statistics() -> PipelineStatistics {
        PipelineStatistics(sites: sites.compactMap { aggregator.counters(site: $0) }, commits: commits,
                           journalOffset: offset, pendingEvents: pendingEvents)
    }

    /// Feeds one batch of received messages; commits whenever `commitMaxEvents` are pending.
    func ingest(_ batch: [MQTTMessage]) async throws {
        let now = Pipeline.nowMs()
        for message in batch {
            guard IntakeFilter.isDeviceTraffic(message.topic) else {
                if message.topic == Daemon.droppedTopic { noteBrokerDrops(message.payload) }
                continue
            }
            offset += Journal.recordSize(topicBytes: message.topic.utf8.count, payloadBytes: message.payload.count)
            let outcome = message.payload.withUnsafeBytes { payload in
                var topic = message.topic
                return topic.withUTF8 { aggregator.ingest(topic: UnsafeRawBufferPointer($0), payload: payload, now: now) }
            }
            if case .deadLetter(let reason, let detail) = outcome {
                let letter = DeadLetterMessage(topic: message.topic, reason: reason.rawValue, detail: detail, payload: message.payload)
                try await publisher.publish(topic: OutboundTopic.deadLetter, payload: letter.bytes, qos: .atLeastOnce)
            }
            pendingEvents += 1
            // Inside the batch, not after it: a backlog batch holds up to the inbox's capacity
            // (65,536), and one commit of all of it kept the intake waiting past its keepalive on
            // a 4,000-station plant (docs/BENCHMARKS.md, issue 6).
            if pendingEvents >= commitMaxEvents {
                try await commit()
            }
        }
    }

    /// Commits when anything is pending and the commit interval has passed.
    func commitIfDue() async throws {
        if pendingEvents > 0 && ContinuousClock.now - lastCommit >= commitInterval {
            try await commit()
        }
    }

    /// Writes everything pending in one store transaction, drops journal segments it covers,
    /// and publishes the rows that changed.
    func commit() async throws {
        let batch = aggregator.drainCommit(journalOffset: offset)
        pendingEvents = 0
        lastCommit = .now
        guard !batch.updates.isEmpty || !batch.stations.isEmpty || !batch.sites.isEmpty else { return }
        let rows: [WindowRow]
        do {
            rows = try store.commit(batch)
        } catch {
            // The drained deltas exist only in memory now; carrying on would lose them. Stop, and
            // let the restart replay the journal from the last committed offset.
            logger.critical("commit failed, stopping so that a restart replays the journal: \(error)")
            throw error
        }
        commits += 1
        journal.release(before: offset)
        try await publish(rows)
        if ContinuousClock.now - lastPrune >= .seconds(60) { pruneMinuteRows() }
    }

    /// Deletes `1m` rows that no event can reach any more: their window ended `minute_retention`
    /// (≥ `max_age`) before the oldest site horizon, so a late event for them is `too_old`
    /// anyway. `1h` and `1d` rows are kept. Runs at most once a minute and at shutdown.
    func pruneMinuteRows() {
        lastPrune = .now
        let horizons = sites.compactMap { aggregator.counters(site: $0)?.horizon }.filter { $0 > 0 }
        guard let oldest = horizons.min() else { return }
        do {
            let deleted = try store.pruneRows(tier: .minute, endingAtOrBefore: oldest - minuteRetentionMs)
            if deleted > 0 { logger.info("pruned \(deleted) 1m rows older than the minute retention") }
        } catch {
            logger.error("pruning 1m rows failed: \(error)")
        }
    }

    /// Publishes the line rows (output stations) and the `_site` rows of the windows they touched.
    private func publish(_ rows: [WindowRow]) async throws {
        var siteWindows: [String: (site: String, tier: WindowTier, start: Int64)] = [:]
        for row in rows {
            guard let station = row.station, outputStations[row.site]?.contains("\(row.line)/\(station)") == true else { continue }
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

    /// Logs when the broker reports dropped messages (its queues overflowed: a config problem).
    private func noteBrokerDrops(_ payload: [UInt8]) {
        guard let count = Int64(String(decoding: payload, as: UTF8.self).trimmingCharacters(in: .whitespaces)) else { return }
        if let last = lastDroppedCount, count > last {
            logger.warning("the broker dropped \(count - last) messages (\(Daemon.droppedTopic) = \(count)): raise its queue limits")
        }
        lastDroppedCount = count
    }

    static func nowMs() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}
