import TaktCore

/// One step of a stateful case.
public enum FuzzStep: Sendable, Equatable {
    /// `Aggregator.ingest(topic:payload:now:)` on both engines.
    case message(topic: [UInt8], payload: [UInt8], now: Int64)
    /// `drainCommit` on both engines; the primary's batch goes into the case's store.
    case drain
    /// The twin is rebuilt: a fresh engine, `restore(stations:sites:)` from the store.
    case restart
}

/// A generated case: a plant, settings and the steps, all from one seed.
public struct SequenceCase: Sendable {
    public var seed: UInt64
    public var plant: FuzzPlant
    public var settings: AggregatorSettings
    public var steps: [FuzzStep]

    public init(seed: UInt64, plant: FuzzPlant, settings: AggregatorSettings, steps: [FuzzStep]) {
        self.seed = seed
        self.plant = plant
        self.settings = settings
        self.steps = steps
    }
}

/// Knobs of the generator (the defaults are what `make fuzz` and the test use).
public struct SequenceOptions: Sendable {
    /// Messages a case draws: 1…this (most cases short).
    public var maxMessages = 200
    /// One case in this many also gets a flood (thousands of messages: state floods, boot
    /// climbs, units over many windows, duplicate storms); 0: never.
    public var floodOneIn = 100
    /// Also settings outside what `taktd.yaml` can set today, where known findings live:
    /// `max_future_s` 0 (the check off: the horizon is unbounded above) and a dedup capacity
    /// that is not a power of two (its snapshots do not decode).
    public var wider = false
    /// One case in this many (0: none) gets settings and values that make one commit span days
    /// to a year of windows (`max_age` 7 and 35 days, `max_future_s` a year, `ts` 35 days back,
    /// the daemon down for a day), on a plant of one or two stations: within the bounds, but such
    /// a case costs 0.05–1 s in a release build (up to a million windows), so they are rare.
    public var longSpanOneIn = 1024
    public init() {}

    /// What the test suite runs in a debug build: short cases, no long spans, few floods.
    public static var quick: SequenceOptions {
        var o = SequenceOptions()
        o.maxMessages = 40
        o.longSpanOneIn = 0
        o.floodOneIn = 400
        return o
    }
}

/// Builds cases: a small random plant, settings at their edges, and a stream of device
/// messages (a clock, a boot and a seq per station) with boundary values, duplicates,
/// reorders, boot and clock jumps, garbled topics and payloads, drains and restarts.
public enum SequenceGenerator {
    static let day: Int64 = 86_400_000

    public static func make(seed: UInt64, options: SequenceOptions = SequenceOptions()) -> SequenceCase {
        var rng = FuzzRandom(seed: seed)
        let long = options.longSpanOneIn > 0 && rng.chance(1, in: options.longSpanOneIn)
        let plant = PlantGenerator.make(&rng, small: long)
        let maxAge: Int64 = long ? rng.pick([7 * day, 35 * day, 35 * day, 86_400_000]) : rng.pick([3_600_000, 3_600_000, 60_000, 600_000, 7_200_000])
        var futureChoices: [Int64] = long ? [300, 300, 300, 31_536_000] : [300, 300, 1, 3600]
        if options.wider { futureChoices.append(0) }
        let maxFutureS = rng.pick(futureChoices)
        let settings = FuzzSettings.make(
            maxAgeMs: maxAge, maxPayloadBytes: rng.pick([16_384, 16_384, 16_384, 64, 256, 1 << 20]), maxFutureS: maxFutureS,
            dedupCapacity: options.wider ? rng.pick([64, 100, 4096]) : rng.pick([64, 128, 4096]), keepBoots: rng.pick([1, 2, 2, 3]),
            maxPastMs: long ? rng.pick([maxAge, 2 * maxAge, 35 * day]) : rng.pick([maxAge, 3_600_000]), maxSeqGap: rng.pick([1_000_000, 4096, 10]),
            maxBootGap: rng.pick([1 << 32, 1, 1000]), maxStateChanges: rng.pick([20_000, 20_000, 2, 3, 50, 1000]))
        var g = Builder(rng: rng, plant: plant, settings: settings, options: options, long: long)
        g.build()
        return SequenceCase(seed: seed, plant: plant, settings: settings, steps: g.steps)
    }

    /// The generator's state while it writes one case.
    struct Builder {
        struct Device {
            var boot: Int64 = 0
            var seq: Int64 = 0
            var clock: Int64 = 0
            var state: Int64 = 10_000
        }

        var rng: FuzzRandom
        let plant: FuzzPlant
        let settings: AggregatorSettings
        let options: SequenceOptions
        /// A long-span case (see ``SequenceOptions/longSpanOneIn``).
        let long: Bool
        let bounds: InputBounds
        let maxAge: Int64
        let futMs: Int64
        let pastEff: Int64
        let seqGap: Int64
        let bootGap: Int64
        let capacity: Int64
        var now: Int64 = 0
        var devices: [Device]
        var steps: [FuzzStep] = []
        var sent: [(topic: [UInt8], payload: [UInt8])] = []
        var delayed: [(topic: [UInt8], payload: [UInt8])] = []

        init(rng: FuzzRandom, plant: FuzzPlant, settings: AggregatorSettings, options: SequenceOptions, long: Bool) {
            self.rng = rng
            self.long = long
            self.plant = plant
            self.settings = settings
            self.options = options
            bounds = InputBounds(settings)
            maxAge = settings.maxAgeMs
            futMs = settings.payload.maxFutureS * 1000
            pastEff = bounds.assumedMaxPastMs(settings)
            seqGap = bounds.maxSeqGap ?? 1_000_000
            bootGap = bounds.maxBootGap ?? (1 << 32)
            var c: Int64 = 64
            while c < Int64(settings.dedupCapacity) { c <<= 1 }
            capacity = c
            devices = Array(repeating: Device(), count: plant.stations.count)
        }

        mutating func build() {
            switch rng.below(20) {
            case 0: now = rng.int64(0...200_000)  // the epoch: ts 0, 1 and negative edges
            case 1: now = Boundary.p53 - 1 - rng.int64(0...100_000_000)  // the top of the ts range
            case 2: now = maxAge + rng.int64(-2...2)
            default: now = rng.int64(1_577_836_800_000...2_208_988_800_000)  // 2020…2040
            }
            for k in devices.indices {
                devices[k].clock = max(0, now - rng.int64(0...600_000))
                devices[k].boot = rng.chance(1, in: 4) ? rng.int64(1...5) : 0
                devices[k].seq = rng.chance(1, in: 4) ? rng.int64(0...100_000) : 0
            }
            // Half the cases any length up to the maximum, half mostly short.
            let n = rng.chance(1, in: 2) ? rng.int(1...options.maxMessages) : rng.skewed(1...options.maxMessages)
            let floodAt = options.floodOneIn > 0 && rng.chance(1, in: options.floodOneIn) ? rng.below(n) : -1
            for i in 0..<n {
                advanceNow()
                if i == floodAt { flood() }
                switch rng.below(100) {
                case 0..<4:
                    steps.append(.drain)
                    if rng.chance(1, in: 3) { steps.append(.restart) }
                case 4..<10 where !sent.isEmpty:  // a redelivery
                    let m = rng.pick(sent)
                    emit(m.topic, m.payload)
                case 10..<15 where !delayed.isEmpty:  // a reordered message arrives
                    let m = delayed.remove(at: rng.below(delayed.count))
                    emit(m.topic, m.payload)
                case 15..<22:
                    let st = rng.below(plant.stations.count)
                    emit(garbledTopic(st), devicePayload(st, unit: rng.chance(4, in: 5)))
                case 22..<26:
                    let st = rng.below(plant.stations.count)
                    let unit = rng.chance(1, in: 2)
                    var p = devicePayload(st, unit: unit)
                    Mutator.mutate(&p, &rng, max: 3)
                    emit(topic(st, unit: unit), p)
                default:
                    let st = rng.below(plant.stations.count)
                    let unit = rng.chance(4, in: 5)
                    // A payload of the other kind now and then (its fields are unknown there).
                    let topicUnit = rng.chance(1, in: 30) ? !unit : unit
                    let m = (topic(st, unit: topicUnit), devicePayload(st, unit: unit))
                    if rng.chance(1, in: 12) { delayed.append(m) } else { emit(m.0, m.1) }
                }
            }
            while !delayed.isEmpty {
                let m = delayed.remove(at: rng.below(delayed.count))
                emit(m.topic, m.payload)
            }
            steps.append(.drain)
            if rng.chance(1, in: 3) {
                // Restart after the last commit and replay a few redeliveries: the twin must agree.
                steps.append(.restart)
                for _ in 0..<rng.int(0...5) where !sent.isEmpty {
                    let m = rng.pick(sent)
                    emit(m.topic, m.payload)
                }
                steps.append(.drain)
            }
        }

        mutating func emit(_ topic: [UInt8], _ payload: [UInt8]) {
            steps.append(.message(topic: topic, payload: payload, now: now))
            if sent.count < 64 { sent.append((topic, payload)) } else { sent[rng.below(64)] = (topic, payload) }
        }

        mutating func advanceNow() {
            switch rng.below(100) {
            case 0..<60: now += rng.int64(0...2000)
            case 60..<90: now += rng.int64(0...120_000)
            case 90..<93: now += long ? rng.int64(0...day) : rng.int64(0...3_600_000)  // the daemon was down
            case 93: now = max(0, now - rng.int64(0...60_000))  // the clock stepped back
            default: break
            }
            now = min(now, Boundary.p53 - 1)
        }

        func topic(_ st: Int, unit: Bool) -> [UInt8] {
            plant.stations[st].topicPrefix + (unit ? Array("unit".utf8) : Array("state".utf8))
        }

        // MARK: Values

        mutating func nextTs(_ st: Int) -> String {
            if rng.chance(17, in: 20) {
                let step: Int64
                switch rng.below(20) {
                case 0..<2: step = 0
                case 2..<8: step = rng.int64(1...1000)
                case 8..<18: step = rng.int64(1000...20_000)
                case 18: step = 60_000
                default: step = rng.int64(0...3_600_000)
                }
                // A device clock runs near the daemon's: at most max_future ahead, mostly behind.
                devices[st].clock = min(devices[st].clock + step, now + (rng.chance(1, in: 50) ? futMs : 0))
                return String(devices[st].clock)
            }
            let c = devices[st].clock
            let v: Int64
            switch rng.below(100) {
            case 0..<70:  // near the clocks
                switch rng.below(10) {
                case 0: v = now
                case 1: v = now + 1
                case 2: v = now - 1
                case 3: v = now + futMs
                case 4: v = now + futMs + 1
                case 5: v = now + futMs - 1
                case 6: v = c + 60_000 - (c % 60_000)  // a window edge
                case 7: v = c - (c % 3_600_000) - 1
                case 8: v = c - rng.int64(0...min(maxAge, 3_600_000))
                default: v = c - 60_000
                }
            case 70..<82:  // the edges of the ts range (1970 included)
                switch rng.below(12) {
                case 0: v = 0
                case 1: v = 1
                case 2: v = 1000
                case 3: v = Boundary.p31
                case 4: v = Boundary.p32
                case 5: v = Boundary.p53 - 1
                case 6: v = Boundary.p53
                case 7: v = Int64.max
                case 8: v = -1
                case 9: v = 86_400_000
                default: return rng.pick(["-0", "1.0", "1e3", "null", "\"1\"", "9007199254740991.5", "NaN", "-9223372036854775808"])
                }
            case 82..<92:  // max_age behind the clock (a late message at the edge)
                v = c - maxAge + rng.int64(-1...1)
            case 92..<95 where long:  // max_past behind now, and 35 days
                v = rng.pick([now - pastEff, now - pastEff - 1, now - pastEff + 1, now - 35 * day])
            case 92..<95:
                v = rng.pick([now - maxAge, now - maxAge - 1, now - 3_600_000])
            default:  // far ahead
                v = rng.pick([now + 365 * day, now + 2 * futMs, now + day])
            }
            if v >= 0 && v < Boundary.p53 && rng.chance(2, in: 5) { devices[st].clock = v }  // the clock jumps
            return String(v)
        }

        mutating func nextBoot(_ st: Int) -> String? {
            if rng.chance(9, in: 10) {
                let b = devices[st].boot
                return b == 0 && rng.chance(1, in: 3) ? nil : String(b)
            }
            let b = devices[st].boot
            let v: Int64
            switch rng.below(16) {
            case 0..<4: v = b + 1
            case 4: v = b + rng.int64(2...10)
            case 5: v = b - 1
            case 6: v = b - rng.int64(1...3)
            case 7: v = 0
            case 8: v = Boundary.p31
            case 9: v = Boundary.p32
            case 10: v = Boundary.p32 + 1
            case 11: v = Boundary.p53 - 1
            case 12: v = Boundary.p53
            case 13: v = b &+ bootGap
            case 14: v = b &+ bootGap &+ 1
            default: return rng.pick(["-1", "9223372036854775807", "1.0", "null", "true"])
            }
            if v >= 0 && v < Boundary.p53 && rng.chance(7, in: 10) {
                devices[st].boot = v
                devices[st].seq = rng.pick([0, 0, 1, 2, 3])  // a restarted device starts its seq again
            }
            return String(v)
        }

        mutating func nextSeq(_ st: Int) -> String {
            if rng.chance(22, in: 25) {
                let s = devices[st].seq
                devices[st].seq += rng.chance(1, in: 20) ? rng.int64(2...10) : 1  // sometimes a lost message
                return String(s)
            }
            let s = devices[st].seq
            let v: Int64
            switch rng.below(18) {
            case 0: v = 0
            case 1: v = 1
            case 2: v = Boundary.p31 - 1
            case 3: v = Boundary.p31
            case 4: v = Boundary.p32
            case 5: v = Boundary.p53 - 1
            case 6: v = Boundary.p53
            case 7: v = Int64.max
            case 8: v = -1
            case 9: v = s - capacity
            case 10: v = s - capacity - 1
            case 11: v = s - capacity + 1
            case 12: v = s + seqGap
            case 13: v = s + seqGap + 1
            case 14: v = s - 2
            case 15: v = s + rng.int64(2...100)
            default: return rng.pick(["1.0", "1e3", "null", "\"7\"", "-0", "00"])
            }
            if v >= 0 && v < Boundary.p53 - 1 && rng.chance(1, in: 2) { devices[st].seq = v + 1 }
            return String(v)
        }

        mutating func devicePayload(_ st: Int, unit: Bool) -> [UInt8] {
            var fields: [(String, String)] = []
            fields.append(("ts", nextTs(st)))
            fields.append(("seq", nextSeq(st)))
            if let b = nextBoot(st) { fields.append(("boot", b)) }
            if unit {
                if rng.chance(3, in: 4) {
                    switch rng.below(4) {
                    case 0: break  // both absent: one good unit
                    case 1: fields.append(("good", String(rng.int(0...3))))
                    default:
                        fields.append(("good", String(rng.int(0...3))))
                        fields.append(("scrap", String(rng.int(0...1))))
                    }
                } else {
                    let edges = ["0", "1", "1000000", "1000001", "-1", "2147483648", "1.0", "null", "999999"]
                    if rng.chance(3, in: 4) { fields.append(("good", rng.pick(edges))) }
                    if rng.chance(3, in: 4) { fields.append(("scrap", rng.pick(edges))) }
                }
                switch rng.below(20) {
                case 0..<10: break
                case 10..<17: fields.append(("energy_kwh", rng.pick(["0.4416", "0.25", "1.5", "0", "0.4421", "2"])))
                default: fields.append(("energy_kwh", rng.pick(Boundary.energyTokens)))
                }
                switch rng.below(10) {
                case 0..<3: break
                case 3..<9: fields.append(("cycle_ms", String(rng.int(3000...9000))))
                default: fields.append(("cycle_ms", rng.pick(["0", "1", "86400000", "86400001", "-1", "2147483648", "99.5"])))
                }
                if rng.chance(1, in: 10) { fields.append(("serial", rng.pick(Boundary.serialTokens))) }
            } else {
                if rng.chance(17, in: 20) {
                    if rng.chance(1, in: 3) { devices[st].state = rng.pick(Boundary.stateCodes) }
                    fields.append(("state", String(devices[st].state)))
                } else {
                    fields.append(("state", rng.pick(Boundary.stateTokens)))
                }
            }
            if rng.chance(1, in: 20) {
                fields.append((rng.pick(["reason", "x", "ts2", "STATE", "Ts"]), rng.pick([#""stacker jam""#, #"[1,{"y":null}]"#, "1e999", "{}"])))
            }
            if rng.chance(1, in: 10) { rng.shuffle(&fields) }
            var w = PayloadWriter(spaced: rng.chance(1, in: 2))
            for (k, v) in fields { w.field(k, v) }
            return w.finish()
        }

        // MARK: Topics

        mutating func garbledTopic(_ st: Int) -> [UInt8] {
            let s = plant.stations[st]
            let site = s.key.site, line = s.key.line, station = s.key.station
            let kind = rng.chance(1, in: 2) ? "unit" : "state"
            let t: String
            switch rng.below(16) {
            case 0: t = "takt/v1/zz-unknown/\(line)/\(station)/\(kind)"
            case 1: t = "takt/v1/\(site)/no-such-line/\(station)/\(kind)"
            case 2:
                // Another line's station name (valid, but not of this line), or none.
                let other = plant.stations.first { $0.key.site == site && $0.key.line != line }
                t = "takt/v1/\(site)/\(line)/\(other?.key.station ?? "nope")/\(kind)"
            case 3: t = "takt/v1/\(rng.pick(["metrics", "deadletter", "status"]))/\(line)/\(station)/\(kind)"
            case 4:
                t = rng.pick(["takt/v1//\(line)/\(station)/\(kind)", "takt/v1/\(site)//\(station)/\(kind)",
                              "takt/v1/\(site)/\(line)//\(kind)", "takt/v1/\(site)/\(line)/\(station)/", "takt/v1////"])
            case 5: t = rng.pick(["takt/v1/\(site)/\(line)/\(station)/\(kind)/x", "takt/v1/\(site)/\(line)/\(station)/x/\(kind)",
                                  "takt/v1/\(site)/\(line)/\(station)//\(kind)"])
            case 6: t = rng.pick(["takt/v1/\(site)/\(line)/\(kind)", "takt/v1/\(site)/\(kind)", "takt/v1/\(kind)"])
            case 7: t = rng.pick(["", "takt", "takt/v1", "takt/v1/", "takt/v2/\(site)/\(line)/\(station)/\(kind)",
                                  "Takt/v1/\(site)/\(line)/\(station)/\(kind)", "/takt/v1/\(site)/\(line)/\(station)/\(kind)",
                                  "takt/v1/a/b/unit", "takt/v1/a/b/c/uni"])
            case 8: t = "takt/v1/\(site)/\(line)/\(station)/\(rng.pick(["Unit", "units", "stat", "STATE", "unit ", "sta", ""]))"
            case 9: t = "takt/v1/\(site)/\(line)/\(String(repeating: "a", count: rng.pick([64, 65, 1000])))/\(kind)"
            case 10: t = "takt/v1/\(String(repeating: "s", count: rng.pick([64, 65])))/\(line)/\(station)/\(kind)"
            case 11: t = "takt/v1/" + String(repeating: "x/", count: rng.int(4...3000)) + kind
            case 12:
                // A forbidden byte (non-UTF-8, NUL, MQTT wildcards, a space) inside a segment.
                var b = Array("takt/v1/\(site)/\(line)/".utf8)
                let bad: [[UInt8]] = [[0xFF], [0xC3, 0x28], [0], Array("+".utf8), Array("#".utf8), Array(" ".utf8), Array(".".utf8), [0xC3, 0xA9]]
                var seg = Array(station.utf8)
                seg.insert(contentsOf: rng.pick(bad), at: rng.below(seg.count + 1))
                b += seg + Array("/\(kind)".utf8)
                return b
            case 13:
                // A valid topic with one bit flipped (the fast path's hash and compare).
                var b = topic(st, unit: kind == "unit")
                let k = rng.below(b.count)
                b[k] ^= UInt8(1) << UInt8(rng.below(8))
                return b
            case 14: t = rng.pick(["takt/v1/metrics/\(site)/\(line)/1h", "takt/v1/deadletter", "takt/v1/status/taktd-1"])
            default:
                var b = topic(st, unit: kind == "unit")
                b.removeLast(rng.int(1...b.count))
                return b
            }
            return Array(t.utf8)
        }

        // MARK: Floods

        mutating func flood() {
            let st = rng.below(plant.stations.count)
            let prefix = plant.stations[st].topicPrefix
            switch rng.below(4) {
            case 0:
                // The same state thousands of times, at one ts or creeping forward.
                let k = rng.int(200...4000)
                let code = rng.pick(Boundary.stateCodes)
                let creep = rng.chance(1, in: 2)
                var ts = devices[st].clock
                for _ in 0..<k {
                    if creep { ts = min(ts + 1, now) }
                    var w = PayloadWriter()
                    w.field("ts", ts)
                    w.field("seq", devices[st].seq)
                    w.field("boot", devices[st].boot)
                    w.field("state", code)
                    devices[st].seq += 1
                    steps.append(.message(topic: prefix + Array("state".utf8), payload: w.finish(), now: now))
                }
                devices[st].clock = ts
            case 1:
                // Boots climbing one by one, each with seq 0 and the largest seq (2^53 − 1).
                let k = rng.int(50...1200)
                let ts = devices[st].clock
                var boot = devices[st].boot
                for _ in 0..<k {
                    boot += 1
                    for seq in [0, Boundary.p53 - 1] {
                        var w = PayloadWriter()
                        w.field("ts", ts)
                        w.field("seq", seq)
                        w.field("boot", boot)
                        steps.append(.message(topic: prefix + Array("unit".utf8), payload: w.finish(), now: now))
                    }
                }
                devices[st].boot = boot + 1
                devices[st].seq = 0
            case 2:
                // Units a minute apart over many windows, up to now.
                let k = Int64(rng.int(100...2000))
                var ts = max(0, now - k * 60_000)
                for _ in 0..<k {
                    var w = PayloadWriter()
                    w.field("ts", ts)
                    w.field("seq", devices[st].seq)
                    w.field("boot", devices[st].boot)
                    w.field("cycle_ms", Int64(rng.int(1...86_400_000)))
                    devices[st].seq += 1
                    ts += 60_000
                    steps.append(.message(topic: prefix + Array("unit".utf8), payload: w.finish(), now: now))
                }
                devices[st].clock = max(devices[st].clock, ts - 60_000)
            default:
                // One message redelivered thousands of times.
                guard let m = sent.last else { return }
                for _ in 0..<rng.int(100...3000) { steps.append(.message(topic: m.topic, payload: m.payload, now: now)) }
            }
        }
    }
}

extension FuzzRandom {
    /// Fisher–Yates with this generator's draws.
    mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) { a.swapAt(i, below(i + 1)) }
    }
}
