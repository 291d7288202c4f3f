import Foundation
import Testing
@testable import TaktCore
import TestSupport

@Suite("Dedup")
struct DedupTests {
    @Test("in order: every seq new, nothing missing; repeats are duplicates")
    func inOrder() {
        var w = SeqWindow(capacity: 64)
        for s in 0..<200 { #expect(w.accept(Int64(s)) == .new) }
        #expect(w.missing == 0 && w.highest == 199 && w.first == 0)
        #expect(w.accept(199) == .duplicate)
        #expect(w.accept(150) == .duplicate)
        #expect(w.duplicates == 2)
        // 199 − 64 = 135 is outside the bitmap (kept: 136…199).
        #expect(w.accept(136) == .duplicate)
        #expect(w.accept(135) == .tooOldToTell)
        #expect(w.tooOld == 1)
    }

    @Test("gaps count as missing; late fills inside the bitmap reduce missing again")
    func gaps() {
        var w = SeqWindow(capacity: 64)
        #expect(w.accept(10) == .new)  // first = 10: seqs 0…9 are not missing
        #expect(w.missing == 0)
        #expect(w.accept(15) == .new)  // jumps 11,12,13,14
        #expect(w.missing == 4)
        #expect(w.accept(12) == .new)
        #expect(w.missing == 3)
        #expect(w.accept(12) == .duplicate)
        #expect(w.missing == 3)
        // Below first, inside the bitmap: new, but it was never counted missing.
        #expect(w.accept(5) == .new)
        #expect(w.missing == 3)
        // Jump far: 16…99 (84 seqs) missing → 87. The bitmap now holds 37…100 (100 − 64 = 36
        // and below are outside), so 11, 13, 14 can no longer be told apart.
        #expect(w.accept(100) == .new)
        #expect(w.missing == 87)
        #expect(w.accept(13) == .tooOldToTell)
        #expect(w.missing == 87)
        #expect(w.accept(37) == .new)  // inside, fills a gap
        #expect(w.missing == 86)
        #expect(w.accept(36) == .tooOldToTell)
    }

    @Test("reorder within the window: same counts as in order")
    func reorder() {
        var rng = SplitMix64(seed: 7)
        var seqs = Array(Int64(0)..<5000)
        // Shuffle in blocks of 100 (reordering never exceeds the 4096 window).
        for b in stride(from: 0, to: seqs.count, by: 100) { seqs[b..<b + 100].shuffle(using: &rng) }
        // Duplicate 10% of them, later.
        var stream = seqs
        for k in stride(from: 0, to: seqs.count, by: 10) { stream.insert(seqs[k], at: min(stream.count, k + 150)) }
        var w = SeqWindow()
        var new = 0, dup = 0
        for s in stream {
            switch w.accept(s) {
            case .new: new += 1
            case .duplicate: dup += 1
            case .tooOldToTell, .seqJump, .bootJump, .staleBoot: Issue.record("\(s) refused")
            }
        }
        #expect(new == 5000)
        #expect(dup == 500)
        // The first accepted seq may be > 0 (block 0 is shuffled); below it nothing is missing.
        #expect(w.missing == 0)
    }

    @Test("jump of at least the capacity clears the bitmap")
    func bigJump() {
        var w = SeqWindow(capacity: 64)
        for s in 0..<64 { _ = w.accept(Int64(s)) }
        #expect(w.accept(64 + 64 + 10) == .new)  // highest 138; 64…137 missing (74)
        #expect(w.missing == 74)
        // The bitmap holds 75…138. Ring position of 75 (75 & 63 = 11) was set by seq 11;
        // it must read as not seen now.
        #expect(w.accept(75) == .new)
        #expect(w.missing == 73)
        #expect(w.contains(75) == true)
        #expect(w.contains(76) == false)
        #expect(w.contains(74) == nil)
    }

    @Test("boot change: new boot is a new source; the previous one is still deduped")
    func boots() {
        var st = StationDedup(capacity: 64, keepBoots: 2)
        for s in 0..<10 { #expect(st.accept(boot: 0, seq: Int64(s)) == .new) }
        #expect(st.accept(boot: 0, seq: 12) == .new)  // 10, 11 missing
        #expect(st.missing == 2)
        // Restart: seq starts again.
        #expect(st.accept(boot: 1, seq: 0) == .new)
        #expect(st.accept(boot: 1, seq: 1) == .new)
        #expect(st.currentBoot == 1)
        // Late redelivery of the old boot is still a duplicate; a late fill still counts.
        #expect(st.accept(boot: 0, seq: 5) == .duplicate)
        #expect(st.accept(boot: 0, seq: 11) == .new)
        #expect(st.missing == 1)
        // Third boot pushes boot 0 out; its missing (1) is kept in the total.
        #expect(st.accept(boot: 2, seq: 0) == .new)
        #expect(st.boots.map(\.boot) == [2, 1])
        #expect(st.missing == 1)
        #expect(st.retiredMissing == 1)
        // Older than both held boots: it cannot be proven new (stale_boot).
        #expect(st.accept(boot: 0, seq: 13) == .staleBoot)
        // A boot between the held ones is not representable once full either.
        #expect(st.accept(boot: 1, seq: 1) == .duplicate)
        #expect(st.duplicates == 2)
    }

    @Test("a boot that arrives late but newer than the oldest held is accepted")
    func lateBoot() {
        var st = StationDedup(capacity: 64, keepBoots: 3)
        _ = st.accept(boot: 5, seq: 0)
        _ = st.accept(boot: 2, seq: 0)
        #expect(st.boots.map(\.boot) == [5, 2])
        #expect(st.accept(boot: 3, seq: 0) == .new)
        #expect(st.boots.map(\.boot) == [5, 3, 2])
        #expect(st.accept(boot: 1, seq: 0) == .staleBoot)
    }

    @Test("bytes and Codable forms round-trip and continue identically")
    func persistence() throws {
        var w = SeqWindow(capacity: 128)
        for s: Int64 in [3, 4, 9, 7, 200, 150] { _ = w.accept(s) }
        let bytes = w.serialized()
        #expect(bytes.count == 45 + 16)
        var back = try #require(SeqWindow(serialized: bytes))
        #expect(back == w)
        #expect(SeqWindow(serialized: Array(bytes.dropLast())) == nil)
        #expect(SeqWindow(serialized: [2] + bytes.dropFirst()) == nil)
        let json = try JSONEncoder().encode(w)
        var fromJSON = try JSONDecoder().decode(SeqWindow.self, from: json)
        #expect(fromJSON == w)
        for s: Int64 in [150, 151, 201, 100, 72] {
            let a = w.accept(s), b = back.accept(s), c = fromJSON.accept(s)
            #expect(a == b && b == c)
        }
        #expect(w == back && back == fromJSON)
        // A corrupted bitmap is rejected, not trusted.
        let bad = String(decoding: json, as: UTF8.self).replacingOccurrences(of: "\"capacity\":128", with: "\"capacity\":256")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SeqWindow.self, from: Data(bad.utf8)) }
        var st = StationDedup()
        _ = st.accept(boot: 1, seq: 5)
        #expect(try JSONDecoder().decode(StationDedup.self, from: JSONEncoder().encode(st)) == st)
    }

    @Test("StationDedup's binary form round-trips (boots, retired counters) and rejects damage")
    func stationBinary() throws {
        var st = StationDedup(capacity: 128, keepBoots: 2)
        #expect(StationDedup(serialized: st.serialized()) == st)
        for (boot, seq) in [(0, 1), (0, 2), (0, 9), (0, 2), (1, 0), (1, 3), (2, 5), (2, 5), (1, 4)] as [(Int64, Int64)] {
            _ = st.accept(boot: boot, seq: seq)
        }
        #expect(st.boots.count == 2 && st.retiredMissing == 6 && st.retiredDuplicates == 1)
        let bytes = st.serialized()
        #expect(bytes.count == 27 + 2 * (8 + 45 + 16))
        var back = try #require(StationDedup(serialized: bytes))
        #expect(back == st)
        for (boot, seq) in [(2, 5), (2, 6), (1, 2), (0, 3), (3, 0)] as [(Int64, Int64)] {
            #expect(back.accept(boot: boot, seq: seq) == st.accept(boot: boot, seq: seq))
        }
        #expect(back == st)
        #expect(StationDedup(serialized: Array(bytes.dropLast())) == nil)
        #expect(StationDedup(serialized: bytes + [0]) == nil)
        #expect(StationDedup(serialized: [0x44, 2] + bytes.dropFirst(2)) == nil)
        #expect(StationDedup(serialized: Array(#"{"boots":[]}"#.utf8)) == nil)
        var swapped = bytes  // boots oldest first: refused
        let one = 27..<(27 + 69), two = (27 + 69)..<(27 + 138)
        swapped.replaceSubrange(one, with: bytes[two])
        swapped.replaceSubrange(two, with: bytes[one])
        #expect(StationDedup(serialized: swapped) == nil)
    }

    @Test("table tracks changed stations")
    func table() {
        var t = DedupTable<String>(capacity: 64)
        #expect(t.accept("a", boot: 0, seq: 1) == .new)
        #expect(t.accept("b", boot: 0, seq: 1) == .new)
        #expect(t.accept("a", boot: 0, seq: 1) == .duplicate)
        #expect(Set(t.drainChanged()) == ["a", "b"])
        #expect(t.drainChanged().isEmpty)
        var restored = DedupTable<String>(capacity: 64)
        restored.restore("a", t["a"]!)
        #expect(restored.accept("a", boot: 0, seq: 1) == .duplicate)
        #expect(restored.accept("a", boot: 0, seq: 2) == .new)
    }
}
