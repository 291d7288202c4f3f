#if canImport(Glibc)
import Glibc
#endif
import TaktFuzzing

/// Shrinks a failing case's steps (delta debugging), judging each candidate in a child process
/// (`takt-fuzz replay FILE --quiet`), so a trap is a verdict rather than the end of the run: a
/// candidate is kept when it fails the same way (the same check, or a crash by the same signal).
struct Minimizer {
    let seed: UInt64
    let profile: [String]
    let pid = getpid()

    func verdict(_ steps: [FuzzStep]) -> String {
        let file = "/tmp/takt-fuzz-try-\(pid).steps", out = "/tmp/takt-fuzz-try-\(pid).out"
        writeFile(file, StepFile.write(seed: seed, profile: profile, steps: steps))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ["takt-fuzz", "replay", file, "--quiet"]
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var child: pid_t = 0
        guard posix_spawn(&child, "/proc/self/exe", &actions, nil, &cargs, environ) == 0 else { return "spawn failed" }
        var status: Int32 = 0
        waitpid(child, &status, 0)
        if status & 0x7F != 0 { return "signal \(status & 0x7F)" }
        if (status >> 8) & 0xFF == 0 { return "pass" }
        let text = readFile(out) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("FAILED") }),
           let open = line.firstIndex(of: "["), let close = line[open...].firstIndex(of: "]") {
            return "check \(line[open...close])"
        }
        return "exit \((status >> 8) & 0xFF)"
    }

    func minimize(_ original: [FuzzStep]) -> [FuzzStep] {
        let target = verdict(original)
        say("failure to keep: \(target) (\(original.count) steps)")
        guard target != "pass" else { return original }
        var steps = original
        var n = 2
        var tries = 0
        while steps.count >= 2 {
            let chunk = (steps.count + n - 1) / n
            var reduced = false
            var start = 0
            while start < steps.count {
                var candidate = steps
                candidate.removeSubrange(start..<min(steps.count, start + chunk))
                tries += 1
                if verdict(candidate) == target {
                    steps = candidate
                    n = max(n - 1, 2)
                    reduced = true
                    say("  \(steps.count) steps (try \(tries))")
                    break
                }
                start += chunk
            }
            if !reduced {
                if chunk == 1 { break }
                n = min(steps.count, n * 2)
            }
        }
        return steps
    }
}
