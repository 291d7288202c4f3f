import Foundation
import Testing
import TaktCore
import TestSupport
@testable import TaktSimulation

@Suite("Simulation model", .ownThreads)
struct SimulationModelTests {
    @Test(
        "24 h without breakdowns: output near 24 h / slowest cycle, scrap share near scrap_rate",
        arguments: [UInt64(1), 2, 3])
    func throughputAndScrap(seed: UInt64) async throws {
        var plant = try Fixtures.plant("plant-demo.yaml")
        for i in plant.lines.indices { plant.lines[i].sim?.mtbfHours = 0 }  // mtbf_h: 0 = no breakdowns
        let (engine, _) = try await Fixtures.simulate(
            plant, SimulationOptions(from: Fixtures.november1, durationMs: 86_400_000, seed: seed))
        for (l, line) in plant.lines.enumerated() {
            let truth = engine.truth(line: l, station: line.outputStationIndex)
            let units = Double(truth.total.good + truth.total.scrap)
            let slowest = line.stations.map(\.cycleS).max()!
            let expected = 86_400 / slowest
            #expect(abs(units - expected) / expected < 0.01, "\(line.id): \(units) units, expected \(expected)")
            let share = Double(truth.total.scrap) / units
            let rate = line.sim!.scrapRate
            #expect(abs(share - rate) < 0.003, "\(line.id): scrap share \(share), rate \(rate)")
            // Without breakdowns every station runs the whole day (no wait reaches 60 s).
            #expect(truth.total.runMs == truth.total.plannedMs)
        }
    }

    @Test("breakdowns: 180000 then 10000; downstream starves (60000), upstream blocks (70000)")
    func breakdownsStarveAndBlock() async throws {
        let plant = try Fixtures.plant("plant-demo.yaml")
        let (_, stream) = try await Fixtures.simulate(
            plant, SimulationOptions(from: Fixtures.november1, durationMs: 3 * 86_400_000, seed: 5))
        var codes: [String: [Int]] = [:]
        for line in String(decoding: stream, as: UTF8.self).split(separator: "\n") where line.contains("/state\t") {
            let parts = line.split(separator: "\t")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any])
            codes[String(parts[0]), default: []].append(object["state"] as! Int)
        }
        let all = codes.values.flatMap { $0 }
        #expect(all.contains(180000))
        #expect(all.contains(60000))
        #expect(all.contains(70000))
        for (topic, sequence) in codes {
            #expect(sequence.first == 10000, "\(topic)")
            for (a, b) in zip(sequence, sequence.dropFirst()) {
                #expect(a != b, "\(topic): a state repeats")
                if a == 180000 { #expect(b == 10000, "\(topic): \(a) -> \(b)") }
            }
        }
    }

    @Test("a station's seq counts unit and state messages together, from 0 per boot")
    func sequenceNumbers() async throws {
        let plant = try Fixtures.plant("plant-demo.yaml")
        let (engine, stream) = try await Fixtures.simulate(
            plant,
            SimulationOptions(from: Fixtures.november1, durationMs: 86_400_000, seed: 3, faults: FaultRates(reboot: 0.001)))
        var next: [String: Int] = [:]  // station/boot -> expected seq
        var reboots = 0
        for line in String(decoding: stream, as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: "\t")
            let station = parts[0].split(separator: "/").dropLast().joined(separator: "/")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(parts[1].utf8)) as? [String: Any])
            let boot = object["boot"] as! Int
            let key = "\(station)#\(boot)"
            if next[key] == nil, boot > 0 { reboots += 1 }
            #expect(object["seq"] as! Int == next[key, default: 0], "\(key)")
            next[key] = (object["seq"] as! Int) + 1
        }
        #expect(reboots == Int(engine.counts.reboots))
        #expect(reboots > 10)
    }

    @Test("--speed N keeps simulated time at N × wall time")
    func pacing() throws {
        // The binary, so the test pool's busy threads cannot delay the sleeps being measured.
        let clock = ContinuousClock()
        let start = clock.now
        let result = try Fixtures.runSimulator([
            "--plant", "Config/plant-demo.yaml", "--speed", "1800", "--from", "2026-11-01T00:00:00Z",
            "--duration", "30m", "--out", "/dev/null",
        ])  // 30 min at 1800×: 1 s
        let elapsed = clock.now - start
        #expect(result.status == 0, "\(result.stderr)")
        #expect(elapsed >= .milliseconds(950))
        #expect(elapsed < .seconds(3))
    }
}

@Suite("Flag formats and byte formatting")
struct FormatTests {
    @Test func durations() throws {
        #expect(try FlagFormats.durationMs("90s", flag: "--duration") == 90_000)
        #expect(try FlagFormats.durationMs("15m", flag: "--duration") == 900_000)
        #expect(try FlagFormats.durationMs("8h", flag: "--duration") == 28_800_000)
        #expect(try FlagFormats.durationMs("30d", flag: "--duration") == 2_592_000_000)
        for bad in ["", "h", "0s", "-1h", "1.5h", "10x", "10"] {
            #expect(throws: SimulationUsageError.self) { try FlagFormats.durationMs(bad, flag: "--duration") }
        }
    }

    @Test func times() throws {
        #expect(try FlagFormats.timeMs("2026-11-01T00:00:00Z", flag: "--from") == Fixtures.november1)
        #expect(try FlagFormats.timeMs("2026-11-01T08:00:00+08:00", flag: "--from") == Fixtures.november1)
        #expect(try FlagFormats.timeMs("2026-11-01T00:00:00.250Z", flag: "--from") == Fixtures.november1 + 250)
        #expect(try FlagFormats.timeMs("1793491200000", flag: "--from") == Fixtures.november1)
        #expect(throws: SimulationUsageError.self) { try FlagFormats.timeMs("2026-11-01", flag: "--from") }
        #expect(FlagFormats.isoTime(Fixtures.november1) == "2026-11-01T00:00:00Z")
    }

    @Test func faults() throws {
        #expect(try FaultRates.parse("dup=0.1,reorder=0.2,malformed=0.3,reboot=0.4") == FaultRates(duplicate: 0.1, reorder: 0.2, malformed: 0.3, reboot: 0.4))
        #expect(try FaultRates.parse("reboot=1") == FaultRates(reboot: 1))
        #expect(try FaultRates.parse("drop=0.1") == FaultRates(drop: 0.1))
        for bad in ["dup", "dup=", "dup=1.5", "dup=-0.1", "lose=0.1", "drop=2", "dup=0.1,,reorder=0.1"] {
            #expect(throws: SimulationUsageError.self) { try FaultRates.parse(bad) }
        }
    }

    @Test func numbers() {
        func text(_ build: (inout [UInt8]) -> Void) -> String {
            var bytes: [UInt8] = []
            build(&bytes)
            return String(decoding: bytes, as: UTF8.self)
        }
        #expect(text { $0.appendDecimal(Int64(0)) } == "0")
        #expect(text { $0.appendDecimal(Int64(-42)) } == "-42")
        #expect(text { $0.appendDecimal(UInt64.max) } == "18446744073709551615")
        #expect(text { $0.appendDecimal(Int64.min) } == "-9223372036854775808")
        #expect(text { $0.appendMicros(441_634) } == "0.441634")
        #expect(text { $0.appendMicros(263_900_000) } == "263.900000")
        #expect(text { $0.appendMillisAsSeconds(3_540_000) } == "3540")
        #expect(text { $0.appendMillisAsSeconds(3_540_500) } == "3540.5")
        #expect(text { $0.appendMillisAsSeconds(7) } == "0.007")
        #expect(text { $0.appendPadded(42, width: 8) } == "00000042")
        #expect(text { $0.appendJSONString("a\"b\\c\n") } == "\"a\\\"b\\\\c\\u000a\"")
    }

    @Test func randomStreamsAreReproducibleAndIndependent() {
        var a = Xoshiro256(seed: 1, stream: 2, substream: 3)
        var b = Xoshiro256(seed: 1, stream: 2, substream: 3)
        var c = Xoshiro256(seed: 1, stream: 2, substream: 4)
        let xs = (0..<100).map { _ in a.next() }
        #expect(xs == (0..<100).map { _ in b.next() })
        #expect(xs != (0..<100).map { _ in c.next() })
        var d = Xoshiro256(seed: 9)
        let mean = (0..<100_000).reduce(0.0) { sum, _ in sum + d.uniform() } / 100_000
        #expect(abs(mean - 0.5) < 0.01)
    }
}

@Suite("Ground-truth time accounting")
struct GroundTruthTests {
    @Test("planned stops and unknown states; time ends at the site's newest event")
    func stateClasses() throws {
        let t0 = Fixtures.november1  // 08:00 in Shanghai
        let minute: Int64 = 60_000
        var truth = GroundTruth(stationCount: 2, timeZone: try #require(TimeZone(identifier: "Asia/Shanghai")))
        truth.state(station: 1, ts: t0, code: 10000)
        truth.state(station: 0, ts: t0 + 30 * minute, code: 10000)
        truth.state(station: 0, ts: t0 + 70 * minute, code: 180000)
        truth.state(station: 0, ts: t0 + 80 * minute, code: 160000)
        truth.state(station: 0, ts: t0 + 100 * minute, code: 30000)
        truth.state(station: 0, ts: t0 + 150 * minute, code: 10000)
        truth.unit(station: 0, ts: t0 + 165 * minute, good: 1, scrap: 0, energyMicroKWh: 441_600)
        truth.finish()
        #expect(truth.newest == t0 + 165 * minute)

        let hours = truth.stations[0].hours.rows
        #expect(hours.map(\.window.start) == [t0, t0 + 60 * minute, t0 + 120 * minute])
        #expect(hours.map(\.counters.runMs) == [30 * minute, 10 * minute, 15 * minute])
        #expect(hours.map(\.counters.plannedMs) == [30 * minute, 20 * minute, 15 * minute])
        #expect(hours.map(\.counters.good) == [0, 0, 1])
        #expect(truth.stations[0].total.runMs == 55 * minute)
        #expect(truth.stations[0].total.plannedMs == 65 * minute)
        #expect(truth.stations[0].total.energyMicroKWh == 441_600)

        // The other station's last state runs to the site's newest event, not beyond.
        #expect(truth.stations[1].hours.rows.map(\.counters.runMs) == [60 * minute, 60 * minute, 45 * minute])
        let day = try #require(truth.stations[1].days.rows.first)
        #expect(day.window == WindowBounds(start: t0 - 8 * 60 * minute, end: t0 + 16 * 60 * minute))
        #expect(day.counters.runMs == 165 * minute)
    }
}
