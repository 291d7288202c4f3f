/// What an inbound message reports: finished units or a state change.
public enum MessageKind: String, Sendable, Hashable, Codable {
    case unit
    case state
}

/// A parsed inbound topic `takt/v1/{site}/{line}/{station}/unit|state` (contract section 1).
///
/// Invariant: `site`, `line`, `station` satisfy ``TopicSegment/isValid(_:)`` and `site` is not
/// reserved (``TopicSegment/reservedSites``).
public struct InboundTopic: Sendable, Hashable {
    public var site: String
    public var line: String
    public var station: String
    public var kind: MessageKind

    public init(site: String, line: String, station: String, kind: MessageKind) {
        self.site = site
        self.line = line
        self.station = station
        self.kind = kind
    }

    /// The topic string this value was parsed from.
    public var topic: String { "takt/v1/\(site)/\(line)/\(station)/\(kind.rawValue)" }

    /// Parses a topic given as UTF-8 bytes.
    ///
    /// Any other shape under `takt/v1/#` (empty, missing or extra levels, bad characters,
    /// an unknown last level, a reserved site) throws `bad_topic` with a detail.
    /// Complexity: O(bytes); allocates only the three segment strings (inline when ≤ 15 bytes).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(TopicError) -> InboundTopic {
        let b = bytes.bindMemory(to: UInt8.self)
        let plen = 8
        guard b.count >= plen, b[0..<plen].elementsEqual("takt/v1/".utf8) else {
            throw TopicError(.badTopic, "topic must start with takt/v1/")
        }
        // Split the rest on '/', remembering up to 4 segment ranges.
        var starts = (0, 0, 0, 0)
        var ends = (0, 0, 0, 0)
        var n = 0
        var segStart = plen
        var i = plen
        while i <= b.count {
            if i == b.count || b[i] == UInt8(ascii: "/") {
                if n >= 4 { throw TopicError(.badTopic, "too many levels (want takt/v1/{site}/{line}/{station}/unit|state)") }
                switch n {
                case 0: starts.0 = segStart; ends.0 = i
                case 1: starts.1 = segStart; ends.1 = i
                case 2: starts.2 = segStart; ends.2 = i
                default: starts.3 = segStart; ends.3 = i
                }
                n += 1
                segStart = i + 1
            }
            i += 1
        }
        guard n == 4 else {
            throw TopicError(.badTopic, "\(n + 2) levels, want 6: takt/v1/{site}/{line}/{station}/unit|state")
        }
        let names = ["site", "line", "station"]
        let rs = [starts.0..<ends.0, starts.1..<ends.1, starts.2..<ends.2]
        for (k, r) in rs.enumerated() {
            if let fault = TopicSegment.fault(UnsafeBufferPointer(rebasing: b[r])) {
                throw TopicError(.badTopic, "\(names[k]) \(fault)")
            }
        }
        let last = UnsafeBufferPointer(rebasing: b[starts.3..<ends.3])
        let kind: MessageKind
        if last.elementsEqual("unit".utf8) {
            kind = .unit
        } else if last.elementsEqual("state".utf8) {
            kind = .state
        } else {
            throw TopicError(.badTopic, "last level must be unit or state")
        }
        let site = String(decoding: UnsafeBufferPointer(rebasing: b[rs[0]]), as: UTF8.self)
        if TopicSegment.reservedSites.contains(site) {
            throw TopicError(.badTopic, "site '\(site)' is reserved")
        }
        return InboundTopic(
            site: site,
            line: String(decoding: UnsafeBufferPointer(rebasing: b[rs[1]]), as: UTF8.self),
            station: String(decoding: UnsafeBufferPointer(rebasing: b[rs[2]]), as: UTF8.self),
            kind: kind)
    }

    /// Parses a topic given as a `String`.
    public static func parse(_ topic: String) throws(TopicError) -> InboundTopic {
        var t = topic
        let result = t.withUTF8 { u in
            Result { () throws(TopicError) -> InboundTopic in try parse(UnsafeRawBufferPointer(u)) }
        }
        return try result.get()
    }
}

/// Rules for one topic level `{site}`, `{line}`, `{station}`: 1–64 bytes of `A-Z a-z 0-9 _ -`.
public enum TopicSegment {
    /// Longest segment, in bytes.
    public static let maxLength = 64
    /// Names that are the daemon's own output levels and therefore never sites.
    public static let reservedSites: Set<String> = ["metrics", "deadletter", "status", "alerts"]

    /// Whether `s` is a valid segment (does not check reserved names).
    public static func isValid(_ s: String) -> Bool {
        var s = s
        return s.withUTF8 { fault($0) == nil }
    }

    /// Whether `s` is usable as a site name: valid and not reserved.
    public static func isValidSite(_ s: String) -> Bool {
        isValid(s) && !reservedSites.contains(s)
    }

    /// `nil` when valid, else a short description of the fault.
    static func fault(_ s: UnsafeBufferPointer<UInt8>) -> String? {
        if s.isEmpty { return "is empty" }
        if s.count > maxLength { return "is \(s.count) bytes, at most \(maxLength)" }
        for c in s where !isSegmentByte(c) {
            return c < 0x80 ? "contains '\(Character(Unicode.Scalar(c)))'" : "contains a non-ASCII byte"
        }
        return nil
    }

    @inline(__always)
    static func isSegmentByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
