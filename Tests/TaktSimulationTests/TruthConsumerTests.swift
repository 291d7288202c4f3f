import Foundation
import Testing
import TaktCore
import TaktSimulation

/// Acceptance 3: the truth file equals what an independent consumer computes from the stream.
///
/// The consumer here shares no code with the simulator: it parses each `topic<TAB>payload`
/// line with `JSONSerialization`, drops what breaks contract section 2, counts each
/// `(source, seq)` once, and does the time accounting of contract section 3 with
/// `WindowCalendar`.
@Suite("Ground truth")
struct TruthConsumerTests {
    struct Counters: Equatable, CustomStringConvertible {
        var good: Int64 = 0, scrap: Int64 = 0, energyMicro: Int64 = 0, runMs: Int64 = 0, plannedMs: Int64 = 0
        var description: String { "good \(good) scrap \(scrap) µkWh \(energyMicro) run \(runMs) planned \(plannedMs)" }
    }

    struct Row: Equatable, CustomStringConvertible {
        var start: Int64, end: Int64
        var counters = Counters()
        var description: String { "[\(start), \(end)) \(counters)" }
    }

    /// What the consumer knows of one station.
    struct Station {
        var units: [(ts: Int64, good: Int64, scrap: Int64, energyMicro: Int64)] = []
        var states: [(ts: Int64, code: Int)] = []
        var messageTimes: [Int64] = []
    }

    struct Consumed {
        var stations: [String: Station] = [:]  // "line/station"
        var malformed = 0
        var duplicates = 0
        var counted = 0
        var published = 0
        var newest: Int64 = .min
    }

    /// An integer JSON number (not a string, not a fraction).
    static func integer(_ value: Any?) -> Int64? {
        guard let number = value as? NSNumber, !(value is String) else { return nil }
        let double = number.doubleValue
        guard double == double.rounded(), abs(double) < 9_007_199_254_740_992, !"\(number)".contains(".") else { return nil }
        return number.int64Value
    }

    /// The consumer: parse, validate, dedup.
    static func consume(_ stream: [UInt8], plant: Plant) throws -> Consumed {
        var result = Consumed()
        var seen = Set<String>()
        for line in stream.split(separator: UInt8(ascii: "\n")) {
            result.published += 1
            let tab = try #require(line.firstIndex(of: UInt8(ascii: "\t")))
            let topic = String(decoding: line[line.startIndex..<tab], as: UTF8.self)
            let levels = topic.split(separator: "/").map(String.init)
            try #require(levels.count == 6 && levels[0] == "takt" && levels[1] == "v1" && levels[2] == plant.site)
            let unitLine = try #require(plant.line(levels[3]))
            let payload = Data(line[(tab + 1)...])
            guard let object = (try? JSONSerialization.jsonObject(with: payload)) as? [String: Any],
                let ts = integer(object["ts"]), let seq = integer(object["seq"])
            else {
                result.malformed += 1
                continue
            }
            let boot = object["boot"] == nil ? 0 : integer(object["boot"])
            guard let boot else {
                result.malformed += 1
                continue
            }
            let key = "\(levels[3])/\(levels[4])"
            switch levels[5] {
            case "unit":
                let good = object["good"] == nil ? (object["scrap"] == nil ? 1 : 0) : integer(object["good"])
                let scrap = object["scrap"] == nil ? 0 : integer(object["scrap"])
                guard let good, let scrap, good + scrap > 0 else {
                    result.malformed += 1
                    continue
                }
                let energy: Int64
                if let value = object["energy_kwh"] {
                    guard let kwh = (value as? NSNumber)?.doubleValue else {
                        result.malformed += 1
                        continue
                    }
                    energy = Int64((kwh * 1e6).rounded())
                } else {
                    energy = good * Int64((unitLine.unitKWh * 1e6).rounded())
                }
                guard seen.insert("\(key)#\(boot)#\(seq)").inserted else {
                    result.duplicates += 1
                    continue
                }
                result.stations[key, default: Station()].units.append((ts, good, scrap, energy))
            case "state":
                guard let code = integer(object["state"]) else {
                    result.malformed += 1
                    continue
                }
                guard seen.insert("\(key)#\(boot)#\(seq)").inserted else {
                    result.duplicates += 1
                    continue
                }
                result.stations[key, default: Station()].states.append((ts, Int(code)))
            default:
                Issue.record("unexpected topic \(topic)")
            }
            result.counted += 1
            result.stations[key, default: Station()].messageTimes.append(ts)
            result.newest = max(result.newest, ts)
        }
        return result
    }

    /// Contract section 3 for one station and tier.
    static func rows(_ station: Station, newest: Int64, tier: WindowTier, calendar: WindowCalendar) -> [Row] {
        var rows: [Int64: Row] = [:]
        func row(_ bounds: WindowBounds) -> Int64 {
            if rows[bounds.start] == nil { rows[bounds.start] = Row(start: bounds.start, end: bounds.end) }
            return bounds.start
        }
        for ts in station.messageTimes { _ = row(calendar.window(containing: ts, tier: tier)) }
        for unit in station.units {
            let k = row(calendar.window(containing: unit.ts, tier: tier))
            rows[k]!.counters.good += unit.good
            rows[k]!.counters.scrap += unit.scrap
            rows[k]!.counters.energyMicro += unit.energyMicro
        }
        let states = station.states.sorted { $0.ts < $1.ts }
        for (i, state) in states.enumerated() {
            let end = i + 1 < states.count ? states[i + 1].ts : newest
            let run = (10000...29999).contains(state.code)
            let planned = !(30000...39999).contains(state.code) && !(160000...179999).contains(state.code)
            if (30000...39999).contains(state.code) { continue }  // unknown: no time, no row
            for bounds in calendar.windows(overlapping: state.ts, end, tier: tier) {
                let ms = min(end, bounds.end) - max(state.ts, bounds.start)
                guard ms > 0 else { continue }
                let k = row(bounds)
                if run { rows[k]!.counters.runMs += ms }
                if planned { rows[k]!.counters.plannedMs += ms }
            }
        }
        return rows.values.sorted { $0.start < $1.start }
    }

    // MARK: reading the truth file

    static func counters(_ object: Any?) throws -> Counters {
        let o = try #require(object as? [String: Any])
        return Counters(
            good: try #require(integer(o["good"])), scrap: try #require(integer(o["scrap"])),
            energyMicro: Int64((try #require(o["energy_kwh"] as? NSNumber)).doubleValue * 1e6 + 0.5),
            runMs: Int64(((try #require(o["run_s"] as? NSNumber)).doubleValue * 1000).rounded()),
            plannedMs: Int64(((try #require(o["planned_s"] as? NSNumber)).doubleValue * 1000).rounded()))
    }

    static func truthRows(_ windows: Any?, _ tier: String) throws -> [Row] {
        let list = try #require((windows as? [String: Any])?[tier] as? [[String: Any]])
        return try list.map { o in
            Row(start: try #require(integer(o["start"])), end: try #require(integer(o["end"])), counters: try counters(o))
        }
    }

    @Test(
        "truth equals an independent consumer of the stream, with faults on",
        arguments: [
            FaultRates(duplicate: 0.02, reorder: 0.02, malformed: 0.02, reboot: 0.002),
            FaultRates(),
        ])
    func truthEqualsConsumer(faults: FaultRates) async throws {
        let plant = try Fixtures.plant("plant-demo.yaml")
        // Start mid-hour, span two local days: partial windows at both ends.
        let options = SimulationOptions(from: Fixtures.november1 + 1_234_567, durationMs: 30 * 3_600_000, seed: 11, faults: faults)
        let (engine, stream) = try await Fixtures.simulate(plant, options)
        let truth = try #require(try JSONSerialization.jsonObject(with: Data(engine.truthJSON())) as? [String: Any])
        let consumed = try Self.consume(stream, plant: plant)
        let calendar = WindowCalendar(timeZone: plant.timeZone)

        let messages = try #require(truth["messages"] as? [String: Any])
        let faultCounts = try #require(truth["faults"] as? [String: Any])
        #expect(Self.integer(messages["published"]) == Int64(consumed.published))
        #expect(Self.integer(messages["counted"]) == Int64(consumed.counted))
        #expect(Self.integer(messages["duplicate"]) == Int64(consumed.duplicates))
        #expect(Self.integer(faultCounts["malformed"]) == Int64(consumed.malformed))
        #expect(Self.integer(truth["expected_dead_letters"]) == Int64(consumed.malformed))
        #expect(Self.integer(truth["newest_event"]) == consumed.newest)
        if !faults.isNone {
            #expect(consumed.malformed > 100)
            #expect(consumed.duplicates > 100)
            #expect(try #require(Self.integer(faultCounts["reorder"])) > 100)
            #expect(try #require(Self.integer(faultCounts["reboot"])) > 10)
        }

        let lines = try #require(truth["lines"] as? [[String: Any]])
        #expect(lines.count == plant.lines.count)
        var siteTotal = Counters()
        for (l, line) in plant.lines.enumerated() {
            let lineTruth = lines[l]
            #expect(lineTruth["line"] as? String == line.id)
            let stations = try #require(lineTruth["stations"] as? [[String: Any]])
            for (k, station) in line.stations.enumerated() {
                let consumedStation = try #require(consumed.stations["\(line.id)/\(station.id)"])
                let stationTruth = stations[k]
                #expect(stationTruth["station"] as? String == station.id)
                var total = Counters()
                for tier in [WindowTier.hour, .day] {
                    let expected = Self.rows(consumedStation, newest: consumed.newest, tier: tier, calendar: calendar)
                    let reported = try Self.truthRows(stationTruth["windows"], tier.rawValue)
                    #expect(reported == expected, "\(line.id)/\(station.id) \(tier.rawValue)")
                    if tier == .hour {
                        for row in expected {
                            total.good += row.counters.good
                            total.scrap += row.counters.scrap
                            total.energyMicro += row.counters.energyMicro
                            total.runMs += row.counters.runMs
                            total.plannedMs += row.counters.plannedMs
                        }
                    }
                }
                #expect(try Self.counters(stationTruth["total"]) == total, "\(line.id)/\(station.id) total")
                if station.id == line.outputStation {
                    #expect(try Self.counters(lineTruth["total"]) == total)
                    #expect(try Self.truthRows(lineTruth["windows"], "1h") == Self.truthRows(stationTruth["windows"], "1h"))
                    siteTotal.good += total.good
                    siteTotal.scrap += total.scrap
                    siteTotal.energyMicro += total.energyMicro
                    siteTotal.runMs += total.runMs
                    siteTotal.plannedMs += total.plannedMs
                }
                #expect(total.runMs > 0)
                #expect(total.good > 0)
            }
        }
        #expect(try Self.counters(truth["site_total"]) == siteTotal)
        let days = try Self.truthRows(truth["site_windows"], "1d")
        #expect(days.count == 2)  // 2026-11-01 08:20 +08:00 plus 30 h ends on 2026-11-02 local
    }
}
