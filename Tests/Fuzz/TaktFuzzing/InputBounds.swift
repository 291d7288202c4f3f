import TaktCore

/// The input bounds of contract section 8 that an ``AggregatorSettings`` carries, read by name
/// with `Mirror`, so this code compiles against TaktCore before and after issue 11 adds
/// `maxPastMs`, `maxSeqGap` and `maxBootGap` (wherever they live: directly on the settings or
/// one struct down, e.g. `dedupLimits.maxSeqGap`). `nil`: the setting does not exist, or is
/// 0 (off).
public struct InputBounds: Sendable, Equatable, CustomStringConvertible {
    public var maxPastMs: Int64?
    public var maxSeqGap: Int64?
    public var maxBootGap: Int64?
    public var maxStateChanges: Int64?

    public init(_ settings: AggregatorSettings) {
        var found: [String: Int64] = [:]
        Self.collect(Mirror(reflecting: settings), depth: 0, into: &found)
        func positive(_ k: String) -> Int64? { found[k].flatMap { $0 > 0 ? $0 : nil } }
        maxPastMs = positive("maxPastMs")
        maxSeqGap = positive("maxSeqGap")
        maxBootGap = positive("maxBootGap")
        maxStateChanges = positive("maxStateChanges")
    }

    private static func collect(_ m: Mirror, depth: Int, into found: inout [String: Int64]) {
        for child in m.children {
            guard let label = child.label else { continue }
            switch child.value {
            case let v as Int64: found[label] = v
            case let v as Int: found[label] = Int64(v)
            default: if depth < 2 { collect(Mirror(reflecting: child.value), depth: depth + 1, into: &found) }
            }
        }
    }

    /// `max_past` for the memory bound: the setting when the engine has it (and it is on),
    /// else the contract's intent (section 8, "Not yet") at the default `max_age` of 35 days,
    /// or `max_age` when that is longer.
    public func assumedMaxPastMs(_ settings: AggregatorSettings) -> Int64 {
        maxPastMs ?? max(settings.maxAgeMs, AggregatorSettings.defaultMaxAgeMs)
    }

    /// Whether TaktCore has the issue-11 bounds (every one of them on in these settings).
    public var complete: Bool { maxPastMs != nil && maxSeqGap != nil && maxBootGap != nil }

    public var description: String {
        func s(_ v: Int64?) -> String { v.map(String.init) ?? "absent" }
        return "max_past \(s(maxPastMs)) ms, max_seq_gap \(s(maxSeqGap)), max_boot_gap \(s(maxBootGap))"
    }
}

/// Builds the settings a case runs with, the issue-11 bounds (`max_past`, `max_seq_gap`,
/// `max_boot_gap`, `max_state_changes`) included.
public enum FuzzSettings {
    public static func make(maxAgeMs: Int64, maxPayloadBytes: Int, maxFutureS: Int64, dedupCapacity: Int, keepBoots: Int,
                            maxPastMs: Int64, maxSeqGap: Int64, maxBootGap: Int64, maxStateChanges: Int) -> AggregatorSettings {
        AggregatorSettings(maxAgeMs: maxAgeMs, maxPayloadBytes: maxPayloadBytes, maxFutureS: maxFutureS,
                           dedupCapacity: dedupCapacity, keepBoots: keepBoots, maxPastMs: maxPastMs,
                           dedupLimits: DedupLimits(maxSeqGap: maxSeqGap, maxBootGap: maxBootGap), maxStateChanges: maxStateChanges)
    }
}
