import Foundation
import Logging
import MQTT
import ServiceLifecycle
import TaktCore

/// The Sparkplug B host application around the pure state machine (contract section 9): its
/// timer and its STATE messages. Runs only when a plant file binds a station to an edge node.
///
/// - Timer: every `tickInterval` the intake is asked whether a reorder timeout is due; if so it
///   journals a clock record and ingests it (``Intake/tick()``), so a gap is given up within
///   `reorder_timeout_ms` + `tickInterval` even when no other message arrives, and a replay
///   gives it up at the same place in the stream.
/// - STATE (Sparkplug 3.0, with `host_id` set): `spBv1.0/STATE/{host_id}` `{"online": true,
///   "timestamp": T}`, QoS 1, retained, on the intake connection — whose will is the same with
///   `"online": false` and the same T — published after the first subscribe (by the intake
///   service) and again after every reconnect (the will may have fired meanwhile).
struct SparkplugHostService: Service {
    let intake: Intake
    let client: MQTTClient
    let state: SparkplugHostState?
    let tickInterval: Duration
    /// Opened when the journal's backlog is replayed: a clock record added during the replay
    /// would land in the middle of the replayed stream (and at its end in the journal).
    let replayed: StartupGate
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await replayed.wait() }
        } catch is CancellationError {
            return
        }
        let watcher = Task { [client, state, logger] in
            guard let state else { return }
            for await s in client.connectionStates().dropFirst() {
                guard case .connected = s else { continue }
                do {
                    try await state.announce(on: client)
                } catch {
                    logger.warning("Sparkplug STATE not published after a reconnect: \(error)")
                }
            }
        }
        defer { watcher.cancel() }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: tickInterval)
            intake.tick()
        }
    }
}

/// The host application's STATE messages: one timestamp for the birth and its will.
struct SparkplugHostState: Sendable {
    let hostID: String
    /// Epoch ms, fixed for the daemon's run (Sparkplug 3.0: the birth and the will carry the
    /// same timestamp).
    let timestamp: Int64

    var topic: String { SparkplugTopic.state(hostID: hostID) }

    func payload(online: Bool) -> [UInt8] {
        Array("{\"online\":\(online),\"timestamp\":\(timestamp)}".utf8)
    }

    var will: MQTTWill {
        MQTTWill(topic: topic, payload: payload(online: false), qos: .atLeastOnce, retain: true)
    }

    func announce(on client: MQTTClient) async throws {
        try await client.publish(topic: topic, payload: payload(online: true), qos: .atLeastOnce, retain: true)
    }
}
