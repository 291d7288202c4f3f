import Foundation
import Hummingbird
import MQTT
import TaktCore
import TaktStore

/// The daemon's configuration parsed, checked and typed once, before anything is opened:
/// plant files loaded, URLs and addresses parsed. Every problem is a
/// ``DaemonConfigurationError`` naming the flag or key (exit 2).
public struct DaemonSettings: Sendable {
    /// The settings as written (file + flags).
    public let configuration: DaemonConfiguration
    /// One plant per site, in the order given.
    public let plants: [Plant]
    /// The broker, or the first node of a clustered one (`brokers`).
    public let broker: MQTTBrokerURL
    /// Every node of the broker, in the order the connections try them (one for a single broker).
    public let brokers: [MQTTBrokerURL]
    public let store: StoreURL
    /// The HTTP listen address; nil when `--http off`.
    public let httpAddress: BindAddress?
    /// The directory of the journal (under the data directory).
    public let journalDirectory: URL
    /// Lines shared with other daemons through leases in the PostgreSQL store (no journal; one
    /// MQTT session per leased line; contract section 11).
    public let sharesLines: Bool

    public init(_ configuration: DaemonConfiguration) throws(DaemonConfigurationError) {
        self.configuration = configuration
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
        if Set(plants.map(\.site)).count != plants.count {
            throw DaemonConfigurationError("--plant: two plant files name the same site")
        }
        self.plants = plants
        if let retention = configuration.minuteRetentionMs, retention < configuration.maxAgeMs {
            throw DaemonConfigurationError("minute_retention must be at least max_age (a late event could reach a pruned 1m row)")
        }
        do {
            brokers = try MQTTBrokerURL.list(configuration.broker)
            broker = brokers[0]
        } catch {
            throw DaemonConfigurationError("--broker: \(error.message)")
        }
        do {
            store = try StoreURL(parsing: configuration.storeURL)
        } catch {
            throw DaemonConfigurationError("--store: \(error)")
        }
        httpAddress = configuration.http == "off" ? nil : try Self.bindAddress(configuration.http)
        journalDirectory = URL(fileURLWithPath: configuration.dataDirectory).appendingPathComponent("journal")
        let isPostgres: Bool
        if case .postgres = store { isPostgres = true } else { isPostgres = false }
        sharesLines = configuration.sharedLines ?? isPostgres
        if sharesLines && !isPostgres {
            throw DaemonConfigurationError("shared_lines: line leases need a PostgreSQL store (--store postgres://…)")
        }
    }

    /// Every line of every plant, in byte order.
    public var allLines: [LineKey] {
        plants.flatMap { plant in plant.lines.map { LineKey(site: plant.site, line: $0.id) } }.sorted()
    }

    /// Settings of the aggregator (the bounds on what devices send).
    var aggregatorSettings: AggregatorSettings {
        var s = AggregatorSettings(maxAgeMs: configuration.maxAgeMs, maxPayloadBytes: configuration.maxPayloadBytes,
                                   maxFutureS: Int64(configuration.maxFutureS), maxPastMs: configuration.maxPastMs,
                                   dedupLimits: DedupLimits(maxSeqGap: configuration.maxSeqGap, maxBootGap: configuration.maxBootGap),
                                   maxStateChanges: configuration.maxStateChanges)
        s.sparkplug = SparkplugSettings(reorderTimeoutMs: Int64(configuration.sparkplugReorderTimeoutMs),
                                        rebirth: configuration.sparkplugRebirth)
        return s
    }

    /// Whether a plant file binds a station to a Sparkplug edge node.
    var hasSparkplugStations: Bool { plants.contains { $0.lines.contains { $0.stations.contains { $0.sparkplug != nil } } } }

    /// Whether a plant file binds a station to a UMH asset.
    var hasUMHStations: Bool { plants.contains { $0.lines.contains { $0.stations.contains { $0.umh != nil } } } }

    /// The intake's topic filters: the configured ones, plus `spBv1.0/#` when a plant file names
    /// a Sparkplug station and the count/scrapCount/state topics of every UMH asset (unless a
    /// configured filter already starts there).
    var subscriptions: [String] {
        var filters = configuration.subscriptions
        if hasSparkplugStations && !filters.contains(where: { $0 == "#" || $0.hasPrefix("spBv1.0/") }) { filters.append("spBv1.0/#") }
        if hasUMHStations && !filters.contains(where: { $0 == "#" || $0.hasPrefix("ia/") }) {
            // Only the bound assets' three types: an ia/ namespace carries much else (process values…).
            filters += Aggregator.umhSubscriptions(plants)
        }
        return filters
    }

    /// `host:port`, `:port` or `port` → Hummingbird's bind address (host defaults to 127.0.0.1).
    static func bindAddress(_ text: String) throws(DaemonConfigurationError) -> BindAddress {
        var host = "127.0.0.1"
        var portText = Substring(text)
        if let colon = text.lastIndex(of: ":") {
            let given = text[..<colon]
            if !given.isEmpty { host = String(given.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) }
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw DaemonConfigurationError("--http: '\(text)' is not an address like 127.0.0.1:9464, :9464 or off")
        }
        return .hostname(host, port: port)
    }

    /// The MQTT settings of one of the daemon's two connections.
    func mqtt(clientID: String?, cleanSession: Bool, will: MQTTWill?,
              messageHandler: (@Sendable (MQTTReceivedMessage) -> Void)?,
              messageBatchEnded: (@Sendable () -> Void)?) -> MQTTClient.Configuration {
        let c = configuration
        let tls = broker.usesTLS ? MQTTClient.TLSOptions(caFile: c.tlsCAFile, certFile: c.tlsCertFile, keyFile: c.tlsKeyFile) : nil
        return MQTTClient.Configuration(
            broker: broker, alternateBrokers: Array(brokers.dropFirst()), clientID: clientID, cleanSession: cleanSession,
            username: c.username, password: c.password,
            tls: tls, will: will, reconnect: .init(initialDelay: 0.25, maxDelay: 10, retryInitialConnection: true),
            // The intake hands messages to its handler (Intake.receive) in place; the inbox is unused.
            maxInflight: 1000, inboxCapacity: 1, messageHandler: messageHandler,
            messageBatchEnded: messageBatchEnded)
    }
}
