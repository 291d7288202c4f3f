import Logging
import MQTT
import ServiceLifecycle
import Synchronization
import TaktCore

/// Evaluates the alert rules (``AlertRules``) for every line once a second after the journal
/// replay, publishes what changed on `takt/v1/alerts/{site}/{line}` (retained, QoS 1, on the
/// publisher's connection) and as `alert` events of the live stream; sends the live stream's
/// keep-alive comment every 15 s. At a graceful shutdown it ends every live stream (so the HTTP
/// server can stop) and returns. Runs beside the committer, never on its path.
struct LiveService: Service {
    let hub: LiveHub
    let alerts: LiveAlerts
    let publisher: MQTTClient
    /// Opened when the journal's backlog is committed (alerts of a replay would be stale).
    let replayed: StartupGate
    let logger: Logger
    var tick: Duration = .seconds(1)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            do {
                try await replayed.wait()
            } catch {
                return
            }
            var ticks = 0
            while !Task.isCancelled {
                await evaluate()
                ticks += 1
                if ticks % 15 == 0 { hub.feed.broadcast(key: "keep-alive", Array(": keep-alive\n\n".utf8)) }
                try? await Task.sleep(for: tick)
            }
        }
        hub.feed.close()
    }

    /// One evaluation of every line; publishes the changes.
    func evaluate() async {
        for change in alerts.evaluate(hub.watch.observations(at: .now)) {
            let payload = LiveAlerts.json(change)
            hub.feed.send(site: change.site, key: "a/\(change.line)/\(change.status.kind.rawValue)", LiveFeed.event("alert", json: payload))
            do {
                try await publisher.publish(topic: OutboundTopic.alerts(site: change.site, line: change.line), payload: payload,
                                            qos: .atLeastOnce, retain: true)
            } catch {
                // Published again in full at the next evaluation.
                alerts.forget(site: change.site, line: change.line)
                logger.warning("alert of \(change.site)/\(change.line) not published: \(error)")
            }
            if change.status.active {
                logger.notice("alert \(change.status.kind.rawValue) raised on \(change.site)/\(change.line): \(change.status.detail)")
            }
        }
    }
}

/// The alert book of every line (``AlertBook``) behind a lock: the service evaluates, HTTP
/// reads the active ones.
final class LiveAlerts: Sendable {
    struct Change: Sendable {
        var site: String
        var line: String
        var status: AlertStatus
    }
    let settings: AlertSettings
    private let book = Mutex(AlertBook())

    init(settings: AlertSettings) {
        self.settings = settings
    }

    private static func key(_ site: String, _ line: String) -> String { "\(site)/\(line)" }

    /// Evaluates every line; returns the statuses to publish.
    func evaluate(_ lines: [(line: LineWatch.Line, siteNow: Int64, horizon: Int64)]) -> [Change] {
        book.withLock { book in
            var out: [Change] = []
            for (line, now, horizon) in lines {
                let evaluated = AlertRules.evaluate(line.observation, now: now, horizon: horizon, settings: settings)
                for status in book.update(line: Self.key(line.site, line.line), evaluated, now: now) {
                    out.append(Change(site: line.site, line: line.line, status: status))
                }
            }
            return out
        }
    }

    func forget(site: String, line: String) {
        book.withLock { $0.forget(line: Self.key(site, line)) }
    }

    /// The active alerts (of `site`, or all).
    func active(site: String? = nil) -> [Change] {
        book.withLock { book in
            book.active.compactMap { entry in
                let parts = entry.line.split(separator: "/", maxSplits: 1).map(String.init)
                guard parts.count == 2, site == nil || parts[0] == site else { return nil }
                return Change(site: parts[0], line: parts[1], status: entry.status)
            }
        }
    }

    /// `{"site", "line", "kind", "active", "since", "detail"}` (contract section 12; `since`:
    /// site time, epoch ms).
    static func json(_ c: Change) -> [UInt8] {
        var out: [UInt8] = []
        JSONOut.raw(#"{"site":"#, &out)
        JSONOut.string(c.site, &out)
        JSONOut.raw(#","line":"#, &out)
        JSONOut.string(c.line, &out)
        JSONOut.raw(#","kind":"#, &out)
        JSONOut.string(c.status.kind.rawValue, &out)
        JSONOut.raw(c.status.active ? #","active":true,"since":"# : #","active":false,"since":"#, &out)
        JSONOut.int(c.status.since, &out)
        JSONOut.raw(#","detail":"#, &out)
        JSONOut.string(c.status.detail, &out)
        JSONOut.raw("}", &out)
        return out
    }
}
