/// A calendar date with no time zone, as a day number: days since 1970-01-01 (negative before).
///
/// The scenario planner counts in whole local days of the site; dates are compared and
/// subtracted as integers, and turned into `YYYY-MM-DD`, months and years here, without
/// Foundation's `Calendar` in the simulation's loops (Howard Hinnant's `days_from_civil`).
public struct CivilDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public var number: Int

    public init(_ number: Int) { self.number = number }

    /// The proleptic Gregorian date `year-month-day`; `nil` when it does not exist (31 April).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year) else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        number = era * 146_097 + doe - 719_468
    }

    /// Parses `YYYY-MM-DD` (exactly that form).
    public init?(iso text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// `(year, month 1–12, day 1–31)`.
    public var components: (year: Int, month: Int, day: Int) {
        let z = number + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    public var year: Int { components.year }

    /// `YYYY-MM-DD`.
    public var description: String {
        let c = components
        return Self.pad(c.year, 4) + "-" + Self.pad(c.month, 2) + "-" + Self.pad(c.day, 2)
    }

    /// `YYYY-MM`.
    public var monthLabel: String {
        let c = components
        return Self.pad(c.year, 4) + "-" + Self.pad(c.month, 2)
    }

    /// A key that orders months: `year × 12 + month − 1`.
    public var monthKey: Int {
        let c = components
        return c.year * 12 + c.month - 1
    }

    public static func + (day: CivilDay, days: Int) -> CivilDay { CivilDay(day.number + days) }
    public static func - (a: CivilDay, b: CivilDay) -> Int { a.number - b.number }
    public static func < (a: CivilDay, b: CivilDay) -> Bool { a.number < b.number }

    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}

/// A seeded SplitMix64 generator: the scenario planner's only source of randomness, so the same
/// seed gives the same percentiles on every machine (Swift's `SystemRandomNumberGenerator` is
/// not seedable).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// The generator of one stream of a run: `seed`, run and stream mixed so that nearby runs
    /// and streams start far apart.
    public init(seed: UInt64, run: Int, stream: Int) {
        var mixer = SeededRandom(seed: seed ^ (UInt64(truncatingIfNeeded: run) &* 0xD1B5_4A32_D192_ED03))
        let a = mixer.next()
        var second = SeededRandom(seed: a ^ (UInt64(truncatingIfNeeded: stream) &* 0x9E37_79B9_7F4A_7C15))
        state = second.next()
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `0..<bound` (`bound` > 0), by Lemire's multiply-shift; the bias is
    /// below 2⁻⁵⁰ for the bounds used here (a few hundred days).
    @inline(__always)
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }
}
