/// Payload and topic material: values at and around every boundary of contract sections 1–2,
/// valid payloads built from fields, and the mutations the decoder must survive.
public enum Boundary {
    public static let p31: Int64 = 1 << 31
    public static let p32: Int64 = 1 << 32
    public static let p53: Int64 = 1 << 53

    /// Integer tokens at the edges of every integer field and of Int32/Int64/UInt64/Double.
    public static let integerTokens: [String] = [
        "0", "1", "2", "-0", "-1", "2147483647", "2147483648", "4294967295", "4294967296", "9007199254740991",
        "9007199254740992", "9007199254740993", "9223372036854775807", "9223372036854775808", "18446744073709551615",
        "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1000000", "1000001", "86400000",
        "86400001", "9999", "10000", "229999", "230000", "00", "01", "-", "1.0", "1e3", "1E400", "1e-400", "0.5",
        "NaN", "Infinity", "-Infinity", "null", "true", "\"5\"", "[]", "{}", String(repeating: "9", count: 400),
        "0." + String(repeating: "0", count: 300) + "1", "1" + String(repeating: "0", count: 309), "-" + String(repeating: "1", count: 30),
    ]

    /// Number tokens for `energy_kwh`.
    public static let energyTokens: [String] = [
        "0", "0.0", "-0.0", "-0", "1000000", "1000000.0", "1000000.0000000001", "1000000.000001", "1e6", "1E+6", "1e400",
        "-1e-400", "5e-324", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "1.7976931348623159e308",
        "-1", "-0.0000001", "NaN", "Infinity", "-Infinity", "123456789012345678901234567890", "0.4416", "1e-7", ".5", "5.",
        "0x10", "+1", "1e", "1e+", "01.5", "null", "\"0.4\"", String(repeating: "1", count: 500), "1." + String(repeating: "3", count: 2000),
    ]

    /// State codes at every class edge.
    public static let stateTokens: [String] = [
        "9999", "10000", "19999", "20000", "29999", "30000", "39999", "40000", "49999", "50000", "99999", "100000", "159999",
        "160000", "179999", "180000", "229999", "230000", "0", "-1", "4294967296", "10000.0", "1e5", "\"10000\"", "null",
    ]

    /// Valid state codes, one of each class (and the unknown one).
    public static let stateCodes: [Int64] = [10_000, 20_000, 29_999, 30_000, 40_000, 55_000, 120_000, 150_000, 160_000, 179_999, 180_000, 229_999]

    /// Serial strings: escapes, multi-byte UTF-8, surrogate pairs and lone ones, 128/129 bytes.
    public static let serialTokens: [String] = [
        #""BL01-0001""#, #""""#, #""\u00e9\ud83d\ude00\n\t\"\\\/""#, "\"" + String(repeating: "x", count: 128) + "\"",
        "\"" + String(repeating: "x", count: 129) + "\"", "\"" + String(repeating: "é", count: 64) + "\"",
        "\"" + String(repeating: "é", count: 65) + "\"", #""\ud800""#, #""\udc00x""#, #""\ud83d\u0041""#, #""\u0000""#,
        #""\x41""#, #""\u12""#, "\"" + String(repeating: "\\u0041", count: 128) + "\"", "\"" + String(repeating: "\\u0041", count: 129) + "\"",
        "\"ab\u{7F}\"", "\"tab\there\"", "123", "null",
    ]
}

/// Builds a JSON object as bytes, field by field (any token as a value, so broken values too).
public struct PayloadWriter {
    public var bytes: [UInt8] = [UInt8(ascii: "{")]
    var fields = 0
    var spaced: Bool

    public init(spaced: Bool = false) {
        self.spaced = spaced
        bytes.reserveCapacity(160)
    }

    public mutating func field(_ key: String, _ token: String) {
        if fields > 0 { bytes.append(UInt8(ascii: ",")) }
        if spaced { bytes.append(UInt8(ascii: " ")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: key.utf8)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        if spaced { bytes.append(UInt8(ascii: " ")) }
        bytes.append(contentsOf: token.utf8)
        fields += 1
    }

    public mutating func field(_ key: String, _ v: Int64) { field(key, String(v)) }

    public mutating func finish() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }
}

/// The mutations of a payload's bytes.
public enum Mutator {
    static let alphabet: [UInt8] = Array(#"{}[]":,.-+eE0123456789 tfnul\"#.utf8) + [0xC3, 0xA9, 0xFF, 0x00, 0x0A, 0xED, 0xA0, 0x80, 0xC0, 0xEF, 0xBB, 0xBF, 0xF4, 0x90]
    static let insertions: [[UInt8]] = [
        Array(#"\u0073"#.utf8), Array(#"\ud800"#.utf8), Array(#"\udfff"#.utf8), Array(#"\ud83d\ude00"#.utf8), Array(#"\"#.utf8),
        [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xE0, 0x80, 0xAF], [0xF4, 0x90, 0x80, 0x80], [0xF0, 0x9F, 0x98], [0xEF, 0xBB, 0xBF],
        [0xC3], [0xFE], [0x00], Array("NaN".utf8), Array("-Infinity".utf8), Array("1e999".utf8), Array("-0".utf8),
        Array(#","ts":1"#.utf8), Array(#","seq":1"#.utf8), Array(#","t\u0073":1"#.utf8), Array(#","x":{"y":[null,true,false,"z"]}"#.utf8),
        Array(String(repeating: "7", count: 40).utf8), Array(String(repeating: " ", count: 100).utf8), Array("\r\n\t".utf8),
    ]

    /// `n` levels of nesting around a value, as arrays or objects.
    static func nest(_ n: Int, objects: Bool) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(n * 8 + 1)
        for _ in 0..<n { b.append(contentsOf: objects ? Array(#"{"a":"#.utf8) : [UInt8(ascii: "[")]) }
        b.append(UInt8(ascii: "1"))
        for _ in 0..<n { b.append(objects ? UInt8(ascii: "}") : UInt8(ascii: "]")) }
        return b
    }

    /// Applies 1–`max` random mutations in place.
    public static func mutate(_ b: inout [UInt8], _ rng: inout FuzzRandom, max: Int = 4) {
        for _ in 0..<rng.int(1...max) {
            let at = b.isEmpty ? 0 : rng.below(b.count + 1)
            switch rng.below(12) {
            case 0 where !b.isEmpty:  // bit flip
                let k = rng.below(b.count)
                b[k] ^= UInt8(1) << UInt8(rng.below(8))
            case 1 where !b.isEmpty:
                b[rng.below(b.count)] = rng.pick(alphabet)
            case 2:
                b.insert(rng.pick(alphabet), at: at)
            case 3 where !b.isEmpty:  // truncate
                b.removeLast(rng.int(1...b.count))
            case 4 where !b.isEmpty:
                b.remove(at: rng.below(b.count))
            case 5:
                b.insert(contentsOf: rng.pick(insertions), at: at)
            case 6:  // deep nesting around 15…18 levels (the limit is 16 with the object) or far deeper
                let n = rng.chance(3, in: 4) ? rng.int(13...18) : rng.int(19...5000)
                let value = nest(n, objects: rng.chance(1, in: 3))
                b.insert(contentsOf: Array(#","deep":"#.utf8) + value, at: insertionBeforeClose(b, at))
            case 7:  // a long number in place of a value
                b.insert(contentsOf: Array(rng.pick(Boundary.integerTokens).utf8), at: at)
            case 8 where b.count > 1:  // duplicate a slice
                let lo = rng.below(b.count)
                let hi = Swift.min(b.count, lo + rng.int(1...32))
                b.insert(contentsOf: b[lo..<hi], at: at)
            case 9:  // unopened or unclosed containers
                b.insert(rng.pick([UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "\"")]), at: at)
            case 10:  // a key with escapes
                b.insert(contentsOf: Array(rng.pick([#","\u0074s":5"#, #","s\u0065q":5"#, #","\u0000":1"#, #","é":1"#, #","ts":"#]).utf8),
                         at: insertionBeforeClose(b, at))
            default:
                if !b.isEmpty { b[rng.below(b.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
    }

    /// Just before the last `}` (so the insertion lands inside the object), else `at`.
    static func insertionBeforeClose(_ b: [UInt8], _ at: Int) -> Int {
        if let k = b.lastIndex(of: UInt8(ascii: "}")) { return k }
        return at
    }
}
