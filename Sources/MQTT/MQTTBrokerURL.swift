import Foundation

/// Where the broker is: `mqtt://host:port` (plain TCP, default port 1883) or `mqtts://host:port`
/// (TLS, default port 8883). `tcp://` and `ssl://` are accepted as aliases; an IPv6 host is written
/// in brackets (`mqtt://[::1]:1883`).
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
        guard let schemeEnd = text.range(of: "://") else {
            throw .invalidConfiguration("broker URL '\(text)' has no scheme; expected mqtt://host:port or mqtts://host:port")
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        switch scheme {
        case "mqtt", "tcp": usesTLS = false
        case "mqtts", "ssl": usesTLS = true
        default:
            throw .invalidConfiguration("broker URL '\(text)' has scheme '\(scheme)'; expected mqtt or mqtts")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...].allSatisfy({ $0 == "/" }) else {
                throw .invalidConfiguration("broker URL '\(text)' has a path; expected mqtt://host:port")
            }
            rest = rest[..<slash]
        }
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw .invalidConfiguration("broker URL '\(text)' has an unclosed IPv6 bracket")
            }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw .invalidConfiguration("broker URL '\(text)' has text after the IPv6 host")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        guard !host.isEmpty else {
            throw .invalidConfiguration("broker URL '\(text)' has no host")
        }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .invalidConfiguration("broker URL '\(text)' has port '\(portText)'; expected 1 to 65535")
            }
            port = value
        } else {
            port = usesTLS ? 8883 : 1883
        }
    }

    public var description: String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "mqtts" : "mqtt")://\(shownHost):\(port)"
    }
}
