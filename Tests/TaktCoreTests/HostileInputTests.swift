import Foundation
import Testing
@testable import TaktCore

/// Issue 11's findings against the pure core: sequences of valid-looking messages whose seq,
/// boot or ts jump. Each test failed (trapped, grew or went silent) before the bounds of
/// protocol.md section 8.
@Suite("Hostile input: seq, boot and ts jumps")
struct HostileInputTests {
    /// A clock at `aggT0` + 1 h, so that `aggT0` is recent (max_past applies).
    static let now = aggT0 + 3_600_000

    @Test("1,100 boots each with seq 0 and seq 2^53−1: no overflow trap, the jumps are seq_jump, missing stays 0")
    func bootsWithHugeSeqs() throws {
        var a = makeAggregator(AggregatorSettings())
        var outcomes: [IngestOutcome] = []
        for boot in Int64(1)...1_100 {
            outcomes.append(a.feed(unitMsg("eol", ts: aggT0 + boot, seq: 0, boot: boot), now: Self.now))
            outcomes.append(a.feed(unitMsg("eol", ts: aggT0 + boot, seq: (1 << 53) - 1, boot: boot), now: Self.now))
        }
        #expect(outcomes.filter { $0 == .accepted }.count == 1_100)
        #expect(outcomes.filter { if case .deadLetter(.seqJump, _) = $0 { true } else { false } }.count == 1_100)
        let counters = try #require(a.counters(site: "s1"))
        #expect(counters.missing == 0)
        // The state survives a drain and a restore (it used to be persisted and trap again).
        let batch = a.drainCommit(journalOffset: 1)
        var restored = makeAggregator(AggregatorSettings())
        _ = try restored.restore(stations: batch.stations, sites: batch.sites)
        #expect(restored.feed(unitMsg("eol", ts: aggT0 + 2_000, seq: 1, boot: 1_100), now: Self.now) == .accepted)
    }

    @Test("a huge seq gap counts at most max_seq_gap missing, and counters saturate instead of trapping")
    func missingIsBounded() {
        var w = SeqWindow(capacity: 64)
        #expect(w.accept(0, maxGap: 1_000_000) == .new)
        #expect(w.accept(1_000_001, maxGap: 1_000_000) == .seqJump)
        #expect(w.accept(1_000_000, maxGap: 1_000_000) == .new)
        #expect(w.missing == 999_999)
        #expect(w.accept(3_000_000, maxGap: 1_000_000) == .seqJump)
        #expect(w.missing == 999_999 && w.highest == 1_000_000)
        #expect(Int64.max.saturatingAdd(1) == .max)
        #expect(Int64.min.saturatingAdd(-1) == .min)
    }

    @Test("a device clock reset to 1970, then a unit now: too_old, and the drain holds a day's windows, not 56 years'")
    func clockResetTo1970() throws {
        var a = makeAggregator(AggregatorSettings())
        let first = a.feed(stateMsg("eol", ts: 1_000, seq: 0, code: 10_000), now: Self.now)
        guard case .deadLetter(.tooOld, let detail) = first else {
            Issue.record("expected too_old, got \(first)")
            return
        }
        #expect(detail.contains("max_past"))
        #expect(a.feed(unitMsg("eol", ts: aggT0, seq: 1, good: 1), now: Self.now) == .accepted)
        let batch = a.drainCommit(journalOffset: 1)
        #expect(batch.updates.count <= 3, "one 1m, 1h and 1d window: \(batch.updates.count)")
    }

    @Test("max_past 0 switches the check off (backfilling old captures)")
    func maxPastOff() {
        var a = makeAggregator(AggregatorSettings(maxPastMs: 0))
        #expect(a.feed(unitMsg("eol", ts: 86_400_000, seq: 0, good: 1), now: Self.now) == .accepted)
    }

    @Test("a state span after a horizon jump is bounded by max_past: a state older than it is never stored")
    func stateSpanBounded() {
        let day: Int64 = 86_400_000
        var a = makeAggregator(AggregatorSettings(maxPastMs: 2 * day))
        // A state 3 days old is too_old; one 1 day old is kept, and its span up to a unit now
        // is one day of windows.
        guard case .deadLetter(.tooOld, _) = a.feed(stateMsg("eol", ts: Self.now - 3 * day, seq: 0, code: 10_000), now: Self.now) else {
            Issue.record("expected too_old")
            return
        }
        #expect(a.feed(stateMsg("eol", ts: Self.now - day, seq: 1, code: 10_000), now: Self.now) == .accepted)
        _ = a.drainCommit(journalOffset: 1)
        #expect(a.feed(unitMsg("stack", ts: Self.now, seq: 0, good: 1), now: Self.now) == .accepted)
        let batch = a.drainCommit(journalOffset: 2)
        let eolMinutes = batch.updates.filter { $0.key.station == "eol" && $0.key.tier == .minute }
        #expect(eolMinutes.count <= 24 * 60 + 1, "\(eolMinutes.count) 1m windows for a 1-day span")
    }

    @Test("one unit with seq 2^53−1 does not silence its source: seq_jump, and the next real seqs count")
    func seqNearTop() {
        var a = makeAggregator(AggregatorSettings())
        for seq in Int64(0)..<5 { #expect(a.feed(unitMsg("eol", ts: aggT0 + seq, seq: seq), now: Self.now) == .accepted) }
        guard case .deadLetter(.seqJump, _) = a.feed(unitMsg("eol", ts: aggT0 + 10, seq: (1 << 53) - 1), now: Self.now) else {
            Issue.record("expected seq_jump")
            return
        }
        for seq in Int64(5)..<10 { #expect(a.feed(unitMsg("eol", ts: aggT0 + seq, seq: seq), now: Self.now) == .accepted) }
    }

    @Test("two boots near 2^53 cannot push the real boot out (boot_jump), also after a restore")
    func bootsNearTop() throws {
        var a = makeAggregator(AggregatorSettings())
        #expect(a.feed(unitMsg("eol", ts: aggT0, seq: 0, boot: 7), now: Self.now) == .accepted)
        for boot: Int64 in [(1 << 53) - 2, (1 << 53) - 1] {
            guard case .deadLetter(.bootJump, _) = a.feed(unitMsg("eol", ts: aggT0 + 1, seq: 0, boot: boot), now: Self.now) else {
                Issue.record("expected boot_jump for boot \(boot)")
                return
            }
        }
        let batch = a.drainCommit(journalOffset: 1)
        var restored = makeAggregator(AggregatorSettings())
        _ = try restored.restore(stations: batch.stations, sites: batch.sites)
        #expect(restored.feed(unitMsg("eol", ts: aggT0 + 2, seq: 1, boot: 7), now: Self.now) == .accepted)
        // A restart counted up by one, or in seconds since the epoch, is believed.
        #expect(restored.feed(unitMsg("eol", ts: aggT0 + 3, seq: 0, boot: 8), now: Self.now) == .accepted)
        #expect(restored.feed(unitMsg("eol", ts: aggT0 + 4, seq: 0, boot: 1_780_272_000), now: Self.now) == .accepted)
        // A boot older than both held ones: stale_boot.
        guard case .deadLetter(.staleBoot, _) = restored.feed(unitMsg("eol", ts: aggT0 + 5, seq: 3, boot: 7), now: Self.now) else {
            Issue.record("expected stale_boot")
            return
        }
    }

    @Test("a restarted device's first seq above max_seq_gap is seq_jump; a late message of the older boot is not")
    func newBootFirstSeq() {
        var d = StationDedup(capacity: 64, keepBoots: 2)
        let limits = DedupLimits(maxSeqGap: 100, maxBootGap: 1 << 32)
        #expect(d.accept(boot: 5, seq: 5_000, limits: limits) == .new)  // the first message ever: taken as it comes
        #expect(d.accept(boot: 6, seq: 101, limits: limits) == .seqJump)
        #expect(d.accept(boot: 6, seq: 0, limits: limits) == .new)
        #expect(d.accept(boot: 4, seq: 9_000, limits: limits) == .staleBoot)  // two boots held
        var e = StationDedup(capacity: 64, keepBoots: 2)
        #expect(e.accept(boot: 5, seq: 0, limits: limits) == .new)
        #expect(e.accept(boot: 4, seq: 9_000, limits: limits) == .new)  // the boot before: it ran a while
    }

    @Test("heartbeats of an unchanged state are not stored (one entry per 4,096 seqs at most); the snapshot is not rewritten")
    func stateHeartbeatFlood() throws {
        var a = makeAggregator(AggregatorSettings(maxPastMs: 0))
        #expect(a.feed(stateMsg("eol", ts: aggT0, seq: 0, code: 10_000)) == .accepted)
        let first = a.drainCommit(journalOffset: 1)
        #expect(first.stations.first { $0.station.station == "eol" }?.timeline != nil)
        let st = try #require(a.stationByKey[StationKey(site: "s1", line: "L1", station: "eol")])
        for k in Int64(1)...4_000 {
            #expect(a.feed(stateMsg("eol", ts: aggT0 + k * 10_000, seq: k, code: 10_000)) == .accepted)
        }
        let batch = a.drainCommit(journalOffset: 2)
        let eol = batch.stations.first { $0.station.station == "eol" }
        #expect(eol != nil && eol?.timeline == nil, "the timeline did not change: no timeline bytes in the snapshot")
        #expect(a.stations[st].timeline.entries.count == 1, "\(a.stations[st].timeline.entries)")
        // Past the dedup bitmap (4,096 seqs) a repeat cannot be proven redundant and is kept:
        // 100,000 heartbeats (11.6 days at 10 s) hold ~25 entries, not 100,000.
        for k in Int64(4_001)...100_000 {
            _ = a.feed(stateMsg("eol", ts: aggT0 + k * 10_000, seq: k, code: 10_000))
        }
        #expect(a.stations[st].timeline.entries.count <= 1 + 100_000 / 4_096)
        // A real change is stored.
        #expect(a.feed(stateMsg("eol", ts: aggT0 + 100_001 * 10_000, seq: 100_001, code: 180_000)) == .accepted)
        #expect(a.stations[st].timeline.entries.last?.state == StateCode(rawValue: 180_000))
    }

    @Test("a station flapping between two states: at most max_state_changes entries, the changes beyond are state_flood")
    func stateFlappingFlood() throws {
        var a = makeAggregator(AggregatorSettings(maxPastMs: 0, maxStateChanges: 100))
        var floods = 0
        for k in Int64(0)..<1_000 {
            let outcome = a.feed(stateMsg("eol", ts: aggT0 + k * 1_000, seq: k, code: k.isMultiple(of: 2) ? 10_000 : 40_000))
            if case .deadLetter(.stateFlood, _) = outcome { floods += 1 } else { #expect(outcome == .accepted) }
        }
        // After the 100th change every state message is refused: a repeat is no longer provably
        // redundant once the refused changes before it left gaps in its seq.
        #expect(floods == 900)
        let st = try #require(a.stationByKey[StationKey(site: "s1", line: "L1", station: "eol")])
        #expect(a.stations[st].timeline.entries.count == 100)
        // Units of the flooding station still count.
        #expect(a.feed(unitMsg("eol", ts: aggT0 + 2_000_000, seq: 1_000, good: 1)) == .accepted)
    }
}
