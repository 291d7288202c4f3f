import Prometheus
import Synchronization
import TaktCore

/// `/metrics`: the pipeline's counters in a swift-prometheus registry (the one `taktd`
/// bootstraps swift-metrics with, so Hummingbird's `MetricsMiddleware` request metrics land in
/// the same exposition).
///
/// The pipeline keeps its counters exact under its own locks (``IntakeStatistics``,
/// ``CommitterStatistics``); a scrape brings the registry's counters up to them (by the
/// difference since the last scrape, so they stay monotonic) and sets the gauges. Only the
/// commit latency histogram is recorded as commits happen (``recordCommit(_:)``).
final class DaemonMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    private let commitLatency: DurationHistogram
    /// What each counter (name + labels) was brought up to at the last scrape.
    private let seen = Mutex<[String: Int64]>([:])
    /// One scrape at a time (the counters' differences must not be applied twice).
    private let scrapeLock = Mutex(())

    /// The names of every metric family taktd exports itself (Grafana's dashboard test checks its
    /// PromQL against this list).
    static let families: [String] = [
        "takt_messages_accepted_total", "takt_messages_duplicate_total", "takt_dead_letters_total", "takt_seq_missing",
        "takt_site_horizon_ms", "takt_commits_total", "takt_commit_delay_seconds_max", "takt_commit_delay_seconds_sum",
        "takt_commit_latency_seconds", "takt_publishes_skipped_total", "takt_journal_offset_bytes", "takt_journal_lag_bytes",
        "takt_pending_events", "takt_dead_letters_by_reason_total", "takt_dead_letters_unpublished_total",
        "takt_broker_dropped_messages", "takt_commit_failures_total", "takt_journal_damaged_total",
        "takt_journal_damaged_bytes_total", "takt_live_rows", "takt_live_bytes", "takt_live_subscribers", "takt_alerts_active",
    ]

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        commitLatency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "takt_commit_latency_seconds", unitName: "",
                                             helpText: "Time from a batch becoming due to the end of its store transaction."),
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10)])
    }

    /// One commit's delay (called by the committer's observer).
    func recordCommit(_ delay: Duration) { commitLatency.record(delay) }

    private func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    /// Brings a counter up to `value` (a pipeline total that never goes down).
    private func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Int64) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let delta = seen.withLock { seen -> Int64 in
            let before = seen[key] ?? 0
            seen[key] = max(before, value)
            return value > before ? value - before : 0
        }
        let c = labels.isEmpty ? registry.makeCounter(descriptor: descriptor(name, help))
            : registry.makeCounter(descriptor: descriptor(name, help), labels: labels)
        if delta > 0 { c.increment(by: delta) }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        let g = labels.isEmpty ? registry.makeGauge(descriptor: descriptor(name, help))
            : registry.makeGauge(descriptor: descriptor(name, help), labels: labels)
        g.set(to: value)
    }

    /// What one scrape reads, taken by the HTTP handler.
    struct Inputs {
        var intake: IntakeStatistics
        var committer: CommitterStatistics.Snapshot
        var committedOffset: Int64?
        var live: [(tier: WindowTier, rows: Int, bytes: Int)]
        var subscribers: Int
        var activeAlerts: [AlertKind: Int]
    }

    /// The Prometheus text exposition after bringing the registry up to `inputs`.
    func exposition(_ inputs: Inputs) -> [UInt8] {
        scrapeLock.withLock { _ in
            update(inputs)
            return registry.emitToBuffer()
        }
    }

    private func update(_ i: Inputs) {
        for s in i.intake.sites {
            let site = [("site", s.site)]
            counter("takt_messages_accepted_total", "Distinct messages counted into windows.", site, s.accepted)
            counter("takt_messages_duplicate_total", "Messages whose (source, seq) was already counted.", site, s.duplicates)
            counter("takt_dead_letters_total", "Messages rejected as dead letters (of a known site).", site, s.deadLetters)
            gauge("takt_seq_missing", "Gaps in the sources' seq (messages never received).", site, Double(s.missing))
            gauge("takt_site_horizon_ms", "The site's newest event time, epoch ms.", site, Double(s.horizon))
        }
        let c = i.committer
        counter("takt_commits_total", "Store transactions committed since start.", [], Int64(c.commits))
        gauge("takt_commit_delay_seconds_max",
              "Longest time from a batch becoming due (full, or drained to be committed) to the end of its transaction.", [],
              c.maxCommitDelaySeconds)
        gauge("takt_commit_delay_seconds_sum", "Sum of those times (divide by takt_commits_total for the mean).", [],
              c.commitDelaySumSeconds)
        counter("takt_publishes_skipped_total", "Metrics and dead-letter publishes skipped: the publisher closed at shutdown, or a _site row could not be read.", [],
                Int64(c.unpublished))
        gauge("takt_journal_offset_bytes", "Journal offset of the last message given to the pipeline.", [],
              Double(i.intake.journalOffset))
        if let committed = i.committedOffset {
            gauge("takt_journal_lag_bytes", "Journal bytes received but not committed yet.", [],
                  Double(max(0, i.intake.journalOffset - committed)))
        }
        gauge("takt_pending_events", "Messages processed but not yet committed.", [], Double(i.intake.pendingEvents))
        for d in i.intake.deadLettersByReason {
            counter("takt_dead_letters_by_reason_total", "Dead letters since start by site and reason (site=\"\": no known site).",
                    [("site", d.site ?? ""), ("reason", d.reason.rawValue)], d.count)
        }
        counter("takt_dead_letters_unpublished_total",
                "Dead letters counted but not published on takt/v1/deadletter (its rate limit).", [], Int64(c.deadLettersNotPublished))
        if let dropped = i.intake.brokerDropped {
            gauge("takt_broker_dropped_messages",
                  "The broker's $SYS/broker/publish/messages/dropped (its queues overflowed: raise its limits).", [], Double(dropped))
        }
        counter("takt_commit_failures_total", "Commits the store refused (full, read-only, locked), each retried.", [],
                Int64(c.failedCommits))
        counter("takt_journal_damaged_total", "Damaged journal stretches skipped at replay (logged).", [], Int64(c.journalDamages))
        counter("takt_journal_damaged_bytes_total", "Bytes of those stretches.", [], Int64(c.journalDamagedBytes))
        for l in i.live {
            gauge("takt_live_rows", "Window rows held in the ring buffers, by window.", [("window", l.tier.rawValue)], Double(l.rows))
            gauge("takt_live_bytes", "Bytes of the ring buffers' slots, by window.", [("window", l.tier.rawValue)], Double(l.bytes))
        }
        gauge("takt_live_subscribers", "Open /api/v1/live streams.", [], Double(i.subscribers))
        for kind in AlertKind.allCases {
            gauge("takt_alerts_active", "Active alerts by kind.", [("kind", kind.rawValue)], Double(i.activeAlerts[kind] ?? 0))
        }
    }
}
