import Foundation
import Testing
@testable import TaktCore

/// Site `s1`: line L1 (output `eol`) on the UMH asset `ia/c/loc/eol`.
func umhPlant() -> Plant {
    Plant(site: "s1", timeZone: TimeZone(identifier: "UTC")!, plannedHoursPerYear: 8000, lines: [
        Plant.Line(id: "L1", product: "p", idealCycleS: 6.0, unitKWh: 0.5, outputStation: "eol",
                   stations: [Plant.Station(id: "eol", cycleS: 6.0, umh: "ia/c/loc/eol")]),
    ])
}

@Suite("UMH input")
struct UMHTests {
    func feed(_ a: inout Aggregator, _ type: String, _ json: String) -> IngestOutcome {
        a.ingest(topic: "ia/c/loc/eol/\(type)", payload: json, now: aggNow)
    }

    func day(_ batches: [CommitBatch]) -> (good: Int64, scrap: Int64, energy: Double) {
        var g: Int64 = 0, s: Int64 = 0, e = 0.0
        for u in batches.flatMap(\.updates) where u.key.tier == .day {
            g += u.good
            s += u.scrap
            e += u.energyKwh
        }
        return (g, s, e)
    }

    @Test("count, scrapCount and state; the same asset, type and timestamp_ms changes nothing")
    func counts() throws {
        var a = try Aggregator(plants: [umhPlant()], settings: AggregatorSettings(maxPastMs: 0))
        #expect(feed(&a, "state", "{\"timestamp_ms\": \(aggT0), \"state\": 10000}") == .accepted)
        #expect(feed(&a, "count", "{\"timestamp_ms\": \(aggT0 + 1000), \"count\": 5, \"scrap\": 1}") == .accepted)
        #expect(feed(&a, "count", "{\"timestamp_ms\": \(aggT0 + 1000), \"count\": 5, \"scrap\": 1}") == .duplicate)
        #expect(feed(&a, "count", "{\"timestamp_ms\": \(aggT0 + 2000), \"count\": 3}") == .accepted)
        // Two good units of the first minute were scrap after all.
        #expect(feed(&a, "scrapCount", "{\"timestamp_ms\": \(aggT0 + 3000), \"scrap\": 2}") == .accepted)
        #expect(feed(&a, "scrapCount", "{\"timestamp_ms\": \(aggT0 + 3000), \"scrap\": 2}") == .duplicate)
        // Never below 0 good: 5 good left in the window, 9 asked.
        if case .deadLetter(let reason, let detail) = feed(&a, "scrapCount", "{\"timestamp_ms\": \(aggT0 + 4000), \"scrap\": 9}") {
            #expect(reason == .outOfRange && detail.contains("4 not moved"))
        } else {
            Issue.record("a scrapCount beyond the window's good units was accepted")
        }
        let t = day([a.drainCommit(journalOffset: 1)])
        #expect(t.good == 0 && t.scrap == 8)
        #expect(abs(t.energy) < 1e-9)
        // Bad payloads are dead letters.
        for (type, json, reason) in [("count", "{\"timestamp_ms\": 1, \"count\": 0}", DeadLetterReason.outOfRange),
                                     ("count", "nope", .notJSON), ("count", "[1]", .notObject),
                                     ("count", "{\"count\": 1}", .missingField),
                                     ("state", "{\"timestamp_ms\": \(aggT0), \"state\": 5}", .outOfRange),
                                     ("count", "{\"timestamp_ms\": \(aggT0), \"count\": true}", .wrongType),
                                     ("activity", "{}", .badTopic)] {
            if case .deadLetter(let r, _) = feed(&a, type, json) { #expect(r == reason, "\(type) \(json)") } else { Issue.record("\(json) accepted") }
        }
        if case .deadLetter(let r, _) = a.ingest(topic: "ia/c/loc/other/count", payload: "{}", now: aggNow) { #expect(r == .unknownSource) }
    }

    @Test("exactly once across restarts: the uniqueness keys and window counts commit with the rows")
    func restore() throws {
        var a = try Aggregator(plants: [umhPlant()], settings: AggregatorSettings(maxPastMs: 0))
        _ = feed(&a, "count", "{\"timestamp_ms\": \(aggT0 + 1000), \"count\": 4}")
        let b1 = a.drainCommit(journalOffset: 1)
        var fresh = try Aggregator(plants: [umhPlant()], settings: AggregatorSettings(maxPastMs: 0))
        _ = try fresh.restore(stations: b1.stations, sites: b1.sites)
        #expect(feed(&fresh, "count", "{\"timestamp_ms\": \(aggT0 + 1000), \"count\": 4}") == .duplicate)
        #expect(feed(&fresh, "scrapCount", "{\"timestamp_ms\": \(aggT0 + 1500), \"scrap\": 3}") == .accepted)
        let t = day([b1, fresh.drainCommit(journalOffset: 2)])
        #expect(t.good == 1 && t.scrap == 3)
    }
}
