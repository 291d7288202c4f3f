import Logging
import MQTT
import ServiceLifecycle
import Synchronization

/// The daemon's outbound MQTT connection: metrics, dead letters and the status topic (its will
/// publishes `online: false` if the connection dies).
///
/// Runs first and stops last: it connects (retrying while the broker is unreachable) and opens
/// `connected` for the committer. While it runs, every reconnect of the connection publishes the
/// online status again (``OnlineStatus``): a dropped connection fired the will, so the retained
/// status said `online: false` while the daemon was still counting. At the end of a graceful
/// shutdown — everything committed and published by then — it stops those re-announcements,
/// publishes the offline status (a clean DISCONNECT suppresses the will), waits up to
/// `flushTimeout` for the broker's acknowledgements, and disconnects. With the broker unreachable
/// it just closes.
struct PublisherService: Service {
    let publisher: MQTTClient
    let status: OnlineStatus
    /// The offline status message (JSON bytes).
    let offline: [UInt8]
    let connected: StartupGate
    let broker: MQTTBrokerURL
    let logger: Logger
    var flushTimeout: Duration = .seconds(3)

    func run() async throws {
        var watching: Task<Void, Never>?
        do {
            try await cancelWhenGracefulShutdown {
                try await publisher.connect()
            }
            connected.open()
            logger.info("publisher connected to \(publisher.connectedBroker ?? broker)")
            watching = Task { [publisher, status, logger, broker] in
                // The stream starts with the current state (connected): that one is a no-op,
                // as the intake has not announced online yet.
                for await state in publisher.connectionStates() {
                    guard case .connected = state else { continue }
                    do {
                        if try await status.republish() {
                            logger.info("publisher reconnected to \(publisher.connectedBroker ?? broker): status online again")
                        }
                    } catch {
                        logger.warning("publisher reconnected, but the online status was not published: \(error)")
                    }
                }
            }
        } catch let error as MosquittoError where error.kind == .closed {
            // Closed while connecting: the committer closes a publisher that cannot reach the
            // broker when the daemon shuts down.
        } catch is CancellationError {
            // Shut down before the broker was reached.
        }
        let watcher = watching
        // Returning before the group stops this service would be an unexpected end.
        try? await gracefulShutdown()
        // From here on nothing says online: the offline status below must be the last word.
        status.stop()
        watcher?.cancel()
        if case .connected = publisher.state {
            let publisher = self.publisher, topic = status.topic, offline = self.offline, timeout = flushTimeout
            let sent = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    // An online status the watcher is handing to the client right now goes
                    // first (publishes on one connection keep their order).
                    await watcher?.value
                    do {
                        try await publisher.publish(topic: topic, payload: offline, qos: .atLeastOnce, retain: true)
                        try await publisher.flush()
                        return true
                    } catch {
                        return false
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                let sent = await group.next() ?? false
                // The client's waits do not end on cancellation; closing fails the ones left.
                if !sent { publisher.close() }
                group.cancelAll()
                return sent
            }
            if !sent { logger.warning("the broker did not acknowledge the offline status within \(timeout)") }
        }
        await publisher.closeAndWait()
        await watcher?.value
    }
}

/// The daemon's retained status topic (`takt/v1/status/{instance}`), as the publisher
/// connection says it: `online: true` once the intake is subscribed (``announce()``), again after
/// every reconnect of the publisher (``republish()``: the broker published the will,
/// `online: false`, when the old connection dropped), and never again once the daemon stops
/// (``stop()``), so the offline status stays the last word.
final class OnlineStatus: Sendable {
    private enum Phase { case starting, online, stopping }

    let publisher: MQTTClient
    let topic: String
    /// The online status message (JSON bytes).
    let online: [UInt8]
    private let phase = Mutex(Phase.starting)

    init(publisher: MQTTClient, topic: String, online: [UInt8]) {
        self.publisher = publisher
        self.topic = topic
        self.online = online
    }

    /// The intake is subscribed (the broker keeps its messages from now on): publishes online.
    func announce() async throws {
        let first = phase.withLock { phase in
            guard phase == .starting else { return false }
            phase = .online
            return true
        }
        if first { try await publish() }
    }

    /// The publisher is connected (again): publishes online if it was announced and the daemon is
    /// not stopping. Returns whether it published.
    func republish() async throws -> Bool {
        guard phase.withLock({ $0 == .online }) else { return false }
        try await publish()
        return true
    }

    /// The daemon is shutting down: no online status after this.
    func stop() {
        phase.withLock { $0 = .stopping }
    }

    private func publish() async throws {
        try await publisher.publish(topic: topic, payload: online, qos: .atLeastOnce, retain: true)
    }
}
