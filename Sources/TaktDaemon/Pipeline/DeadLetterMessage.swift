import Foundation

/// The payload of `takt/v1/deadletter` (contract section 4):
/// `{"topic", "reason", "detail", "payload_b64"}`, the payload cut at 1024 bytes.
struct DeadLetterMessage: Encodable, Sendable {
    static let maxPayloadBytes = 1024

    var topic: String
    var reason: String
    var detail: String
    var payloadB64: String

    enum CodingKeys: String, CodingKey {
        case topic, reason, detail
        case payloadB64 = "payload_b64"
    }

    init(topic: String, reason: String, detail: String, payload: [UInt8]) {
        self.topic = topic
        self.reason = reason
        self.detail = detail
        self.payloadB64 = Data(payload.prefix(DeadLetterMessage.maxPayloadBytes)).base64EncodedString()
    }

    var bytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }
}

/// The payload of `takt/v1/status/{instance}` (retained; the will carries `online: false`).
struct StatusMessage: Encodable {
    var online: Bool
    var instance: String
    var version: String
    /// ISO 8601 UTC time the daemon started.
    var started: String
    /// Shared lines: the lines this daemon holds (`site/line`); absent otherwise.
    var lines: [String]? = nil

    var bytes: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? Array(encoder.encode(self))) ?? Array("{}".utf8)
    }
}

/// The daemon's version, shown in its status messages and `--version`.
public let taktVersion = "0.1.0"
