import Logging
import MQTT
import ServiceLifecycle
import TaktCore

/// Shared lines (contract section 11): one persistent MQTT session per leased line instead of
/// the single intake connection. Each session subscribes to its line's topics only, and its
/// network thread acknowledges a burst only once the committer has committed it (the
/// ``Intake`` without a journal), so what the broker saw acknowledged is in PostgreSQL and no
/// local disk matters.
///
/// Stopping never acknowledges anything uncommitted: every session is **abandoned** (its
/// socket shut without writing the PUBACKs still queued) before the waiting network threads
/// are let go. The broker keeps those messages in the line's session for its next holder; what
/// was committed but not acknowledged comes again and is counted as a duplicate.
struct LineSessionsService: Service {
    struct Session: Sendable {
        var line: LineKey
        var client: MQTTClient
    }

    let sessions: [Session]
    let intake: Intake
    /// Says online (with the lines) on the publisher connection once every session subscribed.
    let status: OnlineStatus
    let replayed: StartupGate
    let logger: Logger

    /// The client id of a line's session: the same for every daemon (`takt-line-{site}-{line}`).
    static func clientID(_ line: LineKey) -> String { "takt-line-\(line.site)-\(line.line)" }

    /// The line's topic filter: everything its stations publish (other levels are dead letters).
    static func topicFilter(_ line: LineKey) -> String { "takt/v1/\(line.site)/\(line.line)/#" }

    func run() async throws {
        // A shutdown or a cancellation (another service failed: a commit refused because a
        // lease was lost) abandons the sessions at once: that also fails a connect or subscribe
        // still waiting (a session another daemon keeps taking over may never settle).
        do {
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await replayed.wait()
                    for (i, session) in sessions.enumerated() {
                        try await session.client.connect()
                        try await session.client.subscribe(Self.topicFilter(session.line), qos: .atLeastOnce)
                        // One session is enough to hear the broker's dropped-message counter.
                        if i == 0 { try await session.client.subscribe(Intake.droppedTopic, qos: .atMostOnce) }
                    }
                    logger.info("line sessions subscribed: \(sessions.map(\.line.description).joined(separator: ", "))")
                    try await status.announce()
                    try await gracefulShutdown()
                } onCancel: {
                    abandonAll()
                }
            } onGracefulShutdown: {
                abandonAll()
            }
        } catch is CancellationError {
            // Shut down before or while connecting.
        } catch let error as MosquittoError where error.kind == .closed {
            // Abandoned while connecting.
        }
        abandonAll()
        intake.finish()
        for session in sessions { await session.client.closeAndWait() }
    }

    /// Abandons every session (idempotent): nothing more is acknowledged on any of them.
    private func abandonAll() {
        for session in sessions { session.client.abandon() }
    }
}
