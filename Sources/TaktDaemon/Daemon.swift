import Foundation
import Logging
import MQTT
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
/// 4. Hummingbird (`--http`) — reads the store and the counters, never the committer's path.
/// 5. ``IntakeService`` — the subscribing connection; opens only after the replay. Stopped
///    first, so nothing new arrives while the rest drains.
public final class Daemon: Sendable {
    let settings: DaemonSettings
    let logger: Logger
    /// Held as long as the daemon exists (the process).
    let lock: DataDirectoryLock
    let store: any RollupStore
    let journal: Journal
    let intake: Intake
    /// The journal offset the store had at start-up (where the replay begins).
    let committedOffset: Int64
    let started: String

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
        return Daemon(settings: settings, logger: logger, lock: lock, store: store, journal: journal, intake: intake,
                      committedOffset: saved.journalOffset)
    }

    private init(settings: DaemonSettings, logger: Logger, lock: DataDirectoryLock, store: any RollupStore, journal: Journal,
                 intake: Intake, committedOffset: Int64) {
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
        StatusMessage(online: online, instance: settings.configuration.instance, version: taktVersion, started: started)
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
            derivedSites: MetricsPublisher.derivedSites(plants: settings.plants.map(\.site), subscriptions: configuration.subscriptions),
            statistics: statistics, logger: logger)
        let pipeline = Pipeline(intake: intake, store: store, journal: journal, publisher: publisher,
                                minuteRetentionMs: configuration.minuteRetentionMs ?? configuration.maxAgeMs,
                                slowCommit: .milliseconds(configuration.commitIntervalMs), committedOffset: committedOffset,
                                deadLettersPerSecond: configuration.deadLettersPerSecond, statistics: statistics,
                                observers: [metrics], logger: logger)
        let publisherConnected = StartupGate()
        let replayed = StartupGate()
        let intake = self.intake
        let intakeClient = MQTTClient(configuration: settings.mqtt(
            clientID: configuration.intakeClientID, cleanSession: false, will: nil,
            messageHandler: { intake.receive($0) }, messageBatchEnded: { intake.batchEnded() }))

        let onlineStatus = OnlineStatus(publisher: publisher, topic: statusTopic, online: status(online: true).bytes)

        var services: [any Service] = [
            PublisherService(publisher: publisher, status: onlineStatus, offline: status(online: false).bytes,
                             connected: publisherConnected, broker: settings.broker, logger: logger),
        ]
        if case .interval(let ms) = configuration.journalFsync {
            services.append(JournalSyncService(journal: journal, interval: .milliseconds(ms)))
        }
        services.append(CommitterService(
            pipeline: pipeline, intake: intake, journal: journal, publisher: publisher,
            replayFrom: committedOffset, commitInterval: .milliseconds(configuration.commitIntervalMs),
            pacing: CommitPacing(minGap: .milliseconds(configuration.commitMinGapMs),
                                 maxGap: .milliseconds(max(configuration.commitIntervalMs, configuration.commitMinGapMs))),
            metrics: metrics, publisherConnected: publisherConnected, replayed: replayed, logger: logger))
        if let address = settings.httpAddress {
            let online = status(online: true).bytes
            services.append(DaemonHTTP.application(
                address: address, intake: intake, committer: pipeline.statistics, store: store,
                linesPerSite: Dictionary(uniqueKeysWithValues: settings.plants.map { ($0.site, $0.lines.count) }),
                maxRows: configuration.maxRows, status: { online }, logger: logger))
        }
        services.append(IntakeService(
            client: intakeClient, intake: intake, subscriptions: configuration.subscriptions, status: onlineStatus,
            replayed: replayed, logger: logger))
        return services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) }
    }
}
