internal import CMosquitto

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Every failure the MQTT module reports: libmosquitto's own code and its text, so a log line or
/// an error message names exactly what went wrong (`mosquitto_strerror`, `mosquitto_connack_string`,
/// `mosquitto_reason_string`).
public struct MosquittoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the code comes from, which decides how to read it.
    public enum Kind: Sendable, Equatable {
        /// A `MOSQ_ERR_*` return code of a libmosquitto call.
        case library
        /// The broker refused the connection: `code` is the CONNACK return code (MQTT 3.1.1) or
        /// reason code (MQTT 5).
        case connectionRefused
        /// The broker refused a subscription (SUBACK 0x80 or an MQTT 5 reason code ≥ 0x80).
        case subscriptionRejected
        /// A setting that cannot work (bad URL, TLS without a CA, …); `code` is 0.
        case invalidConfiguration
        /// The client was closed while the operation waited; `code` is 0.
        case closed
        /// The connection was lost while a QoS 0 publish still waited to be written; `code` is 0.
        case connectionLost
    }

    public let kind: Kind
    /// libmosquitto's numeric code (`MOSQ_ERR_*`, CONNACK code or MQTT 5 reason code).
    public let code: Int32
    /// Human-readable text for `code`.
    public let message: String

    public init(kind: Kind, code: Int32, message: String) {
        self.kind = kind
        self.code = code
        self.message = message
    }

    /// Wraps a `MOSQ_ERR_*` return code. For `MOSQ_ERR_ERRNO` the text is the system's `errno` text.
    init(returnCode rc: Int32, errno savedErrno: Int32 = errno) {
        let text: String
        if rc == Int32(MOSQ_ERR_ERRNO.rawValue) {
            text = String(cString: strerror(savedErrno))
        } else {
            text = String(cString: mosquitto_strerror(rc))
        }
        self.init(kind: .library, code: rc, message: text)
    }

    /// A refused CONNACK, read with the table of the protocol version in use.
    static func connectionRefused(code: Int32, protocolVersion: MQTTProtocolVersion) -> MosquittoError {
        let text = protocolVersion == .v5
            ? String(cString: mosquitto_reason_string(code))
            : String(cString: mosquitto_connack_string(code))
        return MosquittoError(kind: .connectionRefused, code: code, message: text)
    }

    static func invalidConfiguration(_ message: String) -> MosquittoError {
        MosquittoError(kind: .invalidConfiguration, code: 0, message: message)
    }

    static let closed = MosquittoError(kind: .closed, code: 0, message: "the MQTT client was closed")
    static let connectionLost = MosquittoError(
        kind: .connectionLost, code: 0, message: "the connection was lost before a QoS 0 message was written")

    public var description: String {
        switch kind {
        case .library: return "libmosquitto error \(code): \(message)"
        case .connectionRefused: return "broker refused the connection (code \(code)): \(message)"
        case .subscriptionRejected: return "broker rejected the subscription: \(message)"
        case .invalidConfiguration: return "invalid MQTT configuration: \(message)"
        case .closed, .connectionLost: return message
        }
    }
}

/// Turns a libmosquitto return code into a thrown `MosquittoError`; the one place that does.
@inline(__always)
func check(_ rc: Int32) throws(MosquittoError) {
    if rc != Int32(MOSQ_ERR_SUCCESS.rawValue) {
        throw MosquittoError(returnCode: rc)
    }
}
