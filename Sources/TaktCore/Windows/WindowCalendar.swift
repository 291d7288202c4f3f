import Foundation
import Synchronization

/// Maps an event time to the window that contains it, per ``WindowTier``.
///
/// - `1m`, `1h`: `[k·len, (k+1)·len)` aligned to the Unix epoch (floor division, so negative
///   times work too).
/// - `1d`: the calendar day in `timeZone`, from local midnight (or the first instant of the
///   day when midnight does not exist) to the next one: 24 h, or 23 h / 25 h on DST days.
///
/// Pure: no clock, no I/O. A value type; cheap to copy. The day computation goes through
/// Foundation's `Calendar` (about 5 µs); the last 16 days computed are cached (shared by the
/// copies of one calendar, behind a mutex), so a day lookup near recent events costs tens of
/// nanoseconds.
public struct WindowCalendar: Sendable {
    /// The time zone that days (`1d` windows) follow.
    public let timeZone: TimeZone
    private let calendar: Calendar
    private let dayCache = DayCache()

    /// - Parameter timeZone: the site's IANA time zone (plant file `timezone`).
    public init(timeZone: TimeZone) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        self.calendar = calendar
    }

    /// The window of `tier` that contains `ts`.
    ///
    /// - Parameter ts: event time, Unix epoch milliseconds UTC.
    /// - Returns: bounds with `start <= ts < end`.
    public func window(containing ts: Int64, tier: WindowTier) -> WindowBounds {
        if let len = tier.fixedLengthMs {
            let start = Self.floorDiv(ts, len) * len
            return WindowBounds(start: start, end: start + len)
        }
        return day(containing: ts)
    }

    /// Every window of `tier` that overlaps the half-open interval `[start, end)` (epoch ms),
    /// in ascending order. Empty when `end <= start`.
    ///
    /// Complexity: O(number of windows returned).
    public func windows(overlapping start: Int64, _ end: Int64, tier: WindowTier) -> [WindowBounds] {
        guard end > start else { return [] }
        var result: [WindowBounds] = []
        var w = window(containing: start, tier: tier)
        while true {
            result.append(w)
            if w.end >= end { break }
            w = next(after: w, tier: tier)
        }
        return result
    }

    /// The window of `tier` that starts where `window` ends.
    public func next(after window: WindowBounds, tier: WindowTier) -> WindowBounds {
        if let len = tier.fixedLengthMs {
            return WindowBounds(start: window.end, end: window.end + len)
        }
        return day(containing: window.end)
    }

    /// The window of `tier` that ends where `window` starts.
    public func previous(before window: WindowBounds, tier: WindowTier) -> WindowBounds {
        self.window(containing: window.start - 1, tier: tier)
    }

    // MARK: - Days

    private func day(containing ts: Int64) -> WindowBounds {
        if let hit = dayCache.lookup(ts) { return hit }
        let w = computeDay(containing: ts)
        dayCache.insert(w)
        return w
    }

    private func computeDay(containing ts: Int64) -> WindowBounds {
        let date = Date(timeIntervalSince1970: Double(Self.floorDiv(ts, 1000)))
        let startDate = calendar.startOfDay(for: date)
        var start = Self.epochMs(startDate)
        // Guard against any Foundation rounding surprise: the window must contain ts.
        if start > ts {
            start = Self.epochMs(calendar.startOfDay(for: startDate.addingTimeInterval(-1)))
        }
        var end = start
        var probe = Date(timeIntervalSince1970: Double(start) / 1000)
        // The next day starts at the first local midnight after `start`; adding one day of
        // calendar time and taking its start of day handles 23 h and 25 h days.
        while end <= ts || end <= start {
            guard let nextDay = calendar.date(byAdding: .day, value: 1, to: probe) else {
                end = start + 86_400_000
                break
            }
            let nextStart = Self.epochMs(calendar.startOfDay(for: nextDay))
            if nextStart <= end {
                // Defensive: should not happen; move on by one hour to guarantee progress.
                probe = probe.addingTimeInterval(3600)
                continue
            }
            if nextStart > ts {
                end = nextStart
                break
            }
            start = nextStart
            end = nextStart
            probe = Date(timeIntervalSince1970: Double(nextStart) / 1000)
        }
        return WindowBounds(start: start, end: end)
    }

    @inline(__always)
    private static func epochMs(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }

    @inline(__always)
    static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}

/// The last few day windows of one ``WindowCalendar`` (they are pure functions of the time
/// zone, so caching cannot change a result).
private final class DayCache: Sendable {
    private static let size = 16
    private struct State {
        var days: [WindowBounds] = []
        var next = 0
    }
    private let state = Mutex(State())

    func lookup(_ ts: Int64) -> WindowBounds? {
        state.withLock { s in
            for d in s.days where d.contains(ts) { return d }
            return nil
        }
    }

    func insert(_ w: WindowBounds) {
        state.withLock { s in
            if s.days.count < Self.size {
                s.days.append(w)
            } else {
                s.days[s.next] = w
                s.next = (s.next + 1) % Self.size
            }
        }
    }
}
