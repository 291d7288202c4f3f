#if canImport(Glibc)
import Glibc
#endif
import TaktCore

/// A failed check: which case (its seed replays it), which step, which check, and what was seen.
public struct FuzzFailure: Error, Sendable, CustomStringConvertible {
    public var mode: String
    public var caseSeed: UInt64
    public var step: Int
    public var check: String
    public var detail: String

    public var description: String {
        "FAILED \(mode) case seed \(caseSeed) step \(step): [\(check)] \(detail)"
    }
}

/// Where the run is, for a crash handler: a trap kills the process, so the executable's signal
/// handler prints these (written before each case and step).
public enum FuzzProgress {
    nonisolated(unsafe) public static var caseSeed: UInt64 = 0
    nonisolated(unsafe) public static var step: Int = -1
    /// 1 = sequences, 2 = decoders.
    nonisolated(unsafe) public static var mode: Int = 0
}

/// Counts of a run.
public struct FuzzStats: Sendable {
    public var cases = 0
    public var messages = 0
    public var drains = 0
    public var restarts = 0
    /// accepted, duplicate, then one slot per ``DeadLetterReason`` (in `allCases` order).
    public var outcomes: [Int] = Array(repeating: 0, count: 2 + DeadLetterReason.allCases.count)
    /// Decoder mode: results by kind (`ok`, then one per reason) and topic results.
    public var topicsOK = 0
    public var topicsBad = 0
    public var maxUpdatesPerDrain = 0
    public var maxTimelineBytes = 0
    public var maxDrainSeconds = 0.0
    public var maxStepSeconds = 0.0
    public var failures: [FuzzFailure] = []

    public init() {}

    static let reasonIndex: [DeadLetterReason: Int] = {
        var d: [DeadLetterReason: Int] = [:]
        for (k, r) in DeadLetterReason.allCases.enumerated() { d[r] = k + 2 }
        return d
    }()

    mutating func count(_ o: IngestOutcome) {
        switch o {
        case .accepted: outcomes[0] += 1
        case .duplicate: outcomes[1] += 1
        case .deadLetter(let r, _): outcomes[Self.reasonIndex[r]!] += 1
        }
    }

    mutating func count(reason r: DeadLetterReason?) {
        if let r { outcomes[Self.reasonIndex[r]!] += 1 } else { outcomes[0] += 1 }
    }

    /// `accepted=… duplicate=… bad_topic=…` (zero counts left out); `okName` names slot 0.
    public func outcomeSummary(okName: String = "accepted", withDuplicates: Bool = true) -> String {
        var parts: [String] = ["\(okName)=\(outcomes[0])"]
        if withDuplicates { parts.append("duplicate=\(outcomes[1])") }
        for (k, r) in DeadLetterReason.allCases.enumerated() where outcomes[k + 2] > 0 {
            parts.append("\(r.rawValue)=\(outcomes[k + 2])")
        }
        return parts.joined(separator: " ")
    }
}

/// Monotonic seconds.
@inline(__always)
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Bytes as text with everything but printable ASCII (and `\`, space) as `\xHH`: one token,
/// round-trips through ``unescape(_:)``.
public func escapeBytes(_ b: [UInt8]) -> String {
    var s = ""
    s.reserveCapacity(b.count)
    let hex = Array("0123456789abcdef".utf8)
    for c in b {
        if c > 0x20 && c < 0x7F && c != UInt8(ascii: "\\") {
            s.unicodeScalars.append(Unicode.Scalar(c))
        } else {
            s += "\\x" + String(decoding: [hex[Int(c >> 4)], hex[Int(c & 15)]], as: UTF8.self)
        }
    }
    return s
}

/// The inverse of ``escapeBytes(_:)``.
public func unescapeBytes(_ s: Substring) -> [UInt8]? {
    var out: [UInt8] = []
    let u = Array(s.utf8)
    var i = 0
    func nib(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
    while i < u.count {
        if u[i] == UInt8(ascii: "\\") {
            guard i + 3 < u.count, u[i + 1] == UInt8(ascii: "x"), let a = nib(u[i + 2]), let b = nib(u[i + 3]) else { return nil }
            out.append(a << 4 | b)
            i += 4
        } else {
            out.append(u[i])
            i += 1
        }
    }
    return out
}
