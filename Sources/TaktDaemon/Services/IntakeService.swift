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
    /// Runs once the subscriptions exist (the Sparkplug host's STATE birth).
    var afterSubscribe: (@Sendable () async throws -> Void)?

    func run() async throws {
        var watching: Task<Void, Never>?
        do {
            try await cancelWhenGracefulShutdown {
                try await replayed.wait()
                try await client.connect()
                for filter in subscriptions {
                    try await client.subscribe(filter, qos: .atLeastOnce)
                }
                try await client.subscribe(Intake.droppedTopic, qos: .atMostOnce)
                let node = client.connectedBroker.map { " on \($0)" } ?? ""
                logger.info("intake subscribed to \(subscriptions.joined(separator: ", "))\(node)")
                try await afterSubscribe?()
                // Online only once the session exists: from now on the broker keeps every
                // message for this daemon, whether or not it is running.
                try await status.announce()
            }
            watching = Task { [client, logger] in await Self.logConnections(of: client, logger: logger) }
            try await gracefulShutdown()
        } catch is CancellationError {
            // Shut down before or while connecting.
        } catch let error as MosquittoError where error.kind == .closed {
            // Closed while connecting (the shutdown cancelled the connect).
        }
        watching?.cancel()
        // The network thread may still read a burst before it ends; it must not wait for queue
        // space the committer will only make after this service has stopped.
        intake.finish()
        await client.closeAndWait()
    }

    /// Logs every drop and reconnect of the intake connection, with the node it is on (a
    /// clustered broker) and whether the broker still had the session: a reconnect without it
    /// means the broker lost what it held for the daemon (docs/deploy.md).
    private static func logConnections(of client: MQTTClient, logger: Logger) async {
        // The stream starts with the state of now: the first connection, logged already.
        for await state in client.connectionStates().dropFirst() {
            switch state {
            case .disconnected(let error):
                logger.warning("intake disconnected\(error.map { ": \($0)" } ?? "")")
            case .connected(let sessionPresent):
                let node = client.connectedBroker.map { "\($0)" } ?? "the broker"
                if sessionPresent {
                    logger.info("intake connected to \(node), session present")
                } else {
                    logger.error("intake connected to \(node) WITHOUT its session: the broker lost the messages it held for this daemon")
                }
            case .idle, .connecting, .closed:
                continue
            }
        }
    }
}
