import ArgumentParser
import Foundation
import MQTT
import TaktCore

extension Takt {
    /// `takt watch --broker URL --site S`: a terminal view of a site built only from what the
    /// daemon publishes — the retained and live window objects on `takt/v1/metrics/S/+/1m|1h`
    /// and the alerts on `takt/v1/alerts/S/+` — redrawn in place at most twice a second.
    struct Watch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Watches a site live from the daemon's metrics and alert topics (no store needed).",
            discussion: """
                One row per line: state (from its newest 1m window: running, down, no plan), good units \
                and OEE of its newest 1h window, good/h of its newest 1m window, active alerts. \
                Ctrl-C ends it. See docs/protocol.md sections 4 and 12.
                """)

        @Option(help: ArgumentHelp("The broker (mqtt://host:port or mqtts://…).", valueName: "url"))
        var broker: String = "mqtt://127.0.0.1:1883"

        @Option(help: ArgumentHelp("Site id.", valueName: "site"))
        var site: String

        @Option(help: ArgumentHelp("Seconds between redraws (0.1 … 60).", valueName: "s"))
        var interval: Double = 0.5

        func run() async throws {
            let url: MQTTBrokerURL
            do {
                url = try MQTTBrokerURL(broker)
            } catch {
                throw UsageError(flag: "--broker", "\(error)")
            }
            guard TopicSegment.isValidSite(site) else { throw UsageError(flag: "--site", "'\(site)' is not a site id") }
            guard interval.isFinite, (0.1...60).contains(interval) else { throw UsageError(flag: "--interval", "'\(interval)' must be 0.1 … 60 seconds") }
            let client = MQTTClient(configuration: .init(broker: url, reconnect: .init(initialDelay: 0.25, maxDelay: 5, retryInitialConnection: true),
                                                         inboxCapacity: 1 << 16))
            try await client.connect()
            for filter in ["takt/v1/metrics/\(site)/+/1m", "takt/v1/metrics/\(site)/+/1h", "takt/v1/alerts/\(site)/+"] {
                try await client.subscribe(filter, qos: .atLeastOnce)
            }
            let board = WatchBoard(site: site, broker: url.description)
            let batches = client.messageBatches
            let reading = Task {
                for await batch in batches {
                    for message in batch { board.take(topic: message.topic, payload: message.payload) }
                }
            }
            defer { reading.cancel() }
            let out = FileHandle.standardOutput
            // Alternate screen, cursor hidden; each frame: home, the frame, clear to the end.
            out.write(Data("\u{1B}[?1049h\u{1B}[?25l".utf8))
            while !Task.isCancelled {
                out.write(Data(("\u{1B}[H" + board.frame(now: Date()).replacingOccurrences(of: "\n", with: "\u{1B}[K\n") + "\u{1B}[J").utf8))
                try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
            }
        }
    }
}

/// What `takt watch` shows, from the messages it received (thread-safe).
final class WatchBoard: @unchecked Sendable {
    private let lock = NSLock()
    private let site: String
    private let broker: String
    private var minute: [String: WindowRow] = [:]
    private var hour: [String: WindowRow] = [:]
    private var alerts: [String: [String: (active: Bool, since: Int64, detail: String)]] = [:]
    private var messages = 0
    private var lastMessage: Date?

    init(site: String, broker: String) {
        self.site = site
        self.broker = broker
    }

    /// One received message: a window object (kept when it is the line's newest window of its
    /// size) or an alert object.
    func take(topic: String, payload: [UInt8]) {
        let levels = topic.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        lock.withLock {
            messages += 1
            lastMessage = Date()
            if levels.count == 6, levels[2] == "metrics", let row = try? JSONDecoder().decode(WindowRow.self, from: Data(payload)) {
                guard row.line != OutboundTopic.siteLine else { return }
                switch row.window {
                case .minute: if (minute[row.line]?.start ?? Int64.min) <= row.start { minute[row.line] = row }
                case .hour: if (hour[row.line]?.start ?? Int64.min) <= row.start { hour[row.line] = row }
                case .day: break
                }
            } else if levels.count == 5, levels[2] == "alerts",
                      let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any],
                      let kind = object["kind"] as? String, let active = object["active"] as? Bool {
                alerts[levels[4], default: [:]][kind] = (active, (object["since"] as? NSNumber)?.int64Value ?? 0,
                                                         object["detail"] as? String ?? "")
            }
        }
    }

    /// The screen: a header, one row per line (sorted), a footer.
    func frame(now: Date) -> String {
        lock.withLock {
            let lines = Set(minute.keys).union(hour.keys).union(alerts.keys).sorted()
            var out = "takt watch · site \(site) · \(broker) · \(ISO8601DateFormatter().string(from: now))\n\n"
            func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
            func left(_ s: String, _ n: Int) -> String { s.count >= n ? s : String(repeating: " ", count: n - s.count) + s }
            out += pad("line", 16) + pad("state", 10) + left("good/h", 9) + left("good (hour)", 13) + left("OEE (hour)", 12) + "  alerts\n"
            for line in lines {
                let m = minute[line], h = hour[line]
                var state = "—"
                if let m {
                    state = m.plannedS == 0 ? "no plan" : (m.runS * 2 >= m.plannedS ? "running" : "down")
                }
                let goodPerHour = m.map { String(Int($0.goodPerHour.rounded())) } ?? "—"
                let good = h.map { String($0.good) } ?? "—"
                let oee = h?.oee.map { String(format: "%.1f %%", $0 * 100) } ?? "—"
                let active = (alerts[line] ?? [:]).filter(\.value.active).keys.sorted().joined(separator: ", ")
                out += pad(line, 16) + pad(state, 10) + left(goodPerHour, 9) + left(good, 13) + left(oee, 12) + "  " + (active.isEmpty ? "—" : active) + "\n"
            }
            if lines.isEmpty { out += "(no metrics received yet)\n" }
            let hourStart = hour.values.map(\.start).max().map { " · newest hour from " + ContractTime.iso($0) } ?? ""
            out += "\n\(messages) messages\(hourStart)\n"
            return out
        }
    }
}
