import Foundation
import Logging
import Metrics
import MQTT
import Prometheus
import ServiceLifecycle
import TaktCore
import TaktStore

/// `taktd`, assembled: what start-up opens (the store, its saved state, the journal, the
/// aggregator restored from that state) and the services that run the pipeline.
///
/// The services, in dependency order (a ``ServiceGroup`` starts them in this order and, at a
/// graceful shutdown, stops them in the reverse one):
/// 1. ``PublisherService`` — the outbound connection (metrics, dead letters, status; its will
///    says offline). Stopped last: it sends the offline status after everything is committed.
/// 2. ``JournalSyncService`` — the journal's fsync interval.
/// 3. ``CommitterService`` — replays the journal past the store's offset, then commits what the
///    intake drains; at shutdown commits everything left.
/// 4. Hummingbird (`--http`) — reads the rings, the store and the counters, never the committer's path.
/// 5. ``LiveService`` — alerts and the live stream's keep-alive; at shutdown ends the live streams
///    (before the HTTP server stops).
/// 6. ``IntakeService`` — the subscribing connection; opens only after the replay. Stopped
///    first, so nothing new arrives while the rest drains.
public final class Daemon: Sendable {
    let settings: DaemonSettings
    let logger: Logger
    /// Held as long as the daemon exists (the process).
    let lock: DataDirectoryLock
    let store: any RollupStore
    /// nil when the lines are shared (``openShared(settings:logger:store:lock:fence:)``).
    let journal: Journal?
    let intake: Intake
    /// Shared lines: the leases this daemon commits under, and the site counters its
    /// aggregator was restored with (where the committed increments start).
    let fence: CommitFence?
    let siteBaseline: [SiteCounters]
    /// The journal offset the store had at start-up (where the replay begins).
    let committedOffset: Int64
    let started: String
    /// The ring buffers, live stream and alert inputs, fed by every commit.
    let live: LiveHub
    /// The `/metrics` registry (``bootstrapMetrics()`` makes it swift-metrics' backend too).
    public let metricsRegistry: PrometheusCollectorRegistry

    /// Opens the store (creating and migrating it), loads its state, opens the journal and
    /// restores the aggregator. Throws ``DaemonConfigurationError`` for what the configuration
    /// got wrong (exit 2) and other errors for runtime failures (exit 1).
    public static func open(settings: DaemonSettings, logger: Logger) async throws -> Daemon {
        let configuration = settings.configuration
        var aggregator: Aggregator
        do {
            aggregator = try Aggregator(plants: settings.plants, settings: settings.aggregatorSettings)
        } catch {
            throw DaemonConfigurationError(error.description)
        }
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        let lock = try DataDirectoryLock(directory: configuration.dataDirectory)
        let store = try await settings.store.open(readOnly: false)
        let saved = try await store.loadState()
        let journal = try Journal(directory: settings.journalDirectory, fsync: configuration.journalFsync,
                                  minimumOffset: saved.journalOffset)
        let report = try aggregator.restore(stations: saved.stations, sites: saved.sites)
        if !report.ignoredStations.isEmpty || !report.ignoredSites.isEmpty {
            logger.warning("stored state of stations or sites the plant files no longer name was ignored: \(report.ignoredStations.count) stations, \(report.ignoredSites.count) sites")
        }
        // Nothing to replay: the intake starts at the journal's end.
        let hasBacklog = journal.endOffset > saved.journalOffset
        let intake = Intake(aggregator: aggregator, journal: journal,
                            offset: hasBacklog ? saved.journalOffset : max(saved.journalOffset, journal.endOffset),
                            sites: settings.plants.map(\.site), commitMaxEvents: configuration.commitMaxEvents, logger: logger)
        let (live, registry) = try await openLive(settings: settings, plants: settings.plants, siteWide: true, store: store,
                                                  saved: saved, logger: logger)
        return Daemon(settings: settings, logger: logger, lock: lock, store: store, journal: journal, intake: intake,
                      committedOffset: saved.journalOffset, live: live, registry: registry)
    }

    /// The live side of `plants`: ring buffers filled from the store before anything commits,
    /// the line watch for alerts, the `/metrics` registry. `siteWide: false` (shared lines: the
    /// rings hold only this daemon's lines) sends site-wide queries to the store.
    ///
    /// - Parameter registry: the `/metrics` registry to use; a new one when nil. (A registry
    ///   hands back the metric it already has for a name, so generations can share one.)
    private static func openLive(settings: DaemonSettings, plants: [Plant], siteWide: Bool, store: any RollupStore,
                                 saved: StoreState, registry: PrometheusCollectorRegistry? = nil,
                                 logger: Logger) async throws -> (LiveHub, PrometheusCollectorRegistry) {
        let configuration = settings.configuration
        let windows = LiveWindows(plants: plants, capacities: .init(minute: configuration.live1m, hour: configuration.live1h,
                                                                    day: configuration.live1d),
                                  allStations: configuration.liveAllStations, siteWide: siteWide)
        let fillStart = ContinuousClock.now
        try await windows.fill(from: store)
        let sizes = windows.sizes()
        logger.info("ring buffers filled from the store in \(ContinuousClock.now - fillStart): \(sizes.map { "\($0.tier.rawValue) \($0.rows) rows" }.joined(separator: ", "))")
        let registry = registry ?? PrometheusCollectorRegistry()
        let watch = LineWatch(plants: plants, horizons: Dictionary(saved.sites.map { ($0.site, $0.horizon) }, uniquingKeysWith: max))
        let live = LiveHub(windows: windows, metrics: DaemonMetrics(registry: registry), watch: watch,
                           committedOffset: saved.journalOffset)
        return (live, registry)
    }

    /// Makes the `/metrics` registry the process's swift-metrics backend (Hummingbird's request
    /// metrics go there). Once per process: `taktd` calls it; tests that run a daemon in
    /// process need not.
    public func bootstrapMetrics() {
        Self.bootstrapMetrics(registry: metricsRegistry)
    }

    /// ``bootstrapMetrics()`` for a registry that outlives daemons (shared lines: one for every
    /// generation).
    static func bootstrapMetrics(registry: PrometheusCollectorRegistry) {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Hummingbird's labels are dotted ("hb.requests"); Prometheus names are [a-zA-Z_:][a-zA-Z0-9_:]*.
        factory.nameAndLabelSanitizer = { name, labels in
            func clean(_ s: String) -> String {
                String(s.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") ? $0 : "_" })
            }
            return (clean(name), labels.map { (clean($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
    }

    /// One set of leased lines of a daemon that shares its store (contract section 11): the
    /// aggregator restored from the store for those lines only (their dedup state and
    /// timelines, as the previous owner committed them) and the sites' counters; no journal —
    /// the line sessions acknowledge only what is committed. `store` and `lock` outlive it.
    ///
    /// - Parameter stateHorizons: the store's lease rows (each line's integrated state horizon).
    static func openShared(settings: DaemonSettings, logger: Logger, store: any RollupStore, lock: DataDirectoryLock,
                           fence: CommitFence, stateHorizons: [LeaseRow],
                           registry: PrometheusCollectorRegistry) async throws -> Daemon {
        guard !settings.hasSparkplugStations && !settings.hasUMHStations else {
            // Their topics are not per line (a Sparkplug node can feed several lines), and their
            // exactly-once state needs the journal's clock records: one daemon per store for now.
            throw DaemonConfigurationError("Sparkplug B and UMH stations need one daemon per store: set shared_lines: false")
        }
        var aggregator: Aggregator
        do {
            aggregator = try Aggregator(plants: settings.plants, settings: settings.aggregatorSettings)
        } catch {
            throw DaemonConfigurationError(error.description)
        }
        let saved = try await store.loadState()
        let owned = Set(fence.leases.map(\.line))
        let stations = saved.stations.filter { owned.contains(LineKey(site: $0.station.site, line: $0.station.line)) }
        // A site's stored horizon is the newest event of any daemon; these lines' state time is
        // in the store only up to where their previous holders integrated it. Restore from the
        // lowest of those, then raise to the site's: the next drain fills the gap (state time
        // is written as absolute values per window, so integrating a stretch again is harmless).
        var integrated: [String: Int64] = [:]
        for row in stateHorizons where owned.contains(row.line) {
            integrated[row.line.site] = min(integrated[row.line.site] ?? .max, row.stateHorizonMs)
        }
        let sites = saved.sites.map { counters in
            var c = counters
            c.horizon = min(c.horizon, integrated[c.site] ?? 0)
            return c
        }
        _ = try aggregator.restore(stations: stations, sites: sites)
        let baseline = settings.plants.compactMap { aggregator.counters(site: $0.site) }
        let intake = Intake(aggregator: aggregator, journal: nil, offset: 0, sites: settings.plants.map(\.site),
                            commitMaxEvents: settings.configuration.commitMaxEvents, logger: logger)
        intake.raiseHorizons(Dictionary(saved.sites.map { ($0.site, $0.horizon) }, uniquingKeysWith: max))
        // Rings, alerts and the live stream for the held lines only.
        let heldPlants = settings.plants.map { plant in
            var p = plant
            p.lines = plant.lines.filter { owned.contains(LineKey(site: plant.site, line: $0.id)) }
            return p
        }
        let (live, _) = try await openLive(settings: settings, plants: heldPlants, siteWide: false, store: store,
                                           saved: saved, registry: registry, logger: logger)
        return Daemon(settings: settings, logger: logger, lock: lock, store: store, journal: nil, intake: intake,
                      committedOffset: 0, fence: fence, siteBaseline: baseline, live: live, registry: registry)
    }

    private init(settings: DaemonSettings, logger: Logger, lock: DataDirectoryLock, store: any RollupStore, journal: Journal?,
                 intake: Intake, committedOffset: Int64, fence: CommitFence? = nil, siteBaseline: [SiteCounters] = [],
                 live: LiveHub, registry: PrometheusCollectorRegistry) {
        self.fence = fence
        self.siteBaseline = siteBaseline
        self.live = live
        self.metricsRegistry = registry
        self.lock = lock
        self.settings = settings
        self.logger = logger
        self.store = store
        self.journal = journal
        self.intake = intake
        self.committedOffset = committedOffset
        self.started = ISO8601DateFormatter().string(from: Date())
    }

    /// The status message of this run (`online` or not).
    func status(online: Bool) -> StatusMessage {
        StatusMessage(online: online, instance: settings.configuration.instance, version: taktVersion, started: started,
                      lines: fence.map { $0.leases.map(\.line.description) })
    }

    /// The persistent MQTT session of a leased line: its client id derives from site and line
    /// only, so whichever daemon holds the lease resumes the same session and receives what
    /// the previous holder never acknowledged.
    private func lineSession(_ line: LineKey) -> LineSessionsService.Session {
        let intake = self.intake
        let client = MQTTClient(configuration: settings.mqtt(
            clientID: LineSessionsService.clientID(line), cleanSession: false, will: nil,
            messageHandler: { intake.receive($0) }, messageBatchEnded: { intake.batchEnded() }))
        return LineSessionsService.Session(line: line, client: client)
    }

    /// The services of contract section 5's daemon, in dependency order (see the type's comment).
    /// A service that returns shuts the group down gracefully; one that throws cancels it.
    public func services() -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let configuration = settings.configuration
        let statusTopic = OutboundTopic.status(instance: configuration.instance)
        let publisher = MQTTClient(configuration: settings.mqtt(
            clientID: "\(configuration.intakeClientID)-out", cleanSession: true,
            will: MQTTWill(topic: statusTopic, payload: status(online: false).bytes, qos: .atLeastOnce, retain: true),
            messageHandler: nil, messageBatchEnded: nil))
        let statistics = CommitterStatistics()
        let metrics = MetricsPublisher(
            publisher: publisher, store: store,
            // Daemons sharing lines (a fence) hold only some of a site's lines: its `_site` rows
            // come from the store, which sums every daemon's.
            derivedSites: fence != nil ? [] : MetricsPublisher.derivedSites(plants: settings.plants.map(\.site),
                                                                            subscriptions: configuration.subscriptions),
            statistics: statistics, logger: logger)
        let pipeline = Pipeline(intake: intake, store: store, journal: journal, publisher: publisher,
                                minuteRetentionMs: configuration.minuteRetentionMs ?? configuration.maxAgeMs,
                                slowCommit: .milliseconds(configuration.commitIntervalMs), committedOffset: committedOffset,
                                deadLettersPerSecond: configuration.deadLettersPerSecond, fence: fence,
                                siteBaseline: siteBaseline, returning: live.returning, statistics: statistics,
                                observers: [live, metrics], logger: logger)
        let publisherConnected = StartupGate()
        let replayed = StartupGate()
        let intake = self.intake
        // Sparkplug B (contract section 9): the host's STATE is the intake connection's will.
        let sparkplugState = settings.hasSparkplugStations
            ? configuration.sparkplugHostID.map { SparkplugHostState(hostID: $0, timestamp: Intake.nowMs()) } : nil
        let intakeClient = MQTTClient(configuration: settings.mqtt(
            clientID: configuration.intakeClientID, cleanSession: false, will: sparkplugState?.will,
            messageHandler: { intake.receive($0) }, messageBatchEnded: { intake.batchEnded() }))
        if settings.hasSparkplugStations {
            // NCMD Rebirth on the publisher connection, without waiting (the caller holds the
            // intake's lock); throttled per node by the host state machine.
            intake.sendCommand = { [publisher, logger] topic, payload in
                Task {
                    do {
                        try await publisher.publish(topic: topic, payload: payload, qos: .atLeastOnce, retain: false)
                    } catch {
                        logger.warning("Sparkplug command to \(topic) not sent: \(error)")
                    }
                }
            }
        }

        let onlineStatus = OnlineStatus(publisher: publisher, topic: statusTopic, online: status(online: true).bytes)

        var services: [any Service] = [
            PublisherService(publisher: publisher, status: onlineStatus, offline: status(online: false).bytes,
                             connected: publisherConnected, broker: settings.broker, logger: logger),
        ]
        if let journal, case .interval(let ms) = configuration.journalFsync {
            services.append(JournalSyncService(journal: journal, interval: .milliseconds(ms)))
        }
        services.append(CommitterService(
            pipeline: pipeline, intake: intake, journal: journal, publisher: publisher,
            replayFrom: committedOffset, commitInterval: .milliseconds(configuration.commitIntervalMs),
            pacing: CommitPacing(minGap: .milliseconds(configuration.commitMinGapMs),
                                 maxGap: .milliseconds(max(configuration.commitIntervalMs, configuration.commitMinGapMs))),
            metrics: metrics, publisherConnected: publisherConnected, replayed: replayed, logger: logger))
        let alerts = LiveAlerts(settings: AlertSettings(stoppedAfterMs: configuration.alertStoppedAfterMs,
                                                        silentAfterMs: configuration.alertSilentAfterMs))
        if let address = settings.httpAddress {
            let online = status(online: true).bytes
            services.append(DaemonHTTP.application(address: address, sources: .init(
                intake: intake, committer: pipeline.statistics, store: store, live: live, alerts: alerts,
                metrics: live.metrics,
                linesPerSite: Dictionary(uniqueKeysWithValues: settings.plants.map { ($0.site, $0.lines.count) }),
                plants: Dictionary(uniqueKeysWithValues: settings.plants.map { ($0.site, $0) }),
                maxRows: configuration.maxRows, status: { online },
                brokerConnected: { [sharesLines = fence != nil] in
                    // Shared lines: the line sessions are not watched here (they come and go with leases).
                    guard case .connected = publisher.state else { return false }
                    if sharesLines { return true }
                    guard case .connected = intakeClient.state else { return false }
                    return true
                }), logger: logger))
        }
        services.append(LiveService(hub: live, alerts: alerts, publisher: publisher, replayed: replayed, logger: logger))
        if let fence {
            services.append(LineSessionsService(
                sessions: fence.leases.map { lineSession($0.line) }, intake: intake, status: onlineStatus,
                replayed: replayed, logger: logger))
        } else {
            if settings.hasSparkplugStations {
                services.append(SparkplugHostService(intake: intake, client: intakeClient, state: sparkplugState,
                                                     tickInterval: .milliseconds(100), replayed: replayed, logger: logger))
            }
            var announceState: (@Sendable () async throws -> Void)?
            if let sparkplugState {
                announceState = { try await sparkplugState.announce(on: intakeClient) }
            }
            services.append(IntakeService(
                client: intakeClient, intake: intake, subscriptions: settings.subscriptions, status: onlineStatus,
                replayed: replayed, logger: logger, afterSubscribe: announceState))
        }
        return services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) }
    }
}
