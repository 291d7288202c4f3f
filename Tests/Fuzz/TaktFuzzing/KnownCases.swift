import Foundation
import TaktCore

/// Crashing and failing inputs the fuzzer found, minimised (`takt-fuzz minimize`, then by hand)
/// to the messages that matter: the regression tests run them through every check of
/// ``SequenceRunner`` (`takt-fuzz known NAME` runs one). The first two are issue 11's, found on
/// d6c03e0; the last two on its fixes (2be8fbb…c6e8697).
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
    /// missing seqs. Fuzzer (at e5dbe03): `sequences 2000 --seed 5 --flood-one-in 2`, case
    /// 8677719007974406512 traps at step 2062; `minimize` shrinks it to these 2,050 messages.
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
    /// 1970 for the station (≈29.6 million, of every tier ≈30 million). Fuzzer (at e5dbe03):
    /// about one case in 250, e.g. 13310449409530522511, which `minimize` shrinks to a state at
    /// ts 2^32 and a unit now.
    public static func epochStateThenNow() -> SequenceCase {
        make([
            msg("a", "state", #"{"ts":1000,"seq":0,"state":10000}"#),
            msg("eol", "unit", #"{"ts":\#(now),"seq":0}"#),
            .drain,
        ])
    }

    /// A heartbeat dropped as redundant although a later message lands before it: states 30000
    /// (unknown) at T and again at T + 60 s (seq 1, 2: the second is not stored, "every seq
    /// between them is accepted"), then seq 3 says running (10000) from T + 30 s — an earlier ts
    /// with a later seq (a clock stepped back; a new boot does the same). The device's word:
    /// running for 30 s, unknown from T + 60 s. The engine: running from T + 30 s to the horizon
    /// (T + 1 h), 3,570 s of run time and a row for every minute. Fuzzer: cases
    /// 9919290172412375224 (same boot) and 1741995560304685163 (another boot) at a69bb4d, check
    /// `memory.updates` (more rows than the known time allows).
    public static func droppedHeartbeat() -> SequenceCase {
        let t = now - 7_200_000
        return make([
            msg("a", "state", #"{"ts":\#(t),"seq":1,"state":30000}"#),
            msg("a", "state", #"{"ts":\#(t + 60_000),"seq":2,"state":30000}"#),
            msg("a", "state", #"{"ts":\#(t + 30_000),"seq":3,"state":10000}"#),
            msg("eol", "unit", #"{"ts":\#(t + 3_600_000),"seq":1}"#),
            .drain,
        ])
    }

    /// `state_flood` uses up the seq: the message is dead-lettered after dedup marked it, so its
    /// redelivery is a `duplicate` (counted in `duplicates`) of a message never counted, and it
    /// can never be counted later (too_old is decided before dedup for exactly this reason).
    /// `max_state_changes` 2. Fuzzer: case 17129918116207371288 at a69bb4d (`exactly-once`).
    public static func stateFloodUsesSeq() -> SequenceCase {
        let t = now - 600_000
        return make([
            msg("a", "state", #"{"ts":\#(t),"seq":1,"state":10000}"#),
            msg("a", "state", #"{"ts":\#(t + 1000),"seq":2,"state":40000}"#),
            msg("a", "state", #"{"ts":\#(t + 2000),"seq":3,"state":10000}"#),
            msg("a", "state", #"{"ts":\#(t + 2000),"seq":3,"state":10000}"#),
            .drain,
        ], settings: AggregatorSettings(maxStateChanges: 2))
    }

    /// All of them, by name.
    public static var all: [(name: String, make: () -> SequenceCase)] {
        [("boot-climb-overflow", { bootClimbOverflow() }), ("epoch-state-then-now", { epochStateThenNow() }),
         ("dropped-heartbeat", { droppedHeartbeat() }), ("state-flood-uses-seq", { stateFloodUsesSeq() })]
    }
}
