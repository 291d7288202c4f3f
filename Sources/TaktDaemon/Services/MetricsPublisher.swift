import Logging
import MQTT
import Synchronization
import TaktCore
import TaktStore

/// Publishes committed rows on the metrics topics (contract section 4), off the committer's
/// path: the committer hands each ``CommittedBatch`` over (``committed(_:)``, a lock and a
/// wake-up) and goes on committing, while this task encodes the JSON, derives the `_site` rows
/// and publishes.
///
/// Per turn it takes every row handed over since the last turn, keeping per row key (site, line,
/// station, tier, start) only the highest revision — when the broker or this task falls behind,
/// a row superseded before it was sent is sent once, in its latest revision (revisions on a
/// topic can skip, never go back; memory is bounded by the keys written meanwhile, not by the
/// commits). It publishes them ordered by site, tier, start, line, then the `_site` row of each
/// window touched, after all line rows of the turn (so after the line rows of its window).
///
/// `_site` rows of the `derivedSites` come from ``SiteTotals``: seeded from the store once per
/// window (``RollupStore/siteMembers(site:tier:start:)``), then kept up to date from the
/// committed rows — the same bytes the store's read gives (`SiteTotalsTests`), without a read
/// per commit. That needs this daemon to write every line of the site (it receives all of
/// them: ``derivedSites(plants:subscriptions:)``); for other sites — whose other lines other
/// daemons may write into the same store — each `_site` row is read back after the commit.
/// A daemon whose commits carry a `CommitFence` (line leases: daemons sharing a site's lines)
/// must derive none: pass an empty set.
///
/// QoS 1 publishes through the publisher connection's window; a closed publisher (shutdown with
/// the broker unreachable) ends publishing for good: the rows are in the store, and retained
/// metrics are published again with each window's next revision.
final class MetricsPublisher: CommitObserver, @unchecked Sendable {
    /// The sites whose `_site` rows can be derived from this daemon's own commits: those whose
    /// every line it receives — a subscription to `takt/v1/#` or `takt/v1/{site}/#`.
    static func derivedSites(plants sites: [String], subscriptions: [String]) -> Set<String> {
        Set(sites.filter { site in
            subscriptions.contains { $0 == OutboundTopic.inboundFilterAll || $0 == "takt/v1/\(site)/#" }
        })
    }

    private struct RowID: Hashable {
        var site: String
        var line: String
        var station: String
        var tier: WindowTier
        var start: Int64
    }

    private struct State {
        /// Rows handed over and not taken yet, the highest revision per key.
        var pending: [RowID: SiteMember] = [:]
        var finished = false
    }

    private let publisher: MQTTClient
    private let store: any RollupStore
    /// Sites whose `_site` rows are derived (``SiteTotals``); the others' are read from the store.
    private let derivedSites: Set<String>
    private let statistics: CommitterStatistics
    private let logger: Logger
    private let state = Mutex(State())
    private let signal = CommitSignal()
    /// Only ``run()`` touches these (one task): hence `@unchecked Sendable`.
    private var totals = SiteTotals()
    private var publisherGone = false

    init(publisher: MQTTClient, store: any RollupStore, derivedSites: Set<String>,
         statistics: CommitterStatistics, logger: Logger) {
        self.publisher = publisher
        self.store = store
        self.derivedSites = derivedSites
        self.statistics = statistics
        self.logger = logger
    }

    func committed(_ batch: CommittedBatch) {
        guard !batch.rows.isEmpty else { return }
        state.withLock { s in
            for member in batch.members {
                let r = member.row
                let id = RowID(site: r.site, line: r.line, station: r.station ?? "", tier: r.window, start: r.start)
                if let held = s.pending[id], held.row.revision >= r.revision { continue }
                s.pending[id] = member
            }
        }
        signal.raise()
    }

    /// No more batches: ``run()`` publishes what is pending and returns.
    func finish() {
        state.withLock { $0.finished = true }
        signal.raise()
    }

    /// Rows handed over and not published yet (for tests and `/metrics`).
    var pendingRows: Int { state.withLock { $0.pending.count } }

    /// The publishing task: runs until ``finish()`` and everything handed over before it is
    /// published (or the publisher is gone).
    func run() async {
        while true {
            let (turn, finished) = state.withLock { s in
                defer { s.pending = [:] }
                return (Array(s.pending.values), s.finished)
            }
            if !turn.isEmpty { await publish(turn) }
            if finished && state.withLock({ $0.pending.isEmpty }) { return }
            if turn.isEmpty { await signal.wait(until: nil) }
        }
    }

    private func publish(_ members: [SiteMember]) async {
        let rows = members.sorted { Self.order($0.row, $1.row) }
        var windows: [SiteTotals.WindowID] = []
        var seen = Set<SiteTotals.WindowID>()
        for member in rows {
            let row = member.row
            await publish(topic: OutboundTopic.metrics(site: row.site, line: row.line, tier: row.window), payload: row.jsonBytes)
            let id = SiteTotals.WindowID(site: row.site, tier: row.window, start: row.start)
            if derivedSites.contains(row.site) { totals.apply(member) }
            if seen.insert(id).inserted { windows.append(id) }
        }
        for id in windows {
            guard let siteRow = await siteRow(id) else { continue }
            await publish(topic: OutboundTopic.siteMetrics(site: id.site, tier: id.tier), payload: siteRow.jsonBytes)
        }
    }

    /// The `_site` row of a window after the rows just applied; nil when it cannot be had now
    /// (the store unavailable: the window's next commit publishes it again, a later revision).
    private func siteRow(_ id: SiteTotals.WindowID) async -> WindowRow? {
        do {
            guard derivedSites.contains(id.site) else {
                return try await store.siteRow(site: id.site, tier: id.tier, start: id.start)
            }
            if !totals.contains(id) {
                // The store holds every line's row of the window, these commits' included.
                totals.seed(id, members: try await store.siteMembers(site: id.site, tier: id.tier, start: id.start))
            }
            return totals.siteRow(id)
        } catch {
            statistics.notPublished()
            logger.warning("_site row of \(id.site) \(id.tier.rawValue) \(id.start) not published: \(error)")
            return nil
        }
    }

    private func publish(topic: String, payload: [UInt8]) async {
        guard !publisherGone else { return statistics.notPublished() }
        do {
            try await publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: true)
        } catch let error as MosquittoError where error.kind == .closed {
            publisherGone = true
            statistics.notPublished()
            logger.warning("publisher closed: the rest of the metrics are not published (the rows are in the store)")
        } catch {
            statistics.notPublished()
            logger.warning("metrics publish on \(topic) failed: \(error)")
        }
    }

    /// Site, tier (`1m`, `1h`, `1d`), start, line, station — the store's order.
    private static func order(_ a: WindowRow, _ b: WindowRow) -> Bool {
        if a.site != b.site { return a.site.utf8.lexicographicallyPrecedes(b.site.utf8) }
        if a.window != b.window { return a.window.sortIndex < b.window.sortIndex }
        if a.start != b.start { return a.start < b.start }
        if a.line != b.line { return a.line.utf8.lexicographicallyPrecedes(b.line.utf8) }
        return (a.station ?? "").utf8.lexicographicallyPrecedes((b.station ?? "").utf8)
    }
}

extension WindowTier {
    /// `1m`, `1h`, `1d`.
    fileprivate var sortIndex: Int { WindowTier.allCases.firstIndex(of: self)! }
}
