import Foundation
import Testing
@testable import TaktCore

@Suite("KPI and WindowRow")
struct KPITests {
    static let hour = WindowBounds(start: 1_764_547_200_000, end: 1_764_550_800_000)

    static func counts(good: Int64, scrap: Int64, energy: Double, tier: WindowTier = .hour,
                       bounds: WindowBounds = hour, cycles: [Int] = []) -> WindowAccumulator {
        var a = WindowAccumulator(tier: tier, bounds: bounds)
        a.good = good
        a.scrap = scrap
        a.energyKwh = energy
        for c in cycles { a.cycle.add(c) }
        a.markDirty()
        _ = a.takeWrite()
        _ = a.takeWrite()
        a.markDirty()
        _ = a.takeWrite()
        a.markDirty()
        _ = a.takeWrite()  // revision 3
        return a
    }

    @Test("the contract's example row, by hand")
    func contractExample() {
        // good 597, scrap 3, run 3540 s, planned 3600 s, ideal 6.0 s, 1 h window.
        // availability = 3540 / 3600 = 0.98333…
        // performance = min(1, 6.0 × 600 / 3540) = min(1, 1.01694…) = 1
        // quality = 597 / 600 = 0.995
        // oee = 0.98333… × 1 × 0.995 = 0.978416…
        // good_per_hour = 597 / (3600 / 3600) = 597; downtime = 3600 − 3540 = 60 s.
        let row = WindowRow(site: "bishan", line: "blade-01", station: "eol",
                            counts: Self.counts(good: 597, scrap: 3, energy: 263.9),
                            runMs: 3_540_000, plannedMs: 3_600_000, idealCycleS: 6.0)
        #expect(row.revision == 3)
        #expect(row.availability == 3540.0 / 3600.0)
        #expect(row.performance == 1.0)
        #expect(row.quality == 0.995)
        #expect(abs(row.oee! - 0.9784166666) < 1e-9)
        #expect(row.goodPerHour == 597.0)
        #expect(row.runS == 3540 && row.plannedS == 3600 && row.downtimeS == 60)
        #expect(row.cycleMsP50 == nil)
    }

    @Test("performance below 1 and a 1 m window, by hand")
    func slowStation() {
        // 1 m window: good 9, scrap 1, run 50 s, planned 55 s, ideal 4.0 s.
        // availability = 50 / 55 = 0.90909…; performance = 4 × 10 / 50 = 0.8;
        // quality = 9 / 10 = 0.9; oee = 0.90909 × 0.8 × 0.9 = 0.654545…;
        // good_per_hour = 9 / (60 / 3600) = 540.
        let m = WindowBounds(start: 60_000, end: 120_000)
        let row = WindowRow(site: "s", line: "l", station: "st",
                            counts: Self.counts(good: 9, scrap: 1, energy: 0, tier: .minute, bounds: m),
                            runMs: 50_000, plannedMs: 55_000, idealCycleS: 4.0)
        #expect(row.availability == 50.0 / 55.0)
        #expect(row.performance == 0.8)
        #expect(row.quality == 0.9)
        #expect(abs(row.oee! - 0.6545454545) < 1e-9)
        #expect(row.goodPerHour == 540)
    }

    @Test("a 23 h DST day divides by 23 hours")
    func dstDay() {
        let cal = WindowCalendar(timeZone: TimeZone(identifier: "America/New_York")!)
        let d = cal.window(containing: 1_772_946_000_000, tier: .day)
        // 230 good over 23 h = 10 per hour.
        let row = WindowRow(site: "s", line: "l", station: "st",
                            counts: Self.counts(good: 230, scrap: 0, energy: 0, tier: .day, bounds: d),
                            runMs: 0, plannedMs: 0, idealCycleS: 1)
        #expect(row.goodPerHour == 10)
    }

    @Test("zero denominators are null")
    func nulls() {
        // No state ever seen, no units.
        let row = WindowRow(site: "s", line: "l", station: "st", counts: Self.counts(good: 0, scrap: 0, energy: 0),
                            runMs: 0, plannedMs: 0, idealCycleS: 6)
        #expect(row.availability == nil && row.performance == nil && row.quality == nil && row.oee == nil)
        #expect(row.goodPerHour == 0)
        // Units but no run time: quality is known, performance is not.
        let r2 = WindowRow(site: "s", line: "l", station: "st", counts: Self.counts(good: 5, scrap: 0, energy: 0),
                           runMs: 0, plannedMs: 1000, idealCycleS: 6)
        #expect(r2.availability == 0 && r2.performance == nil && r2.quality == 1 && r2.oee == nil)
        // No ideal cycle known for a station: performance null.
        let r3 = WindowRow(site: "s", line: "l", station: "st", counts: Self.counts(good: 5, scrap: 0, energy: 0),
                           runMs: 1000, plannedMs: 1000, idealCycleS: nil)
        #expect(r3.performance == nil && r3.oee == nil && r3.availability == 1)
    }

    @Test("_site row: sums, KPIs from the sums, by hand")
    func siteRow() {
        // Line A: good 597, scrap 3, run 3540 s, planned 3600 s, ideal 6 s, 263.9 kWh, revision 3.
        // Line B: good 90, scrap 10, run 1200 s, planned 1800 s, ideal 10 s, 40.1 kWh, revision 3.
        // Σgood 687, Σscrap 13, Σrun 4740 s, Σplanned 5400 s, downtime 660 s, energy 304.0 kWh.
        // availability = 4740 / 5400 = 0.87777…
        // performance = min(1, (6 × 600 + 10 × 100) / 4740) = 4600 / 4740 = 0.970464…
        // quality = 687 / 700 = 0.981428…
        // oee = 4600 / 5400 × 687 / 700 = 0.836031…; good_per_hour = 687; revision 3 + 3 = 6.
        let a = WindowRow(site: "bishan", line: "A", station: "eol", counts: Self.counts(good: 597, scrap: 3, energy: 263.9),
                          runMs: 3_540_000, plannedMs: 3_600_000, idealCycleS: 6)
        let b = WindowRow(site: "bishan", line: "B", station: "out", counts: Self.counts(good: 90, scrap: 10, energy: 40.1),
                          runMs: 1_200_000, plannedMs: 1_800_000, idealCycleS: 10)
        let s = WindowRow(siteTotalOf: [(a, 6), (b, 10)], site: "bishan", tier: .hour, bounds: Self.hour)
        #expect(s.line == "_site" && s.station == nil)
        #expect(s.good == 687 && s.scrap == 13 && s.revision == 6)
        #expect(s.runS == 4740 && s.plannedS == 5400 && s.downtimeS == 660)
        #expect(abs(s.energyKwh - 304.0) < 1e-9)
        #expect(s.availability == 4740.0 / 5400.0)
        #expect(s.performance == 4600.0 / 4740.0)
        #expect(s.quality == 687.0 / 700.0)
        #expect(abs(s.oee! - 0.8360317460) < 1e-9)
        #expect(s.goodPerHour == 687)
        #expect(s.cycleMsP50 == nil)
    }

    @Test("JSON writer: contract keys and order, nulls, decodes back to the same row")
    func json() throws {
        let row = WindowRow(site: "bishan", line: "blade-01", station: "eol",
                            counts: Self.counts(good: 597, scrap: 3, energy: 263.9, cycles: [6004, 6004, 6210]),
                            runMs: 3_540_000, plannedMs: 3_600_000, idealCycleS: 6.0)
        let text = row.json
        #expect(text.hasPrefix(#"{"site":"bishan","line":"blade-01","station":"eol","window":"1h","start":1764547200000,"end":1764550800000,"revision":3,"good":597,"scrap":3,"energy_kwh":263.9,"good_per_hour":597.0,"run_s":3540.0,"planned_s":3600.0,"downtime_s":60.0,"availability":0.9833333333333333,"performance":1.0,"quality":0.995,"oee":0.978416666666666"#))
        // Percentiles come from the histogram: within 1% of 6004 / 6210 / 6210.
        #expect(abs(Double(row.cycleMsP50!) - 6004) <= 60.04 && abs(Double(row.cycleMsP99!) - 6210) <= 62.1)
        #expect(text.hasSuffix(#""cycle_ms":{"p50":\#(row.cycleMsP50!),"p90":\#(row.cycleMsP90!),"p99":\#(row.cycleMsP99!)}}"#))
        #expect(try JSONDecoder().decode(WindowRow.self, from: Data(text.utf8)) == row)
        // Codable output decodes to the same row too (and has null station for _site).
        let site = WindowRow(siteTotalOf: [(row, 6)], site: "bishan", tier: .hour, bounds: Self.hour)
        let encoded = try JSONEncoder().encode(site)
        #expect(try JSONDecoder().decode(WindowRow.self, from: encoded) == site)
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""station":null"#))
        #expect(site.json.contains(#""station":null"#))
        #expect(site.json.contains(#""cycle_ms":{"p50":null,"p90":null,"p99":null}"#))
        #expect(try JSONDecoder().decode(WindowRow.self, from: Data(site.json.utf8)) == site)
        // Writer and Foundation agree on every value.
        let viaFoundation = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        #expect(viaFoundation.count == 19)
        // Arrays and escaping.
        var odd = row
        odd.station = "a\"b\\c\n\u{01}"
        var out: [UInt8] = []
        WindowRow.writeJSONArray([row, odd], into: &out)
        let arr = try JSONDecoder().decode([WindowRow].self, from: Data(out))
        #expect(arr == [row, odd])
    }

    @Test("the contract's example object decodes")
    func decodeContract() throws {
        let text = #"""
        {"site": "bishan", "line": "blade-01", "station": "eol", "window": "1h",
         "start": 1764547200000, "end": 1764550800000, "revision": 3,
         "good": 597, "scrap": 3, "energy_kwh": 263.9, "good_per_hour": 597.0,
         "run_s": 3540, "planned_s": 3600, "downtime_s": 60,
         "availability": 0.9833, "performance": 1.0, "quality": 0.995, "oee": 0.9784,
         "cycle_ms": {"p50": 6004, "p90": 6210, "p99": 6550}}
        """#
        let r = try JSONDecoder().decode(WindowRow.self, from: Data(text.utf8))
        #expect(r.window == .hour && r.cycleMsP99 == 6550 && r.runS == 3540 && r.availability == 0.9833)
    }

    @Test("integers print exactly, including extremes")
    func ints() {
        for v: Int64 in [0, 7, -7, 10, 1_764_547_200_000, Int64.max, Int64.min] {
            var out: [UInt8] = []
            JSONOut.int(v, &out)
            #expect(String(decoding: out, as: UTF8.self) == String(v))
        }
    }
}
