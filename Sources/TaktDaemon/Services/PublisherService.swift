import Logging
import MQTT
import ServiceLifecycle

/// The daemon's outbound MQTT connection: metrics, dead letters and the status topic (its will
/// publishes `online: false` if the connection dies).
///
/// Runs first and stops last: it connects (retrying while the broker is unreachable) and opens
/// `connected` for the committer; at the end of a graceful shutdown — everything committed and
/// published by then — it publishes the offline status (a clean DISCONNECT suppresses the will),
/// waits up to `flushTimeout` for the broker's acknowledgements, and disconnects. With the broker
/// unreachable it just closes.
struct PublisherService: Service {
    let publisher: MQTTClient
    let statusTopic: String
    /// The offline status message (JSON bytes).
    let offline: [UInt8]
    let connected: StartupGate
    let broker: MQTTBrokerURL
    let logger: Logger
    var flushTimeout: Duration = .seconds(3)

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await publisher.connect()
            }
            connected.open()
            logger.info("publisher connected to \(broker)")
        } catch let error as MosquittoError where error.kind == .closed {
            // Closed while connecting: the committer closes a publisher that cannot reach the
            // broker when the daemon shuts down.
        } catch is CancellationError {
            // Shut down before the broker was reached.
        }
        // Returning before the group stops this service would be an unexpected end.
        try? await gracefulShutdown()
        if case .connected = publisher.state {
            let publisher = self.publisher, statusTopic = self.statusTopic, offline = self.offline, timeout = flushTimeout
            let sent = await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    do {
                        try await publisher.publish(topic: statusTopic, payload: offline, qos: .atLeastOnce, retain: true)
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
    }
}
