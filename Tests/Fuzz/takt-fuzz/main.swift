// takt-fuzz: the seeded stateful fuzzer over TaktCore's aggregator and decoders (issue 11).
//
//   takt-fuzz sequences N [--seed S] [--keep-going [--max-failures N]] [--max-messages M] [--flood-one-in K] [--wider] [--quick] [--slow SECONDS]
//                         [--step-limit SECONDS] [--max-memory-mb MB]
//   takt-fuzz decoders N [--seed S] [--keep-going]
//   takt-fuzz case CASESEED [--dump FILE] [--quiet]    one case, every step printed before it runs
//   takt-fuzz replay FILE [--quiet]                      the steps of a file (StepFile format)
//   takt-fuzz known NAME [--quiet]                        a minimised known case (KnownCases)
//   takt-fuzz minimize CASESEED|FILE [--out FILE]        shrink a failing case (child processes)
//
// One summary line per run; exit 1 on a failed check (seed and step printed), and a crash
// handler names the case and step of a trap. Deterministic: a case replays from its seed.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TaktCore
import TaktFuzzing

// MARK: Crash reporting

/// Preallocated: the handler must not allocate.
nonisolated(unsafe) let crashBuffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 512)
/// The handlers before ours (the Swift runtime's backtracer), put back once ours has written.
nonisolated(unsafe) let previousActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)

func installCrashHandler() {
    var sa = sigaction()
    sa.__sigaction_handler.sa_handler = { sig in
        var n = 0
        func put(_ s: StaticString) {
            let p = s.utf8Start
            for k in 0..<s.utf8CodeUnitCount where n < 500 { crashBuffer[n] = p[k]; n += 1 }
        }
        func num(_ v: UInt64) {
            var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
                (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            var x = v
            var k = 0
            withUnsafeMutableBytes(of: &digits) { d in
                repeat { d[k] = UInt8(48 + x % 10); x /= 10; k += 1 } while x > 0
                while k > 0 && n < 500 { k -= 1; crashBuffer[n] = d[k]; n += 1 }
            }
        }
        put("\ntakt-fuzz: CRASH (signal ")
        num(UInt64(sig))
        put(") in ")
        put(FuzzProgress.mode == 2 ? "decoders" : "sequences")
        put(" case seed ")
        num(FuzzProgress.caseSeed)
        put(" step ")
        if FuzzProgress.step >= 0 { num(UInt64(FuzzProgress.step)) } else { put("-") }
        put("; replay: takt-fuzz ")
        put(FuzzProgress.mode == 2 ? "decoders-case " : "case ")
        num(FuzzProgress.caseSeed)
        put("\n")
        _ = write(2, crashBuffer, n)
        // Returning re-runs the faulting instruction under the previous handler.
        sigaction(sig, previousActions + Int(sig), nil)
    }
    for s in [SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE] { sigaction(s, &sa, previousActions + Int(s)) }
}

func limitMemory(mb: Int) {
    var r = rlimit(rlim_cur: rlim_t(mb) << 20, rlim_max: rlim_t(mb) << 20)
    setrlimit(Int32(RLIMIT_AS.rawValue), &r)
}

// MARK: Output (write(2) at once: a trap right after must not lose a buffered line)

func say(_ s: String) {
    var line = s + "\n"
    line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}

func complain(_ s: String) {
    var line = s
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

// MARK: Arguments

nonisolated(unsafe) var args = Array(CommandLine.arguments.dropFirst())
func flag(_ name: String) -> Bool {
    if let k = args.firstIndex(of: name) { args.remove(at: k); return true }
    return false
}
func option(_ name: String) -> String? {
    guard let k = args.firstIndex(of: name), k + 1 < args.count else { return nil }
    let v = args[k + 1]
    args.removeSubrange(k...(k + 1))
    return v
}
func usage() -> Never {
    complain("""
        usage: takt-fuzz sequences N [--seed S] [--keep-going [--max-failures N]] [--max-messages M] [--flood-one-in K] [--wider] [--quick] [--slow SECONDS] [--step-limit S] [--max-memory-mb MB]
               takt-fuzz decoders N [--seed S] [--keep-going]
               takt-fuzz case CASESEED [--dump FILE] [--quiet]
               takt-fuzz decoders-case CASESEED
               takt-fuzz replay FILE [--quiet]
               takt-fuzz known NAME [--quiet]
               takt-fuzz minimize CASESEED|FILE [--out FILE]

        """)
    exit(2)
}
func fmt(_ x: Double) -> String {
    let v = (x * 1000).rounded() / 1000
    return "\(v)"
}
func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}
func writeFile(_ path: String, _ s: String) {
    guard let f = fopen(path, "w") else { complain("takt-fuzz: cannot write \(path)\n"); exit(2) }
    fputs(s, f)
    fclose(f)
}
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

installCrashHandler()
guard let command = args.first else { usage() }
args.removeFirst()
let keepGoing = flag("--keep-going")
let slowArg = option("--slow")
let maxFailures = option("--max-failures").flatMap { Int($0) } ?? 20
let quiet = flag("--quiet")
let wider = flag("--wider")
let seed = option("--seed").map { UInt64($0) ?? { usage() }() } ?? 11
let maxMemoryMB = option("--max-memory-mb").flatMap { Int($0) } ?? 4096
limitMemory(mb: maxMemoryMB)
let quick = flag("--quick")
var options = quick ? SequenceOptions.quick : SequenceOptions()
options.wider = wider
/// What a step file records so a replay draws the same plant and settings.
let profile = (quick ? ["quick"] : []) + (wider ? ["wider"] : [])
func options(profile: [String]) -> SequenceOptions {
    var o = profile.contains("quick") ? SequenceOptions.quick : SequenceOptions()
    o.wider = profile.contains("wider")
    return o
}
if let m = option("--max-messages").flatMap({ Int($0) }) { options.maxMessages = m }
if let k = option("--flood-one-in").flatMap({ Int($0) }) { options.floodOneIn = k }
nonisolated(unsafe) var runner = SequenceRunner()
if let s = option("--step-limit").flatMap({ Double($0) }) { runner.stepTimeLimit = s }

func report(_ stats: FuzzStats, mode: String, seconds: Double) -> Never {
    var line = "takt-fuzz \(mode): cases=\(stats.cases)"
    if mode == "sequences" {
        line += " messages=\(stats.messages) drains=\(stats.drains) restarts=\(stats.restarts) \(stats.outcomeSummary())"
        line += " max_updates_per_drain=\(stats.maxUpdatesPerDrain) max_timeline_bytes=\(stats.maxTimelineBytes)"
        line += " max_drain_s=\(fmt(stats.maxDrainSeconds)) max_ingest_s=\(fmt(stats.maxStepSeconds))"
    } else {
        line += " \(stats.outcomeSummary(okName: "decoded", withDuplicates: false)) topics_ok=\(stats.topicsOK) topics_bad=\(stats.topicsBad)"
    }
    line += " failures=\(stats.failures.count) seconds=\(fmt(seconds))"
    say(line)
    for f in stats.failures {
        say("\(f)")
        say("  replay: takt-fuzz \(mode == "sequences" ? "case" : "decoders-case") \(f.caseSeed)")
    }
    exit(stats.failures.isEmpty ? 0 : 1)
}

func runOne(_ c: SequenceCase, trace: Bool) -> Never {
    var r = runner
    if trace { r.trace = { say($0) } }
    var stats = FuzzStats()
    FuzzProgress.mode = 1
    FuzzProgress.caseSeed = c.seed
    say("case seed \(c.seed): \(c.plant.plants.count) sites, \(c.plant.stations.count) stations, \(c.steps.count) steps; "
          + "max_age \(c.settings.maxAgeMs) ms, max_future_s \(c.settings.payload.maxFutureS), max_payload_bytes \(c.settings.payload.maxPayloadBytes), "
          + "dedup \(c.settings.dedupCapacity) × \(c.settings.keepBoots) boots; \(InputBounds(c.settings))")
    for p in c.plant.plants {
        say("  site \(p.site) (\(p.timeZone.identifier)): " + p.lines.map { l in "\(l.id)[\(l.stations.map(\.id).joined(separator: ","))→\(l.outputStation)]" }.joined(separator: " "))
    }
    let t0 = now()
    if let f = r.run(c, stats: &stats) {
        say("\(f)")
        exit(1)
    }
    say("passed: \(stats.messages) messages, \(stats.drains) drains, \(stats.outcomeSummary()) in \(fmt(now() - t0)) s")
    exit(0)
}

switch command {
case "sequences", "decoders":
    guard let n = args.first.flatMap({ Int($0) }), n >= 0 else { usage() }
    let t0 = now()
    nonisolated(unsafe) var lastProgress = t0
    let progress: (FuzzStats, Int) -> Void = { s, k in
        let t = now()
        if t - lastProgress >= 30 {
            lastProgress = t
            complain("  … \(k) cases, \(s.messages) messages, \(fmt(t - t0)) s\n")
        }
    }
    if command == "sequences" {
        let slowest = slowArg.flatMap { Double($0) }
        let stats = FuzzRun.sequences(count: n, seed: seed, options: options, runner: runner, keepGoing: keepGoing, maxFailures: maxFailures, progress: progress,
                                      slow: slowest.map { limit in { s, t in if t > limit { say("slow case \(s): \(fmt(t)) s") } } })
        report(stats, mode: "sequences", seconds: now() - t0)
    } else {
        let stats = FuzzRun.decoders(count: n, seed: seed, keepGoing: keepGoing, maxFailures: maxFailures, progress: progress)
        report(stats, mode: "decoders", seconds: now() - t0)
    }

case "case":
    guard let s = args.first.flatMap({ UInt64($0) }) else { usage() }
    let c = SequenceGenerator.make(seed: s, options: options)
    if let path = option("--dump") { writeFile(path, StepFile.write(seed: s, profile: profile, steps: c.steps)) }
    runOne(c, trace: !quiet)

case "known":
    guard let name = args.first, let k = KnownCases.all.first(where: { $0.name == name }) else {
        complain("known cases: \(KnownCases.all.map(\.name).joined(separator: ", "))\n")
        exit(2)
    }
    runOne(k.make(), trace: !quiet)

case "decoders-case":
    guard let s = args.first.flatMap({ UInt64($0) }) else { usage() }
    var fuzzer = DecoderFuzzer()
    var stats = FuzzStats()
    FuzzProgress.mode = 2
    FuzzProgress.caseSeed = s
    if let f = fuzzer.run(seed: s, stats: &stats) { say("\(f)"); exit(1) }
    say("passed: \(stats.outcomeSummary(okName: "decoded", withDuplicates: false))")
    exit(0)

case "replay":
    guard let path = args.first, let text = readFile(path), let file = StepFile.read(text) else { usage() }
    var c = SequenceGenerator.make(seed: file.seed, options: options(profile: file.profile))
    c.steps = file.steps
    runOne(c, trace: !quiet)

case "minimize":
    guard let what = args.first else { usage() }
    let out = option("--out") ?? "/tmp/takt-fuzz-min.steps"
    var caseSeed: UInt64
    var steps: [FuzzStep]
    var caseProfile = profile
    if let s = UInt64(what) {
        caseSeed = s
        steps = SequenceGenerator.make(seed: s, options: options).steps
    } else if let text = readFile(what), let file = StepFile.read(text) {
        caseSeed = file.seed
        steps = file.steps
        caseProfile = file.profile
    } else {
        usage()
    }
    let minimized = Minimizer(seed: caseSeed, profile: caseProfile).minimize(steps)
    writeFile(out, StepFile.write(seed: caseSeed, profile: caseProfile, steps: minimized))
    say("minimized to \(minimized.count) steps: \(out)")
    exit(0)

default:
    usage()
}
