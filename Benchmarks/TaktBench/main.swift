// takt-bench: the in-process benchmarks of issue 6 (no broker). Run by scripts/bench.sh.
//
//   takt-bench ingest PLANT STREAM [REPS]          decode + validate + dedup + windows, events/s
//   takt-bench sparkplug PLANT DAYS [REPS]         the same for Sparkplug B NDATA/DDATA (takt-sim's edge nodes)
//   takt-bench commit PLANT STREAM STORE [EVERY]   store commit cost per EVERY (10,000) events
//   takt-bench fill-year PLANT STORE YEAR          a year of 1h/1d rows for every station
//   takt-bench gen-plant LINES STATIONS SITE OUT   a plant file of LINES × STATIONS
//   takt-bench gen-rss PLANT OUT                   the peak-RSS stream (62 d sparse … 3 h dense)
//   takt-bench scenario PLANT SCENARIO RUNS DAYS [REPS]  the scenario Monte Carlo (issue 15), one thread
//
// STREAM is `topic<TAB>payload` lines (takt-sim --out). Output: one `key value` per line.
import Foundation
import TaktCore
import TaktSimulation
import TaktStore

@inline(never)
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("takt-bench: \(message)\n".utf8))
    exit(2)
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

func loadPlant(_ path: String) -> Plant {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
    do { return try Plant.load(yaml: text, fileName: path) } catch { fail("\(error)") }
}

func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// A stream file held as one byte buffer and (topic, payload) ranges into it: the benchmark
/// reads raw bytes the way the daemon gets them from libmosquitto.
struct Stream {
    var bytes: [UInt8]
    var topics: [Range<Int>] = []
    var payloads: [Range<Int>] = []

    init(path: String) {
        guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
        bytes = [UInt8](data)
        var lineStart = 0
        var tab = -1
        for i in bytes.indices {
            let b = bytes[i]
            if b == UInt8(ascii: "\t") && tab < 0 {
                tab = i
            } else if b == UInt8(ascii: "\n") {
                if tab > lineStart {
                    topics.append(lineStart..<tab)
                    payloads.append((tab + 1)..<i)
                }
                lineStart = i + 1
                tab = -1
            }
        }
    }

    /// Messages already in memory: `topics[k]` and `payloads[k]` are ranges of `bytes`.
    init(bytes: [UInt8], topics: [Range<Int>], payloads: [Range<Int>]) {
        self.bytes = bytes
        self.topics = topics
        self.payloads = payloads
    }

    var count: Int { topics.count }

    /// Sum of journal record sizes up to message `k` (exclusive), as the daemon counts offsets.
    func forEach(_ body: (Int, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { all in
            for k in topics.indices {
                let t = UnsafeRawBufferPointer(rebasing: all[topics[k]])
                let p = UnsafeRawBufferPointer(rebasing: all[payloads[k]])
                body(k, t, p)
            }
        }
    }
}

// MARK: - ingest

func benchIngest(_ args: [String]) {
    guard args.count >= 2 else { fail("usage: ingest PLANT STREAM [REPS]") }
    let plant = loadPlant(args[0])
    let stream = Stream(path: args[1])
    let reps = args.count > 2 ? Int(args[2]) ?? 5 : 5
    let r = measureIngest(plant, stream, reps: reps, now: nowMs())
    print("events \(stream.count)")
    print("accepted \(r.accepted)")
    print("reps \(reps)")
    print("ingest_events_per_s \(Int(median(r.ingest)))")
    print("ingest_events_per_s_all \(r.ingest.map { String(Int($0)) }.joined(separator: ","))")
    print("ingest_drain_events_per_s \(Int(median(r.withDrain)))")
}

/// Events/s of `Aggregator.ingest` over `stream`, one fresh aggregator per rep: ingest alone
/// (timed in slices between drains) and with a `drainCommit` every 10,000 messages, as taktd
/// drains. `events` (default: every message) is what the rates count; all messages are timed.
func measureIngest(_ plant: Plant, _ stream: Stream, reps: Int, now: Int64, events: Int? = nil)
    -> (ingest: [Double], withDrain: [Double], accepted: Int) {
    let clock = ContinuousClock()
    var ingestRates: [Double] = []
    var withDrainRates: [Double] = []
    var accepted = 0
    let counted = Double(events ?? stream.count)
    for _ in 0..<reps {
        var agg: Aggregator
        do { agg = try Aggregator(plants: [plant]) } catch { fail("\(error)") }
        var ingestTime = Duration.zero
        var drainTime = Duration.zero
        var ok = 0
        var sinceDrain = 0
        var t0 = clock.now
        stream.forEach { _, t, p in
            if case .accepted = agg.ingest(topic: t, payload: p, now: now) { ok += 1 }
            sinceDrain += 1
            if sinceDrain == 10_000 {
                let t1 = clock.now
                ingestTime += t1 - t0
                let batch = agg.drainCommit(journalOffset: 0)
                blackHole(batch.updates.count)
                t0 = clock.now
                drainTime += t0 - t1
                sinceDrain = 0
            }
        }
        ingestTime += clock.now - t0
        accepted = ok
        ingestRates.append(counted / seconds(ingestTime))
        withDrainRates.append(counted / seconds(ingestTime + drainTime))
    }
    return (ingestRates, withDrainRates, accepted)
}

// MARK: - sparkplug

/// Sparkplug B decode + per-node state machine + windows on one core: DAYS of the plant's
/// stations as `takt-sim --dialect sparkplug` publishes them (NBIRTH/DBIRTH once, then one
/// NDATA or DDATA per unit and state change, every metric by alias: cumulative counters, state,
/// cycle time), encoded by the simulator's own publisher code (SwiftProtobuf), ending now.
/// A plant without `sparkplug:` keys is bound here: one edge node per line, one device per
/// station (so the Bishan plant gives the JSON figure's plant and days). A clock record
/// `$takt/clock` first (now) and before every 1,000th message (1 ms later), as the intake
/// journals one when its millisecond clock moved (at ~1,000,000 messages/s); they are timed but
/// not counted as events. The same Aggregator path as `ingest` (JSON) and taktd.
func benchSparkplug(_ args: [String]) {
    guard args.count >= 2, let days = Int64(args[1]), days > 0 else { fail("usage: sparkplug PLANT DAYS [REPS]") }
    var plant = loadPlant(args[0])
    if !plant.lines.contains(where: { $0.stations.contains { $0.sparkplug != nil } }) {
        for l in plant.lines.indices {
            let output = plant.lines[l].outputStationIndex
            for s in plant.lines[l].stations.indices {
                plant.lines[l].stations[s].sparkplug = SparkplugBinding(
                    group: plant.site, node: plant.lines[l].id, device: plant.lines[l].stations[s].id,
                    metrics: .init(good: "Production/Good", scrap: "Production/Scrap",
                                   energyKwh: s == output ? "Energy/Delivered" : nil, state: "Status/StateCode",
                                   cycleMs: "Cycle/LastMs"))
            }
        }
    }
    let reps = args.count > 2 ? Int(args[2]) ?? 5 : 5
    let now = nowMs()
    let durationMs = days * 86_400_000
    var engine = SimulationEngine(plant: plant, options: SimulationOptions(from: now - durationMs, durationMs: durationMs,
                                                                           seed: 7, dialect: .sparkplug))
    let topicBytes = engine.topics.map { Array($0.utf8) }
    var bytes: [UInt8] = []
    var topics: [Range<Int>] = []
    var payloads: [Range<Int>] = []
    var messages = 0
    var payloadBytes = 0
    func append(_ topic: [UInt8], _ payload: some Collection<UInt8>) {
        let t = bytes.count
        bytes.append(contentsOf: topic)
        let p = bytes.count
        bytes.append(contentsOf: payload)
        topics.append(t..<p)
        payloads.append(p..<bytes.count)
    }
    // The host clock is the intake's wall clock: the stream ends now, so it is never ahead of it.
    var clockMs = now
    let clockTopic = Array(Aggregator.clockTopic.utf8)
    append(clockTopic, Aggregator.clockPayload(clockMs))
    while !engine.finished {
        engine.fill(maxMessages: 4096, until: engine.options.end)
        for i in 0..<engine.batch.count {
            if messages > 0 && messages % 1000 == 0 {
                clockMs += 1
                append(clockTopic, Aggregator.clockPayload(clockMs))
            }
            append(topicBytes[Int(engine.batch.entries[i].topic)], engine.batch.payload(i))
            payloadBytes += engine.batch.payload(i).count
            messages += 1
        }
        engine.batch.removeAll()
    }
    guard engine.counts.control > 0, engine.counts.unit > 0 else {
        fail("\(args[0]) binds no station to a Sparkplug edge node (sparkplug: keys)")
    }
    let stream = Stream(bytes: bytes, topics: topics, payloads: payloads)
    let r = measureIngest(plant, stream, reps: reps, now: now, events: messages)
    let accepted = r.accepted - (stream.count - messages)  // the clock records are accepted too
    if accepted < messages - messages / 100 {
        FileHandle.standardError.write(Data("takt-bench: only \(accepted) of \(messages) Sparkplug messages accepted: not the measured path\n".utf8))
    }
    print("sparkplug_events \(messages)")
    print("sparkplug_births \(engine.counts.control)")
    print("sparkplug_payload_bytes_mean \(payloadBytes / max(1, messages))")
    print("sparkplug_accepted \(accepted)")
    print("sparkplug_reps \(reps)")
    print("sparkplug_events_per_s \(Int(median(r.ingest)))")
    print("sparkplug_events_per_s_all \(r.ingest.map { String(Int($0)) }.joined(separator: ","))")
    print("sparkplug_drain_events_per_s \(Int(median(r.withDrain)))")
}

/// CPU time of this process (user + system), seconds: what a commit costs the machine,
/// without the time it waits for the disk (the bench has one busy thread).
func threadCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

@inline(never)
func blackHole<T>(_ x: T) { withExtendedLifetime(x) {} }

/// Runs an async store call from this synchronous driver (the main thread is not one of the
/// cooperative pool's, so waiting here blocks nothing the call needs).
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, any Error>!
    Task {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try result.get()
}

// MARK: - commit

func benchCommit(_ args: [String]) {
    guard args.count >= 3 else { fail("usage: commit PLANT STREAM STORE [EVERY]") }
    let plant = loadPlant(args[0])
    let stream = Stream(path: args[1])
    let path = args[2]
    let every = args.count > 3 ? Int(args[3]) ?? 10_000 : 10_000
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    let store: SQLiteRollupStore
    do { store = try SQLiteRollupStore(path: path) } catch { fail("\(error)") }
    var agg: Aggregator
    do { agg = try Aggregator(plants: [plant]) } catch { fail("\(error)") }
    let now = nowMs()
    let clock = ContinuousClock()
    var commitTimes: [Double] = []
    var commitCPUTimes: [Double] = []
    var drainTimes: [Double] = []
    var snapshotBytes = 0
    var updates = 0
    var offset: Int64 = 0
    var sinceCommit = 0
    func commit() {
        let t0 = clock.now
        let batch = agg.drainCommit(journalOffset: offset)
        let t1 = clock.now
        let cpu1 = threadCPUSeconds()
        do { blackHole(try blocking { try await store.commit(batch, returning: .outputStations) }) } catch { fail("commit: \(error)") }
        let cpu2 = threadCPUSeconds()
        let t2 = clock.now
        drainTimes.append(seconds(t1 - t0))
        commitTimes.append(seconds(t2 - t1))
        commitCPUTimes.append(cpu2 - cpu1)
        updates += batch.updates.count
        for s in batch.stations { snapshotBytes += s.dedup.count + (s.timeline?.count ?? 0) }
    }
    stream.forEach { _, t, p in
        _ = agg.ingest(topic: t, payload: p, now: now)
        offset += Int64(6 + t.count + p.count)
        sinceCommit += 1
        if sinceCommit == every {
            commit()
            sinceCommit = 0
        }
    }
    let full = commitTimes.count
    if sinceCommit > 0 { commit() }
    try? store.close()
    let fullCommits = Array(commitTimes.prefix(full))
    print("events \(stream.count)")
    print("events_per_commit \(every)")
    print("commits \(commitTimes.count)")
    print("commit_ms_median \(String(format: "%.2f", median(fullCommits) * 1000))")
    print("commit_ms_mean \(String(format: "%.2f", fullCommits.reduce(0, +) / Double(max(1, full)) * 1000))")
    print("commit_cpu_ms_median \(String(format: "%.2f", median(Array(commitCPUTimes.prefix(full))) * 1000))")
    print("drain_ms_median \(String(format: "%.2f", median(Array(drainTimes.prefix(full))) * 1000))")
    print("row_updates_per_commit \(updates / max(1, commitTimes.count))")
    print("snapshot_bytes_per_commit \(snapshotBytes / max(1, commitTimes.count))")
}

// MARK: - fill-year

/// A year of 1h and 1d rows for every station of the plant, as a daemon that ran all year
/// would have written them (1m rows are not read by `takt plan`: its queries use the partial
/// output-station index on (site, tier, start)).
func fillYear(_ args: [String]) {
    guard args.count >= 3, let year = Int(args[2]) else { fail("usage: fill-year PLANT STORE YEAR") }
    let plant = loadPlant(args[0])
    let path = args[1]
    for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    let store: SQLiteRollupStore
    do { store = try SQLiteRollupStore(path: path) } catch { fail("\(error)") }
    let cal = WindowCalendar(timeZone: plant.timeZone)
    var gregorian = Calendar(identifier: .gregorian)
    gregorian.timeZone = plant.timeZone
    let start = Int64(gregorian.date(from: DateComponents(year: year, month: 1, day: 1))!.timeIntervalSince1970 * 1000)
    let end = Int64(gregorian.date(from: DateComponents(year: year + 1, month: 1, day: 1))!.timeIntervalSince1970 * 1000)
    var rng = SystemRandomNumberGenerator()
    var batch: [WindowUpdate] = []
    var rows = 0
    let clock = ContinuousClock()
    let t0 = clock.now
    func flush() {
        do { let b = batch; _ = try blocking { try await store.commit(CommitBatch(updates: b, journalOffset: 0)) } } catch { fail("commit: \(error)") }
        rows += batch.count
        batch.removeAll(keepingCapacity: true)
    }
    for tier in [WindowTier.hour, .day] {
        var w = cal.window(containing: start, tier: tier)
        while w.start < end {
            let hours = Double(w.end - w.start) / 3_600_000
            for line in plant.lines {
                for st in line.stations {
                    let isOutput = st.id == line.outputStation
                    let ideal = isOutput ? line.idealCycleS : st.cycleS
                    let good = Int64(hours * 3600 / ideal * Double.random(in: 0.78...0.92, using: &rng))
                    let scrap = good / 200
                    let planned = Int64(hours * 3_600_000)
                    let run = Int64(Double(planned) * Double.random(in: 0.9...0.98, using: &rng))
                    var hist = CycleHistogram()
                    hist.add(Int(ideal * 1000))
                    let key = WindowKey(site: plant.site, line: line.id, station: st.id, tier: tier, start: w.start, end: w.end)
                    batch.append(WindowUpdate(key: key, good: good, scrap: scrap, energyKwh: Double(good) * line.unitKWh,
                                              unitMessages: good + scrap, cycle: hist, runMs: run, plannedMs: planned,
                                              idealCycleS: ideal, isOutputStation: isOutput))
                    if batch.count == 20_000 { flush() }
                }
            }
            w = cal.next(after: w, tier: tier)
        }
    }
    if !batch.isEmpty { flush() }
    try? store.close()
    print("rows \(rows)")
    print("fill_s \(String(format: "%.1f", seconds(clock.now - t0)))")
}

// MARK: - generators

func genPlant(_ args: [String]) {
    guard args.count == 4, let lines = Int(args[0]), let stations = Int(args[1]) else {
        fail("usage: gen-plant LINES STATIONS SITE OUT")
    }
    var y = "# Generated by takt-bench gen-plant: \(lines) lines × \(stations) stations.\n"
    y += "site: \(args[2])\ntimezone: Asia/Shanghai\ncalendar:\n  planned_hours_per_year: 8400\nlines:\n"
    for l in 1...lines {
        y += "  - id: line-\(String(format: "%04d", l))\n    product: cell\n    ideal_cycle_s: 6.0\n"
        y += "    unit_kwh: 0.4416\n    output_station: st\(stations)\n    stations:\n"
        for s in 1...stations { y += "      - {id: st\(s), cycle_s: 6.0}\n" }
    }
    do { try y.write(toFile: args[3], atomically: true, encoding: .utf8) } catch { fail("\(error)") }
}

/// The peak-RSS stream: for every station of PLANT, one state a day for 62 days, one state an
/// hour for the last 72 hours, and a unit message a minute (and a state every 10 minutes) for
/// the last 180 minutes: every tier's window count of the issue (1m × 180, 1h × 72, 1d × 62) is
/// touched, and the timelines hold what 35 days of `max_age` keep. In time order, ending now.
///
/// The sparse part reports state 30000 (unknown): a known state would give every station a row
/// for every minute of 62 days (contract: "a row for every window that holds time in a known
/// state"), 357 million rows, which measures the disk, not the daemon's memory.
func genRSS(_ args: [String]) {
    guard args.count == 2 else { fail("usage: gen-rss PLANT OUT") }
    let plant = loadPlant(args[0])
    let end = nowMs() / 60_000 * 60_000 - 60_000
    let day: Int64 = 86_400_000, hour: Int64 = 3_600_000, minute: Int64 = 60_000
    var ticks: [(ts: Int64, kind: Int)] = []  // 0 unknown state, 1 unit, 2 known state
    var t = end - 62 * day
    while t < end - 72 * hour { ticks.append((t, 0)); t += day }
    t = end - 72 * hour
    while t < end - 180 * minute { ticks.append((t, 0)); t += hour }
    t = end - 180 * minute
    while t < end {
        ticks.append((t, 1))
        if (t / minute) % 10 == 0 { ticks.append((t + 1, 2)) }
        t += minute
    }
    var seqs = [Int](repeating: 0, count: plant.lines.reduce(0) { $0 + $1.stations.count })
    var written = 0
    var out = [UInt8]()
    out.reserveCapacity(ticks.count * plant.lines.count * 4 * 130)
    for (k, tick) in ticks.enumerated() {
        var i = 0
        for line in plant.lines {
            for st in line.stations {
                let seq = seqs[i]
                seqs[i] += 1
                i += 1
                let topic = "takt/v1/\(plant.site)/\(line.id)/\(st.id)/\(tick.kind == 1 ? "unit" : "state")"
                let payload = tick.kind == 1
                    ? "{\"ts\":\(tick.ts),\"seq\":\(seq),\"good\":10,\"scrap\":0,\"energy_kwh\":4.416,\"cycle_ms\":\(5900 + seq % 200)}"
                    : "{\"ts\":\(tick.ts),\"seq\":\(seq),\"state\":\(tick.kind == 0 ? 30000 : (k % 7 == 3 ? 180000 : 10000))}"
                out.append(contentsOf: topic.utf8)
                out.append(UInt8(ascii: "\t"))
                out.append(contentsOf: payload.utf8)
                out.append(UInt8(ascii: "\n"))
                written += 1
            }
        }
    }
    FileManager.default.createFile(atPath: args[1], contents: Data(out))
    print("messages \(written)")
}

// MARK: - main

/// The scenario planner's Monte Carlo on this thread: the plant's lines plus the scenario's new
/// ones, each with 28 history days (seeded, ±8 % a day and a bad week at 70 %), RUNS runs over
/// DAYS days; the base simulation alone and with the three levers, wall and CPU seconds.
func benchScenario(_ args: [String]) {
    guard args.count >= 4, let runs = Int(args[2]), let days = Int(args[3]) else {
        fail("usage: scenario PLANT SCENARIO RUNS DAYS [REPS]")
    }
    let reps = args.count > 4 ? Int(args[4]) ?? 3 : 3
    let plant = loadPlant(args[0])
    let text = (try? String(contentsOfFile: args[1], encoding: .utf8)) ?? ""
    let scenario: Scenario
    do { scenario = try Scenario.load(yaml: text, fileName: args[1], plant: plant) } catch { fail("\(error)") }
    var rng = SeededRandom(seed: 2026)
    let start = CivilDay(year: 2026, month: 12, day: 1)!
    var history: [String: [DaySample]] = [:]
    for line in plant.lines {
        history[line.id] = (0..<28).map { d in
            let bad = (7..<14).contains(d) ? 0.7 : 1.0
            let f = bad * (0.92 + 0.16 * Double(rng.next() >> 11) / Double(UInt64(1) << 53))
            let good = Int64(86_400 / line.idealCycleS * 0.9 * f)
            return DaySample(day: start + (d - 28), good: good, energyKwh: Double(good) * line.unitKWh,
                             runS: 86_400 * 0.9 * f, plannedS: 86_400)
        }
    }
    var base: [Double] = [], all: [Double] = [], cpuBase: [Double] = [], cpuAll: [Double] = []
    var lines = 0
    for _ in 0..<reps {
        for levers in [false, true] {
            let input = ScenarioInput(plant: plant, scenario: scenario, start: start, history: history, runs: runs, seed: 1,
                                      horizonDays: days, levers: levers)
            let cpu0 = threadCPUSeconds()
            let t0 = ContinuousClock.now
            let plan: ScenarioPlan
            do { plan = try ScenarioPlanner.plan(input) } catch { fail("\(error)") }
            let wall = seconds(ContinuousClock.now - t0), cpu = threadCPUSeconds() - cpu0
            blackHole(plan)
            lines = plan.lines.count
            if levers { all.append(wall); cpuAll.append(cpu) } else { base.append(wall); cpuBase.append(cpu) }
        }
    }
    print("scenario_lines \(lines)")
    print("scenario_runs \(runs)")
    print("scenario_days \(days)")
    print("scenario_s \(String(format: "%.3f", median(base)))")
    print("scenario_cpu_s \(String(format: "%.3f", median(cpuBase)))")
    print("scenario_levers_s \(String(format: "%.3f", median(all)))")
    print("scenario_levers_cpu_s \(String(format: "%.3f", median(cpuAll)))")
}

var argv = Array(CommandLine.arguments.dropFirst())
guard let command = argv.first else { fail("usage: takt-bench ingest|sparkplug|commit|fill-year|gen-plant|gen-rss|scenario …") }
argv.removeFirst()
switch command {
case "ingest": benchIngest(argv)
case "sparkplug": benchSparkplug(argv)
case "commit": benchCommit(argv)
case "fill-year": fillYear(argv)
case "gen-plant": genPlant(argv)
case "gen-rss": genRSS(argv)
case "scenario": benchScenario(argv)
default: fail("unknown command '\(command)'")
}
