import TaktCore

/// The contract's time and duration flags (section 5), parsed by TaktCore's `ContractTime` and
/// reported as usage errors that name the flag.
enum TimeFlags {
    /// ISO 8601 or epoch milliseconds → epoch ms.
    static func timeMs(_ text: String, flag: String) throws(UsageError) -> Int64 {
        do { return try ContractTime.epochMs(text) } catch { throw UsageError(flag: flag, error.description) }
    }

    /// `90s`, `15m`, `8h`, `30d` → milliseconds (> 0).
    static func durationMs(_ text: String, flag: String) throws(UsageError) -> Int64 {
        do { return try ContractTime.durationMs(text) } catch { throw UsageError(flag: flag, error.description) }
    }

    /// Epoch ms → `2026-11-01T00:00:00Z`.
    static func iso(_ ms: Int64) -> String { ContractTime.iso(ms) }
}
