import Foundation
import MQTT
import TaktCore
import Yams

/// Every setting of `taktd`, with the defaults of contract section 5. Read from a YAML file
/// (`Config/taktd.yaml` documents each key) and then overridden by command-line flags.
public struct DaemonConfiguration: Sendable {
    /// `mqtt://host:port` or `mqtts://host:port`; the nodes of a clustered broker separated by
    /// commas (in `taktd.yaml` also a list), tried in turn (docs/deploy.md).
    public var broker = "mqtt://127.0.0.1:1883"
    public var username: String?
    public var password: String?
    public var tlsCAFile: String?
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
    /// The daemon's name in status topics and its default client id; default: the host name.
    public var instance = DaemonConfiguration.defaultInstance
    /// MQTT client id of the intake (persistent session); default `taktd-{instance}`.
    public var clientID: String?
    /// `sqlite:PATH` (embedded, the default: `sqlite:{data_dir}/takt.sqlite`) or `postgres://…`.
    public var store: String?
    /// Journal, default SQLite file.
    public var dataDirectory = "./data"
    /// Plant files, one site each.
    public var plants: [String] = []
    /// HTTP listen address, or `off`.
    public var http = "off"
    /// Topic filters the intake subscribes to (default: everything under `takt/v1/`).
    public var subscriptions = ["takt/v1/#"]
    public var journalFsync: Journal.FsyncPolicy = .interval(milliseconds: 100)
    /// Events pending are committed as soon as the intake goes idle (a receive burst ended);
    /// while bursts keep coming, at the latest this long (ms) after the oldest of them…
    public var commitIntervalMs = 250
    /// …or as soon as this many events are pending.
    public var commitMaxEvents = 10_000
    /// The least time (ms) from the end of one commit to the start of the next (0: only four
    /// times the last commit's duration): what a message waits at most, beyond a running commit,
    /// while the intake is idle; under load the gap grows to four times the last commit's duration.
    public var commitMinGapMs = 20
    public var maxPayloadBytes = 16_384
    /// Seconds an event's ts may be ahead of the daemon's clock (0: no check).
    public var maxFutureS = 300
    /// How far (ms) behind a site's newest event a late event still updates its window.
    public var maxAgeMs: Int64 = 35 * 86_400_000
    /// How long (ms) `1m` rows are kept behind the oldest site horizon; nil = `maxAgeMs`.
    /// `1h` and `1d` rows are kept for ever.
    public var minuteRetentionMs: Int64?
    /// How far (ms) behind the daemon's clock an event is still counted; nil = `maxAgeMs`,
    /// 0 = no check (backfilling old captures).
    public var maxPastMs: Int64?
    /// The largest believed forward jump of a source's seq.
    public var maxSeqGap: Int64 = 1_000_000
    /// The largest believed forward jump of a station's boot.
    public var maxBootGap: Int64 = 1 << 32
    /// Dead letters published on `takt/v1/deadletter` per second at most (all are counted).
    public var deadLettersPerSecond = 100
    /// The most rows one `/api/v1/windows` answer may hold (a larger range is a 400).
    public var maxRows = 10_000
    /// The most state changes one station's timeline holds within `max_age`.
    public var maxStateChanges = 20_000
    /// Whether the plant's lines are shared with other daemons on the same PostgreSQL store
    /// through line leases (contract section 11); nil: yes for a PostgreSQL store, no for SQLite.
    public var sharedLines: Bool?
    /// How long (ms) a line lease lasts without renewal; renewed every third of it. A dead
    /// daemon's lines are taken over within about this plus one renewal round.
    public var leaseTtlMs: Int64 = 15_000
    /// `sparkplug: {host_id, rebirth, reorder_timeout_ms}` (contract section 9). `host_id`
    /// nil: no STATE messages.
    public var sparkplugHostID: String?
    public var sparkplugRebirth = true
    public var sparkplugReorderTimeoutMs = 2000
    /// Ring buffers: window rows held per station and tier (`live_1m`, `live_1h`, `live_1d`;
    /// 0 switches a tier's rings off), and whether only the lines' output stations have them
    /// (`live_stations: output`, the default: the commit reads back only those rows, as it
    /// always did) or every station (`all`: each commit reads every updated row back).
    public var live1m = 180
    public var live1h = 72
    public var live1d = 62
    public var liveAllStations = false
    /// `alert_stopped_after`, `alert_silent_after` (contract section 12), ms.
    public var alertStoppedAfterMs: Int64 = 600_000
    public var alertSilentAfterMs: Int64 = 300_000

    public init() {}

    static var defaultInstance: String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "taktd"
        return host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) && !host.isEmpty ? host : "taktd"
    }

    /// The store URL in effect.
    public var storeURL: String { store ?? "sqlite:\(dataDirectory)/takt.sqlite" }

    /// The MQTT client id of the intake.
    public var intakeClientID: String { clientID ?? "taktd-\(instance)" }

    /// Reads a `taktd.yaml`; unknown keys and bad values are errors naming the key and line.
    public static func load(yaml: String, fileName: String) throws(DaemonConfigurationError) -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw DaemonConfigurationError("\(fileName): not valid YAML: \(error)")
        }
        guard let root else { return configuration }
        guard let mapping = root.mapping else {
            throw DaemonConfigurationError("\(fileName):\(root.mark?.line ?? 0): the file must be a mapping of settings")
        }
        // journal_fsync and journal_fsync_interval_ms, whichever order they come in.
        var fsyncMode: (mode: String, line: Int)?
        var fsyncIntervalMs: Int?
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            let line = keyNode.mark?.line ?? 0
            func fail(_ problem: String) -> DaemonConfigurationError {
                DaemonConfigurationError("\(fileName):\(line): \(problem)")
            }
            func text() throws(DaemonConfigurationError) -> String {
                guard let scalar = value.scalar, !scalar.string.isEmpty else { throw fail("'\(key)' needs a value") }
                return scalar.string
            }
            func integer(_ range: ClosedRange<Int>) throws(DaemonConfigurationError) -> Int {
                guard let number = Int(try text()), range.contains(number) else {
                    throw fail("'\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)")
                }
                return number
            }
            func list() throws(DaemonConfigurationError) -> [String] {
                if let sequence = value.sequence {
                    return try sequence.map { (node) throws(DaemonConfigurationError) -> String in
                        guard let s = node.scalar?.string, !s.isEmpty else { throw fail("'\(key)' must be a list of strings") }
                        return s
                    }
                }
                return [try text()]
            }
            switch key {
            case "broker": configuration.broker = try list().joined(separator: ",")
            case "username": configuration.username = try text()
            case "password": configuration.password = try text()
            case "tls_ca_file": configuration.tlsCAFile = try text()
            case "tls_cert_file": configuration.tlsCertFile = try text()
            case "tls_key_file": configuration.tlsKeyFile = try text()
            case "instance": configuration.instance = try text()
            case "client_id": configuration.clientID = try text()
            case "store": configuration.store = try text()
            case "data_dir": configuration.dataDirectory = try text()
            case "plants": configuration.plants = try list()
            case "http": configuration.http = try text()
            case "subscribe": configuration.subscriptions = try list()
            case "journal_fsync":
                let mode = try text()
                guard ["always", "interval", "never"].contains(mode) else {
                    throw fail("'journal_fsync' must be always, interval or never")
                }
                fsyncMode = (mode, line)
            case "journal_fsync_interval_ms":
                fsyncIntervalMs = try integer(1...60_000)
            case "commit_interval_ms": configuration.commitIntervalMs = try integer(10...60_000)
            case "commit_max_events": configuration.commitMaxEvents = try integer(1...10_000_000)
            case "commit_min_gap_ms": configuration.commitMinGapMs = try integer(0...60_000)
            case "max_payload_bytes": configuration.maxPayloadBytes = try integer(64...(1 << 24))
            case "max_future_s": configuration.maxFutureS = try integer(0...(365 * 86_400))
            case "max_age":
                do {
                    configuration.maxAgeMs = try ContractTime.durationMs(try text())
                } catch {
                    throw fail("'max_age': \(error)")
                }
            case "minute_retention":
                do {
                    configuration.minuteRetentionMs = try ContractTime.durationMs(try text())
                } catch {
                    throw fail("'minute_retention': \(error)")
                }
            case "max_past":
                let value = try text()
                if value == "0" {
                    configuration.maxPastMs = 0
                } else {
                    do {
                        configuration.maxPastMs = try ContractTime.durationMs(value)
                    } catch {
                        throw fail("'max_past': \(error) (or 0 to switch the check off)")
                    }
                }
            case "shared_lines":
                switch try text() {
                case "true", "yes", "on": configuration.sharedLines = true
                case "false", "no", "off": configuration.sharedLines = false
                default: throw fail("'shared_lines' must be true or false")
                }
            case "lease_ttl":
                let ms: Int64
                do {
                    ms = try ContractTime.durationMs(try text())
                } catch {
                    throw fail("'lease_ttl': \(error)")
                }
                guard (1_000...600_000).contains(ms) else { throw fail("'lease_ttl' must be between 1s and 10m") }
                configuration.leaseTtlMs = ms
            case "max_rows": configuration.maxRows = try integer(1...10_000_000)
            case "live_1m": configuration.live1m = try integer(0...100_000)
            case "live_1h": configuration.live1h = try integer(0...100_000)
            case "live_1d": configuration.live1d = try integer(0...10_000)
            case "live_stations":
                let value = try text()
                guard value == "all" || value == "output" else { throw fail("'live_stations' must be all or output") }
                configuration.liveAllStations = value == "all"
            case "alert_stopped_after", "alert_silent_after":
                let ms: Int64
                do {
                    ms = try ContractTime.durationMs(try text())
                } catch {
                    throw fail("'\(key)': \(error)")
                }
                guard ms > 0 else { throw fail("'\(key)' must be longer than 0") }
                if key == "alert_stopped_after" { configuration.alertStoppedAfterMs = ms } else { configuration.alertSilentAfterMs = ms }
            case "max_state_changes": configuration.maxStateChanges = try integer(2...10_000_000)
            case "dead_letters_per_s": configuration.deadLettersPerSecond = try integer(1...1_000_000)
            case "sparkplug":
                guard let entries = value.mapping else { throw fail("'sparkplug' must be a mapping (host_id, rebirth, reorder_timeout_ms)") }
                for (subKey, subValue) in entries {
                    let name = subKey.scalar?.string ?? ""
                    let text = subValue.scalar?.string ?? ""
                    switch name {
                    case "host_id":
                        guard SparkplugBinding.isValidID(text) else {
                            throw fail("'sparkplug.host_id' must be 1 to 64 bytes without / + # or control characters")
                        }
                        configuration.sparkplugHostID = text
                    case "rebirth":
                        guard let b = Bool(text) else { throw fail("'sparkplug.rebirth' must be true or false") }
                        configuration.sparkplugRebirth = b
                    case "reorder_timeout_ms":
                        guard let n = Int(text), (0...600_000).contains(n) else {
                            throw fail("'sparkplug.reorder_timeout_ms' must be a whole number from 0 to 600000")
                        }
                        configuration.sparkplugReorderTimeoutMs = n
                    default:
                        throw fail("unknown key 'sparkplug.\(name)'; allowed: host_id, rebirth, reorder_timeout_ms")
                    }
                }
            case "max_seq_gap": configuration.maxSeqGap = Int64(try integer(1...(1 << 52)))
            case "max_boot_gap": configuration.maxBootGap = Int64(try integer(1...(1 << 52)))
            default:
                throw fail("unknown key '\(key)'; allowed: broker, username, password, tls_ca_file, tls_cert_file, tls_key_file, instance, client_id, store, data_dir, plants, http, subscribe, journal_fsync, journal_fsync_interval_ms, commit_interval_ms, commit_max_events, commit_min_gap_ms, max_payload_bytes, max_future_s, max_age, max_past, max_seq_gap, max_boot_gap, dead_letters_per_s, max_rows, max_state_changes, minute_retention, shared_lines, lease_ttl, sparkplug, live_1m, live_1h, live_1d, live_stations, alert_stopped_after, alert_silent_after")
            }
        }
        switch (fsyncMode?.mode, fsyncIntervalMs) {
        case ("always", _?), ("never", _?):
            // An interval with another policy used to override it silently (the later key won).
            throw DaemonConfigurationError(
                "\(fileName):\(fsyncMode!.line): 'journal_fsync: \(fsyncMode!.mode)' and 'journal_fsync_interval_ms' contradict each other; the interval goes with 'journal_fsync: interval'")
        case ("always", nil): configuration.journalFsync = .always
        case ("never", nil): configuration.journalFsync = .never
        case (_, let ms): configuration.journalFsync = .interval(milliseconds: ms ?? 100)
        }
        return configuration
    }

    /// The MQTT settings of one of the daemon's two connections.
    func mqtt(clientID: String?, cleanSession: Bool, will: MQTTWill?,
              messageHandler: (@Sendable (MQTTReceivedMessage) -> Void)?,
              messageBatchEnded: (@Sendable () -> Void)?) throws -> MQTTClient.Configuration {
        let urls = try MQTTBrokerURL.list(broker)
        let url = urls[0]
        var tls: MQTTClient.TLSOptions?
        if url.usesTLS {
            tls = MQTTClient.TLSOptions(caFile: tlsCAFile, certFile: tlsCertFile, keyFile: tlsKeyFile)
        }
        return MQTTClient.Configuration(
            broker: url, alternateBrokers: Array(urls.dropFirst()), clientID: clientID, cleanSession: cleanSession,
            username: username, password: password,
            tls: tls, will: will, reconnect: .init(initialDelay: 0.25, maxDelay: 10, retryInitialConnection: true),
            // The intake hands messages to its handler (Intake.receive) in place; the inbox is unused.
            maxInflight: 1000, inboxCapacity: 1, messageHandler: messageHandler,
            messageBatchEnded: messageBatchEnded)
    }
}

/// A configuration problem: one line naming the key (and file line) or flag.
public struct DaemonConfigurationError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

