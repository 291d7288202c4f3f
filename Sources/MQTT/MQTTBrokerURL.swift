import Foundation

/// Where the broker is: `mqtt://host:port` (plain TCP, default port 1883) or `mqtts://host:port`
/// (TLS, default port 8883). `tcp://` and `ssl://` are accepted as aliases; an IPv6 host is written
/// in brackets (`mqtt://[::1]:1883`).
///
/// A URL never carries credentials (`mqtt://user:pass@host` is refused: they go in
/// `Configuration.username`/`password`), and no error message repeats a password: parse errors
/// show the text through ``redacting(_:)``.
public struct MQTTBrokerURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var usesTLS: Bool

    public init(host: String, port: Int, usesTLS: Bool = false) {
        self.host = host
        self.port = port
        self.usesTLS = usesTLS
    }

    /// Parses a broker URL; throws `MosquittoError` of kind `.invalidConfiguration` naming what is wrong.
    public init(_ text: String) throws(MosquittoError) {
        // Only the redacted text appears in messages: a URL given with a password must not
        // put it into logs or onto a terminal.
        let shown = Self.redacting(text)
        guard let schemeEnd = text.range(of: "://") else {
            throw .invalidConfiguration("broker URL '\(shown)' has no scheme; expected mqtt://host:port or mqtts://host:port")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "mqtt", "tcp": usesTLS = false
        case "mqtts", "ssl": usesTLS = true
        default:
            throw .invalidConfiguration("broker URL '\(shown)' has scheme '\(scheme)'; expected mqtt or mqtts")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        if rest.contains("@") {
            throw .invalidConfiguration(
                "broker URL '\(shown)' has a user name or password in it; give them as settings of their own (taktd.yaml username/password, takt-sim --username/--password-file)")
        }
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw .invalidConfiguration("broker URL '\(shown)' has a path; expected mqtt://host:port")
            }
            rest = rest[..<slash]
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw .invalidConfiguration("broker URL '\(shown)' has an unclosed IPv6 bracket")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw .invalidConfiguration("broker URL '\(shown)' has text after the IPv6 host")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else {
            throw .invalidConfiguration("broker URL '\(shown)' has no host")
        }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .invalidConfiguration("broker URL '\(shown)' has port '\(portText)'; expected 1 to 65535")
            }
            port = value
        } else {
            port = usesTLS ? 8883 : 1883
        }
    }

    /// Parses one broker URL or several separated by commas (`mqtt://a:1883,mqtt://b:1883`):
    /// the nodes of one clustered broker, tried in this order (`Configuration.alternateBrokers`).
    /// Spaces around an entry are ignored. A single URL gives exactly the errors of
    /// ``init(_:)``; a list is refused when an entry is empty, one is named twice, or the list
    /// mixes plain TCP and TLS (one client has one TLS setting). Throws `MosquittoError` of kind
    /// `.invalidConfiguration`.
    public static func list(_ text: String) throws(MosquittoError) -> [MQTTBrokerURL] {
        guard text.contains(",") else { return [try MQTTBrokerURL(text)] }
        // Credentials are refused before splitting: a password may hold a comma, and an entry
        // cut out of it must not appear in a message.
        if text.contains("@") { return [try MQTTBrokerURL(text)] }
        var brokers: [MQTTBrokerURL] = []
        for entry in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = entry.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else {
                throw .invalidConfiguration("broker list '\(text)' has an empty entry; expected mqtt://host:port,mqtt://host:port")
            }
            let url = try MQTTBrokerURL(trimmed)
            if brokers.contains(url) {
                throw .invalidConfiguration("broker list '\(text)' names \(url) twice")
            }
            brokers.append(url)
        }
        if Set(brokers.map(\.usesTLS)).count > 1 {
            throw .invalidConfiguration("broker list '\(text)' mixes mqtt:// and mqtts://; every node of one broker is reached the same way")
        }
        return brokers
    }

    /// `text` with the password of a `scheme://user:pass@host…` URL (or `user:pass@host…`)
    /// replaced by `***`: the form every message and log line shows a broker URL in.
    public static func redacting(_ text: String) -> String {
        let start = text.range(of: "://")?.upperBound ?? text.startIndex
        guard let at = text[start...].lastIndex(of: "@"),
              let colon = text[start..<at].firstIndex(of: ":") else { return text }
        return text.replacingCharacters(in: text.index(after: colon)..<at, with: "***")
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "mqtts" : "mqtt")://\(shownHost):\(port)"
    }
}
