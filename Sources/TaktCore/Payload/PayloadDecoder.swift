/// Decodes and validates unit and state payloads (contract section 2) straight from bytes.
///
/// A single pass over the bytes, no Foundation, no heap allocation for a good message
/// (except `serial` when ``PayloadLimits/keepSerial`` is on). Every rule of the contract is
/// checked; the choices where the contract is silent (see `docs/core.md`):
/// - Integer fields (`ts`, `seq`, `boot`, `good`, `scrap`, `cycle_ms`, `state`) accept only
///   integer tokens: `1.0`, `1e3` are `wrong_type`. `-0` is 0; other negatives `out_of_range`.
/// - A known key given twice is `duplicate_key` (parsers disagree on first/last wins).
///   Duplicate unknown keys are ignored.
/// - `null` for an optional field means absent; for `ts`, `seq`, `state` it is `wrong_type`.
/// - Keys are compared after unescaping (`"t\u0073"` is `ts`).
/// - `NaN`, `Infinity`, `-Infinity` anywhere are `not_finite`; a number that overflows a
///   Double (`1e400`) in `energy_kwh` is `out_of_range`.
/// - A lone UTF-16 surrogate in a `\u` escape is `bad_utf8`; a byte-order mark is `not_json`.
/// - Structural faults (syntax, UTF-8, depth, NaN) win over field faults; among field faults
///   the first in the payload wins; then missing fields, `empty_unit`, `in_future`.
///
/// Fields a kind does not know are unknown and ignored: `state` in a unit payload, `good` in a
/// state payload.
public struct PayloadDecoder: Sendable {
    public var limits: PayloadLimits

    public init(limits: PayloadLimits = PayloadLimits()) {
        self.limits = limits
    }

    /// Decodes `bytes` as a payload of `kind`.
    ///
    /// - Parameters:
    ///   - now: the daemon's clock, epoch ms (for `max_future_s`).
    /// - Complexity: O(bytes).
    public func decode(_ bytes: UnsafeRawBufferPointer, kind: MessageKind, now: Int64) throws(PayloadError) -> DecodedPayload {
        guard bytes.count <= limits.maxPayloadBytes else {
            throw PayloadError(.tooLarge, "\(bytes.count) bytes, at most \(limits.maxPayloadBytes)")
        }
        guard let base = bytes.baseAddress, bytes.count > 0 else {
            throw PayloadError(.notJSON, "empty payload")
        }
        var s = JSONScanner(base.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        return try s.decodePayload(kind: kind, limits: limits, now: now)
    }

    /// Decodes a payload held in an array.
    public func decode(_ bytes: [UInt8], kind: MessageKind, now: Int64) throws(PayloadError) -> DecodedPayload {
        let r = bytes.withUnsafeBytes { raw in
            Result { () throws(PayloadError) -> DecodedPayload in try decode(raw, kind: kind, now: now) }
        }
        return try r.get()
    }
}

// MARK: - Fields

/// Known keys, as bit positions for duplicate detection.
@usableFromInline
enum PayloadField: UInt16 {
    case ts = 1, seq = 2, boot = 4, good = 8, scrap = 16, energy = 32, cycle = 64, serial = 128, state = 256

    var name: String {
        switch self {
        case .ts: return "ts"
        case .seq: return "seq"
        case .boot: return "boot"
        case .good: return "good"
        case .scrap: return "scrap"
        case .energy: return "energy_kwh"
        case .cycle: return "cycle_ms"
        case .serial: return "serial"
        case .state: return "state"
        }
    }

    /// Packs up to 16 key bytes little-endian into two words (`len` separately).
    struct Packed: Equatable {
        var lo: UInt64 = 0
        var hi: UInt64 = 0
        var len: Int = 0

        @inline(__always)
        mutating func append(_ b: UInt8) -> Bool {
            guard len < 16 else { len += 1; return false }
            if len < 8 { lo |= UInt64(b) << (UInt64(len) * 8) } else { hi |= UInt64(b) << (UInt64(len - 8) * 8) }
            len += 1
            return true
        }

        init() {}
        init(_ s: StaticString) {
            var p = UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: UInt8.self)
            for _ in 0..<s.utf8CodeUnitCount { _ = append(p.pointee); p += 1 }
        }
    }

    static let kTs = Packed("ts"), kSeq = Packed("seq"), kBoot = Packed("boot"), kGood = Packed("good"),
        kScrap = Packed("scrap"), kEnergy = Packed("energy_kwh"), kCycle = Packed("cycle_ms"),
        kSerial = Packed("serial"), kState = Packed("state")

    /// The field `key` names in a payload of `kind`, or `nil` (unknown, ignored).
    @inline(__always)
    static func lookup(_ key: Packed, kind: MessageKind) -> PayloadField? {
        switch key.len {
        case 2: return key == kTs ? .ts : nil
        case 3: return key == kSeq ? .seq : nil
        case 4:
            if key == kBoot { return .boot }
            return kind == .unit && key == kGood ? .good : nil
        case 5:
            if kind == .unit { return key == kScrap ? .scrap : nil }
            return key == kState ? .state : nil
        case 6: return kind == .unit && key == kSerial ? .serial : nil
        case 8: return kind == .unit && key == kCycle ? .cycle : nil
        case 10: return kind == .unit && key == kEnergy ? .energy : nil
        default: return nil
        }
    }
}

// MARK: - Scanner

/// A cursor over the payload bytes. All reads are bounds-checked against `end` by hand.
@usableFromInline
struct JSONScanner {
    let p: UnsafePointer<UInt8>
    let end: Int
    var i: Int = 0

    init(_ p: UnsafePointer<UInt8>, count: Int) {
        self.p = p
        self.end = count
    }

    // Byte constants.
    static let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\"), colon = UInt8(ascii: ":"),
        comma = UInt8(ascii: ","), lbrace = UInt8(ascii: "{"), rbrace = UInt8(ascii: "}"),
        lbracket = UInt8(ascii: "["), rbracket = UInt8(ascii: "]"), minus = UInt8(ascii: "-"),
        plus = UInt8(ascii: "+"), dot = UInt8(ascii: "."), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")

    @inline(__always) var atEnd: Bool { i >= end }
    @inline(__always) var peek: UInt8 { i < end ? p[i] : 0 }

    @inline(__always)
    mutating func skipWS() {
        while i < end {
            let c = p[i]
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { i += 1 } else { return }
        }
    }

    func syntax(_ what: String) -> PayloadError {
        if i >= end { return PayloadError(.notJSON, "unexpected end of payload (\(what))") }
        let c = p[i]
        if c >= 0x80 {
            // A non-ASCII byte outside a string: bad UTF-8 if the sequence is invalid.
            var probe = self
            if (try? probe.utf8Sequence()) == nil {
                return PayloadError(.badUTF8, "invalid UTF-8 at byte \(i)")
            }
            return PayloadError(.notJSON, "unexpected non-ASCII character at byte \(i) (\(what))")
        }
        let shown = c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        return PayloadError(.notJSON, "unexpected \(shown) at byte \(i) (\(what))")
    }

    // MARK: Payload

    mutating func decodePayload(kind: MessageKind, limits: PayloadLimits, now: Int64) throws(PayloadError) -> DecodedPayload {
        skipWS()
        guard i < end else { throw PayloadError(.notJSON, "no JSON value") }
        if p[i] != Self.lbrace {
            let first = p[i]
            try skipValue(level: 1)
            skipWS()
            guard i == end else { throw syntax("after the value") }
            let what: String
            switch first {
            case Self.lbracket: what = "an array"
            case Self.quote: what = "a string"
            case UInt8(ascii: "t"), UInt8(ascii: "f"): what = "a boolean"
            case UInt8(ascii: "n"): what = "null"
            default: what = "a number"
            }
            throw PayloadError(.notObject, "payload is \(what), not an object")
        }
        i += 1

        var seen: UInt16 = 0
        var fault: PayloadError? = nil
        var ts: Int64 = 0, seq: Int64 = 0, boot: Int64 = 0
        var good: Int64 = -1, scrap: Int64 = -1, cycle: Int64 = -1, state: Int64 = -1
        var energy: Double = -1
        var serialRange: (Int, Int, Bool)? = nil  // start, end, hasEscapes
        var haveTs = false, haveSeq = false, haveState = false

        skipWS()
        if peek == Self.rbrace {
            i += 1
        } else {
            while true {
                skipWS()
                guard peek == Self.quote else { throw syntax("expected a key") }
                let key = try scanKey()
                skipWS()
                guard peek == Self.colon else { throw syntax("expected ':'") }
                i += 1
                skipWS()
                if let field = PayloadField.lookup(key, kind: kind) {
                    if seen & field.rawValue != 0 {
                        if fault == nil { fault = PayloadError(.duplicateKey, "\(field.name) appears more than once") }
                        try skipValue(level: 2)
                    } else {
                        seen |= field.rawValue
                        switch field {
                        case .ts:
                            if let v = try integerField(field, max: (1 << 53) - 1, min: 0, nullable: false, fault: &fault) { ts = v; haveTs = true }
                        case .seq:
                            if let v = try integerField(field, max: (1 << 53) - 1, min: 0, nullable: false, fault: &fault) { seq = v; haveSeq = true }
                        case .boot:
                            if let v = try integerField(field, max: (1 << 53) - 1, min: 0, nullable: true, fault: &fault) { boot = v }
                        case .good:
                            if let v = try integerField(field, max: 1_000_000, min: 0, nullable: true, fault: &fault) { good = v }
                        case .scrap:
                            if let v = try integerField(field, max: 1_000_000, min: 0, nullable: true, fault: &fault) { scrap = v }
                        case .cycle:
                            if let v = try integerField(field, max: 86_400_000, min: 1, nullable: true, fault: &fault) { cycle = v }
                        case .state:
                            if let v = try integerField(field, max: Int64(StateCode.acceptedRange.upperBound),
                                                        min: Int64(StateCode.acceptedRange.lowerBound), nullable: false, fault: &fault) {
                                state = v; haveState = true
                            }
                        case .energy:
                            if let v = try doubleField(field, fault: &fault) { energy = v }
                        case .serial:
                            serialRange = try serialField(fault: &fault)
                        }
                    }
                } else {
                    try skipValue(level: 2)
                }
                skipWS()
                guard i < end else { throw syntax("expected ',' or '}'") }
                let c = p[i]
                i += 1
                if c == Self.comma { continue }
                if c == Self.rbrace { break }
                i -= 1
                throw syntax("expected ',' or '}'")
            }
        }
        skipWS()
        guard i == end else { throw syntax("after the object") }
        if let fault { throw fault }

        guard haveTs else { throw PayloadError(.missingField, "ts is required") }
        guard haveSeq else { throw PayloadError(.missingField, "seq is required") }
        if limits.maxFutureS > 0, ts - now > limits.maxFutureS &* 1000 {
            throw PayloadError(.inFuture, "ts \(ts) is \((ts - now) / 1000) s ahead of the daemon clock (max_future_s \(limits.maxFutureS))")
        }
        switch kind {
        case .state:
            guard haveState else { throw PayloadError(.missingField, "state is required") }
            return .state(StateEvent(ts: ts, seq: seq, boot: boot, state: StateCode(rawValue: UInt32(state))))
        case .unit:
            if good < 0 && scrap < 0 { good = 1; scrap = 0 }
            if good < 0 { good = 0 }
            if scrap < 0 { scrap = 0 }
            if good == 0 && scrap == 0 { throw PayloadError(.emptyUnit, "good and scrap are both 0") }
            var serial: String? = nil
            if limits.keepSerial, let (a, b, esc) = serialRange {
                serial = esc ? Self.unescape(UnsafeBufferPointer(start: p + a, count: b - a))
                    : String(decoding: UnsafeBufferPointer(start: p + a, count: b - a), as: UTF8.self)
            }
            return .unit(UnitEvent(ts: ts, seq: seq, boot: boot, good: Int32(good), scrap: Int32(scrap),
                                   energyKwh: energy >= 0 ? energy : nil,
                                   cycleMs: cycle >= 0 ? Int32(cycle) : nil, serial: serial))
        }
    }

    // MARK: Typed fields

    /// Parses an integer field. Returns `nil` (and records a fault, or means "absent" for a
    /// nullable `null`) when there is no usable value.
    @inline(__always)
    mutating func integerField(_ field: PayloadField, max: Int64, min: Int64, nullable: Bool,
                               fault: inout PayloadError?) throws(PayloadError) -> Int64? {
        let c = peek
        if c == Self.minus || (c >= Self.zero && c <= Self.nine) {
            let start = i
            let n = try scanNumber()
            if !n.isInteger {
                if fault == nil { fault = PayloadError(.wrongType, "\(field.name) must be an integer, got \(token(start))") }
                return nil
            }
            if n.overflow || (n.negative && n.magnitude != 0) || n.magnitude > UInt64(max) || Int64(n.magnitude) < min {
                if fault == nil {
                    fault = PayloadError(.outOfRange, "\(field.name) \(token(start)) is outside \(min)…\(max)")
                }
                return nil
            }
            return Int64(n.magnitude)
        }
        return try nonNumber(field, expected: "an integer", nullable: nullable, fault: &fault)
    }

    @inline(__always)
    mutating func doubleField(_ field: PayloadField, fault: inout PayloadError?) throws(PayloadError) -> Double? {
        let c = peek
        if c == Self.minus || (c >= Self.zero && c <= Self.nine) {
            let start = i
            let n = try scanNumber()
            let v = n.doubleValue(p + start, count: i - start)
            if !(v >= 0 && v <= 1e6) {
                if n.negative && v == 0 { return 0 }
                if fault == nil { fault = PayloadError(.outOfRange, "\(field.name) \(token(start)) is outside 0…1e6") }
                return nil
            }
            return v == 0 ? 0 : v
        }
        _ = try nonNumber(field, expected: "a number", nullable: true, fault: &fault)
        return nil
    }

    mutating func serialField(fault: inout PayloadError?) throws(PayloadError) -> (Int, Int, Bool)? {
        if peek == Self.quote {
            i += 1
            let start = i
            let (decodedLen, escaped) = try scanStringBody()
            if decodedLen > 128 {
                if fault == nil { fault = PayloadError(.outOfRange, "serial is \(decodedLen) bytes, at most 128") }
                return nil
            }
            return (start, i - 1, escaped)
        }
        _ = try nonNumber(.serial, expected: "a string", nullable: true, fault: &fault)
        return nil
    }

    /// A value that is not what `field` wants: `null` (absent if nullable), or a wrong type.
    mutating func nonNumber(_ field: PayloadField, expected: String, nullable: Bool,
                            fault: inout PayloadError?) throws(PayloadError) -> Int64? {
        let c = peek
        let got: String
        switch c {
        case UInt8(ascii: "n"): got = "null"
        case Self.quote: got = "a string"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): got = "a boolean"
        case Self.lbrace: got = "an object"
        case Self.lbracket: got = "an array"
        default: got = "a number"
        }
        try skipValue(level: 2)  // validates it; throws not_json / not_finite / too_deep
        if c == UInt8(ascii: "n") && nullable { return nil }
        if fault == nil { fault = PayloadError(.wrongType, "\(field.name) must be \(expected), got \(got)") }
        return nil
    }

    /// Up to 32 bytes of the token that started at `start`, for details.
    func token(_ start: Int) -> String {
        let n = Swift.min(i - start, 32)
        return String(decoding: UnsafeBufferPointer(start: p + start, count: n), as: UTF8.self)
    }

    // MARK: Numbers

    struct Number {
        var negative = false
        var isInteger = true
        var overflow = false
        /// The integer part's value (meaningful when `isInteger && !overflow`).
        var magnitude: UInt64 = 0
        /// Significant digits (up to 19) and the power of ten that scales them.
        var mantissa: UInt64 = 0
        var digits = 0
        var exp10 = 0
        var simple = true

        func doubleValue(_ p: UnsafePointer<UInt8>, count: Int) -> Double {
            // Clinger's fast path: exact when mantissa ≤ 2^53 and |exp10| ≤ 22.
            if simple && mantissa <= (1 << 53) && exp10 >= -22 && exp10 <= 22 {
                var v = Double(mantissa)
                if exp10 < 0 { v /= Self.pow10[-exp10] } else { v *= Self.pow10[exp10] }
                return negative ? -v : v
            }
            return Double(String(decoding: UnsafeBufferPointer(start: p, count: count), as: UTF8.self)) ?? .nan
        }

        static let pow10: [Double] = (0...22).map { e in
            var v = 1.0
            for _ in 0..<e { v *= 10 }
            return v
        }
    }

    /// Scans a JSON number (strict RFC 8259 grammar).
    @inline(__always)
    mutating func scanNumber() throws(PayloadError) -> Number {
        var n = Number()
        if p[i] == Self.minus {
            n.negative = true
            i += 1
            if i < end && p[i] == UInt8(ascii: "I") { throw PayloadError(.notFinite, "-Infinity is not a number JSON allows") }
        }
        guard i < end, p[i] >= Self.zero && p[i] <= Self.nine else { throw syntax("expected a digit") }
        if p[i] == Self.zero {
            i += 1
            if i < end && p[i] >= Self.zero && p[i] <= Self.nine { throw syntax("leading zero") }
        } else {
            while i < end {
                let d = p[i] &- Self.zero
                if d > 9 { break }
                let (m1, o1) = n.magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(UInt64(d))
                if o1 || o2 { n.overflow = true }
                n.magnitude = m2
                n.addDigit(d)
                i += 1
            }
        }
        if i < end && p[i] == Self.dot {
            n.isInteger = false
            i += 1
            let s = i
            while i < end {
                let d = p[i] &- Self.zero
                if d > 9 { break }
                n.addDigit(d)
                n.exp10 -= 1
                i += 1
            }
            if i == s { throw syntax("expected a digit after '.'") }
        }
        if i < end && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            n.isInteger = false
            i += 1
            var eneg = false
            if i < end && (p[i] == Self.plus || p[i] == Self.minus) { eneg = p[i] == Self.minus; i += 1 }
            let s = i
            var e = 0
            while i < end {
                let d = p[i] &- Self.zero
                if d > 9 { break }
                if e < 100_000 { e = e * 10 + Int(d) }
                i += 1
            }
            if i == s { throw syntax("expected a digit in the exponent") }
            n.exp10 += eneg ? -e : e
        }
        return n
    }

    // MARK: Strings

    /// Scans a key (at its opening quote) and packs it for ``PayloadField/lookup(_:kind:)``.
    @inline(__always)
    mutating func scanKey() throws(PayloadError) -> PayloadField.Packed {
        i += 1
        let start = i
        var key = PayloadField.Packed()
        // Fast path: short ASCII key without escapes.
        while i < end {
            let c = p[i]
            if c == Self.quote { i += 1; return key }
            if c == Self.backslash || c < 0x20 || c >= 0x80 { break }
            _ = key.append(c)
            i += 1
        }
        // Slow path: validate the whole string, then unescape it into the packed key.
        i = start
        let (_, escaped) = try scanStringBody()
        if !escaped {
            // Non-ASCII and unescaped: never one of the (ASCII) known keys.
            var unknown = PayloadField.Packed()
            unknown.len = Int.max / 2
            return unknown
        }
        var k = PayloadField.Packed()
        var j = start
        let stop = i - 1
        while j < stop {
            if p[j] == Self.backslash {
                let e = p[j + 1]
                if e == UInt8(ascii: "u") {
                    let cp = Self.hex4(p + j + 2)
                    j += 6
                    // Known keys are ASCII; anything else just makes the key unknown.
                    if cp < 0x80 { _ = k.append(UInt8(cp)) } else { _ = k.append(0xFF) }
                } else {
                    _ = k.append(Self.unescapeByte(e))
                    j += 2
                }
            } else {
                _ = k.append(p[j])
                j += 1
            }
        }
        return k
    }

    /// Scans a string body (after the opening quote) through the closing quote, validating
    /// escapes and UTF-8. Returns the decoded length in UTF-8 bytes and whether it had escapes.
    @inline(__always)
    mutating func scanStringBody() throws(PayloadError) -> (Int, Bool) {
        var escaped = false
        var extra = 0  // decoded length minus raw length
        let start = i
        while i < end {
            let c = p[i]
            if c == Self.quote {
                i += 1
                return (i - 1 - start + extra, escaped)
            }
            if c == Self.backslash {
                escaped = true
                guard i + 1 < end else { i = end; throw syntax("unterminated string") }
                let e = p[i + 1]
                switch e {
                case Self.quote, Self.backslash, UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    i += 2
                    extra -= 1
                case UInt8(ascii: "u"):
                    guard i + 6 <= end, Self.isHex4(p + i + 2) else { i += 1; throw syntax("bad \\u escape") }
                    let cp = Self.hex4(p + i + 2)
                    i += 6
                    if cp >= 0xD800 && cp <= 0xDBFF {
                        guard i + 6 <= end, p[i] == Self.backslash, p[i + 1] == UInt8(ascii: "u"), Self.isHex4(p + i + 2) else {
                            throw PayloadError(.badUTF8, "lone surrogate \\u\(String(cp, radix: 16)) in a string")
                        }
                        let lo = Self.hex4(p + i + 2)
                        guard lo >= 0xDC00 && lo <= 0xDFFF else {
                            throw PayloadError(.badUTF8, "lone surrogate \\u\(String(cp, radix: 16)) in a string")
                        }
                        i += 6
                        extra += 4 - 12
                    } else if cp >= 0xDC00 && cp <= 0xDFFF {
                        throw PayloadError(.badUTF8, "lone surrogate \\u\(String(cp, radix: 16)) in a string")
                    } else {
                        extra += (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3) - 6
                    }
                default:
                    i += 1
                    throw syntax("bad escape")
                }
                continue
            }
            if c < 0x20 { throw syntax("control character in a string") }
            if c < 0x80 { i += 1; continue }
            try utf8Sequence()
        }
        throw PayloadError(.notJSON, "unterminated string")
    }

    /// Validates one multi-byte UTF-8 sequence at `i` and steps over it.
    @inline(__always)
    mutating func utf8Sequence() throws(PayloadError) {
        let c = p[i]
        @inline(__always) func cont(_ k: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            i + k < end && p[i + k] >= lo && p[i + k] <= hi
        }
        var ok = false
        var len = 0
        switch c {
        case 0xC2...0xDF: len = 2; ok = cont(1)
        case 0xE0: len = 3; ok = cont(1, 0xA0, 0xBF) && cont(2)
        case 0xE1...0xEC, 0xEE...0xEF: len = 3; ok = cont(1) && cont(2)
        case 0xED: len = 3; ok = cont(1, 0x80, 0x9F) && cont(2)
        case 0xF0: len = 4; ok = cont(1, 0x90, 0xBF) && cont(2) && cont(3)
        case 0xF1...0xF3: len = 4; ok = cont(1) && cont(2) && cont(3)
        case 0xF4: len = 4; ok = cont(1, 0x80, 0x8F) && cont(2) && cont(3)
        default: ok = false
        }
        guard ok else { throw PayloadError(.badUTF8, "invalid UTF-8 at byte \(i)") }
        i += len
    }

    static func isHex4(_ q: UnsafePointer<UInt8>) -> Bool {
        for k in 0..<4 where hexValue(q[k]) < 0 { return false }
        return true
    }

    static func hex4(_ q: UnsafePointer<UInt8>) -> UInt32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 4 | UInt32(hexValue(q[k])) }
        return v
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> Int {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(c - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(c - UInt8(ascii: "A")) + 10
        default: return -1
        }
    }

    static func unescapeByte(_ e: UInt8) -> UInt8 {
        switch e {
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "f"): return 0x0C
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        default: return e  // " \ /
        }
    }

    /// Decodes an already validated string body with escapes (slow path, `serial` only).
    static func unescape(_ b: UnsafeBufferPointer<UInt8>) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var j = 0
        while j < b.count {
            if b[j] == backslash {
                let e = b[j + 1]
                if e == UInt8(ascii: "u") {
                    var cp = hex4(b.baseAddress! + j + 2)
                    j += 6
                    if cp >= 0xD800 && cp <= 0xDBFF {
                        let lo = hex4(b.baseAddress! + j + 2)
                        j += 6
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(cp)!)).utf8))
                } else {
                    out.append(unescapeByte(e))
                    j += 2
                }
            } else {
                out.append(b[j])
                j += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Skipping

    /// Validates and skips any JSON value. `level` is the nesting level an array or object
    /// starting here would have; deeper than ``PayloadLimits/maxDepth`` is `too_deep`.
    mutating func skipValue(level: Int) throws(PayloadError) {
        guard i < end else { throw syntax("expected a value") }
        let c = p[i]
        switch c {
        case Self.quote:
            i += 1
            _ = try scanStringBody()
        case Self.lbrace, Self.lbracket:
            guard level <= PayloadLimits.maxDepth else {
                throw PayloadError(.tooDeep, "nested deeper than \(PayloadLimits.maxDepth) levels")
            }
            let close = c == Self.lbrace ? Self.rbrace : Self.rbracket
            i += 1
            skipWS()
            if peek == close { i += 1; return }
            while true {
                skipWS()
                if c == Self.lbrace {
                    guard peek == Self.quote else { throw syntax("expected a key") }
                    i += 1
                    _ = try scanStringBody()
                    skipWS()
                    guard peek == Self.colon else { throw syntax("expected ':'") }
                    i += 1
                    skipWS()
                }
                try skipValue(level: level + 1)
                skipWS()
                guard i < end else { throw syntax("unterminated \(c == Self.lbrace ? "object" : "array")") }
                let d = p[i]
                if d == Self.comma { i += 1; continue }
                if d == close { i += 1; return }
                throw syntax("expected ',' or '\(Character(Unicode.Scalar(close)))'")
            }
        case Self.minus, Self.zero...Self.nine:
            _ = try scanNumber()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        case UInt8(ascii: "N"):
            if matches("NaN") { throw PayloadError(.notFinite, "NaN is not a number JSON allows") }
            throw syntax("expected a value")
        case UInt8(ascii: "I"):
            if matches("Infinity") { throw PayloadError(.notFinite, "Infinity is not a number JSON allows") }
            throw syntax("expected a value")
        default:
            throw syntax("expected a value")
        }
    }

    func matches(_ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= end else { return false }
        for k in 0..<n where p[i + k] != s.utf8Start[k] { return false }
        return true
    }

    @inline(__always)
    mutating func literal(_ s: StaticString) throws(PayloadError) {
        guard matches(s) else { throw syntax("expected \(s)") }
        i += s.utf8CodeUnitCount
    }
}

extension JSONScanner.Number {
    @inline(__always)
    mutating func addDigit(_ d: UInt8) {
        if digits < 19 {
            if mantissa == 0 && d == 0 {
                // Leading zeros are not significant (0.0001 → mantissa 1, exp10 -4).
            } else {
                mantissa = mantissa &* 10 &+ UInt64(d)
                digits += 1
            }
        } else {
            simple = false
        }
    }
}

