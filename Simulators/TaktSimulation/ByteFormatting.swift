/// Deterministic number formatting into byte buffers: no `String(describing:)`, no locale, no
/// allocation per number.
extension Array where Element == UInt8 {
    /// Appends the ASCII bytes of a static string.
    @inline(__always)
    mutating func appendASCII(_ text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends a signed integer in decimal.
    @inline(__always)
    mutating func appendDecimal(_ value: Int64) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(UInt64(bitPattern: 0 &- value))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    /// Appends an unsigned integer in decimal.
    @inline(__always)
    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 {
            append(UInt8(truncatingIfNeeded: value) &+ 0x30)
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: enough for 20 digits
        var count = 0
        var v = value
        Swift.withUnsafeMutableBytes(of: &digits) { raw in
            while v > 0 {
                raw[23 - count] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
                count += 1
            }
            append(contentsOf: raw[(24 - count)...])
        }
    }

    /// Appends `value` zero-padded to at least `width` digits (value ≥ 0).
    mutating func appendPadded(_ value: Int64, width: Int) {
        var digits = 1
        var limit: Int64 = 10
        while value >= limit && digits < 19 {
            digits += 1
            limit &*= 10
        }
        if digits < width {
            for _ in 0..<(width - digits) { append(0x30) }
        }
        appendDecimal(value)
    }

    /// Appends `micros / 1e6` with exactly six decimals (`0.441634`, `-1.000000`).
    mutating func appendMicros(_ micros: Int64) {
        var v = micros
        if v < 0 {
            append(UInt8(ascii: "-"))
            v = -v
        }
        appendDecimal(v / 1_000_000)
        append(UInt8(ascii: "."))
        appendPadded(v % 1_000_000, width: 6)
    }

    /// Appends `millis / 1000` exactly, without trailing zeros (`3540`, `3540.5`, `0.007`).
    mutating func appendMillisAsSeconds(_ millis: Int64) {
        var v = millis
        if v < 0 {
            append(UInt8(ascii: "-"))
            v = -v
        }
        appendDecimal(v / 1000)
        var fraction = v % 1000
        guard fraction != 0 else { return }
        append(UInt8(ascii: "."))
        var width = 3
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        appendPadded(fraction, width: width)
    }

    /// Appends a JSON string (quotes and escapes included).
    mutating func appendJSONString(_ text: String) {
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): appendASCII("\\\"")
            case UInt8(ascii: "\\"): appendASCII("\\\\")
            case 0..<0x20:
                appendASCII("\\u00")
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                append(hex[Int(byte >> 4)])
                append(hex[Int(byte & 0xF)])
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
