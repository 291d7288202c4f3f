import Foundation
import Testing
@testable import TaktCore
import TestSupport

@Suite("Aggregator")
struct AggregatorTests {
    // MARK: Units and windows

    @Test("unit deltas land in their 1m/1h/1d windows; energy defaults to good × unit_kwh")
    func unitWindows() {
        var a = makeAggregator()
        // eol (L1: unit_kwh 0.5, output station, ideal 6 s):
        //  T0+30 s   good 2 scrap 1, measured 0.9 kWh, cycle 6000 ms
        //  T0+90 s   no good/scrap → 1 good, no energy → 1 × 0.5 = 0.5 kWh
        //  T0+3605 s good 3, no energy → 1.5 kWh; cycle 7000
        #expect(a.feed(unitMsg("eol", ts: aggT0 + 30_000, seq: 1, good: 2, scrap: 1, energy: 0.9, cycle: 6000)) == .accepted)
        #expect(a.feed(unitMsg("eol", ts: aggT0 + 90_000, seq: 2)) == .accepted)
        #expect(a.feed(unitMsg("eol", ts: aggT0 + 3_605_000, seq: 3, good: 3, cycle: 7000)) == .accepted)
        // stack (not the output station: its own cycle_s 5 s); scrap only → 0 kWh.
        #expect(a.feed(unitMsg("stack", ts: aggT0 + 10_000, seq: 1, good: 0, scrap: 1)) == .accepted)
        let b = a.drainCommit(journalOffset: 77)
        #expect(b.journalOffset == 77)
        let rows = mergeBatches([b])
        // eol: 3 minutes, 2 hours, 1 day; stack: 1 + 1 + 1.
        #expect(rows.count == 9)
        let m0 = rows[wkey("eol", .minute, aggT0, aggT0 + 60_000)]
        #expect(m0?.good == 2 && m0?.scrap == 1 && m0?.energyKwh == 0.9 && m0?.unitMessages == 1 && m0?.cycle.count == 1)
        let m1 = rows[wkey("eol", .minute, aggT0 + 60_000, aggT0 + 120_000)]
        #expect(m1?.good == 1 && m1?.scrap == 0 && m1?.energyKwh == 0.5 && m1?.cycle.count == 0)
        let m60 = rows[wkey("eol", .minute, aggT0 + 3_600_000, aggT0 + 3_660_000)]
        #expect(m60?.good == 3 && m60?.energyKwh == 1.5)
        // Hour 0: 2 + 1 good, 1 scrap, 0.9 + 0.5 kWh, 2 messages; hour 1: 3 good.
        let h0 = rows[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)]
        #expect(h0?.good == 3 && h0?.scrap == 1 && h0?.energyKwh == 1.4 && h0?.unitMessages == 2)
        #expect(rows[wkey("eol", .hour, aggT0 + 3_600_000, aggT0 + 7_200_000)]?.good == 3)
        // The Berlin day (CEST, UTC+2): [05-31T22:00Z, 06-01T22:00Z): everything, 6 good, 2.9 kWh.
        let d = rows[wkey("eol", .day, aggDayStart, aggDayEnd)]
        #expect(d?.good == 6 && d?.scrap == 1 && d?.unitMessages == 3 && d?.cycle.count == 2)
        #expect(abs((d?.energyKwh ?? 0) - 2.9) < 1e-12)
        // No state ever: no known time; ideal cycle = the line's for the output station.
        #expect(d?.runMs == 0 && d?.plannedMs == 0 && d?.idealCycleS == 6.0 && d?.isOutput == true)
        let s = rows[wkey("stack", .day, aggDayStart, aggDayEnd)]
        #expect(s?.scrap == 1 && s?.good == 0 && s?.energyKwh == 0 && s?.idealCycleS == 5.0 && s?.isOutput == false)
        // A second drain with nothing new is empty.
        #expect(a.drainCommit(journalOffset: 78).updates.isEmpty)
    }

    @Test("a DST day in Berlin is 23 h; units on either side of local midnight split days")
    func dstDay() {
        var a = makeAggregator()
        // 2026-03-29 (clocks go 02:00 CET → 03:00 CEST): the local day is
        // [2026-03-28T23:00Z, 2026-03-29T22:00Z) = [1774738800000, 1774821600000), 23 h.
        let dayStart: Int64 = 1_774_738_800_000
        let dayEnd: Int64 = 1_774_821_600_000
        #expect(dayEnd - dayStart == 23 * 3_600_000)
        a.feed(unitMsg("eol", ts: dayStart - 1, seq: 1))            // 23:59:59.999 CET on the 28th
        a.feed(unitMsg("eol", ts: dayStart, seq: 2))                // 00:00 CET on the 29th
        a.feed(unitMsg("eol", ts: 1_774_785_600_000, seq: 3, good: 2))  // 12:00Z = 14:00 CEST
        a.feed(unitMsg("eol", ts: dayEnd, seq: 4))                  // 00:00 CEST on the 30th
        let rows = mergeBatches([a.drainCommit(journalOffset: 0)])
        // The 28th (a 24 h day in CET): [27th 23:00Z, 28th 23:00Z).
        #expect(rows[wkey("eol", .day, dayStart - 86_400_000, dayStart)]?.good == 1)
        #expect(rows[wkey("eol", .day, dayStart, dayEnd)]?.good == 3)
        // The 30th: 24 h of CEST.
        #expect(rows[wkey("eol", .day, dayEnd, dayEnd + 86_400_000)]?.good == 1)
        // Hours stay epoch-aligned: 23:00Z hour holds the unit at dayStart only.
        #expect(rows[wkey("eol", .hour, dayStart, dayStart + 3_600_000)]?.good == 1)
    }

    // MARK: State time

    @Test("state time across window edges, up to the horizon (open window shows time so far)")
    func stateAcrossEdges() {
        var a = makeAggregator()
        // eol: running (10000) from T0+30 s, failure (180000) from T0+90 s.
        // stack's unit at T0+135 s moves the site's horizon there.
        a.feed(stateMsg("eol", ts: aggT0 + 30_000, seq: 1, code: 10_000))
        a.feed(stateMsg("eol", ts: aggT0 + 90_000, seq: 2, code: 180_000))
        a.feed(unitMsg("stack", ts: aggT0 + 135_000, seq: 1))
        let r1 = mergeBatches([a.drainCommit(journalOffset: 1)])
        // minute 0 [0, 60 s): run 30 s (30→60), planned 30 s.
        #expect(r1[wkey("eol", .minute, aggT0, aggT0 + 60_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (30_000, 30_000))
        // minute 1 [60, 120 s): run 30 s (60→90), planned 60 s (plus failure 90→120).
        #expect(r1[wkey("eol", .minute, aggT0 + 60_000, aggT0 + 120_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (30_000, 60_000))
        // minute 2 [120, 180 s): failure up to the horizon 135 s: planned 15 s, run 0.
        let m2 = r1[wkey("eol", .minute, aggT0 + 120_000, aggT0 + 180_000)]
        #expect(m2?.runMs == 0 && m2?.plannedMs == 15_000 && m2?.good == 0)
        // hour and day: run 60 s, planned 105 s (30→135).
        #expect(r1[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (60_000, 105_000))
        #expect(r1[wkey("eol", .day, aggDayStart, aggDayEnd)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (60_000, 105_000))
        // stack has no state: its rows have no time.
        #expect(r1[wkey("stack", .minute, aggT0 + 120_000, aggT0 + 180_000)].map { ($0.runMs, $0.plannedMs, $0.good) } ?? (-1, -1, -1) == (0, 0, 1))

        // The horizon rule: another station's unit at T0+200 s gives eol 65 s more failure:
        // minute 2 now planned 60 s, minute 3 [180, 240 s) planned 20 s, hour 60/170 s. Only
        // those windows of eol are written (minutes 0 and 1 did not change).
        a.feed(unitMsg("stack", ts: aggT0 + 200_000, seq: 2))
        let b2 = a.drainCommit(journalOffset: 2)
        let eolKeys = Set(b2.updates.filter { $0.key.station == "eol" }.map(\.key))
        #expect(eolKeys == [wkey("eol", .minute, aggT0 + 120_000, aggT0 + 180_000),
                            wkey("eol", .minute, aggT0 + 180_000, aggT0 + 240_000),
                            wkey("eol", .hour, aggT0, aggT0 + 3_600_000),
                            wkey("eol", .day, aggDayStart, aggDayEnd)])
        let r2 = mergeBatches([b2])
        #expect(r2[wkey("eol", .minute, aggT0 + 120_000, aggT0 + 180_000)]?.plannedMs == 60_000)
        #expect(r2[wkey("eol", .minute, aggT0 + 180_000, aggT0 + 240_000)]?.plannedMs == 20_000)
        #expect(r2[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)].map { ($0.runMs, $0.plannedMs, $0.good) } ?? (-1, -1, -1) == (60_000, 170_000, 0))
    }

    @Test("windows with time in a known state but no units get rows; unknown time does not")
    func timeWithoutUnits() {
        var a = makeAggregator()
        // eol running from T0; stack in 30000 (unknown) from T0; a unit of prep (L2) at T0+600 s
        // is the horizon. eol: minutes 0…9 with 60 s each (minute 10 starts at the horizon: no
        // time, no row). stack: only the windows holding its state message, with no time.
        a.feed(stateMsg("eol", ts: aggT0, seq: 1, code: 10_000))
        a.feed(stateMsg("stack", ts: aggT0, seq: 1, code: 30_000))
        a.feed(unitMsg("prep", line: "L2", ts: aggT0 + 600_000, seq: 1))
        let b = a.drainCommit(journalOffset: 0)
        let rows = mergeBatches([b])
        let eolMinutes = b.updates.filter { $0.key.station == "eol" && $0.key.tier == .minute }
        #expect(eolMinutes.count == 10)
        #expect(eolMinutes.allSatisfy { $0.runMs == 60_000 && $0.plannedMs == 60_000 && $0.good == 0 })
        #expect(eolMinutes.map(\.key.start) == (0..<10).map { aggT0 + Int64($0) * 60_000 })
        #expect(rows[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)]?.runMs == 600_000)
        let stack = b.updates.filter { $0.key.station == "stack" }
        #expect(stack.count == 3)  // minute 0, hour 0, day
        #expect(stack.allSatisfy { $0.runMs == 0 && $0.plannedMs == 0 && $0.key.start <= aggT0 })
        // out (L2) never sent anything: no rows.
        #expect(!b.updates.contains { $0.key.station == "out" })
    }

    @Test("a late state splits an interval: the windows it covers are rewritten")
    func lateStateSplits() {
        var a = makeAggregator()
        // Device order: seq 1 running at T0, seq 2 failure at T0+150 s, seq 3 running at
        // T0+210 s. Seqs 2 and 3 arrive after a commit, 3 before 2.
        a.feed(stateMsg("eol", ts: aggT0, seq: 1, code: 10_000))
        a.feed(unitMsg("stack", ts: aggT0 + 600_000, seq: 1))
        let r1 = mergeBatches([a.drainCommit(journalOffset: 0)])
        #expect(r1[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (600_000, 600_000))
        #expect(a.feed(stateMsg("eol", ts: aggT0 + 210_000, seq: 3, code: 10_000)) == .accepted)
        #expect(a.feed(stateMsg("eol", ts: aggT0 + 150_000, seq: 2, code: 180_000)) == .accepted)
        let b2 = a.drainCommit(journalOffset: 1)
        let r2 = mergeBatches([b2])
        // The failure holds [150 s, 210 s): minute 2 [120,180) run 30 planned 60; minute 3
        // [180, 240) run 30 planned 60; hour run 540 planned 600.
        #expect(r2[wkey("eol", .minute, aggT0 + 120_000, aggT0 + 180_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (30_000, 60_000))
        #expect(r2[wkey("eol", .minute, aggT0 + 180_000, aggT0 + 240_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (30_000, 60_000))
        #expect(r2[wkey("eol", .hour, aggT0, aggT0 + 3_600_000)].map { ($0.runMs, $0.plannedMs) } ?? (-1, -1) == (540_000, 600_000))
        // Only the windows holding the two messages or the changed time: minutes 2 and 3,
        // the hour and the day.
        #expect(b2.updates.filter { $0.key.station == "eol" }.count == 4)
        let merged = mergeBatches([a.drainCommit(journalOffset: 2)])
        #expect(merged.isEmpty)
    }

    // MARK: Exactly once

    @Test("duplicates, reordering and boot changes give the same totals as the clean stream", arguments: [1, 2, 3] as [UInt64])
    func faultsAbsorbed(seed: UInt64) {
        let clean = randomStream(seed: seed, messages: 1500)
        let noisy = faulty(clean, seed: seed &+ 100)
        #expect(noisy.count > clean.count)
        var a = makeAggregator()
        for m in clean { #expect(a.feed(m) == .accepted) }
        let cleanRows = mergeBatches([a.drainCommit(journalOffset: 0)])
        let cleanCounters = a.counters(site: "s1")!

        var b = makeAggregator()
        var batches: [CommitBatch] = []
        var dups = 0
        for (n, m) in noisy.enumerated() {
            if b.feed(m) == .duplicate { dups += 1 }
            if n % 97 == 0 { batches.append(b.drainCommit(journalOffset: Int64(n))) }
        }
        batches.append(b.drainCommit(journalOffset: -1))
        let noisyRows = mergeBatches(batches)
        #expect(dups == noisy.count - clean.count)
        let c = b.counters(site: "s1")!
        #expect(c.accepted == cleanCounters.accepted && c.missing == cleanCounters.missing && c.horizon == cleanCounters.horizon)
        #expect(c.duplicates == Int64(dups) && c.deadLetters == 0)
        // Same rows, same contents (energies are quarter kWh: exact in any order).
        #expect(Set(noisyRows.keys) == Set(cleanRows.keys))
        for (k, r) in cleanRows where !(noisyRows[k].map { $0.sameContents(r) } ?? false) {
            Issue.record("\(k): clean \(r) vs noisy \(noisyRows[k].map(\.description) ?? "absent")")
        }
        // Sanity: the stream really has units and state time.
        #expect(cleanRows.values.contains { $0.runMs > 0 } && cleanRows.values.contains { $0.good > 0 })
    }

    @Test("restore after drain behaves exactly like an uninterrupted aggregator", arguments: [
        (11, AggregatorSettings.defaultMaxAgeMs, false),
        (12, AggregatorSettings.defaultMaxAgeMs, false),
        // A short max_age: late messages become too_old and timelines are pruned between drains.
        (13, 1_800_000, false),
        (14, 1_800_000, false),
        // Unknown states (30000) too.
        (15, AggregatorSettings.defaultMaxAgeMs, true),
        (16, 1_800_000, true),
    ] as [(UInt64, Int64, Bool)])
    func restoreIsExact(seed: UInt64, maxAgeMs: Int64, unknown: Bool) throws {
        let settings = AggregatorSettings(maxAgeMs: maxAgeMs, maxPastMs: 0)
        let stream = faulty(randomStream(seed: seed, messages: 2500, unknownStates: unknown), seed: seed &* 7,
                            reorder: 0.15, maxDelayMs: maxAgeMs < 3_600_000 ? 2_400_000 : 120_000)
        // Uninterrupted: one run, one commit at the end.
        var one = try Aggregator(plants: [aggPlant()], settings: settings)
        var outcomes: [IngestOutcome] = []
        for m in stream { outcomes.append(one.feed(m)) }
        let expected = mergeBatches([one.drainCommit(journalOffset: 0)])
        let expectedCounters = one.counters(site: "s1")!
        if maxAgeMs < 3_600_000 {
            #expect(outcomes.contains { if case .deadLetter(.tooOld, _) = $0 { return true } else { return false } })
        }

        // Interrupted at random points: commit, "crash", restore from the store, go on.
        var rng = SplitMix64(seed: seed &+ 999)
        var storeStations: [StationKey: StationSnapshot] = [:]
        var storeSites: [String: SiteCounters] = [:]
        var batches: [CommitBatch] = []
        var agg = try Aggregator(plants: [aggPlant()], settings: settings)
        var restarts = 0
        for (n, m) in stream.enumerated() {
            #expect(agg.feed(m) == outcomes[n], "message \(n)")
            if rng.chance(0.01) || n == stream.count - 1 {
                let b = agg.drainCommit(journalOffset: Int64(n))
                // As the store does: a snapshot without timeline bytes keeps the stored ones.
                for s in b.stations {
                    storeStations[s.station] = StationSnapshot(station: s.station, dedup: s.dedup,
                                                               timeline: s.timeline ?? storeStations[s.station]?.timeline)
                }
                for s in b.sites { storeSites[s.site] = s }
                batches.append(b)
                agg = try Aggregator(plants: [aggPlant()], settings: settings)
                let report = try agg.restore(stations: Array(storeStations.values), sites: Array(storeSites.values))
                #expect(report == RestoreReport())
                restarts += 1
            }
        }
        #expect(restarts > 10)
        let got = mergeBatches(batches)
        #expect(storeSites["s1"] == expectedCounters)
        // Rows only one run has: none — except, with unknown states, a row the restored run
        // wrote while the window had known time, which a later late state turned unknown (a
        // row is never taken back: it holds zeros). See docs/core.md.
        for k in Set(expected.keys).subtracting(got.keys) { Issue.record("only uninterrupted: \(k) \(expected[k]!)") }
        for k in Set(got.keys).subtracting(expected.keys) where !(unknown && got[k]!.sameContents(MergedRow(
            idealCycleS: got[k]!.idealCycleS, isOutput: got[k]!.isOutput))) {
            Issue.record("only restored: \(k) \(got[k]!)")
        }
        var bad = 0
        for (k, r) in expected where !(got[k].map { $0.sameContents(r) } ?? false) {
            bad += 1
            if bad <= 5 { Issue.record("\(k): uninterrupted \(r) vs restored \(got[k].map(\.description) ?? "absent")") }
        }
        #expect(bad == 0)
    }

    // MARK: Dead letters

    @Test("unknown sources, bad topics and bad payloads are dead letters with their reasons")
    func deadLetters() {
        var a = makeAggregator()
        let ok = "{\"ts\": \(aggT0), \"seq\": 1}"
        func reason(_ o: IngestOutcome) -> DeadLetterReason? {
            if case .deadLetter(let r, _) = o { return r }
            return nil
        }
        #expect(reason(a.ingest(topic: "takt/v1/nope/L1/eol/unit", payload: ok, now: aggNow)) == .unknownSource)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L9/eol/unit", payload: ok, now: aggNow)) == .unknownSource)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/out/unit", payload: ok, now: aggNow)) == .unknownSource)  // out is L2's
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/other", payload: ok, now: aggNow)) == .badTopic)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol", payload: ok, now: aggNow)) == .badTopic)
        #expect(reason(a.ingest(topic: "takt/v1/s1//eol/unit", payload: ok, now: aggNow)) == .badTopic)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/unit/x", payload: ok, now: aggNow)) == .badTopic)
        #expect(reason(a.ingest(topic: "takt/v1/metrics/L1/eol/unit", payload: ok, now: aggNow)) == .badTopic)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/unit", payload: "not json", now: aggNow)) == .notJSON)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/unit", payload: "{\"ts\": 1, \"seq\": 1, \"good\": 0, \"scrap\": 0}", now: aggNow)) == .emptyUnit)
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/state", payload: ok, now: aggNow)) == .missingField)
        // in_future: 301 s ahead of the clock (default max_future_s 300).
        #expect(reason(a.ingest(topic: "takt/v1/s1/L1/eol/unit", payload: ok, now: aggT0 - 301_000)) == .inFuture)
        // Nothing of that was counted.
        let b = a.drainCommit(journalOffset: 0)
        #expect(b.updates.isEmpty && b.stations.isEmpty)
        // Attributed to s1: the 2 unknown line/station + 4 payload faults; the unknown site
        // and the bad topics are not attributed to a site.
        #expect(b.sites == [SiteCounters(site: "s1", horizon: 0, accepted: 0, duplicates: 0, deadLetters: 6, missing: 0)])
        #expect(a.deadLetters(site: "s1") == [.unknownSource: 2, .notJSON: 1, .emptyUnit: 1, .missingField: 1, .inFuture: 1])
        #expect(a.unattributedDeadLetters == [.unknownSource: 1, .badTopic: 5])
    }

    @Test("too_old is decided before dedup: a too-old message does not use up its seq")
    func tooOld() {
        var a = makeAggregator(AggregatorSettings(maxAgeMs: 3_600_000, maxPastMs: 0))
        let h = aggT0 + 7_200_000
        #expect(a.feed(unitMsg("eol", ts: h, seq: 1)) == .accepted)  // horizon = h
        // stack, seq 5: 1 h + 1 ms behind the horizon → too_old.
        #expect(a.feed(unitMsg("stack", ts: h - 3_600_001, seq: 5)) == .deadLetter(.tooOld,
            detail: "ts \(h - 3_600_001) is 3600001 ms behind the site's newest event \(h); max_age is 3600000 ms"))
        // The same seq, exactly max_age behind: accepted (the seq was not marked), then a duplicate.
        #expect(a.feed(unitMsg("stack", ts: h - 3_600_000, seq: 5)) == .accepted)
        #expect(a.feed(unitMsg("stack", ts: h - 3_600_000, seq: 5)) == .duplicate)
        // A seq jump: 5 → 9 is 3 missing.
        #expect(a.feed(unitMsg("stack", ts: h, seq: 9)) == .accepted)
        let b = a.drainCommit(journalOffset: 0)
        #expect(b.sites == [SiteCounters(site: "s1", horizon: h, accepted: 3, duplicates: 1, deadLetters: 1, missing: 3)])
        let rows = mergeBatches([b])
        #expect(rows[wkey("stack", .hour, aggT0 + 3_600_000, aggT0 + 7_200_000)]?.good == 1)
        #expect(b.stations.map(\.station.station).sorted() == ["eol", "stack"])
    }

    @Test("a seq too far behind the dedup bitmap is stale_seq and not counted")
    func staleSeq() {
        var a = makeAggregator(AggregatorSettings(dedupCapacity: 64, maxPastMs: 0))
        #expect(a.feed(unitMsg("eol", ts: aggT0, seq: 100)) == .accepted)
        #expect(a.feed(unitMsg("eol", ts: aggT0 + 1, seq: 200)) == .accepted)
        if case .deadLetter(.staleSeq, _) = a.feed(unitMsg("eol", ts: aggT0 + 2, seq: 120)) {} else {
            Issue.record("expected stale_seq")
        }
        let rows = mergeBatches([a.drainCommit(journalOffset: 0)])
        #expect(rows[wkey("eol", .minute, aggT0, aggT0 + 60_000)]?.good == 2)
    }

    // MARK: Restore details

    @Test("restore: snapshots round-trip, unknown stations are reported, corrupt bytes throw")
    func restoreDetails() throws {
        var a = makeAggregator()
        a.feed(stateMsg("eol", ts: aggT0, seq: 1, code: 10_000))
        a.feed(unitMsg("eol", ts: aggT0 + 60_000, seq: 2))
        let b = a.drainCommit(journalOffset: 0)
        #expect(b.stations.count == 1)
        var r = makeAggregator()
        var snaps = b.stations
        snaps.append(StationSnapshot(station: StationKey(site: "s1", line: "L1", station: "gone"), dedup: [], timeline: []))
        let report = try r.restore(stations: snaps, sites: b.sites + [SiteCounters(site: "old")])
        #expect(report.ignoredStations == [StationKey(site: "s1", line: "L1", station: "gone")])
        #expect(report.ignoredSites == ["old"])
        // Dedup state came back: seq 2 is a duplicate; the timeline too: a unit at +120 s
        // gives eol minute 1 its full 60 s of running and minute 2 nothing (at the horizon).
        #expect(r.feed(unitMsg("eol", ts: aggT0 + 60_000, seq: 2)) == .duplicate)
        r.feed(unitMsg("eol", ts: aggT0 + 120_000, seq: 3))
        let after = r.drainCommit(journalOffset: 1)
        // Only what changed since the stored commit: minute 1 (its time grew from 0 to 60 s),
        // minute 2 (the unit), the hour and the day; not minute 0.
        #expect(after.updates.map(\.key.start) == [aggT0 + 60_000, aggT0 + 120_000, aggT0, aggDayStart])
        let rows = mergeBatches([after])
        #expect(rows[wkey("eol", .minute, aggT0 + 60_000, aggT0 + 120_000)]?.runMs == 60_000)
        #expect(rows[wkey("eol", .minute, aggT0 + 120_000, aggT0 + 180_000)].map { ($0.good, $0.runMs) } ?? (-1, -1) == (1, 0))
        #expect(r.counters(site: "s1")?.duplicates == 1 && r.counters(site: "s1")?.accepted == 3)

        var bad = makeAggregator()
        #expect(throws: AggregatorError.self) {
            try bad.restore(stations: [StationSnapshot(station: b.stations[0].station, dedup: [1, 2], timeline: [])], sites: [])
        }
        // Dedup state written as JSON by an older version still restores.
        var old = makeAggregator()
        var dedup = StationDedup()
        _ = dedup.accept(boot: 0, seq: 2)
        let json = try JSONEncoder().encode(dedup)
        try old.restore(stations: [StationSnapshot(station: b.stations[0].station, dedup: Array(json), timeline: b.stations[0].timeline)],
                        sites: b.sites)
        #expect(old.feed(unitMsg("eol", ts: aggT0 + 60_000, seq: 2)) == .duplicate)
    }

    @Test("state timelines persist in a binary form that round-trips; JSON from older versions still restores; damaged bytes are an error")
    func timelineBinaryForm() throws {
        let timeline = StateTimeline(entries: [
            .init(ts: aggT0, boot: 0, seq: 7, state: StateCode(rawValue: 10_000)),
            .init(ts: aggT0 + 60_000, boot: 3, seq: Int64(1) << 52, state: StateCode(rawValue: 180_000)),
            .init(ts: aggT0 + 60_000, boot: -1, seq: 0, state: StateCode(rawValue: UInt32.max)),
        ])
        let bytes = timeline.serialized()
        #expect(bytes.count == 6 + 3 * 28 && bytes.first == 0x54)
        #expect(StateTimeline(serialized: bytes) == timeline)
        #expect(StateTimeline(serialized: StateTimeline().serialized()) == StateTimeline())
        let damagedForms: [[UInt8]] = [[], [0x54], [0x54, 2, 0, 0, 0, 0], Array(bytes.dropLast()), bytes + [0],
                                       [UInt8(ascii: "{")] + bytes.dropFirst()]
        for damaged in damagedForms {
            #expect(StateTimeline(serialized: damaged) == nil, "\(damaged.prefix(8))")
        }

        // A store written by an older version holds JSON timelines; a new one binary; both restore.
        var a = makeAggregator()
        a.feed(stateMsg("eol", ts: aggT0, seq: 1, code: 10_000))
        a.feed(unitMsg("eol", ts: aggT0 + 30_000, seq: 2))
        let b = a.drainCommit(journalOffset: 0)
        let binary = try #require(b.stations.first?.timeline)
        #expect(binary.first == 0x54)
        let restoredTimeline = try #require(StateTimeline(serialized: binary))
        let json = Array(try JSONEncoder().encode(restoredTimeline))
        for form in [binary, json] {
            var r = makeAggregator()
            try r.restore(stations: [StationSnapshot(station: b.stations[0].station, dedup: b.stations[0].dedup, timeline: form)],
                          sites: b.sites)
            // The restored state (producing since aggT0) gives minute 1 its 60 s of running.
            r.feed(unitMsg("eol", ts: aggT0 + 120_000, seq: 3))
            let rows = mergeBatches([r.drainCommit(journalOffset: 1)])
            #expect(rows[wkey("eol", .minute, aggT0 + 60_000, aggT0 + 120_000)]?.runMs == 60_000)
        }
        var bad = makeAggregator()
        #expect(throws: AggregatorError.self) {
            try bad.restore(stations: [StationSnapshot(station: b.stations[0].station, dedup: b.stations[0].dedup,
                                                       timeline: Array(binary.dropLast()))], sites: [])
        }
    }

    @Test("a snapshot carries the timeline only when it changed since the station's previous one")
    func timelineOnlyWhenChanged() throws {
        var a = makeAggregator()
        a.feed(unitMsg("eol", ts: aggT0, seq: 1))
        // First snapshot of a station: always with its timeline (the store holds none yet).
        let first = a.drainCommit(journalOffset: 0)
        #expect(first.stations.count == 1 && first.stations[0].timeline != nil)
        // Units only: the dedup changed, the timeline did not.
        a.feed(unitMsg("eol", ts: aggT0 + 1000, seq: 2))
        let second = a.drainCommit(journalOffset: 1)
        #expect(second.stations.count == 1 && second.stations[0].timeline == nil)
        // A state: the timeline comes along again.
        a.feed(stateMsg("eol", ts: aggT0 + 2000, seq: 3, code: 10_000))
        let third = a.drainCommit(journalOffset: 2)
        let bytes = try #require(third.stations.first?.timeline)
        // Restored from dedup + that timeline (first and third snapshots merged as the store
        // does), the engine is where the uninterrupted one is.
        var r = makeAggregator()
        try r.restore(stations: [StationSnapshot(station: third.stations[0].station, dedup: third.stations[0].dedup,
                                                 timeline: bytes)], sites: third.sites)
        #expect(r.feed(unitMsg("eol", ts: aggT0 + 1000, seq: 2)) == .duplicate)
        r.feed(unitMsg("eol", ts: aggT0 + 62_000, seq: 4))
        a.feed(unitMsg("eol", ts: aggT0 + 62_000, seq: 4))
        #expect(mergeBatches([r.drainCommit(journalOffset: 3)]) == mergeBatches([a.drainCommit(journalOffset: 3)]))
        // After a restore, an unchanged timeline is not sent again.
        r.feed(unitMsg("eol", ts: aggT0 + 63_000, seq: 5))
        #expect(r.drainCommit(journalOffset: 4).stations.first?.timeline == nil)
    }

    @Test("configuration errors: two plants for one site")
    func configErrors() {
        #expect(throws: AggregatorError.self) { try Aggregator(plants: [aggPlant(), aggPlant()]) }
    }

    // MARK: Throughput (a measurement, not an assertion)

    @Test("throughput (prints events/s; run with TAKT_BENCH=1 in release)",
          .enabled(if: ProcessInfo.processInfo.environment["TAKT_BENCH"] != nil))
    func throughput() {
        let msgs = randomStream(seed: 5, messages: 200_000, stepMs: 10...300)
        let topics = msgs.map { Array($0.topic.utf8) }
        let payloads = msgs.map { Array($0.payload.utf8) }
        var a = makeAggregator()
        let clock = ContinuousClock()
        var accepted = 0
        let t = clock.measure {
            for i in msgs.indices {
                topics[i].withUnsafeBytes { tb in
                    payloads[i].withUnsafeBytes { pb in
                        if a.ingest(topic: tb, payload: pb, now: aggNow) == .accepted { accepted += 1 }
                    }
                }
                if i % 10_000 == 9_999 { _ = a.drainCommit(journalOffset: Int64(i)) }
            }
            _ = a.drainCommit(journalOffset: -1)
        }
        let s = Double(t.components.seconds) + Double(t.components.attoseconds) / 1e18
        print("Aggregator: \(msgs.count) messages (\(accepted) accepted) in \(s) s = \(Int(Double(msgs.count) / s)) /s")
    }
}
