import TaktCore

/// The discrete-event simulation of a whole site, producing its MQTT messages in a
/// deterministic order and accumulating the ground truth as it goes.
///
/// ## Model (per line; documented in docs/simulator.md)
/// - A unit passes the stations in file order. The first station never lacks material. Between
///   two neighbouring stations is a FIFO buffer of ``bufferCapacity`` units; a station whose
///   finished unit finds the buffer full holds it (blocked) until there is room.
/// - A cycle lasts `cycle_s × (1 + cycle_jitter × z)` (z standard normal, cut at ±3), at least
///   1 ms. Each station scraps the unit it just finished with probability `scrap_rate`; a
///   scrapped unit leaves the line. The slowest station paces the line.
/// - Breakdowns: each station fails after an exponential time with mean `mtbf_h` (calendar
///   time; `mtbf_h: 0` or no `sim` block means never) and is repaired after an exponential time
///   with mean `mttr_min` (at least 1 s). A cycle cut by a failure resumes after the repair.
///   Downstream stations starve and upstream ones block as their buffers run dry or fill.
/// - States: every station starts in 10000 (producing); a failure is 180000, the repair goes
///   back to 10000; a station that has waited ``waitThresholdMs`` for a unit reports 60000
///   (starved), one that has waited as long for buffer room reports 70000 (blocked); both go
///   back to 10000 as soon as the station works again.
/// - The output station measures `energy_kwh` of each good unit: `unit_kwh × (1 + energy_sigma
///   × z)` (z cut at ±4), rounded to 1e-6 kWh. Other stations send no `energy_kwh`, so a
///   consumer counts `good × unit_kwh` for them.
///
/// - Dialects (`--dialect`, ``DialectState``): a station bound to a Sparkplug edge node
///   publishes cumulative counters and its state code as NDATA/DDATA (after the node's births);
///   a station bound to a UMH asset publishes `…/count` and `…/state`. The physics and the truth
///   are the same; energy is `good × unit_kwh` where the dialect carries no measured energy.
///
/// ## Order and determinism
/// Events run in (ts, line, kind, station, scheduling order); each station draws from its own
/// xoshiro256** stream seeded by (seed, line, station) and the faults from a separate stream, so
/// the same seed, plant and options give the same bytes, and faults never change the physics.
public struct SimulationEngine {
    /// Units the buffer between two neighbouring stations holds.
    public static let bufferCapacity = 4
    /// How long a station waits for a unit or for buffer room before it reports 60000 / 70000.
    public static let waitThresholdMs: Int64 = 60_000

    static let producing: UInt32 = 10000
    static let starved: UInt32 = 60000
    static let blocked: UInt32 = 70000
    static let failure: UInt32 = 180000

    struct LineState {
        let base: Int
        let count: Int
        var nextUnit: Int64 = 1
        let serialPrefix: [UInt8]
        let unitKWh: Double
        let unitMicroKWh: Int64
        let energySigma: Double
    }

    struct StationState {
        let line: Int
        let indexInLine: Int
        let isLast: Bool
        let isOutput: Bool
        let cycleMs: Double
        let jitter: Double
        let scrapRate: Double
        /// Mean time between failures, ms; 0 = never.
        let mtbfMs: Double
        let mttrMs: Double
        var rng: Xoshiro256
        var seq: Int64 = 0
        var boot: Int64 = 0
        /// Working on `unit` until `cycleEnd` (or, while down, with `remaining` ms to go).
        var busy = false
        /// Holding a finished unit that does not fit downstream.
        var holding = false
        /// Waiting for a unit from upstream.
        var idle = false
        var down = false
        /// The blocked timer of the current blocking spell is scheduled.
        var blockedTimerArmed = false
        var unit: Int64 = 0
        var cycleDuration: Int64 = 0
        var cycleEnd: Int64 = 0
        var remaining: Int64 = 0
        /// The output buffer (toward the next station): ring in `bufferSlots`.
        var bufferHead = 0
        var bufferCount = 0
        var announced: UInt32 = 0
        var lastStateTs: Int64 = .min
        var cycleGeneration: UInt32 = 0
        var timerGeneration: UInt32 = 0
    }

    public let plant: Plant
    public let options: SimulationOptions
    /// Every topic the run publishes on: station `g` has `unit` at `2g` and `state` at `2g + 1`.
    public let topics: [String]
    let topicBytes: [[UInt8]]
    var lines: [LineState] = []
    var stations: [StationState] = []
    var bufferSlots: [Int64]
    var queue = EventQueue()
    var faultRNG: Xoshiro256
    var truth: GroundTruth
    /// How each station speaks, and the Sparkplug edge nodes' state.
    var dialects = DialectState()
    /// What has been published so far (after the fault layer).
    public internal(set) var counts = PublishCounts()
    /// The messages produced by the last ``fill(maxMessages:until:)`` calls; the caller empties it.
    public var batch = MessageBatch()
    var scratch: [UInt8] = []
    var garbage: [UInt8] = []
    var held: [UInt8] = []
    var heldTopic: Int32 = 0
    var heldKind: MessageBatch.Kind = .unit
    var hasHeld = false
    /// The `reorder` fault holds nothing back while set (a rebirth's births).
    var reorderSuspended = false
    /// Rebirth requests from NCMD (the caller subscribes; nothing asks in `--out` mode).
    public let rebirths: RebirthRequests
    var started = false
    /// All events before ``SimulationOptions/end`` have run and the truth is final.
    public private(set) var finished = false
    /// Simulated time reached, epoch ms.
    public private(set) var simTime: Int64

    public init(plant: Plant, options: SimulationOptions) {
        self.plant = plant
        self.options = options
        simTime = options.from
        faultRNG = Xoshiro256(seed: options.seed, stream: 0xFA17, substream: 0)
        var topics: [String] = []
        var global = 0
        for (lineIndex, line) in plant.lines.enumerated() {
            let sim = line.sim ?? Plant.Simulation()
            let outputIndex = line.outputStationIndex
            lines.append(
                LineState(
                    base: global, count: line.stations.count, serialPrefix: Array((line.id + "-").utf8),
                    unitKWh: line.unitKWh, unitMicroKWh: Int64((line.unitKWh * 1e6).rounded()),
                    energySigma: sim.energySigma))
            for (k, station) in line.stations.enumerated() {
                let prefix = "takt/v1/\(plant.site)/\(line.id)/\(station.id)/"
                topics.append(prefix + "unit")
                topics.append(prefix + "state")
                stations.append(
                    StationState(
                        line: lineIndex, indexInLine: k, isLast: k == line.stations.count - 1, isOutput: k == outputIndex,
                        cycleMs: station.cycleS * 1000, jitter: sim.cycleJitter, scrapRate: sim.scrapRate,
                        mtbfMs: sim.mtbfHours * 3_600_000, mttrMs: sim.mttrMinutes * 60_000,
                        rng: Xoshiro256(seed: options.seed, stream: UInt64(lineIndex) + 1, substream: UInt64(k) + 1)))
                global += 1
            }
        }
        dialects = DialectState(plant: plant, dialect: options.dialect, topics: &topics)
        rebirths = RebirthRequests(nodeByTopic: dialects.nodeByCommandTopic)
        self.topics = topics
        topicBytes = topics.map { Array($0.utf8) }
        bufferSlots = Array(repeating: 0, count: global * Self.bufferCapacity)
        truth = GroundTruth(stationCount: global, timeZone: plant.timeZone)
        scratch.reserveCapacity(256)
        garbage.reserveCapacity(256)
        held.reserveCapacity(256)
    }

    /// Time of the next event, if any is left before the end.
    public var nextEventTime: Int64? {
        guard let ts = queue.first?.ts, ts < options.end else { return nil }
        return ts
    }

    /// Runs events with `ts < until` (and before the end of the run) into ``batch`` until it
    /// holds at least `maxMessages` messages. Sets ``finished`` when the run is over.
    public mutating func fill(maxMessages: Int, until: Int64) {
        if !started { start() }
        let limit = min(until, options.end)
        while batch.count < maxMessages, let event = queue.first, event.ts < limit {
            _ = queue.pop()
            simTime = event.ts
            handle(event)
        }
        if batch.count < maxMessages {
            simTime = max(simTime, limit)
            if limit >= options.end, !finished { finish() }
        }
        batch.simTime = simTime
    }

    // MARK: events

    mutating func start() {
        started = true
        let from = options.from
        for g in stations.indices { publishState(g, from, Self.producing, "producing") }
        for g in stations.indices where stations[g].mtbfMs > 0 {
            let delay = max(1000, Int64(stations[g].rng.exponential(mean: stations[g].mtbfMs)))
            schedule(from + delay, g, .failure, 0)
        }
        for line in lines {
            for g in line.base..<(line.base + line.count) {
                if stations[g].indexInLine == 0 { tryStart(g, from) } else { becomeIdle(g, from) }
            }
        }
    }

    /// Ends the run now: the held-back message (reorder fault) goes out, the truth is closed at
    /// the newest message published, ``finished`` is set. ``batch`` may hold messages to send.
    public mutating func stop() {
        guard !finished else { return }
        finish()
        simTime = batch.simTime
    }

    mutating func finish() {
        releaseHeld()
        truth.finish()
        finished = true
        simTime = options.end
    }

    @inline(__always)
    mutating func schedule(_ ts: Int64, _ g: Int, _ kind: EventKind, _ generation: UInt32) {
        queue.push(ts: ts, line: stations[g].line, station: g, kind: kind, generation: generation)
    }

    mutating func handle(_ event: Event) {
        let g = Int(event.station)
        let t = event.ts
        switch event.kind {
        case .cycleEnd:
            guard event.generation == stations[g].cycleGeneration, stations[g].busy, !stations[g].down else { return }
            cycleEnd(g, t)
        case .failure:
            fail(g, t)
        case .repair:
            repair(g, t)
        case .waitTimer:
            guard event.generation == stations[g].timerGeneration, !stations[g].down,
                stations[g].announced == Self.producing
            else { return }
            if stations[g].idle {
                publishState(g, t, Self.starved, "starved")
            } else if stations[g].holding {
                publishState(g, t, Self.blocked, "blocked")
            }
        }
    }

    /// Takes the next unit if the station is free, up and has one.
    mutating func tryStart(_ g: Int, _ t: Int64) {
        guard !stations[g].down, !stations[g].busy, !stations[g].holding else { return }
        let unit: Int64
        if stations[g].indexInLine == 0 {
            let l = stations[g].line
            unit = lines[l].nextUnit
            lines[l].nextUnit += 1
        } else {
            let upstream = g - 1
            guard stations[upstream].bufferCount > 0 else {
                becomeIdle(g, t)
                return
            }
            let head = stations[upstream].bufferHead
            unit = bufferSlots[upstream * Self.bufferCapacity + head]
            stations[upstream].bufferHead = (head + 1) % Self.bufferCapacity
            stations[upstream].bufferCount -= 1
        }
        stations[g].idle = false
        stations[g].timerGeneration &+= 1
        stations[g].busy = true
        stations[g].unit = unit
        let duration = drawCycle(g)
        stations[g].cycleDuration = duration
        stations[g].cycleEnd = t + duration
        stations[g].cycleGeneration &+= 1
        schedule(t + duration, g, .cycleEnd, stations[g].cycleGeneration)
        if stations[g].announced != Self.producing { publishState(g, t, Self.producing, "producing") }
        if stations[g].indexInLine > 0 { tryUnblock(g - 1, t) }
    }

    mutating func becomeIdle(_ g: Int, _ t: Int64) {
        guard !stations[g].idle, stations[g].indexInLine > 0 else { return }
        stations[g].idle = true
        stations[g].timerGeneration &+= 1
        schedule(t + Self.waitThresholdMs, g, .waitTimer, stations[g].timerGeneration)
    }

    mutating func drawCycle(_ g: Int) -> Int64 {
        var ms = stations[g].cycleMs
        let jitter = stations[g].jitter
        if jitter > 0 {
            let z = min(3, max(-3, stations[g].rng.normal()))
            ms *= 1 + jitter * z
        }
        return max(1, Int64(ms.rounded()))
    }

    mutating func cycleEnd(_ g: Int, _ t: Int64) {
        stations[g].busy = false
        let scrap = stations[g].scrapRate > 0 && stations[g].rng.uniform() < stations[g].scrapRate
        var energy: Int64 = -1
        if stations[g].isOutput && !scrap {
            let line = lines[stations[g].line]
            var kwh = line.unitKWh
            if line.energySigma > 0 {
                kwh *= 1 + line.energySigma * min(4, max(-4, stations[g].rng.normal()))
            }
            energy = max(0, Int64((kwh * 1e6).rounded()))
        }
        publishUnit(g, t, scrap: scrap, energyMicroKWh: energy)
        if scrap || stations[g].isLast {
            tryStart(g, t)
        } else {
            stations[g].holding = true
            tryUnblock(g, t)
        }
    }

    /// Moves a held unit into the output buffer if there is room; else the station blocks.
    mutating func tryUnblock(_ g: Int, _ t: Int64) {
        guard stations[g].holding, !stations[g].down else { return }
        guard stations[g].bufferCount < Self.bufferCapacity else {
            // Blocked: arm the timer once per blocking spell (the generation marks the spell).
            if !stations[g].blockedTimerArmed {
                stations[g].blockedTimerArmed = true
                stations[g].timerGeneration &+= 1
                schedule(t + Self.waitThresholdMs, g, .waitTimer, stations[g].timerGeneration)
            }
            return
        }
        let slot = (stations[g].bufferHead + stations[g].bufferCount) % Self.bufferCapacity
        bufferSlots[g * Self.bufferCapacity + slot] = stations[g].unit
        stations[g].bufferCount += 1
        stations[g].holding = false
        stations[g].blockedTimerArmed = false
        stations[g].timerGeneration &+= 1
        if stations[g].announced != Self.producing { publishState(g, t, Self.producing, "producing") }
        tryStart(g + 1, t)
        tryStart(g, t)
    }

    mutating func fail(_ g: Int, _ t: Int64) {
        if stations[g].lastStateTs >= t {
            // Never two states of one station in one millisecond: a consumer could not tell
            // which one holds afterwards.
            schedule(stations[g].lastStateTs + 1, g, .failure, 0)
            return
        }
        stations[g].down = true
        stations[g].timerGeneration &+= 1
        if stations[g].busy {
            stations[g].remaining = stations[g].cycleEnd - t
            stations[g].cycleGeneration &+= 1
        }
        publishState(g, t, Self.failure, "failure")
        let repairMs = max(1000, Int64(stations[g].rng.exponential(mean: stations[g].mttrMs)))
        schedule(t + repairMs, g, .repair, 0)
    }

    mutating func repair(_ g: Int, _ t: Int64) {
        stations[g].down = false
        publishState(g, t, Self.producing, "producing")
        let next = max(1000, Int64(stations[g].rng.exponential(mean: stations[g].mtbfMs)))
        schedule(t + next, g, .failure, 0)
        if stations[g].busy {
            stations[g].cycleEnd = t + stations[g].remaining
            stations[g].remaining = 0
            stations[g].cycleGeneration &+= 1
            schedule(stations[g].cycleEnd, g, .cycleEnd, stations[g].cycleGeneration)
        } else if stations[g].holding {
            stations[g].blockedTimerArmed = false  // re-arm the blocked timer from now
            tryUnblock(g, t)
        } else {
            stations[g].idle = false  // re-arm the starved timer from now
            tryStart(g, t)
        }
    }

    // MARK: messages

    mutating func publishState(_ g: Int, _ t: Int64, _ code: UInt32, _ reason: StaticString) {
        guard code != stations[g].announced else { return }
        let ts = max(t, stations[g].lastStateTs &+ 1)
        stations[g].announced = code
        stations[g].lastStateTs = ts
        guard speaksTakt(g) else {
            truth.state(station: g, ts: ts, code: code)
            return publishDialectState(g, ts, code)
        }
        beginPayload(g, ts: ts)
        scratch.appendASCII(",\"state\":")
        scratch.appendDecimal(UInt64(code))
        scratch.appendASCII(",\"reason\":\"")
        scratch.appendASCII(reason)
        scratch.appendASCII("\"}")
        truth.state(station: g, ts: ts, code: code)
        emitReal(g, topic: Int32(2 * g + 1), kind: .state, ts: ts)
    }

    /// Starts the next message of station `g` in `scratch`: a device reboot if one is due, then
    /// the fields every payload has, `{"ts":…,"seq":…,"boot":…` (the station's seq moves on).
    mutating func beginPayload(_ g: Int, ts: Int64) {
        maybeReboot(g)
        let seq = stations[g].seq
        stations[g].seq += 1
        scratch.removeAll(keepingCapacity: true)
        scratch.appendASCII("{\"ts\":")
        scratch.appendDecimal(ts)
        scratch.appendASCII(",\"seq\":")
        scratch.appendDecimal(seq)
        scratch.appendASCII(",\"boot\":")
        scratch.appendDecimal(stations[g].boot)
    }

    /// `energyMicroKWh` < 0: no `energy_kwh` field (the consumer counts `good × unit_kwh`).
    mutating func publishUnit(_ g: Int, _ ts: Int64, scrap: Bool, energyMicroKWh: Int64) {
        guard speaksTakt(g) else { return publishDialectUnit(g, ts, scrap: scrap, energyMicroKWh: energyMicroKWh) }
        beginPayload(g, ts: ts)
        scratch.appendASCII(scrap ? ",\"good\":0,\"scrap\":1" : ",\"good\":1,\"scrap\":0")
        if energyMicroKWh >= 0 {
            scratch.appendASCII(",\"energy_kwh\":")
            scratch.appendMicros(energyMicroKWh)
        }
        scratch.appendASCII(",\"cycle_ms\":")
        scratch.appendDecimal(stations[g].cycleDuration)
        scratch.appendASCII(",\"serial\":\"")
        let l = stations[g].line
        scratch.append(contentsOf: lines[l].serialPrefix)
        scratch.appendPadded(stations[g].unit, width: 8)
        scratch.appendASCII("\"}")
        let good: Int64 = scrap ? 0 : 1
        let energy = energyMicroKWh >= 0 ? energyMicroKWh : good * lines[l].unitMicroKWh
        truth.unit(station: g, ts: ts, good: good, scrap: 1 - good, energyMicroKWh: energy)
        emitReal(g, topic: Int32(2 * g), kind: .unit, ts: ts)
    }

    @inline(__always)
    mutating func maybeReboot(_ g: Int) {
        let p = options.faults.reboot
        if p > 0, faultRNG.uniform() < p {
            stations[g].boot += 1
            stations[g].seq = 0
            counts.reboots += 1
        }
    }

    /// Publishes the message in `scratch`, then the duplicate and garbage faults for it.
    @inline(__always)
    mutating func emitReal(_ g: Int, topic: Int32, kind: MessageBatch.Kind, ts: Int64) {
        if emitWithFaults(topic: topic, kind: kind) {
            let garbageTopic = Int32(2 * g) + Int32(faultRNG.next() & 1)
            makeGarbage(variant: Int(faultRNG.next() % 6), ts: ts, seq: stations[g].seq, state: garbageTopic & 1 == 1)
            emit(garbageTopic, garbage, .malformed)
        }
    }

    /// Publishes `scratch` on `topic` and, by the `dup` fault, again; true when the `malformed`
    /// fault asks for garbage after it (the caller makes it: each dialect breaks differently).
    @inline(__always)
    mutating func emitWithFaults(topic: Int32, kind: MessageBatch.Kind) -> Bool {
        emit(topic, scratch, kind)
        let faults = options.faults
        if faults.duplicate > 0, faultRNG.uniform() < faults.duplicate {
            emit(topic, scratch, .duplicate)
        }
        return faults.malformed > 0 && faultRNG.uniform() < faults.malformed
    }

    /// A payload on a valid topic that breaks a rule of contract section 2 for sure.
    mutating func makeGarbage(variant: Int, ts: Int64, seq: Int64, state: Bool) {
        garbage.removeAll(keepingCapacity: true)
        switch variant {
        case 0:
            garbage.appendASCII("not json at all")
        case 1:  // truncated
            garbage.appendASCII("{\"ts\":")
            garbage.appendDecimal(ts)
            garbage.appendASCII(",\"seq\":")
            garbage.appendDecimal(seq)
            garbage.appendASCII(",\"good\":1")
        case 2:  // not an object
            garbage.appendASCII("[")
            garbage.appendDecimal(ts)
            garbage.appendASCII(",")
            garbage.appendDecimal(seq)
            garbage.appendASCII("]")
        case 3:  // wrong type
            garbage.appendASCII("{\"ts\":\"")
            garbage.appendDecimal(ts)
            garbage.appendASCII("\",\"seq\":")
            garbage.appendDecimal(seq)
            garbage.appendASCII("}")
        case 4:  // out of range: both counts 0 / a state that is not a number
            garbage.appendASCII("{\"ts\":")
            garbage.appendDecimal(ts)
            garbage.appendASCII(",\"seq\":")
            garbage.appendDecimal(seq)
            garbage.appendASCII(state ? ",\"state\":\"down\"}" : ",\"good\":0,\"scrap\":0}")
        default:  // required field missing
            garbage.appendASCII("{\"seq\":")
            garbage.appendDecimal(seq)
            garbage.appendASCII(state ? ",\"state\":10000}" : ",\"good\":1}")
        }
    }

    /// The reorder fault sits here: a message may be held back and published after the next.
    @inline(__always)
    mutating func emit(_ topic: Int32, _ payload: [UInt8], _ kind: MessageBatch.Kind) {
        if hasHeld {
            batch.append(topic: topic, topicBytes: topicBytes[Int(topic)], payload: payload, kind: kind)
            count(kind)
            batch.append(topic: heldTopic, topicBytes: topicBytes[Int(heldTopic)], payload: held, kind: heldKind)
            count(heldKind)
            hasHeld = false
            counts.reorders += 1
        } else if !reorderSuspended, options.faults.reorder > 0, faultRNG.uniform() < options.faults.reorder {
            held.removeAll(keepingCapacity: true)
            held.append(contentsOf: payload)
            heldTopic = topic
            heldKind = kind
            hasHeld = true
        } else {
            batch.append(topic: topic, topicBytes: topicBytes[Int(topic)], payload: payload, kind: kind)
            count(kind)
        }
    }

    /// The message the `reorder` fault holds back goes out now, unswapped.
    mutating func releaseHeld() {
        guard hasHeld else { return }
        batch.append(topic: heldTopic, topicBytes: topicBytes[Int(heldTopic)], payload: held, kind: heldKind)
        count(heldKind)
        hasHeld = false
    }

    @inline(__always)
    mutating func count(_ kind: MessageBatch.Kind) {
        switch kind {
        case .unit: counts.unit += 1
        case .state: counts.state += 1
        case .duplicate: counts.duplicate += 1
        case .malformed: counts.malformed += 1
        case .control: counts.control += 1
        }
    }
}
