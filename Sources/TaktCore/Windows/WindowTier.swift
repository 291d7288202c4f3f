/// The window sizes Takt rolls up into (contract section 3).
///
/// `1m` and `1h` are fixed lengths aligned to the Unix epoch; `1d` is the calendar day in the
/// site's time zone, so it lasts 23, 24 or 25 hours (see ``WindowCalendar``).
public enum WindowTier: String, CaseIterable, Codable, Sendable, Hashable {
    case minute = "1m"
    case hour = "1h"
    case day = "1d"

    /// The fixed length in milliseconds of `1m` and `1h` windows; `nil` for `1d`, whose length
    /// depends on the time zone and the date.
    public var fixedLengthMs: Int64? {
        switch self {
        case .minute: return 60_000
        case .hour: return 3_600_000
        case .day: return nil
        }
    }
}

/// A half-open window `[start, end)` in Unix epoch milliseconds (UTC).
///
/// Invariant: `start < end`.
public struct WindowBounds: Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    /// First millisecond inside the window (epoch ms).
    public var start: Int64
    /// First millisecond after the window (epoch ms).
    public var end: Int64

    public init(start: Int64, end: Int64) {
        precondition(start < end, "WindowBounds needs start < end, got [\(start), \(end))")
        self.start = start
        self.end = end
    }

    /// Length in milliseconds (`end - start`, always > 0).
    public var lengthMs: Int64 { end - start }

    /// Whether `ts` (epoch ms) lies in `[start, end)`.
    @inlinable
    public func contains(_ ts: Int64) -> Bool { ts >= start && ts < end }

    /// Milliseconds of `[from, to)` that fall inside this window (0 if they do not overlap).
    @inlinable
    public func overlapMs(_ from: Int64, _ to: Int64) -> Int64 {
        let lo = max(from, start)
        let hi = min(to, end)
        return hi > lo ? hi - lo : 0
    }

    /// Orders by `start`, then `end`.
    public static func < (lhs: WindowBounds, rhs: WindowBounds) -> Bool {
        lhs.start != rhs.start ? lhs.start < rhs.start : lhs.end < rhs.end
    }

    public var description: String { "[\(start), \(end))" }
}
