/// The text form of a case's steps, for replaying and minimising by hand:
///
/// ```
/// seed 1234            # the case seed: plant and settings come from it
/// profile quick wider  # optional: the generator profile the seed was drawn with
/// msg 1764547200000 |takt/v1/s0/L0/st0/unit |{"ts":1,"seq":0}
/// drain
/// restart
/// ```
///
/// Topic and payload are written with ``escapeBytes(_:)`` after a `|` (so an empty one is `|`).
public enum StepFile {
    public static func write(seed: UInt64, profile: [String] = [], steps: [FuzzStep]) -> String {
        var out = "seed \(seed)\n"
        if !profile.isEmpty { out += "profile \(profile.joined(separator: " "))\n" }
        for s in steps {
            switch s {
            case .message(let t, let p, let now): out += "msg \(now) |\(escapeBytes(t)) |\(escapeBytes(p))\n"
            case .drain: out += "drain\n"
            case .restart: out += "restart\n"
            }
        }
        return out
    }

    /// Parses ``write(seed:steps:)`` output; `#` starts a comment.
    public static func read(_ text: String) -> (seed: UInt64, profile: [String], steps: [FuzzStep])? {
        var seed: UInt64? = nil
        var profile: [String] = []
        var steps: [FuzzStep] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = raw.hasPrefix("#") ? "" : raw
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let head = f.first else { continue }
            switch head {
            case "seed":
                guard f.count == 2, let v = UInt64(f[1]) else { return nil }
                seed = v
            case "profile": profile = f.dropFirst().map(String.init)
            case "drain": steps.append(.drain)
            case "restart": steps.append(.restart)
            case "msg":
                guard f.count == 4, let now = Int64(f[1]), f[2].hasPrefix("|"), f[3].hasPrefix("|"),
                      let t = unescapeBytes(f[2].dropFirst()), let p = unescapeBytes(f[3].dropFirst()) else { return nil }
                steps.append(.message(topic: t, payload: p, now: now))
            default: return nil
            }
        }
        guard let seed else { return nil }
        return (seed, profile, steps)
    }
}
