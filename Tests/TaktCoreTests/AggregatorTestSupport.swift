import Foundation
@testable import TaktCore
import TestSupport

/// 2026-06-01T00:00:00Z (Berlin: 02:00 CEST, so the local day is [05-31T22:00Z, 06-01T22:00Z)).
let aggT0: Int64 = 1_780_272_000_000
let aggDayStart: Int64 = 1_780_264_800_000
let aggDayEnd: Int64 = 1_780_351_200_000
/// A `now` far after every test event (no `in_future`).
let aggNow: Int64 = 2_000_000_000_000

/// Site `s1` (Europe/Berlin, DST): line `L1` (ideal 6 s, 0.5 kWh/unit, output `eol`, stations
/// `stack` 5 s and `eol` 6 s) and line `L2` (ideal 4 s, 0.25 kWh/unit, output `out`, stations
/// `prep` 3 s and `out` 4 s).
func aggPlant(site: String = "s1") -> Plant {
    Plant(site: site, timeZone: TimeZone(identifier: "Europe/Berlin")!, plannedHoursPerYear: 8000, lines: [
        Plant.Line(id: "L1", product: "p", idealCycleS: 6.0, unitKWh: 0.5, outputStation: "eol",
                   stations: [Plant.Station(id: "stack", cycleS: 5.0), Plant.Station(id: "eol", cycleS: 6.0)]),
        Plant.Line(id: "L2", product: "p", idealCycleS: 4.0, unitKWh: 0.25, outputStation: "out",
                   stations: [Plant.Station(id: "prep", cycleS: 3.0), Plant.Station(id: "out", cycleS: 4.0)]),
    ])
}

/// An aggregator of ``aggPlant()``; `max_past` off by default, since the tests' events are of
/// 2026 and their `now` (``aggNow``) is of 2033.
func makeAggregator(_ settings: AggregatorSettings = AggregatorSettings(maxPastMs: 0)) -> Aggregator {
    try! Aggregator(plants: [aggPlant()], settings: settings)
}

/// One inbound message.
struct AggMsg: Equatable {
    var topic: String
    var payload: String
    var bytes: [UInt8] { Array(payload.utf8) }
}

func unitMsg(_ station: String, line: String = "L1", ts: Int64, seq: Int64, boot: Int64 = 0, good: Int? = nil,
             scrap: Int? = nil, energy: Double? = nil, cycle: Int? = nil) -> AggMsg {
    var p = "{\"ts\": \(ts), \"seq\": \(seq), \"boot\": \(boot)"
    if let good { p += ", \"good\": \(good)" }
    if let scrap { p += ", \"scrap\": \(scrap)" }
    if let energy { p += ", \"energy_kwh\": \(energy)" }
    if let cycle { p += ", \"cycle_ms\": \(cycle)" }
    return AggMsg(topic: "takt/v1/s1/\(line)/\(station)/unit", payload: p + "}")
}

func stateMsg(_ station: String, line: String = "L1", ts: Int64, seq: Int64, boot: Int64 = 0, code: Int) -> AggMsg {
    AggMsg(topic: "takt/v1/s1/\(line)/\(station)/state",
           payload: "{\"ts\": \(ts), \"seq\": \(seq), \"boot\": \(boot), \"state\": \(code)}")
}

extension Aggregator {
    @discardableResult
    mutating func feed(_ m: AggMsg, now: Int64 = aggNow) -> IngestOutcome {
        ingest(topic: m.topic, payload: m.payload, now: now)
    }
}

/// A row as the store would hold it after applying updates: counts summed, times last-wins.
struct MergedRow: Equatable, CustomStringConvertible {
    var good: Int64 = 0
    var scrap: Int64 = 0
    var energyKwh: Double = 0
    var unitMessages: Int64 = 0
    var cycle = CycleHistogram()
    var runMs: Int64 = 0
    var plannedMs: Int64 = 0
    var idealCycleS: Double = 0
    var isOutput = false
    var updates = 0

    /// Equal contents, ignoring how many updates built it.
    func sameContents(_ o: MergedRow) -> Bool {
        var a = self, b = o
        a.updates = 0
        b.updates = 0
        return a == b
    }

    var description: String {
        "good \(good) scrap \(scrap) kWh \(energyKwh) msgs \(unitMessages) cycles \(cycle.count) run \(runMs) planned \(plannedMs)"
    }
}

func mergeBatches(_ batches: [CommitBatch]) -> [WindowKey: MergedRow] {
    var rows: [WindowKey: MergedRow] = [:]
    for b in batches {
        for u in b.updates {
            var r = rows[u.key, default: MergedRow()]
            r.good += u.good
            r.scrap += u.scrap
            r.energyKwh += u.energyKwh
            r.unitMessages += u.unitMessages
            r.cycle.merge(u.cycle)
            r.runMs = u.runMs
            r.plannedMs = u.plannedMs
            r.idealCycleS = u.idealCycleS
            r.isOutput = u.isOutputStation
            r.updates += 1
            rows[u.key] = r
        }
    }
    return rows
}

func wkey(_ station: String, line: String = "L1", _ tier: WindowTier, _ start: Int64, _ end: Int64) -> WindowKey {
    WindowKey(site: "s1", line: line, station: station, tier: tier, start: start, end: end)
}


/// A seeded stream of a few hours of four stations: units (measured energy in quarter kWh
/// or absent, so sums are exact in any order) and known states, with boots restarting.
/// Returns the messages in device order (by ts).
func randomStream(seed: UInt64, messages: Int, stepMs: ClosedRange<Int> = 1_000...20_000,
                  unknownStates: Bool = false) -> [AggMsg] {
    var rng = SplitMix64(seed: seed)
    let stations: [(line: String, id: String)] = [("L1", "stack"), ("L1", "eol"), ("L2", "prep"), ("L2", "out")]
    var seq = [Int64](repeating: 0, count: stations.count)
    var boot = [Int64](repeating: 0, count: stations.count)
    var codes = [10_000, 10_000, 20_000, 40_000, 50_000, 160_000, 180_000]
    if unknownStates { codes.append(30_000) }
    var ts = aggT0 - 3_600_000 + Int64(rng.int(0...59_999))
    var out: [AggMsg] = []
    for _ in 0..<messages {
        ts += Int64(rng.int(stepMs))
        let k = rng.int(0...(stations.count - 1))
        if rng.chance(0.004) { boot[k] += 1; seq[k] = Int64(rng.int(0...3)) }
        let s = stations[k]
        if rng.chance(0.15) {
            out.append(stateMsg(s.id, line: s.line, ts: ts, seq: seq[k], boot: boot[k], code: codes[rng.int(0...(codes.count - 1))]))
        } else {
            let good = rng.int(0...3)
            let scrap = good == 0 ? 1 : rng.int(0...1)
            let energy: Double? = rng.chance(0.5) ? Double(rng.int(0...8)) * 0.25 : nil
            let cycle: Int? = rng.chance(0.8) ? rng.int(3_000...9_000) : nil
            out.append(unitMsg(s.id, line: s.line, ts: ts, seq: seq[k], boot: boot[k], good: good, scrap: scrap,
                               energy: energy, cycle: cycle))
        }
        // Sometimes a device skips a seq (a lost message: counted as missing).
        seq[k] += rng.chance(0.01) ? 2 : 1
    }
    return out
}

/// What a broker and flaky devices do to a stream: messages delayed (reordered) by up to
/// `maxDelayMs`, and duplicates redelivered a little later.
func faulty(_ clean: [AggMsg], seed: UInt64, reorder: Double = 0.1, maxDelayMs: Int64 = 60_000,
            dup: Double = 0.05) -> [AggMsg] {
    var rng = SplitMix64(seed: seed)
    var keyed: [(key: Int64, n: Int, msg: AggMsg)] = []
    for (n, m) in clean.enumerated() {
        let ts = tsOf(m)
        let delay = rng.chance(reorder) ? Int64(rng.int(1...Int(maxDelayMs))) : 0
        keyed.append((ts + delay, n, m))
        if rng.chance(dup) { keyed.append((ts + delay + Int64(rng.int(0...120_000)), n, m)) }
    }
    keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.n < $1.n }
    return keyed.map(\.msg)
}

func tsOf(_ m: AggMsg) -> Int64 {
    let p = m.payload
    let a = p.range(of: "\"ts\": ")!.upperBound
    let b = p[a...].firstIndex(of: ",")!
    return Int64(p[a..<b])!
}
