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
    static let droppedTopic = "$SYS/broker/publish/messages/dropped"
    /// A batch smaller than this makes the consumer pause 1 ms before taking the next one.
    static let smallBatch = 256

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

        // 1. Restore and replay.
        var aggregator = self.aggregator
        let report = try aggregator.restore(stations: saved.stations, sites: saved.sites)
        if !report.ignoredStations.isEmpty || !report.ignoredSites.isEmpty {
            logger.warning("stored state of stations or sites the plant files no longer name was ignored: \(report.ignoredStations.count) stations, \(report.ignoredSites.count) sites")
        }
        let replay = try journal.records(from: saved.journalOffset)
        let now = Pipeline.nowMs()
        for record in replay {
            _ = record.topic.withUnsafeBytes { topic in
                record.payload.withUnsafeBytes { aggregator.ingest(topic: topic, payload: $0, now: now) }
            }
        }
        let replayedTo = replay.last?.endOffset ?? max(saved.journalOffset, journal.endOffset)
        if !replay.isEmpty {
            logger.info("replayed \(replay.count) journaled messages past offset \(saved.journalOffset)")
        }

        // 2. Publisher: metrics, dead letters, status (its will says offline).
        let offline = StatusMessage(online: false, instance: instance, version: taktVersion, started: started)
        let publisher = MQTTClient(configuration: try configuration.mqtt(
            clientID: "\(configuration.intakeClientID)-out", cleanSession: true,
            will: MQTTWill(topic: OutboundTopic.status(instance: instance), payload: offline.bytes, qos: .atLeastOnce, retain: true),
            onReceive: nil))
        let pipeline = Pipeline(aggregator: aggregator, store: store, journal: journal, publisher: publisher, plants: plants,
                                offset: replayedTo, commitMaxEvents: configuration.commitMaxEvents,
                                commitIntervalMs: configuration.commitIntervalMs,
                                minuteRetentionMs: configuration.minuteRetentionMs ?? configuration.maxAgeMs, logger: logger)
        try await publisher.connect()
        logger.info("connected to \(configuration.broker) as \(instance)")
        try await pipeline.commit()  // the replayed messages, before anything new

        // 3. Intake: journal on the network thread, before the PUBACK.
        let journal = self.journal
        let logger = self.logger
        let intake = MQTTClient(configuration: try configuration.mqtt(
            clientID: configuration.intakeClientID, cleanSession: false, will: nil,
            onReceive: { message in
                guard IntakeFilter.isDeviceTraffic(message.topic) else { return }
                var topic = message.topic
                let written = topic.withUTF8 { t in
                    message.payload.withUnsafeBytes { journal.append(topic: UnsafeRawBufferPointer(t), payload: $0) }
                }
                if written == nil {
                    // Returning would acknowledge a message we could not keep. Die instead: the
                    // broker redelivers it to the next run.
                    logger.critical("journal append failed (\(journal.failure ?? "unknown")); exiting without acknowledging")
                    _exit(70)
                }
            }))
        // 4. Run until the intake ends (graceful shutdown closes it). The consumer starts before
        // the intake connects: a persistent session delivers its backlog right after CONNACK,
        // and with nobody draining the inbox the network thread would block before the SUBACK.
        let fsyncInterval: Int? = if case .interval(let ms) = configuration.journalFsync { ms } else { nil }
        let subscriptions = configuration.subscriptions
        let http = try configuration.http == "off" ? nil : DaemonHTTP.application(
            address: DaemonHTTP.bindAddress(configuration.http), pipeline: pipeline, store: store,
            status: { StatusMessage(online: true, instance: instance, version: taktVersion, started: started).bytes },
            logger: logger)
        try await withGracefulShutdownHandler {
            // The group ends when the consumer has drained the intake (not when the HTTP server
            // stops, which it does first at a graceful shutdown).
            try await withThrowingTaskGroup(of: Bool.self) { group in
                if let http {
                    group.addTask { try await http.run(); return false }
                }
                group.addTask {
                    for await batch in intake.messageBatches {
                        try await pipeline.ingest(batch)
                        // The pipeline is faster than the network thread, so without a pause it
                        // parks after every batch and each message wakes it again: one task
                        // switch per message (measured: docs/BENCHMARKS.md). A 1 ms pause after a
                        // small batch lets the next one pile up; it delays nothing that matters
                        // (commits are 250 ms apart) and the journal has the messages already.
                        if batch.count < Daemon.smallBatch {
                            try? await Task.sleep(for: .milliseconds(1))
                        }
                    }
                    return true
                }
                group.addTask {
                    var sinceFsync = 0
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .milliseconds(20))
                        try await pipeline.commitIfDue()
                        sinceFsync += 20
                        if let fsyncInterval, sinceFsync >= fsyncInterval {
                            journal.flush()
                            sinceFsync = 0
                        }
                    }
                    return false
                }
                do {
                    try await intake.connect()
                    for filter in subscriptions {
                        try await intake.subscribe(filter, qos: .atLeastOnce)
                    }
                    try await intake.subscribe(Daemon.droppedTopic, qos: .atMostOnce)
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
                while let consumerEnded = try await group.next(), !consumerEnded {}
                group.cancelAll()
            }
        } onGracefulShutdown: {
            intake.close()
        }

        // 5. Drain: everything processed is committed and published, then say goodbye.
        await intake.closeAndWait()
        try await pipeline.commit()
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
