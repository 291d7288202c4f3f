import Logging
import MQTT
import ServiceLifecycle

/// The subscribing connection: fixed client id, persistent session, QoS 1. Its network thread
/// runs the hot path (``Intake/receive(_:)``). It connects only once the committer has replayed
/// the journal (nothing new before the backlog), and is the first service to stop at a graceful
/// shutdown: closing it stops new messages while the committer drains.
struct IntakeService: Service {
    let client: MQTTClient
    let intake: Intake
    let subscriptions: [String]
    /// Says online on the publisher connection (and again after its reconnects).
    let status: OnlineStatus
    let replayed: StartupGate
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                try await replayed.wait()
                try await client.connect()
                for filter in subscriptions {
                    try await client.subscribe(filter, qos: .atLeastOnce)
                }
                try await client.subscribe(Intake.droppedTopic, qos: .atMostOnce)
                logger.info("intake subscribed to \(subscriptions.joined(separator: ", "))")
                // Online only once the session exists: from now on the broker keeps every
                // message for this daemon, whether or not it is running.
                try await status.announce()
            }
            try await gracefulShutdown()
        } catch is CancellationError {
            // Shut down before or while connecting.
        } catch let error as MosquittoError where error.kind == .closed {
            // Closed while connecting (the shutdown cancelled the connect).
        }
        // The network thread may still read a burst before it ends; it must not wait for queue
        // space the committer will only make after this service has stopped.
        intake.finish()
        await client.closeAndWait()
    }
}
