import Foundation
import TaktCore

/// Crashing and failing inputs the fuzzer found on TaktCore before issue 11's fixes, minimised
/// by hand to the messages that matter: the regression tests run them through every check of
/// ``SequenceRunner`` (`takt-fuzz known NAME` runs one).
public enum KnownCases {
    /// 2026-06-01T00:00:00Z, the daemon's clock in these cases.
    public static let now: Int64 = 1_780_272_000_000

    /// Site `s1` (UTC), line `L1`: stations `a` and `eol` (the output station).
    public static var plant: FuzzPlant {
        FuzzPlant(plants: [Plant(site: "s1", timeZone: TimeZone(identifier: "UTC")!, plannedHoursPerYear: 8400, lines: [
            Plant.Line(id: "L1", product: "p", idealCycleS: 6, unitKWh: 0.5, outputStation: "eol",
                       stations: [Plant.Station(id: "a", cycleS: 5), Plant.Station(id: "eol", cycleS: 6)]),
        ])])
    }

    static func msg(_ station: String, _ kind: String, _ payload: String, now: Int64 = now) -> FuzzStep {
        .message(topic: Array("takt/v1/s1/L1/\(station)/\(kind)".utf8), payload: Array(payload.utf8), now: now)
    }

    static func make(_ steps: [FuzzStep], settings: AggregatorSettings = AggregatorSettings()) -> SequenceCase {
        SequenceCase(seed: 0, plant: plant, settings: settings, steps: steps)
    }

    /// `arithmetic overflow` in `StationDedup.missing` (or the site sum of it): boots 1…1025
    /// of one station, each with seq 0 then seq 2^53 − 1, leave 1025 × (2^53 − 2) > 2^63 − 1
    /// missing seqs. Fuzzer: case 14125485510819231631 (`sequences 400 --seed 5 --flood-one-in 2`),
    /// trap at step 2049.
    public static func bootClimbOverflow(boots: Int = 1025) -> SequenceCase {
        var steps: [FuzzStep] = []
        for b in 1...boots {
            steps.append(msg("eol", "unit", #"{"ts":\#(now),"seq":0,"boot":\#(b)}"#))
            steps.append(msg("eol", "unit", #"{"ts":\#(now),"seq":9007199254740991,"boot":\#(b)}"#))
        }
        steps.append(.drain)
        return make(steps)
    }

    /// A memory blow-up: a site's first message is a state at ts 1000 (1970), then any message
    /// at the present moves the horizon 56 years: the next drain builds a window per minute since
    /// 1970 for the station (≈29.6 million, of every tier ≈30 million). Fuzzer: case
    /// 6063156664066713988 of `sequences 3000 --seed 1` (ts 86400000), among others.
    public static func epochStateThenNow() -> SequenceCase {
        make([
            msg("a", "state", #"{"ts":1000,"seq":0,"state":10000}"#),
            msg("eol", "unit", #"{"ts":\#(now),"seq":0}"#),
            .drain,
        ])
    }

    /// All of them, by name.
    public static var all: [(name: String, make: () -> SequenceCase)] {
        [("boot-climb-overflow", { bootClimbOverflow() }), ("epoch-state-then-now", { epochStateThenNow() })]
    }
}
