import TaktCore

/// Runs one ``SequenceCase`` on two engines — the primary, and a twin rebuilt at every
/// `.restart` from the store the primary's commits built — and checks after every step.
///
/// Checks (each failure names its check):
/// - `outcome.*`: the outcome agrees with the topic and the decoder (a topic the parser rejects
///   is `bad_topic`; a well-formed unknown one `unknown_source`; a payload the decoder rejects is
///   a dead letter with the decoder's reason; a payload it accepts is never a decoder reason).
/// - `exactly-once`: an accepted `(station, boot, seq)` was never accepted before; a duplicate
///   was.
/// - `bounds.*`: an accepted `ts` is within `max_age` of the horizon, `max_future_s` of `now`,
///   and `max_past` of `now` when the setting exists.
/// - `counters`: the site's counters equal the model's after every message (horizon = newest
///   accepted ts; accepted, duplicates, dead letters counted one by one; missing ≥ 0).
/// - `memory.span` / `memory.cap` (before a drain, from the model's state timelines): known
///   state time that a commit would have to write as windows must lie within
///   `(now max − now min) + max_past + max_future` per station — else the drain would build
///   that many windows (the machine is not asked to); `memory.updates`, `memory.timeline`,
///   `memory.dedup` on the drained batch.
/// - `update.*`: every window update: counts ≥ 0, energy finite ≥ 0, 0 ≤ run ≤ planned ≤ window
///   length, windows of the right length and alignment, keys unique and sorted, the station's
///   ideal cycle; per station the minute, hour and day deltas each sum to the model's counts.
/// - `snapshot.*`, `sites`: snapshots decode, cover every station whose dedup moved, timelines
///   are pruned; the batch's site counters equal the model's.
/// - `restore.*`: the twin gives the same outcome for every message and the same batch at
///   every drain; restore reports nothing ignored and gives the same counters.
/// - `time`: no single step takes longer than `stepTimeLimit` seconds.
public struct SequenceRunner {
    public var stepTimeLimit: Double = 2.0
    /// Most windows one drain may build (memory guard, whatever the settings allow).
    public var windowCap: Double = 4_000_000
    /// Called before each step with a description (the `case` command prints it).
    public var trace: ((String) -> Void)? = nil

    public init() {}

    /// Runs the case; `nil` when every check held.
    public func run(_ c: SequenceCase, stats: inout FuzzStats) -> FuzzFailure? {
        var r: CaseRun
        do {
            r = try CaseRun(c, runner: self)
        } catch {
            return FuzzFailure(mode: "sequences", caseSeed: c.seed, step: -1, check: "init", detail: "Aggregator(plants:): \(error)")
        }
        stats.cases += 1
        for (i, step) in c.steps.enumerated() {
            FuzzProgress.step = i
            if let failure = r.step(i, step, &stats) { return failure }
        }
        FuzzProgress.step = -1
        return nil
    }
}

struct SourceSeq: Hashable {
    var station: Int32
    var boot: Int64
    var seq: Int64
}

struct ShadowEntry {
    var ts: Int64
    var boot: Int64
    var seq: Int64
    var known: Bool
    /// The state code (the engine's heartbeat rule compares it).
    var state: UInt32 = 0

    @inline(__always) func precedes(_ o: ShadowEntry) -> Bool {
        if ts != o.ts { return ts < o.ts }
        if boot != o.boot { return boot < o.boot }
        return seq < o.seq
    }
}

/// The state of one running case: both engines, the store, and the model the checks use.
struct CaseRun {
    static let day: Int64 = 86_400_000
    static let decoderReasons: Set<DeadLetterReason> = [.badTopic, .unknownSource, .notJSON, .notObject, .badUTF8, .tooLarge,
                                                        .tooDeep, .missingField, .wrongType, .outOfRange, .notFinite,
                                                        .duplicateKey, .emptyUnit, .inFuture]

    let c: SequenceCase
    let runner: SequenceRunner
    let plant: FuzzPlant
    let settings: AggregatorSettings
    let bounds: InputBounds
    let decoder: PayloadDecoder
    var a: Aggregator
    /// The twin: `nil` until the first restart (until then it would only be a second copy).
    var b: Aggregator?
    var storeStations: [StationKey: StationSnapshot] = [:]
    var storeSites: [String: SiteCounters] = [:]

    // Model, per site.
    var horizon: [Int64]
    var drained: [Int64]
    var accepted: [Int64]
    var duplicates: [Int64]
    var deadLetters: [Int64]
    var siteChanged: [Bool]
    var unattributed: Int64 = 0
    // Model, per station.
    var timelines: [[ShadowEntry]]
    var acceptedStates: [Int64]
    var dedupMoved: [Bool]
    var pending: [(good: Int64, scrap: Int64, msgs: Int64, energy: Double)]
    var lateStates: [Int]
    var acceptedKeys: Set<SourceSeq> = []
    /// The highest accepted seq of each (station, boot): the engine's dedup bitmap covers the
    /// `capacity` seqs up to it.
    var highestSeq: [SourceSeq: Int64] = [:]
    var acceptedSinceDrain = 0
    var nowMin = Int64.max
    var nowMax = Int64.min

    init(_ c: SequenceCase, runner: SequenceRunner) throws(AggregatorError) {
        self.c = c
        self.runner = runner
        plant = c.plant
        settings = c.settings
        bounds = InputBounds(c.settings)
        decoder = PayloadDecoder(limits: c.settings.payload)
        a = try Aggregator(plants: c.plant.plants, settings: c.settings)
        let ns = plant.plants.count, nst = plant.stations.count
        horizon = Array(repeating: 0, count: ns)
        drained = horizon
        accepted = horizon
        duplicates = horizon
        deadLetters = horizon
        siteChanged = Array(repeating: false, count: ns)
        timelines = Array(repeating: [], count: nst)
        acceptedStates = Array(repeating: 0, count: nst)
        dedupMoved = Array(repeating: false, count: nst)
        pending = Array(repeating: (0, 0, 0, 0), count: nst)
        lateStates = Array(repeating: 0, count: nst)
    }

    func fail(_ i: Int, _ check: String, _ detail: String) -> FuzzFailure {
        FuzzFailure(mode: "sequences", caseSeed: c.seed, step: i, check: check, detail: detail)
    }

    mutating func step(_ i: Int, _ s: FuzzStep, _ stats: inout FuzzStats) -> FuzzFailure? {
        switch s {
        case .message(let topic, let payload, let now):
            runner.trace?("step \(i) now \(now) msg \(escapeBytes(topic)) \(escapeBytes(payload))")
            return message(i, topic, payload, now, &stats)
        case .drain:
            runner.trace?("step \(i) drain")
            return drain(i, &stats)
        case .restart:
            runner.trace?("step \(i) restart")
            return restart(i, &stats)
        }
    }

    @inline(__always)
    static func ingest(_ agg: inout Aggregator, _ t: [UInt8], _ p: [UInt8], _ now: Int64) -> IngestOutcome {
        t.withUnsafeBytes { tb in p.withUnsafeBytes { pb in agg.ingest(topic: tb, payload: pb, now: now) } }
    }

    // MARK: - Messages

    mutating func message(_ i: Int, _ topic: [UInt8], _ payload: [UInt8], _ now: Int64, _ stats: inout FuzzStats) -> FuzzFailure? {
        nowMin = min(nowMin, now)
        nowMax = max(nowMax, now)
        stats.messages += 1
        let t0 = monotonicSeconds()
        let oa = Self.ingest(&a, topic, payload, now)
        let dt = monotonicSeconds() - t0
        stats.maxStepSeconds = max(stats.maxStepSeconds, dt)
        if dt > runner.stepTimeLimit { return fail(i, "time", "one ingest took \(dt) s") }
        runner.trace?("  -> \(oa)")
        if b != nil {
            let ob = Self.ingest(&b!, topic, payload, now)
            if oa != ob { return fail(i, "restore.outcome", "primary \(oa), restored twin \(ob)") }
        }
        stats.count(oa)

        // What the topic is.
        let parsed: InboundTopic
        switch parseTopic(topic) {
        case .success(let p): parsed = p
        case .failure(let error):
            if error.reason != .badTopic { return fail(i, "outcome.topic", "InboundTopic.parse threw \(error.reason)") }
            guard case .deadLetter(.badTopic, let d) = oa, !d.isEmpty else {
                return fail(i, "outcome.topic", "a topic the parser rejects (\(error.detail)) gave \(oa)")
            }
            unattributed += 1
            return checkUnattributed(i)
        }
        guard let si = plant.siteIndex[parsed.site] else {
            guard case .deadLetter(.unknownSource, _) = oa else { return fail(i, "outcome.topic", "unknown site gave \(oa)") }
            unattributed += 1
            return checkUnattributed(i)
        }
        siteChanged[si] = true
        guard let st = plant.index[StationKey(site: parsed.site, line: parsed.line, station: parsed.station)] else {
            guard case .deadLetter(.unknownSource, _) = oa else { return fail(i, "outcome.topic", "unknown line/station gave \(oa)") }
            deadLetters[si] += 1
            return checkCounters(i, si)
        }
        if case .deadLetter(let r, _) = oa, r == .badTopic || r == .unknownSource {
            return fail(i, "outcome.topic", "a plant station's topic gave \(oa)")
        }

        // What the payload is.
        let event: DecodedPayload
        do {
            event = try decoder.decode(payload, kind: parsed.kind, now: now)
        } catch {
            guard case .deadLetter(let r, let d) = oa, r == error.reason, !d.isEmpty else {
                return fail(i, "outcome.payload", "decoder says \(error), aggregator \(oa)")
            }
            deadLetters[si] += 1
            return checkCounters(i, si)
        }
        let key = SourceSeq(station: Int32(st), boot: event.boot, seq: event.seq)
        let ts = event.ts
        switch oa {
        case .accepted:
            if acceptedKeys.contains(key) {
                return fail(i, "exactly-once", "\(plant.stations[st].key) boot \(event.boot) seq \(event.seq) accepted a second time")
            }
            if horizon[si] - ts > settings.maxAgeMs {
                return fail(i, "bounds.max_age", "ts \(ts) accepted \(horizon[si] - ts) ms behind the horizon \(horizon[si])")
            }
            if settings.payload.maxFutureS > 0 && ts - now > settings.payload.maxFutureS * 1000 {
                return fail(i, "bounds.max_future", "ts \(ts) accepted \(ts - now) ms ahead of now \(now)")
            }
            if let p = bounds.maxPastMs, now - ts > p {
                return fail(i, "bounds.max_past", "ts \(ts) accepted \(now - ts) ms behind now \(now); max_past \(p)")
            }
            // The engine's heartbeat rule, decided before this message's seq is recorded: an
            // unchanged state is not stored when every seq since the last entry was accepted and
            // is still in the dedup bitmap (protocol.md, section 3).
            let redundant: Bool = if case .state(let s) = event { isRedundantShadow(st, s) } else { false }
            acceptedKeys.insert(key)
            let bootKey = SourceSeq(station: Int32(st), boot: event.boot, seq: 0)
            highestSeq[bootKey] = max(highestSeq[bootKey] ?? -1, event.seq)
            dedupMoved[st] = true
            accepted[si] += 1
            acceptedSinceDrain += 1
            switch event {
            case .unit(let u):
                pending[st].good += Int64(u.good)
                pending[st].scrap += Int64(u.scrap)
                pending[st].msgs += 1
                let unitKwh = plant.plants[si].lines.first { $0.id == parsed.line }!.unitKWh
                pending[st].energy += u.energyKwh(unitKwh: unitKwh)
            case .state(let s):
                acceptedStates[st] += 1
                if ts < drained[si] { lateStates[st] += 1 }
                if !redundant {
                    insertShadow(st, ShadowEntry(ts: ts, boot: s.boot, seq: s.seq, known: s.state.isKnown, state: s.state.rawValue))
                }
            }
            horizon[si] = max(horizon[si], ts)
        case .duplicate:
            if !acceptedKeys.contains(key) {
                return fail(i, "exactly-once", "\(plant.stations[st].key) boot \(event.boot) seq \(event.seq) called a duplicate but never accepted")
            }
            dedupMoved[st] = true
            duplicates[si] += 1
        case .deadLetter(let r, let d):
            if Self.decoderReasons.contains(r) || d.isEmpty {
                return fail(i, "outcome.payload", "the decoder accepts the payload, the aggregator says \(oa)")
            }
            if r == .tooOld {
                let behindHorizon = horizon[si] - ts > settings.maxAgeMs
                let behindNow = bounds.maxPastMs.map { now - ts > $0 } ?? false
                if !behindHorizon && !behindNow {
                    return fail(i, "outcome.too_old", "ts \(ts) is within max_age of \(horizon[si]) (and max_past of now \(now)): \(oa)")
                }
            } else if r != .stateFlood {
                // Decided after dedup (a state_flood, like too_old, is decided before it and
                // moves nothing).
                dedupMoved[st] = true
            }
            deadLetters[si] += 1
        }
        return checkCounters(i, si)
    }

    func checkUnattributed(_ i: Int) -> FuzzFailure? {
        let n = a.unattributedDeadLetters.values.reduce(0, +)
        return n == unattributed ? nil : fail(i, "counters", "unattributed dead letters \(n), expected \(unattributed)")
    }

    func checkCounters(_ i: Int, _ si: Int) -> FuzzFailure? {
        guard let k = a.counters(site: plant.plants[si].site) else { return fail(i, "counters", "no counters for a plant site") }
        if k.horizon != horizon[si] || k.accepted != accepted[si] || k.duplicates != duplicates[si] || k.deadLetters != deadLetters[si]
            || k.missing < 0 {
            return fail(i, "counters", "\(k) vs model horizon \(horizon[si]) accepted \(accepted[si]) duplicates \(duplicates[si]) dead letters \(deadLetters[si])")
        }
        return nil
    }

    /// The engine's `Aggregator.isRedundant`, on the model: the same state as the last entry, of
    /// the same boot, not earlier, a later seq, and every seq in between accepted and within the
    /// dedup bitmap (`capacity` seqs up to the boot's highest).
    func isRedundantShadow(_ st: Int, _ s: StateEvent) -> Bool {
        guard let last = timelines[st].last, last.state == s.state.rawValue, last.boot == s.boot,
              s.ts >= last.ts, s.seq > last.seq else { return false }
        var capacity: Int64 = 64
        while capacity < Int64(settings.dedupCapacity) { capacity <<= 1 }
        let range = (last.seq + 1)..<s.seq
        guard Int64(range.count) <= capacity else { return false }
        guard let highest = highestSeq[SourceSeq(station: Int32(st), boot: s.boot, seq: 0)] else { return range.isEmpty }
        for x in range {
            guard x <= highest, highest - x < capacity,
                  acceptedKeys.contains(SourceSeq(station: Int32(st), boot: s.boot, seq: x)) else { return false }
        }
        return true
    }

    mutating func insertShadow(_ st: Int, _ e: ShadowEntry) {
        var lo = 0, hi = timelines[st].count
        while lo < hi {
            let mid = (lo + hi) / 2
            if timelines[st][mid].precedes(e) { lo = mid + 1 } else { hi = mid }
        }
        if lo < timelines[st].count, timelines[st][lo].ts == e.ts, timelines[st][lo].boot == e.boot, timelines[st][lo].seq == e.seq { return }
        timelines[st].insert(e, at: lo)
    }

    /// Upper bound on the windows of all tiers that a span of `ms` touches (`+2` per tier for
    /// the edges; days are at least 22 h).
    static func windows(_ ms: Double) -> Double { ms / 60_000 + ms / 3_600_000 + ms / 79_200_000 + 6 }

    /// Known state time of station `st` in `[h0, h1)`, by the model: total ms and a bound on the
    /// windows of its stretches.
    func knownTime(_ st: Int, _ h0: Int64, _ h1: Int64) -> (span: Int64, windows: Double) {
        let e = timelines[st]
        var lo = 0, hi = e.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if e[mid].ts <= h0 { lo = mid + 1 } else { hi = mid }
        }
        var k = max(0, lo - 1)
        var span: Int64 = 0
        var w = 0.0
        var start: Int64? = nil
        var end: Int64 = 0
        while k < e.count && e[k].ts < h1 {
            let until = k + 1 < e.count ? e[k + 1].ts : Int64.max
            let x = max(e[k].ts, h0), y = min(until, h1)
            if y > x {
                if e[k].known {
                    if start == nil || end != x {
                        if let s = start { span += end - s; w += Self.windows(Double(end - s)) }
                        start = x
                    }
                    end = y
                } else if let s = start {
                    span += end - s
                    w += Self.windows(Double(end - s))
                    start = nil
                }
            }
            k += 1
        }
        if let s = start { span += end - s; w += Self.windows(Double(end - s)) }
        return (span, w)
    }

    // MARK: - Drains

    mutating func drain(_ i: Int, _ stats: inout FuzzStats) -> FuzzFailure? {
        // 1. What the drain may build, from the model; refuse to run a drain that breaks it.
        let past = Double(bounds.assumedMaxPastMs(settings))
        let future = settings.payload.maxFutureS > 0 ? Double(settings.payload.maxFutureS) * 1000 : 366 * Double(Self.day)
        let spanBound = nowMin <= nowMax ? Double(nowMax - nowMin) + past + future : past + future
        var bound = 3 * Double(acceptedSinceDrain)
        for st in plant.stations.indices where lateStates[st] > 0 {
            bound += Self.windows(Double(settings.maxAgeMs)) + 6 * Double(lateStates[st])
        }
        for si in plant.plants.indices where horizon[si] > drained[si] {
            for st in plant.stationsOfSite[si] {
                let k = knownTime(st, drained[si], horizon[si])
                if Double(k.span) > spanBound {
                    return fail(i, "memory.span", "this drain would build ≈\(Int(k.windows)) windows for \(plant.stations[st].key): "
                                + "\(k.span) ms of known state time since the last commit (horizon \(drained[si]) → \(horizon[si])), "
                                + "more than (now max − now min) + max_past + max_future = \(Int64(spanBound)) ms")
                }
                bound += k.windows
            }
        }
        if bound > runner.windowCap {
            return fail(i, "memory.cap", "this drain would build up to \(Int(bound)) windows (cap \(Int(runner.windowCap)))")
        }

        // 2. Drain both.
        let t0 = monotonicSeconds()
        let ba = a.drainCommit(journalOffset: Int64(i))
        let dt = monotonicSeconds() - t0
        stats.drains += 1
        stats.maxDrainSeconds = max(stats.maxDrainSeconds, dt)
        stats.maxUpdatesPerDrain = max(stats.maxUpdatesPerDrain, ba.updates.count)
        if dt > runner.stepTimeLimit { return fail(i, "time", "one drain took \(dt) s (\(ba.updates.count) updates)") }
        if Double(ba.updates.count) > bound {
            return fail(i, "memory.updates", "\(ba.updates.count) window updates in one drain, more than the model allows (\(Int(bound)): "
                        + "3 per counted message, the windows of known state time since the last commit, late states' ranges)")
        }
        if b != nil {
            let bb = b!.drainCommit(journalOffset: Int64(i))
            if ba.updates != bb.updates {
                let k = zip(ba.updates, bb.updates).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(ba.updates.count, bb.updates.count)
                let x = k < ba.updates.count ? "\(ba.updates[k])" : "none", y = k < bb.updates.count ? "\(bb.updates[k])" : "none"
                return fail(i, "restore.updates", "\(ba.updates.count) vs \(bb.updates.count) updates; first difference #\(k): primary \(x), twin \(y)")
            }
            if ba.stations != bb.stations {
                return fail(i, "restore.snapshots", "primary \(ba.stations.map(\.station)) vs twin \(bb.stations.map(\.station)) (or their bytes differ)")
            }
            if ba.sites != bb.sites { return fail(i, "restore.sites", "primary \(ba.sites) vs twin \(bb.sites)") }
        }

        // 3. The batch.
        if let f = checkUpdates(i, ba.updates) { return f }
        if let f = checkSnapshots(i, ba.stations, &stats) { return f }
        let expectedSites = Set(plant.plants.indices.filter { siteChanged[$0] }.map { plant.plants[$0].site })
        if Set(ba.sites.map(\.site)) != expectedSites || ba.sites.count != expectedSites.count {
            return fail(i, "sites", "counters for \(ba.sites.map(\.site)), expected \(expectedSites.sorted())")
        }
        for k in ba.sites {
            let si = plant.siteIndex[k.site]!
            if k.horizon != horizon[si] || k.accepted != accepted[si] || k.duplicates != duplicates[si] || k.deadLetters != deadLetters[si]
                || k.missing < 0 {
                return fail(i, "sites", "\(k) vs model horizon \(horizon[si]) accepted \(accepted[si]) duplicates \(duplicates[si]) dead letters \(deadLetters[si])")
            }
        }

        // 4. The store, as TaktStore keeps it: a snapshot without timeline keeps the stored one.
        for s in ba.stations {
            if s.timeline == nil && storeStations[s.station] == nil {
                return fail(i, "snapshot.store", "\(s.station): a snapshot without timeline for a station the store holds nothing for")
            }
            storeStations[s.station] = StationSnapshot(station: s.station, dedup: s.dedup, timeline: s.timeline ?? storeStations[s.station]?.timeline)
        }
        for k in ba.sites { storeSites[k.site] = k }

        // 5. The model forgets what was committed.
        for si in plant.plants.indices {
            drained[si] = horizon[si]
            siteChanged[si] = false
            for st in plant.stationsOfSite[si] {
                var lo = 0, hi = timelines[st].count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if timelines[st][mid].ts <= drained[si] { lo = mid + 1 } else { hi = mid }
                }
                if lo > 1 { timelines[st].removeFirst(lo - 1) }
            }
        }
        for st in plant.stations.indices {
            pending[st] = (0, 0, 0, 0)
            lateStates[st] = 0
            dedupMoved[st] = false
        }
        acceptedSinceDrain = 0
        return nil
    }

    func checkUpdates(_ i: Int, _ updates: [WindowUpdate]) -> FuzzFailure? {
        var sums = Array(repeating: (good: Int64(0), scrap: Int64(0), msgs: Int64(0), energy: 0.0), count: plant.stations.count * 3)
        var last: (st: Int, tier: Int, start: Int64)? = nil
        var lastKey: StationKey? = nil
        var lastSt = -1
        for u in updates {
            let k = u.key
            let sk = StationKey(site: k.site, line: k.line, station: k.station)
            if sk != lastKey {
                guard let st = plant.index[sk] else { return fail(i, "update.key", "an update for \(sk), not a plant station") }
                lastKey = sk
                lastSt = st
            }
            let st = lastSt
            let tier = k.tier == .minute ? 0 : (k.tier == .hour ? 1 : 2)
            if let l = last, (l.st, l.tier, l.start) >= (st, tier, k.start) {
                return fail(i, "update.order", "\(k) after station \(l.st) tier \(l.tier) start \(l.start): not sorted or not unique")
            }
            last = (st, tier, k.start)
            let len = k.end - k.start
            switch k.tier {
            case .minute:
                if len != 60_000 || k.start % 60_000 != 0 { return fail(i, "update.window", "\(k)") }
            case .hour:
                if len != 3_600_000 || k.start % 3_600_000 != 0 { return fail(i, "update.window", "\(k)") }
            case .day:
                if len < 22 * 3_600_000 || len > 26 * 3_600_000 { return fail(i, "update.window", "\(k) is \(len) ms") }
            }
            if u.good < 0 || u.scrap < 0 || u.unitMessages < 0 || u.cycle.count < 0 || u.cycle.count > u.unitMessages {
                return fail(i, "update.negative", "\(k): good \(u.good) scrap \(u.scrap) messages \(u.unitMessages) cycles \(u.cycle.count)")
            }
            if !u.energyKwh.isFinite || u.energyKwh < 0 { return fail(i, "update.energy", "\(k): energy \(u.energyKwh)") }
            if u.runMs < 0 || u.plannedMs < 0 || u.runMs > u.plannedMs || u.plannedMs > len {
                return fail(i, "update.time", "\(k): run \(u.runMs) planned \(u.plannedMs) of \(len) ms")
            }
            let info = plant.stations[st]
            if u.idealCycleS != info.idealCycleS || u.isOutputStation != info.isOutput {
                return fail(i, "update.station", "\(k): ideal \(u.idealCycleS) output \(u.isOutputStation), plant \(info.idealCycleS) \(info.isOutput)")
            }
            sums[st * 3 + tier].good += u.good
            sums[st * 3 + tier].scrap += u.scrap
            sums[st * 3 + tier].msgs += u.unitMessages
            sums[st * 3 + tier].energy += u.energyKwh
        }
        for st in plant.stations.indices {
            let p = pending[st]
            for tier in 0..<3 {
                let s = sums[st * 3 + tier]
                let tol = 1e-9 * max(1, abs(p.energy))
                if s.good != p.good || s.scrap != p.scrap || s.msgs != p.msgs || abs(s.energy - p.energy) > tol {
                    return fail(i, "update.sums", "\(plant.stations[st].key) tier \(tier): good \(s.good) scrap \(s.scrap) messages \(s.msgs) kWh \(s.energy); "
                                + "accepted since the last drain: \(p.good) \(p.scrap) \(p.msgs) \(p.energy)")
                }
            }
        }
        return nil
    }

    func checkSnapshots(_ i: Int, _ snaps: [StationSnapshot], _ stats: inout FuzzStats) -> FuzzFailure? {
        var seen = Set<Int>()
        var cap = 64
        while cap < settings.dedupCapacity { cap <<= 1 }
        for s in snaps {
            guard let st = plant.index[s.station] else { return fail(i, "snapshot.key", "\(s.station) is not a plant station") }
            if !seen.insert(st).inserted { return fail(i, "snapshot.key", "\(s.station) twice in one batch") }
            guard let d = StationDedup(serialized: s.dedup) else { return fail(i, "snapshot.dedup", "\(s.station): dedup bytes do not decode") }
            if d.boots.count > settings.keepBoots || s.dedup.count > 27 + settings.keepBoots * (53 + cap / 8) {
                return fail(i, "memory.dedup", "\(s.station): \(d.boots.count) boots, \(s.dedup.count) bytes")
            }
            if let tb = s.timeline {
                stats.maxTimelineBytes = max(stats.maxTimelineBytes, tb.count)
                guard let t = StateTimeline(serialized: tb) else { return fail(i, "snapshot.timeline", "\(s.station): timeline bytes do not decode") }
                if Int64(t.entries.count) > acceptedStates[st] {
                    return fail(i, "memory.timeline", "\(s.station): \(t.entries.count) entries, \(acceptedStates[st]) states ever accepted")
                }
                if let m = bounds.maxStateChanges, Int64(t.entries.count) > m {
                    return fail(i, "memory.timeline", "\(s.station): \(t.entries.count) entries, max_state_changes \(m)")
                }
                let h = horizon[plant.stations[st].site]
                let cutoff = h - settings.maxAgeMs - 2 * Self.day
                if h - settings.maxAgeMs > 0 && t.entries.prefix(2).filter({ $0.ts < cutoff }).count > 1 {
                    return fail(i, "memory.timeline", "\(s.station): entries before \(cutoff) (horizon − max_age − 2 d) were not pruned")
                }
            }
        }
        for st in plant.stations.indices where dedupMoved[st] && !seen.contains(st) {
            return fail(i, "snapshot.missing", "\(plant.stations[st].key): dedup state changed, no snapshot in the batch")
        }
        return nil
    }

    // MARK: - Restart

    mutating func restart(_ i: Int, _ stats: inout FuzzStats) -> FuzzFailure? {
        stats.restarts += 1
        if siteChanged.contains(true) { return fail(i, "harness", "a restart must follow a drain (the store would lack the messages since)") }
        do {
            var fresh = try Aggregator(plants: plant.plants, settings: settings)
            let snaps = storeStations.values.sorted { $0.station.description < $1.station.description }
            let sites = storeSites.values.sorted { $0.site < $1.site }
            let report = try fresh.restore(stations: snaps, sites: sites)
            if report != RestoreReport() { return fail(i, "restore.report", "\(report)") }
            b = fresh
        } catch {
            return fail(i, "restore.throws", "\(error)")
        }
        for p in plant.plants where a.counters(site: p.site) != b?.counters(site: p.site) {
            return fail(i, "restore.counters", "primary \(String(describing: a.counters(site: p.site))), restored \(String(describing: b?.counters(site: p.site)))")
        }
        return nil
    }
}

/// ``InboundTopic/parse(_:)`` of bytes, as a `Result` (typed throws through `withUnsafeBytes`).
func parseTopic(_ t: [UInt8]) -> Result<InboundTopic, TopicError> {
    t.withUnsafeBytes { b in Result { () throws(TopicError) -> InboundTopic in try InboundTopic.parse(b) } }
}
