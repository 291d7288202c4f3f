/// Why a message became a dead letter (contract section 4, `takt/v1/deadletter` `reason`).
///
/// A closed set: the raw values are part of the external contract, so cases are only ever
/// added, never renamed.
public enum DeadLetterReason: String, CaseIterable, Codable, Sendable, Hashable {
    /// The topic is not `takt/v1/{site}/{line}/{station}/unit|state` with valid segments.
    case badTopic = "bad_topic"
    /// Site, line or station is not named by any plant file.
    case unknownSource = "unknown_source"
    /// The payload is not JSON (syntax error, trailing bytes, empty).
    case notJSON = "not_json"
    /// Valid JSON, but not an object.
    case notObject = "not_object"
    /// Invalid UTF-8 (or a `\u` escape that is a lone surrogate).
    case badUTF8 = "bad_utf8"
    /// More bytes than `max_payload_bytes`.
    case tooLarge = "too_large"
    /// Arrays/objects nested deeper than 16 levels (the payload object itself is level 1).
    case tooDeep = "too_deep"
    /// A required field (`ts`, `seq`, `state`) is absent.
    case missingField = "missing_field"
    /// A known field has the wrong JSON type, e.g. a string, or `1.0` / `1e3` for an integer.
    case wrongType = "wrong_type"
    /// A known field is outside its range.
    case outOfRange = "out_of_range"
    /// `NaN`, `Infinity` or `-Infinity` anywhere in the payload (not JSON, named for clarity).
    case notFinite = "not_finite"
    /// A known field appears twice in the object.
    case duplicateKey = "duplicate_key"
    /// A unit message with `good: 0` and `scrap: 0`.
    case emptyUnit = "empty_unit"
    /// `ts` is more than `max_future_s` ahead of the daemon's clock.
    case inFuture = "in_future"
    /// `ts` is more than `max_age` behind the site's newest event.
    case tooOld = "too_old"
    /// `seq` is so far below the source's highest seq that dedup cannot tell whether it was
    /// already counted (outside the dedup bitmap); not counted, to keep exactly-once.
    case staleSeq = "stale_seq"
    /// `seq` is more than `max_seq_gap` above the source's highest (or a new boot's first seq
    /// is above `max_seq_gap`): not believed; nothing moves.
    case seqJump = "seq_jump"
    /// `boot` is more than `max_boot_gap` above the station's newest boot: nothing moves.
    case bootJump = "boot_jump"
    /// `boot` is older than every boot the station still holds (it keeps the newest two).
    case staleBoot = "stale_boot"
    /// A state change of a station whose timeline already holds `max_state_changes` changes
    /// within `max_age` (a device flapping faster than any line changes state).
    case stateFlood = "state_flood"
    /// A `spBv1.0/` payload that is not a Sparkplug B protobuf, or whose topic is not a
    /// Sparkplug topic (contract section 9).
    case badProtobuf = "bad_protobuf"
    /// A Sparkplug metric value that cannot be counted: the wrong value field for its BIRTH
    /// datatype, a type Takt does not read, or a cumulative counter that jumps by more than
    /// 1,000,000 units at once (its baseline moves, nothing is counted).
    case badValue = "bad_value"
}

/// A dead letter: the reason (closed set) and a human detail naming the field and the fault.
///
/// Constructed only on the error path, so the detail string costs nothing for good messages.
public struct DeadLetterError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: DeadLetterReason
    /// One line for people, e.g. `"cycle_ms: 0 is outside 1…86400000"`.
    public var detail: String

    public init(_ reason: DeadLetterReason, _ detail: String) {
        self.reason = reason
        self.detail = detail
    }

    public var description: String { "\(reason.rawValue): \(detail)" }
}

/// The error of ``PayloadDecoder``.
public typealias PayloadError = DeadLetterError
/// The error of ``InboundTopic/parse(_:)``.
public typealias TopicError = DeadLetterError
