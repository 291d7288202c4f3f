import Foundation
import Testing
@testable import TaktCore

@Suite("WindowCalendar")
struct WindowCalendarTests {
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!
    static let utc = TimeZone(identifier: "UTC")!

    @Test("1m and 1h are aligned to the Unix epoch")
    func fixedTiers() {
        let cal = WindowCalendar(timeZone: Self.newYork)
        // 1764547260123 = 2025-12-01T00:01:00.123Z; minute starts at ...260000.
        #expect(cal.window(containing: 1_764_547_260_123, tier: .minute)
            == WindowBounds(start: 1_764_547_260_000, end: 1_764_547_320_000))
        // 1764547200000 is a multiple of 3600000 (490152 h).
        #expect(cal.window(containing: 1_764_547_260_123, tier: .hour)
            == WindowBounds(start: 1_764_547_200_000, end: 1_764_550_800_000))
        // Boundaries: the start belongs to the window, the end to the next.
        #expect(cal.window(containing: 1_764_547_200_000, tier: .hour).start == 1_764_547_200_000)
        #expect(cal.window(containing: 1_764_550_799_999, tier: .hour).start == 1_764_547_200_000)
        #expect(cal.window(containing: 1_764_550_800_000, tier: .hour).start == 1_764_550_800_000)
        #expect(cal.window(containing: 0, tier: .minute) == WindowBounds(start: 0, end: 60_000))
        #expect(cal.window(containing: -1, tier: .minute) == WindowBounds(start: -60_000, end: 0))
    }

    @Test("1d in UTC and Asia/Shanghai are 24 h, from local midnight")
    func plainDays() {
        let utc = WindowCalendar(timeZone: Self.utc)
        // 2025-12-01T00:00:00Z = 1764547200000.
        #expect(utc.window(containing: 1_764_547_200_000 + 5, tier: .day)
            == WindowBounds(start: 1_764_547_200_000, end: 1_764_633_600_000))
        let sh = WindowCalendar(timeZone: Self.shanghai)
        // Shanghai midnight 2025-12-01 = 2025-11-30T16:00Z = 1764547200000 - 8 h.
        let shStart: Int64 = 1_764_547_200_000 - 8 * 3_600_000
        #expect(sh.window(containing: 1_764_547_200_000, tier: .day)
            == WindowBounds(start: shStart, end: shStart + 86_400_000))
        // 2025-11-30T15:59:59.999Z is still 2025-11-30 in Shanghai.
        #expect(sh.window(containing: shStart - 1, tier: .day)
            == WindowBounds(start: shStart - 86_400_000, end: shStart))
    }

    @Test("America/New_York 2026-03-08 lasts 23 h")
    func springForward() {
        let cal = WindowCalendar(timeZone: Self.newYork)
        // Local midnight 2026-03-08 is EST (UTC-5): 2026-03-08T05:00Z = 1772946000000.
        // Next midnight is EDT (UTC-4): 2026-03-09T04:00Z = 1773028800000; 82,800,000 ms = 23 h.
        let start: Int64 = 1_772_946_000_000
        let end: Int64 = 1_773_028_800_000
        for ts in [start, start + 1, start + 7 * 3_600_000, end - 1] {
            #expect(cal.window(containing: ts, tier: .day) == WindowBounds(start: start, end: end))
        }
        #expect(end - start == 23 * 3_600_000)
        #expect(cal.window(containing: end, tier: .day).start == end)
        #expect(cal.window(containing: end, tier: .day).lengthMs == 24 * 3_600_000)
        #expect(cal.window(containing: start - 1, tier: .day).end == start)
    }

    @Test("America/New_York 2026-11-01 lasts 25 h")
    func fallBack() {
        let cal = WindowCalendar(timeZone: Self.newYork)
        // Local midnight 2026-11-01 is EDT (UTC-4): 2026-11-01T04:00Z = 1793505600000.
        // Next midnight is EST (UTC-5): 2026-11-02T05:00Z = 1793595600000; 90,000,000 ms = 25 h.
        let start: Int64 = 1_793_505_600_000
        let end: Int64 = 1_793_595_600_000
        // Inside the repeated hour 01:00–02:00 local (05:00Z–07:00Z) too.
        for ts in [start, start + 5_400_000, start + 6_000_000, start + 24 * 3_600_000, end - 1] {
            #expect(cal.window(containing: ts, tier: .day) == WindowBounds(start: start, end: end))
        }
        #expect(end - start == 25 * 3_600_000)
        #expect(cal.window(containing: end, tier: .day).lengthMs == 24 * 3_600_000)
    }

    @Test("windows(overlapping:) covers the interval, half-open")
    func overlapping() {
        let cal = WindowCalendar(timeZone: Self.newYork)
        let h: Int64 = 3_600_000
        let base: Int64 = 1_764_547_200_000
        #expect(cal.windows(overlapping: base, base + h, tier: .hour).count == 1)
        #expect(cal.windows(overlapping: base, base + h + 1, tier: .hour).count == 2)
        #expect(cal.windows(overlapping: base - 1, base + 1, tier: .hour)
            == [WindowBounds(start: base - h, end: base), WindowBounds(start: base, end: base + h)])
        #expect(cal.windows(overlapping: base, base, tier: .hour).isEmpty)
        #expect(cal.windows(overlapping: base, base - 5, tier: .minute).isEmpty)
        // Across both 2026 DST changes: days are contiguous; 23 h and 25 h appear once each.
        let days = cal.windows(overlapping: 1_772_000_000_000, 1_794_000_000_000, tier: .day)
        for (a, b) in zip(days, days.dropFirst()) { #expect(a.end == b.start) }
        #expect(days.filter { $0.lengthMs == 23 * h }.count == 1)
        #expect(days.filter { $0.lengthMs == 25 * h }.count == 1)
        #expect(days.allSatisfy { [23 * h, 24 * h, 25 * h].contains($0.lengthMs) })
        #expect(days.first!.contains(1_772_000_000_000))
        #expect(days.last!.contains(1_794_000_000_000 - 1))
    }

    @Test("next/previous walk day windows across DST")
    func nextPrevious() {
        let cal = WindowCalendar(timeZone: Self.newYork)
        let d = cal.window(containing: 1_772_946_000_000, tier: .day)
        let n = cal.next(after: d, tier: .day)
        #expect(n.start == d.end)
        #expect(cal.previous(before: n, tier: .day) == d)
    }
}
