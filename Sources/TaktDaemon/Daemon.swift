import Foundation
import Logging
import MQTT
import ServiceLifecycle
import TaktCore
import TaktStore

#if canImport(Glibc)
import Glibc
#endif

/// `taktd`: journal → aggregate → commit → publish, as one service.
///
/// Start-up: open the store, restore dedup/timeline state, replay the journal past the
/// committed offset (what was received but not committed before a crash), connect the
/// publisher (its will marks the instance offline) and the intake (fixed client id, persistent
/// session, QoS 1, subscribed on every connect). Shutdown (SIGTERM/SIGINT through the service
/// group): stop the intake, process what it had, commit, publish the offline status, exit.
public final class Daemon: Service {
    /// How often the committer looks for drained batches and due commits.
    static let committerTick: Duration = .milliseconds(5)

    let configuration: DaemonConfiguration
    let plants: [Plant]
    let store: any RollupStore
    let journal: Journal
    let logger: Logger
    /// What the store had at start-up.
    let saved: StoreState
    /// The aggregator built from the plants (restored and handed to the pipeline in `run`).
    let aggregator: Aggregator

    /// Loads plants, opens the store and the journal. Throws `DaemonConfigurationError` for
    /// problems of the configuration (exit 2) and other errors for runtime failures (exit 1).
    public init(configuration: DaemonConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        guard !configuration.plants.isEmpty else {
            throw DaemonConfigurationError("--plant: no plant file given (the daemon counts only sites a plant file names)")
        }
        var plants: [Plant] = []
        for path in configuration.plants {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw DaemonConfigurationError("--plant: cannot read '\(path)'")
            }
            do {
                plants.append(try Plant.load(yaml: text, fileName: path))
            } catch {
                throw DaemonConfigurationError(error.description)
            }
        }
        if let retention = configuration.minuteRetentionMs, retention < configuration.maxAgeMs {
            throw DaemonConfigurationError("minute_retention must be at least max_age (a late event could reach a pruned 1m row)")
        }
        if configuration.http != "off" {
            _ = try DaemonHTTP.bindAddress(configuration.http)
        }
        if Set(plants.map(\.site)).count != plants.count {
            throw DaemonConfigurationError("--plant: two plant files name the same site")
        }
        self.plants = plants
        _ = try MQTTBrokerURL(configuration.broker)
        let storeURL: StoreURL
        do {
            storeURL = try StoreURL(parsing: configuration.storeURL)
        } catch {
            throw DaemonConfigurationError("--store: \(error)")
        }
        if case .sqlite = storeURL {
            try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        }
        self.store = try storeURL.open(readOnly: false)
        self.saved = try store.loadState()
        self.journal = try Journal(directory: URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("journal"),
                                   fsync: configuration.journalFsync, minimumOffset: saved.journalOffset)
        do {
            self.aggregator = try Aggregator(plants: plants, settings: AggregatorSettings(
                maxAgeMs: configuration.maxAgeMs, maxPayloadBytes: configuration.maxPayloadBytes,
                maxFutureS: Int64(configuration.maxFutureS)))
        } catch {
            throw DaemonConfigurationError(error.description)
        }
    }

    public func run() async throws {
        let started = ISO8601DateFormatter().string(from: Date())
        let instance = configuration.instance

        // 1. Restore.
        var aggregator = self.aggregator
        let report = try aggregator.restore(stations: saved.stations, sites: saved.sites)
        if !report.ignoredStations.isEmpty || !report.ignoredSites.isEmpty {
            logger.warning("stored state of stations or sites the plant files no longer name was ignored: \(report.ignoredStations.count) stations, \(report.ignoredSites.count) sites")
        }
        let replay = try journal.records(from: saved.journalOffset)
        let intake = Intake(aggregator: aggregator, journal: journal,
                            offset: replay.isEmpty ? max(saved.journalOffset, journal.endOffset) : saved.journalOffset,
                            sites: plants.map(\.site), commitMaxEvents: configuration.commitMaxEvents, logger: logger)

        // 2. Publisher: metrics, dead letters, status (its will says offline).
        let offline = StatusMessage(online: false, instance: instance, version: taktVersion, started: started)
        let publisher = MQTTClient(configuration: try configuration.mqtt(
            clientID: "\(configuration.intakeClientID)-out", cleanSession: true,
            will: MQTTWill(topic: OutboundTopic.status(instance: instance), payload: offline.bytes, qos: .atLeastOnce, retain: true),
            messageHandler: nil, messageBatchEnded: nil))
        let pipeline = Pipeline(intake: intake, store: store, journal: journal, publisher: publisher,
                                minuteRetentionMs: configuration.minuteRetentionMs ?? configuration.maxAgeMs, logger: logger)
        try await publisher.connect()
        logger.info("connected to \(configuration.broker) as \(instance)")

        // 3. Replay what was received but not committed before the last stop, before anything new.
        let now = Intake.nowMs()
        for record in replay {
            intake.replay(record, now: now)
            try await pipeline.commitReady(.queued)
        }
        try await pipeline.commitReady(.everything)
        if !replay.isEmpty {
            logger.info("replayed \(replay.count) journaled messages past offset \(saved.journalOffset)")
        }

        // 4. Intake: journal + aggregation on its network thread, in place (Intake.receive).
        let intakeClient = MQTTClient(configuration: try configuration.mqtt(
            clientID: configuration.intakeClientID, cleanSession: false, will: nil,
            messageHandler: { intake.receive($0) }, messageBatchEnded: { intake.batchEnded() }))
        let journal = self.journal
        let fsyncInterval: Duration? = if case .interval(let ms) = configuration.journalFsync { .milliseconds(ms) } else { nil }
        let commitInterval: Duration = .milliseconds(configuration.commitIntervalMs)
        let subscriptions = configuration.subscriptions
        let logger = self.logger
        let http = try configuration.http == "off" ? nil : DaemonHTTP.application(
            address: DaemonHTTP.bindAddress(configuration.http), pipeline: pipeline, store: store,
            status: { StatusMessage(online: true, instance: instance, version: taktVersion, started: started).bytes },
            logger: logger)
        try await withGracefulShutdownHandler {
            // The group ends when the committer has seen the intake closed (not when the HTTP
            // server stops, which it does first at a graceful shutdown).
            try await withThrowingTaskGroup(of: Bool.self) { group in
                if let http {
                    group.addTask { try await http.run(); return false }
                }
                group.addTask {
                    // The committer: batches the intake drained (every commit_max_events) and,
                    // every commit_interval, whatever is pending; the journal's fsync interval.
                    var lastFsync = ContinuousClock.now
                    do {
                        while intakeClient.state != .closed {
                            try await pipeline.commitReady(.due(commitInterval))
                            if let fsyncInterval, ContinuousClock.now - lastFsync >= fsyncInterval {
                                journal.flush()
                                lastFsync = .now
                            }
                            if (try? await Task.sleep(for: Daemon.committerTick)) == nil { intakeClient.close() }
                        }
                        // The network thread may still read a burst before it ends; with the
                        // committer gone it must not wait for queue space (step 5 commits it all).
                        intake.finish()
                        await intakeClient.closeAndWait()
                    } catch {
                        intake.finish()  // never leave the network thread waiting for queue space
                        throw error
                    }
                    return true
                }
                do {
                    try await intakeClient.connect()
                    for filter in subscriptions {
                        try await intakeClient.subscribe(filter, qos: .atLeastOnce)
                    }
                    try await intakeClient.subscribe(Intake.droppedTopic, qos: .atMostOnce)
                    logger.info("intake subscribed to \(subscriptions.joined(separator: ", "))")
                    // Online only once the session exists: from now on the broker keeps every
                    // message for this daemon, whether or not it is running.
                    try await publisher.publish(
                        topic: OutboundTopic.status(instance: instance),
                        payload: StatusMessage(online: true, instance: instance, version: taktVersion, started: started).bytes,
                        qos: .atLeastOnce, retain: true)
                } catch let error as MosquittoError where error.kind == .closed {
                    // Shut down while connecting: fall through to the drain.
                }
                while let committerEnded = try await group.next(), !committerEnded {}
                group.cancelAll()
            }
        } onGracefulShutdown: {
            intakeClient.close()
        }

        // 5. Drain: everything processed is committed and published, then say goodbye.
        try await pipeline.commitReady(.everything)
        await pipeline.pruneMinuteRows()
        journal.flush()
        try await publisher.publish(topic: OutboundTopic.status(instance: instance), payload: offline.bytes, qos: .atLeastOnce, retain: true)
        try await publisher.flush()
        await publisher.closeAndWait()
        journal.close()
        let commits = await pipeline.commits
        logger.info("stopped cleanly after \(commits) commits")
    }
}
