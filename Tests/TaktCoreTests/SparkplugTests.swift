import Foundation
import Testing
@testable import TaktCore
import TestSupport

// MARK: - Fixtures

/// Site `s1` with line `L1` (output `eol`, bound to the Sparkplug node g1/n1's own metrics)
/// and line `L2` (output `out`, bound to device `d1` of the same node: node and device messages
/// share the node's seq).
func spPlant() -> Plant {
    let node = SparkplugBinding(group: "g1", node: "n1", metrics: .init(good: "Production/Good", scrap: "Production/Scrap",
                                                                          state: "Status/StateCode", cycleMs: "Cycle/LastMs"))
    let dev = SparkplugBinding(group: "g1", node: "n1", device: "d1",
                               metrics: .init(good: "Good", energyKwh: "Energy", running: "Running"))
    return Plant(site: "s1", timeZone: TimeZone(identifier: "Europe/Berlin")!, plannedHoursPerYear: 8000, lines: [
        Plant.Line(id: "L1", product: "p", idealCycleS: 6.0, unitKWh: 0.5, outputStation: "eol",
                   stations: [Plant.Station(id: "eol", cycleS: 6.0, sparkplug: node)]),
        Plant.Line(id: "L2", product: "p", idealCycleS: 4.0, unitKWh: 0.25, outputStation: "out",
                   stations: [Plant.Station(id: "out", cycleS: 4.0, sparkplug: dev)]),
    ])
}

typealias SPM = SparkplugPayload.Metric

/// A Sparkplug harness around an aggregator: feeds clock records and messages the way the
/// intake journals them, and sums what the drains hand out.
struct SPRig {
    var a: Aggregator
    var batches: [CommitBatch] = []
    var commands: [(topic: String, payload: [UInt8])] = []
    var clock: Int64 = aggT0

    init(settings: AggregatorSettings = AggregatorSettings(maxPastMs: 0)) {
        a = try! Aggregator(plants: [spPlant()], settings: settings)
        tick(0)  // the intake journals a clock record before a node's first message
    }

    /// Advances the host clock (a journaled clock record).
    mutating func tick(_ ms: Int64) {
        clock += ms
        _ = a.ingest(topic: Aggregator.clockTopic, payload: Aggregator.clockPayload(clock), now: aggNow)
        commands += a.takeSparkplugCommands()
    }

    @discardableResult
    mutating func send(_ type: SparkplugTopic.MessageType, device: String? = nil, seq: UInt64?, ts: Int64? = nil,
                       _ metrics: [SPM]) -> IngestOutcome {
        let p = SparkplugPayload(timestamp: ts ?? clock, seq: seq, metrics: metrics)
        return send(raw: SparkplugTopic(group: "g1", type: type, node: "n1", device: device).text, p.encoded())
    }

    @discardableResult
    mutating func send(raw topic: String, _ bytes: [UInt8]) -> IngestOutcome {
        let o = a.ingest(topic: topic, payload: bytes, now: aggNow)
        commands += a.takeSparkplugCommands()
        return o
    }

    mutating func drain() { batches.append(a.drainCommit(journalOffset: Int64(batches.count + 1))) }

    /// Sum of a station's 1d rows (all committed so far plus a fresh drain).
    mutating func total(_ station: String, line: String = "L1") -> (good: Int64, scrap: Int64, energy: Double) {
        drain()
        var g: Int64 = 0, s: Int64 = 0, e = 0.0
        for b in batches {
            for u in b.updates where u.key.station == station && u.key.line == line && u.key.tier == .day {
                g += u.good
                s += u.scrap
                e += u.energyKwh
            }
        }
        return (g, s, e)
    }

    /// Good units of `station` in the 1m window starting at `start`.
    mutating func minuteGood(_ station: String, line: String = "L1", _ start: Int64) -> Int64 {
        drain()
        return batches.flatMap(\.updates).filter {
            $0.key.station == station && $0.key.line == line && $0.key.tier == .minute && $0.key.start == start
        }.reduce(0) { $0 + $1.good }
    }

    var rebirths: Int { commands.filter { $0.topic == "spBv1.0/g1/NCMD/n1" }.count }
}

func good(_ v: UInt64, alias: UInt64? = nil, named: Bool = true, ts: Int64? = nil, historical: Bool = false) -> SPM {
    SPM(name: named ? "Production/Good" : nil, alias: alias, timestamp: ts, datatype: named ? 8 : nil,
        isHistorical: historical, value: .long(v))
}

func bdSeq(_ v: UInt64) -> SPM { SPM(name: "bdSeq", datatype: 8, value: .long(v)) }

/// NBIRTH of g1/n1 with good = `g` (alias 1), scrap (alias 2), state (alias 3), cycle (alias 4).
func nbirthMetrics(bd: UInt64 = 0, good g: UInt64, aliasBase: UInt64 = 1) -> [SPM] {
    [bdSeq(bd),
     SPM(name: "Production/Good", alias: aliasBase, datatype: 8, value: .long(g)),
     SPM(name: "Production/Scrap", alias: aliasBase + 1, datatype: 3, value: .int(0)),
     SPM(name: "Status/StateCode", alias: aliasBase + 2, datatype: 7, value: .int(10_000)),
     SPM(name: "Cycle/LastMs", alias: aliasBase + 3, datatype: 3, value: .int(6000)),
     SPM(name: "Other/Temperature", alias: aliasBase + 10, datatype: 9, value: .float(21.5))]
}

// MARK: - Decoding

@Suite("Sparkplug B decoding")
struct SparkplugDecodingTests {
    @Test("signed values in the unsigned fields are read by their datatype")
    func signedValues() {
        #expect(SparkplugDataType.int32.interpret(.int(4_294_967_284)) == .success(.integer(-12)))
        #expect(SparkplugDataType.int16.interpret(.int(0xFFFF_FFA9)) == .success(.integer(-87)))
        #expect(SparkplugDataType.int8.interpret(.int(0xFFFF_FFFF)) == .success(.integer(-1)))
        #expect(SparkplugDataType.int64.interpret(.long(UInt64.max)) == .success(.integer(-1)))
        #expect(SparkplugDataType.int32.interpret(.long(UInt64(bitPattern: -12))) == .success(.integer(-12)))
        #expect(SparkplugDataType.uint32.interpret(.long(4_000_000_000)) == .success(.integer(4_000_000_000)))
        #expect(SparkplugDataType.uint32.interpret(.long(1 << 40)) == .failure(.outOfRange(1 << 40, datatype: 7)))
        #expect(SparkplugDataType.uint8.interpret(.int(300)) == .failure(.outOfRange(300, datatype: 5)))
        #expect(SparkplugDataType.uint64.interpret(.long(UInt64.max)) == .failure(.outOfRange(UInt64.max, datatype: 8)))
        #expect(SparkplugDataType.boolean.interpret(.int(1)) == .failure(.wrongField(datatype: 11)))
        #expect(SparkplugDataType.double.interpret(.float(1.5)) == .success(.real(1.5)))
    }

    @Test("a payload survives encode → decode; garbage is bad_protobuf, a huge one too_large")
    func roundTrip() throws {
        let p = SparkplugPayload(timestamp: aggT0, seq: 7, metrics: [
            SPM(name: "a", alias: 3, timestamp: aggT0 - 5, datatype: 3, isHistorical: true, value: .int(4_294_967_284)),
            SPM(alias: 4, value: .double(2.5)), SPM(name: "n", isNull: true, value: .none),
        ])
        #expect(try SparkplugPayload.decode(p.encoded()) == p)
        #expect(throws: DeadLetterError.self) { try SparkplugPayload.decode([0xFF, 0xFF, 0xFF]) }
        do {
            _ = try SparkplugPayload.decode([UInt8](repeating: 0, count: 100), maxBytes: 64, maxMetrics: 10)
            Issue.record("accepted a payload above the limit")
        } catch {
            #expect(error.reason == .tooLarge)
        }
        // A timestamp beyond 2^53 is not epoch ms.
        let far = SparkplugPayload(timestamp: nil, seq: 1, metrics: [SPM(name: "a", timestamp: nil, value: .int(1))])
        var bytes = far.encoded()
        bytes += [0x08] + varint(1 << 60)  // field 1 (timestamp), varint
        #expect(throws: DeadLetterError.self) { try SparkplugPayload.decode(bytes) }
    }

    @Test("topics: node and device levels, STATE, malformed ones")
    func topics() {
        #expect(SparkplugTopic.parse("spBv1.0/g1/NDATA/n1") == .edge(SparkplugTopic(group: "g1", type: .ndata, node: "n1")))
        #expect(SparkplugTopic.parse("spBv1.0/g1/DDATA/n1/d1") == .edge(SparkplugTopic(group: "g1", type: .ddata, node: "n1", device: "d1")))
        #expect(SparkplugTopic.parse("spBv1.0/STATE/takt") == .state(hostID: "takt"))
        #expect(SparkplugTopic.parse("spBv1.0/g1/NDATA/n1/d1") == nil)
        #expect(SparkplugTopic.parse("spBv1.0/g1/DDATA/n1") == nil)
        #expect(SparkplugTopic.parse("spBv1.0/g1/XDATA/n1") == nil)
        #expect(SparkplugTopic.parse("spBv1.0//NDATA/n1") == nil)
    }

    private func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out: [UInt8] = []
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }
}

// MARK: - The host state machine

@Suite("Sparkplug B host")
struct SparkplugHostTests {
    @Test("cumulative counters: the first value is the baseline, increases are units at their timestamp")
    func counters() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        #expect(r.total("eol").good == 0)
        r.tick(30_000)
        #expect(r.send(.ndata, seq: 1, [good(103, alias: 1, named: false)]) == .accepted)
        r.tick(1_000)
        r.send(.ndata, seq: 2, [good(110, alias: 1, named: false), SPM(alias: 2, value: .int(2))])
        let t = r.total("eol")
        #expect(t.good == 10 && t.scrap == 2)
        #expect(abs(t.energy - 5.0) < 1e-9)  // no energy counter: good × unit_kwh
        #expect(r.rebirths == 0)
    }

    @Test("out of order within the timeout: applied in seq order, nothing missing")
    func reorderWithinTimeout() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        r.tick(1_000)
        let t2 = r.clock + 60_000
        #expect(r.send(.ndata, seq: 2, ts: t2, [good(120, alias: 1, named: false)]) == .accepted)
        #expect(r.total("eol").good == 0)  // waits for seq 1
        r.tick(500)
        r.send(.ndata, seq: 1, ts: r.clock, [good(105, alias: 1, named: false)])
        #expect(r.total("eol").good == 20)
        // In seq order: 5 in seq 1's minute, 15 in seq 2's (a later minute).
        let m1 = r.clock - r.clock % 60_000
        #expect(r.minuteGood("eol", m1) == 5)
        #expect(r.minuteGood("eol", t2 - t2 % 60_000) == 15)
        r.tick(10_000)
        #expect(r.a.counters(site: "s1")?.missing == 0)
        #expect(r.rebirths == 0)
    }

    @Test("a gap never filled: missing counted, exactly one rebirth (NCMD by name, no seq), repeated gaps throttled")
    func gapNeverFilled() throws {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        r.tick(100)
        r.send(.ndata, seq: 2, [good(104, alias: 1, named: false)])
        r.send(.ndata, seq: 3, [good(106, alias: 1, named: false)])
        r.tick(1_999)
        #expect(r.total("eol").good == 0 && r.rebirths == 0)
        r.tick(1)  // 2000 ms after seq 2 arrived
        #expect(r.total("eol").good == 6)
        #expect(r.a.counters(site: "s1")?.missing == 1)
        #expect(r.rebirths == 1)
        let cmd = try SparkplugPayload.decode(r.commands[0].payload)
        #expect(cmd.seq == nil)
        #expect(cmd.metrics.count == 1 && cmd.metrics[0].name == "Node Control/Rebirth" && cmd.metrics[0].alias == nil)
        #expect(cmd.metrics[0].value == .boolean(true) && cmd.metrics[0].datatype == 11)
        // Another gap 3 s later: within 5 s of the request, no second one.
        r.send(.ndata, seq: 5, [good(110, alias: 1, named: false)])
        r.tick(2_000)
        #expect(r.rebirths == 1)
        #expect(r.a.counters(site: "s1")?.missing == 2)
        // A third gap 5 s after the request: asked again.
        r.tick(1_000)
        r.send(.ndata, seq: 7, [good(111, alias: 1, named: false)])
        r.tick(2_000)
        #expect(r.rebirths == 2)
        #expect(r.total("eol").good == 11)
    }

    @Test("255 → 0 is not a gap; node and device messages share the node's seq")
    func wrapAndSharedSeq() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 0))
        r.send(.dbirth, device: "d1", seq: 1, [SPM(name: "Good", alias: 50, datatype: 7, value: .int(0)),
                                               SPM(name: "Energy", alias: 51, datatype: 10, value: .double(0)),
                                               SPM(name: "Running", alias: 52, datatype: 11, value: .boolean(true))])
        var seq: UInt64 = 2
        var nodeGood: UInt64 = 0, devGood: UInt32 = 0
        for i in 0..<600 {
            r.tick(1_000)
            if i % 2 == 0 {
                nodeGood += 1
                r.send(.ndata, seq: seq, [good(nodeGood, alias: 1, named: false)])
            } else {
                devGood += 2
                r.send(.ddata, device: "d1", seq: seq, [SPM(alias: 50, value: .int(devGood)), SPM(alias: 51, value: .double(Double(devGood) * 0.25))])
            }
            seq = (seq + 1) % 256
        }
        r.tick(5_000)
        #expect(r.a.counters(site: "s1")?.missing == 0)
        #expect(r.rebirths == 0)
        #expect(r.total("eol").good == Int64(nodeGood))
        let d = r.total("out", line: "L2")
        #expect(d.good == Int64(devGood))
        #expect(abs(d.energy - Double(devGood) * 0.25) < 1e-9)  // from the energy counter
    }

    @Test("a redelivered message (seq applied within the last 128) changes nothing")
    func duplicates() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 0))
        for s in 1...10 as ClosedRange<UInt64> { r.send(.ndata, seq: s, [good(s, alias: 1, named: false)]) }
        #expect(r.send(.ndata, seq: 5, [good(5, alias: 1, named: false)]) == .duplicate)
        #expect(r.send(.ndata, seq: 10, [good(10, alias: 1, named: false)]) == .duplicate)
        // A copy of a buffered one.
        r.send(.ndata, seq: 12, [good(12, alias: 1, named: false)])
        #expect(r.send(.ndata, seq: 12, [good(12, alias: 1, named: false)]) == .duplicate)
        r.send(.ndata, seq: 11, [good(11, alias: 1, named: false)])
        #expect(r.total("eol").good == 12)
    }

    @Test("an NBIRTH with the same bdSeq resets aliases and counts nothing twice; a redelivered old one changes nothing")
    func rebirthSameBdSeq() {
        var r = SPRig()
        let b0 = r.clock
        r.send(.nbirth, seq: 0, ts: b0, nbirthMetrics(bd: 3, good: 100))
        r.tick(1_000)
        r.send(.ndata, seq: 1, [good(105, alias: 1, named: false)])
        r.tick(1_000)
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 3, good: 105, aliasBase: 20))
        r.tick(1_000)
        r.send(.ndata, seq: 1, [good(108, alias: 20, named: false)])
        #expect(r.total("eol").good == 8)
        // The old alias is gone: DATA with it asks for a rebirth and counts nothing.
        r.send(.ndata, seq: 2, [good(200, alias: 1, named: false)])
        #expect(r.rebirths == 1)
        #expect(r.total("eol").good == 8)
        // The first NBIRTH again (broker redelivery): older, changes nothing.
        #expect(r.send(.nbirth, seq: 0, ts: b0, nbirthMetrics(bd: 3, good: 100)) == .duplicate)
        r.send(.ndata, seq: 3, [good(109, alias: 20, named: false)])
        #expect(r.total("eol").good == 9)
    }

    @Test("a rebirth (same bdSeq) while messages wait behind a gap: they go in first, at their own times; the BIRTH counts only what never came")
    func rebirthWhileWaiting() {
        var r = SPRig()
        let m0 = r.clock - r.clock % 60_000
        r.send(.nbirth, seq: 0, ts: r.clock, nbirthMetrics(bd: 3, good: 100))
        r.tick(m0 + 60_000 - r.clock)
        r.send(.ndata, seq: 1, ts: m0 + 60_000, [good(101, alias: 1, named: false)])
        // seq 2 (good 102) never comes; seq 3 (minute 2: 102's unit and its own) and a state
        // change wait behind the gap.
        r.tick(118_500)
        r.send(.ndata, seq: 3, ts: m0 + 150_000, [good(103, alias: 1, named: false)])
        r.send(.ndata, seq: 4, ts: m0 + 155_000, [SPM(alias: 3, value: .int(180_000))])
        r.tick(1_500)
        #expect(r.total("eol").good == 1)
        // The node answers a rebirth request before the 2 s timeout: NBIRTH, same bdSeq, minute 3.
        r.send(.nbirth, seq: 0, ts: m0 + 180_000, nbirthMetrics(bd: 3, good: 104))
        #expect(r.minuteGood("eol", m0 + 120_000) == 2, "the waiting message counted at its own time")
        #expect(r.minuteGood("eol", m0 + 180_000) == 1, "the BIRTH counts only the unit that never came")
        #expect(r.total("eol").good == 4)
        #expect(r.a.counters(site: "s1")?.missing == 1)
        #expect(r.a.sparkplug.nodes[0].buffer.isEmpty && r.a.sparkplug.nodes[0].nextSeq == 1)
        r.tick(1_000)
        r.send(.ndata, seq: 1, ts: r.clock, [good(105, alias: 1, named: false)])
        #expect(r.total("eol").good == 5)
    }

    @Test("a stale NDEATH (old bdSeq) is ignored; a matching one makes the node's stations unknown")
    func deaths() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 2, good: 0))
        r.send(.dbirth, device: "d1", seq: 1, [SPM(name: "Good", alias: 50, datatype: 7, value: .int(0)),
                                               SPM(name: "Running", alias: 52, datatype: 11, value: .boolean(true))])
        r.tick(60_000)
        #expect(r.send(.ndeath, seq: nil, [bdSeq(1)]) == .duplicate)
        r.tick(60_000)
        let deathAt = r.clock
        #expect(r.send(.ndeath, seq: nil, [bdSeq(2)]) == .accepted)
        r.tick(120_000)
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 3, good: 0))  // moves the horizon past the death
        r.drain()
        let entries = r.a.stations[r.a.stationByKey[StationKey(site: "s1", line: "L1", station: "eol")]!].timeline.entries
        #expect(entries.contains { $0.ts == deathAt && $0.state.rawValue == 30_000 })
        let dev = r.a.stations[r.a.stationByKey[StationKey(site: "s1", line: "L2", station: "out")]!].timeline.entries
        #expect(dev.contains { $0.ts == deathAt && $0.state.rawValue == 30_000 })
        // Run time stops at the death: the eol minute windows after it have no run time.
        let rows = mergeBatches(r.batches)
        let after = deathAt - deathAt % 60_000 + 60_000
        #expect(rows[wkey("eol", .minute, after, after + 60_000)]?.runMs ?? 0 == 0)
        #expect((rows[wkey("eol", .minute, aggT0 + 60_000, aggT0 + 120_000)]?.runMs ?? 0) > 0)
    }

    @Test("DATA before any BIRTH: a rebirth request, nothing counted; the BIRTH then counts everything")
    func dataBeforeBirth() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 0, good: 100))
        r.tick(1_000)
        r.send(.ndeath, seq: nil, [bdSeq(0)])
        r.tick(1_000)
        // The node came back, but its NBIRTH was lost.
        #expect(r.send(.ndata, seq: 1, [good(110, alias: 1, named: false)]) == .accepted)
        r.tick(1_999)
        #expect(r.rebirths == 0)  // the NBIRTH may only be late: it waits the reorder timeout
        r.tick(1)
        #expect(r.rebirths == 1)
        #expect(r.total("eol").good == 0)
        r.tick(1_000)
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 1, good: 112))
        #expect(r.total("eol").good == 12)
    }

    @Test("a DBIRTH that overtakes its NBIRTH waits for it: nothing lost, no rebirth")
    func birthsReordered() {
        var r = SPRig()
        let sent = r.clock  // the node published the NBIRTH first; it arrives 100 ms late
        r.send(.dbirth, device: "d1", seq: 1, [SPM(name: "Good", alias: 50, datatype: 7, value: .int(0))])
        r.send(.ddata, device: "d1", seq: 2, [SPM(alias: 50, value: .int(4))])
        r.tick(100)
        r.send(.nbirth, seq: 0, ts: sent, nbirthMetrics(good: 0))
        r.tick(3_000)
        #expect(r.rebirths == 0)
        #expect(r.total("out", line: "L2").good == 4)
        #expect(r.a.counters(site: "s1")?.missing == 0)
    }

    @Test("historical values land in their windows; several values of one metric apply in timestamp order")
    func historicalAndOrder() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        let base = aggT0 - aggT0 % 3_600_000 + 3_600_000  // an hour boundary ahead
        r.clock = base + 600_000
        r.tick(0)
        // Three values of one metric, out of timestamp order, in one payload.
        r.send(.ndata, seq: 1, [good(130, alias: 1, named: false, ts: base + 180_000),
                                good(110, alias: 1, named: false, ts: base + 60_000),
                                good(120, alias: 1, named: false, ts: base + 120_000)])
        #expect(r.minuteGood("eol", base + 60_000) == 10)
        #expect(r.minuteGood("eol", base + 120_000) == 10)
        #expect(r.minuteGood("eol", base + 180_000) == 10)
        // Historical values, an hour back.
        r.send(.ndata, seq: 2, [good(131, alias: 1, named: false, ts: base - 3_000_000, historical: true),
                                good(133, alias: 1, named: false, ts: base - 2_940_000, historical: true)])
        #expect(r.minuteGood("eol", base - 3_000_000) == 1)
        #expect(r.minuteGood("eol", base - 2_940_000) == 2)
        #expect(r.total("eol").good == 33)
    }

    @Test("a counter reset counts the new value from 0")
    func counterReset() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        r.send(.ndata, seq: 1, [good(104, alias: 1, named: false)])
        r.tick(1_000)
        r.send(.ndata, seq: 2, [good(3, alias: 1, named: false)])
        r.tick(1_000)
        r.send(.ndata, seq: 3, [good(5, alias: 1, named: false)])
        #expect(r.total("eol").good == 9)
        #expect(r.a.sparkplug.nodes[0].scopes[0].resets == 1)
    }

    @Test("alias-only DATA with signed types; values Takt cannot count are dead letters, never traps")
    func aliasesAndBadValues() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 100))
        // Scrap is Int32 in the BIRTH: −12 as 4294967284 is a counter going down (a reset to −12 → 0 units).
        r.send(.ndata, seq: 1, [SPM(alias: 2, value: .int(5))])
        #expect(r.total("eol").scrap == 5)
        // A jump of more than 1,000,000 at once: bad_value, the baseline moves.
        if case .deadLetter(let reason, _) = r.send(.ndata, seq: 2, [good(100 + 5_000_000, alias: 1, named: false)]) {
            #expect(reason == .badValue)
        } else {
            Issue.record("a 5,000,000 jump was counted")
        }
        r.send(.ndata, seq: 3, [good(100 + 5_000_002, alias: 1, named: false)])
        #expect(r.total("eol").good == 2)
        // A state out of range; a wrong value field.
        if case .deadLetter(let reason, _) = r.send(.ndata, seq: 4, [SPM(alias: 3, value: .int(5))]) { #expect(reason == .badValue) }
        if case .deadLetter(let reason, _) = r.send(.ndata, seq: 5, [SPM(alias: 1, value: .double(1))]) { #expect(reason == .badValue) }
        // Garbage and unknown nodes.
        if case .deadLetter(let reason, _) = r.send(raw: "spBv1.0/g1/NDATA/n1", [0x0A, 0xFF]) { #expect(reason == .badProtobuf) }
        if case .deadLetter(let reason, _) = r.send(raw: "spBv1.0/g1/NDATA/other", SparkplugPayload(seq: 1).encoded()) {
            #expect(reason == .unknownSource)
        }
        if case .deadLetter(let reason, _) = r.send(raw: "spBv1.0/g1/BOGUS/n1", []) { #expect(reason == .badProtobuf) }
        // Random bytes never crash.
        var rng = SplitMix64(seed: 13)
        for i in 0..<2_000 {
            let n = Int(rng.next() % 64)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            r.send(raw: i % 2 == 0 ? "spBv1.0/g1/NDATA/n1" : "spBv1.0/g1/DDATA/n1/d1", bytes)
        }
    }

    @Test("exactly once across restarts: a restore at any drain, mid-gap included, gives the same rows")
    func restoreAnywhere() {
        // One stream with reordering, a gap, a death and rebirths; split it at every message.
        var steps: [(type: SparkplugTopic.MessageType, device: String?, seq: UInt64?, metrics: [SPM], tick: Int64)] = []
        steps.append((.nbirth, nil, 0, nbirthMetrics(bd: 0, good: 0), 0))
        steps.append((.dbirth, "d1", 1, [SPM(name: "Good", alias: 50, datatype: 7, value: .int(0)),
                                         SPM(name: "Running", alias: 52, datatype: 11, value: .boolean(true))], 10))
        var g: UInt64 = 0, dg: UInt32 = 0
        for s in 2..<40 as Range<UInt64> {
            g += 2; dg += 1
            steps.append((.ndata, nil, s, [good(g, alias: 1, named: false)], 0))
            if s % 5 == 0 { steps.append((.ddata, "d1", s, [SPM(alias: 50, value: .int(dg))], 0)) }  // a duplicate seq: ignored
        }
        // Swap neighbours (reorder), then leave out one (a gap given up after the timeout).
        steps.swapAt(10, 11)
        steps.remove(at: 20)
        for k in steps.indices { steps[k].tick = 700 }
        let run = { (splitAt: Int?) -> [WindowKey: MergedRow] in
            var r = SPRig()
            for (k, s) in steps.enumerated() {
                if k == splitAt {
                    r.drain()
                    let snaps = r.batches.flatMap(\.stations)
                    var latest: [StationKey: StationSnapshot] = [:]
                    for s in snaps {
                        var merged = s
                        if s.timeline == nil, let prev = latest[s.station] { merged.timeline = prev.timeline }
                        latest[s.station] = merged
                    }
                    var fresh = try! Aggregator(plants: [spPlant()], settings: AggregatorSettings(maxPastMs: 0))
                    _ = try! fresh.restore(stations: Array(latest.values), sites: r.batches.flatMap(\.sites))
                    r.a = fresh
                }
                r.tick(s.tick)
                r.send(s.type, device: s.device, seq: s.seq, s.metrics)
            }
            r.tick(5_000)
            r.drain()
            return mergeBatches(r.batches)
        }
        let whole = run(nil)
        #expect(whole.values.reduce(0) { $0 + $1.good } > 0)
        for split in stride(from: 1, to: steps.count, by: 3) {
            let rows = run(split)
            #expect(rows.keys == whole.keys, "split at \(split)")
            for (k, v) in whole where !(rows[k]?.sameContents(v) ?? false) {
                Issue.record("split at \(split): \(k) is \(String(describing: rows[k])), expected \(v)")
            }
        }
    }
}

@Suite("Sparkplug B host: late copies")
struct SparkplugLateCopyTests {
    @Test("a DATA of the previous session that arrives after the NBIRTH counts nothing (no false reset)")
    func oldSessionAfterBirth() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 0, good: 0))
        r.tick(1_000)
        r.send(.ndata, seq: 1, [good(10, alias: 1, named: false)])
        r.tick(1_000)
        let lateTs = r.clock
        r.tick(1_000)
        // The node restarts (bdSeq 1); a DATA it sent before (seq 2, 12 units) comes after the BIRTH.
        r.send(.ndeath, seq: nil, [bdSeq(0)])
        r.send(.nbirth, seq: 0, nbirthMetrics(bd: 1, good: 15))
        r.send(.ndata, seq: 2, ts: lateTs, [good(12, alias: 1, named: false)])
        r.tick(5_000)
        r.send(.ndata, seq: 3, [good(16, alias: 1, named: false)])
        #expect(r.total("eol").good == 16)
        #expect(r.a.sparkplug.nodes[0].scopes[0].resets == 0)
    }

    @Test("a redelivered DATA more than 128 behind (it looks ahead) is a late copy, not a reset")
    func farBehind() {
        var r = SPRig()
        r.send(.nbirth, seq: 0, nbirthMetrics(good: 0))
        var copies: [(UInt64, UInt64, Int64)] = []
        for s in 1...200 as ClosedRange<UInt64> {
            r.tick(10)
            r.send(.ndata, seq: s, [good(s, alias: 1, named: false)])
            copies.append((s, s, r.clock))
        }
        // seq 10 again: 191 behind, i.e. 65 "ahead" after the wrap.
        let (seq, value, ts) = copies[9]
        r.send(.ndata, seq: seq, ts: ts, [good(value, alias: 1, named: false, ts: ts)])
        r.tick(5_000)
        #expect(r.total("eol").good == 200)
        #expect(r.a.sparkplug.nodes[0].scopes[0].resets == 0)
    }
}
