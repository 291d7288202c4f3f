import Foundation

/// The time and duration formats of the contract (section 5), parsed in one place for every
/// program: times are ISO 8601 (`2026-11-01T00:00:00Z`, with an offset or fractional seconds
/// too) or epoch milliseconds; durations are `90s`, `15m`, `8h`, `30d`.
public enum ContractTime {
    /// What is wrong with a value; the caller names the flag or key.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// ISO 8601 or epoch milliseconds (digits only, < 2^53) → epoch ms (0 ≤ result < 2^53).
    public static func epochMs(_ text: String) throws(ParseError) -> Int64 {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            guard let ms = Int64(text), ms < (1 << 53) else {
                throw ParseError("'\(text)' is out of range for epoch milliseconds")
            }
            return ms
        }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = plain.date(from: text) ?? fractional.date(from: text) else {
            throw ParseError("'\(text)' is not an ISO 8601 time (2026-11-01T00:00:00Z) or epoch milliseconds")
        }
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms >= 0, ms < 9_007_199_254_740_992 else { throw ParseError("'\(text)' is before 1970 or too far ahead") }
        return Int64(ms)
    }

    /// `90s`, `15m`, `8h`, `30d` → milliseconds (> 0, and small enough to add to any time).
    public static func durationMs(_ text: String) throws(ParseError) -> Int64 {
        let bad = ParseError("'\(text)' is not a duration like 90s, 15m, 8h or 30d")
        guard let unit = text.last, let number = Int64(text.dropLast()), number > 0,
              text.first.map({ $0 >= "0" && $0 <= "9" }) == true else { throw bad }
        let scale: Int64
        switch unit {
        case "s": scale = 1000
        case "m": scale = 60_000
        case "h": scale = 3_600_000
        case "d": scale = 86_400_000
        default: throw bad
        }
        guard number <= Int64.max / scale / 2 else { throw ParseError("'\(text)' is too long") }
        return number * scale
    }

    /// Epoch ms → `2026-11-01T00:00:00Z` (UTC, whole seconds, proleptic Gregorian calendar;
    /// days-from-civil inverse after H. Hinnant, so no formatter is allocated).
    public static func iso(_ ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilDay(Int(days)).components
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let y = year >= 0 && year < 10000 ? String(repeating: "0", count: 4 - "\(year)".count) + "\(year)" : "\(year)"
        let second = Int(secondOfDay)
        return "\(y)-\(two(month))-\(two(day))T\(two(second / 3600)):\(two(second / 60 % 60)):\(two(second % 60))Z"
    }
}
