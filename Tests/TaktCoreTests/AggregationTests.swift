import Foundation
import Testing
@testable import TaktCore
import TestSupport

@Suite("CycleHistogram")
struct CycleHistogramTests {
    /// Exact nearest-rank percentile of sorted data: the value of rank ⌈p·n⌉.
    static func exact(_ sorted: [Int], _ pct: Int) -> Int {
        sorted[max(1, (sorted.count * pct + 99) / 100) - 1]
    }

    @Test("bucket table: 780 buckets over 1…86,400,000, each within 1% of its representative")
    func table() {
        let b = CycleHistogram.lowerBounds
        #expect(b.first == 1)
        #expect(b.count == 780)
        for i in b.indices {
            let lo = Int(b[i])
            let hi = i + 1 < b.count ? Int(b[i + 1]) - 1 : 86_400_000
            let r = CycleHistogram.representative(i)
            #expect(Double(r - lo) / Double(lo) <= 0.01 && Double(hi - r) / Double(hi) <= 0.01, "bucket \(i)")
        }
        #expect(CycleHistogram.bucket(1) == 0 && CycleHistogram.bucket(99) == 98)
        #expect(CycleHistogram.bucket(86_400_000) == 779)
    }

    @Test("p50/p90/p99 within 1% of the exact percentiles of seeded random data", arguments: [1, 2, 3, 4, 5])
    func errorBound(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        // A mix: tight cycles around 6 s, a slow tail, and some values over the whole range.
        let n = Int.random(in: 1...20_000, using: &rng)
        var values: [Int] = []
        for _ in 0..<n {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0..<7: values.append(Int((6000 * (1 + 0.03 * Double.random(in: -1...1, using: &rng))).rounded()))
            case 7..<9: values.append(Int.random(in: 6000...60_000, using: &rng))
            default: values.append(Int(exp(Double.random(in: 0...log(86_400_000.0), using: &rng))).clamped(1, 86_400_000))
            }
        }
        var h = CycleHistogram()
        for v in values { h.add(v) }
        let sorted = values.sorted()
        let (p50, p90, p99) = h.p50p90p99
        for (got, pct) in [(p50, 50), (p90, 90), (p99, 99)] {
            let want = Self.exact(sorted, pct)
            let err = abs(Double(got!) - Double(want)) / Double(want)
            #expect(err <= 0.01, "p\(pct): got \(got!), exact \(want), n \(n)")
        }
        #expect(h.percentile(0.9) == p90)
    }

    @Test("small values are exact; merge equals adding everything to one")
    func mergeAndSmall() {
        var a = CycleHistogram(), b = CycleHistogram(), all = CycleHistogram()
        for v in 1...50 { a.add(v); all.add(v) }
        for v in 51...100 { b.add(v); all.add(v) }
        var m = a
        m.merge(b)
        #expect(m == all)
        #expect(m.count == 100)
        // Ranks: p50 = 50th, p90 = 90th, p99 = 99th value of 1…100.
        #expect(m.p50p90p99.p50 == 50 && m.p50p90p99.p90 == 90 && m.p50p90p99.p99 == 99)
        #expect(CycleHistogram().p50p90p99.p50 == nil)
    }

    @Test("overlapping merges in any order equal adding everything to one (the sparse form is canonical)")
    func overlappingMerges() {
        var seed: UInt64 = 0x7A_C7
        func next() -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return 5_000 + Int(seed >> 33) % 2_000  // cycle times around 6 s share buckets
        }
        var parts = [CycleHistogram](repeating: CycleHistogram(), count: 5)
        var all = CycleHistogram()
        for i in 0..<5_000 {
            let v = next()
            parts[i % 5].add(v)
            all.add(v)
        }
        var forward = CycleHistogram()
        for part in parts { forward.merge(part) }
        var backward = CycleHistogram()
        for part in parts.reversed() { backward.merge(part) }
        #expect(forward == all)
        #expect(backward == all)
        #expect(forward.nonEmptyBuckets.map(\.bucket) == forward.nonEmptyBuckets.map(\.bucket).sorted())
        #expect(forward.nonEmptyBuckets.allSatisfy { $0.count > 0 })
        #expect(CycleHistogram(buckets: forward.nonEmptyBuckets.reversed()) == all, "rebuilt from unsorted buckets")
    }

    @Test("Codable sparse form round-trips")
    func codable() throws {
        var h = CycleHistogram()
        for v in [6000, 6010, 6200, 12, 86_400_000] { h.add(v) }
        let back = try JSONDecoder().decode(CycleHistogram.self, from: JSONEncoder().encode(h))
        #expect(back == h)
        #expect(CycleHistogram(buckets: [(780, 1)]) == nil)
    }
}

@Suite("WindowRing")
struct WindowRingTests {
    @Test("capacity rounds up to a power of two; defaults")
    func capacity() {
        #expect(WindowRing<Int>(capacity: 180).capacity == 256)
        #expect(WindowRing<Int>(capacity: 64).capacity == 64)
        #expect(WindowRing<Int>.defaultCapacity(.minute) == 256)
        #expect(WindowRing<Int>.defaultCapacity(.hour) == 128)
        #expect(WindowRing<Int>.defaultCapacity(.day) == 64)
    }

    @Test("eviction: a newer window pushes out the one capacity behind; older ones are too old")
    func eviction() {
        var ring = WindowRing<String>(capacity: 4)
        var ev: [String] = []
        for o in Int64(10)...13 { _ = ring.upsert(o, evicted: &ev, make: { "w\(o)" }) { _ in } }
        #expect(ev.isEmpty)
        #expect(ring[10] == "w10")
        // 14 needs 10's slot (14 & 3 == 10 & 3).
        _ = ring.upsert(14, evicted: &ev, make: { "w14" }) { _ in }
        #expect(ev == ["w10"])
        #expect(ring[10] == nil && ring[14] == "w14")
        #expect(ring.isTooOld(10) && !ring.isTooOld(11))
        // A late event for 10: too old, nothing changes.
        #expect(ring.upsert(10, evicted: &ev, make: { "again" }) { _ in 1 } == nil)
        // A late event for a held window updates it in place.
        #expect(ring.upsert(12, evicted: &ev, make: { "x" }) { s -> Int in s += "+"; return 2 } == 2)
        #expect(ring[12] == "w12+")
        // A gap: 17 evicts 11, 12, 13 (oldest first) — 14 stays.
        ev.removeAll()
        _ = ring.upsert(17, evicted: &ev, make: { "w17" }) { _ in }
        #expect(ev == ["w11", "w12+", "w13"])
        #expect(ring.elements.map(\.ordinal) == [14, 17])
        // A jump of more than twice the capacity evicts everything.
        ev.removeAll()
        _ = ring.upsert(1000, evicted: &ev, make: { "w1000" }) { _ in }
        #expect(ev == ["w14", "w17"])
        #expect(ring.drain() == ["w1000"])
    }

    @Test("day ordinals are consecutive across DST")
    func dayOrdinals() {
        let cal = WindowCalendar(timeZone: TimeZone(identifier: "America/New_York")!)
        let days = cal.windows(overlapping: 1_772_000_000_000, 1_794_000_000_000, tier: .day)
        let ords = days.map { cal.ordinal(of: $0, tier: .day) }
        for (a, b) in zip(ords, ords.dropFirst()) { #expect(b == a + 1) }
        // 2026-03-08 local = day 20520 since 1970-01-01.
        #expect(cal.ordinal(containing: 1_772_946_000_000, tier: .day) == 20_520)
        #expect(cal.ordinal(containing: 1_764_547_260_123, tier: .hour) == 490_152)
    }
}

@Suite("WindowAccumulator")
struct WindowAccumulatorTests {
    @Test("counts units, defaults energy, bumps revision once per write")
    func accumulate() {
        var a = WindowAccumulator(tier: .hour, bounds: WindowBounds(start: 0, end: 3_600_000))
        #expect(a.takeWrite() == nil)
        a.add(UnitEvent(ts: 1, seq: 1, good: 2, scrap: 1, energyKwh: nil, cycleMs: 6000), unitKwh: 0.5)
        a.add(UnitEvent(ts: 2, seq: 2, good: 1, scrap: 0, energyKwh: 0.45, cycleMs: nil), unitKwh: 0.5)
        // good 3, scrap 1, energy 2 × 0.5 + 0.45 = 1.45 kWh, 2 messages, 1 cycle sample.
        #expect(a.good == 3 && a.scrap == 1 && a.unitMessages == 2 && a.cycle.count == 1)
        #expect(abs(a.energyKwh - 1.45) < 1e-12)
        #expect(a.takeWrite() == 1)
        #expect(a.takeWrite() == nil)
        a.markDirty()
        #expect(a.takeWrite() == 2)
    }
}

extension Int {
    func clamped(_ lo: Int, _ hi: Int) -> Int { Swift.min(hi, Swift.max(lo, self)) }
}
