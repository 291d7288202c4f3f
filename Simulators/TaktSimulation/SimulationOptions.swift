import Foundation
import TaktCore

/// Probabilities of the faults `--faults` injects, each per real message (0 … 1).
public struct FaultRates: Sendable, Equatable {
    /// The message is published a second time, same bytes (same `seq`).
    public var duplicate: Double = 0
    /// The message is held back and published after the next one (neighbours swap).
    public var reorder: Double = 0
    /// After the message, garbage is published on a valid topic of the same station.
    public var malformed: Double = 0
    /// Before the message, the device restarts: `boot` + 1, `seq` from 0 (a Sparkplug edge
    /// node: NDEATH, then NBIRTH with `bdSeq` + 1 and `seq` 0).
    public var reboot: Double = 0
    /// Sparkplug only: a DATA message without a state change is not published (its `seq` is
    /// used up, so the host sees a gap; the cumulative counters carry its units to the next
    /// message of the node, and the truth moves them there too).
    public var drop: Double = 0

    public init(duplicate: Double = 0, reorder: Double = 0, malformed: Double = 0, reboot: Double = 0, drop: Double = 0) {
        self.duplicate = duplicate
        self.reorder = reorder
        self.malformed = malformed
        self.reboot = reboot
        self.drop = drop
    }

    public var isNone: Bool { duplicate == 0 && reorder == 0 && malformed == 0 && reboot == 0 && drop == 0 }

    /// Parses `dup=P,reorder=P,malformed=P,reboot=P` (any subset, any order).
    /// - Throws: ``SimulationUsageError`` naming the bad part.
    public static func parse(_ text: String) throws(SimulationUsageError) -> FaultRates {
        var rates = FaultRates()
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2 else {
                throw SimulationUsageError(flag: "--faults", "'\(part)' is not NAME=P (names: dup, reorder, malformed, reboot, drop)")
            }
            let name = pieces[0].trimmingCharacters(in: .whitespaces)
            guard let p = Double(pieces[1].trimmingCharacters(in: .whitespaces)), p >= 0, p <= 1 else {
                throw SimulationUsageError(flag: "--faults", "'\(part)': the probability must be a number from 0 to 1")
            }
            switch name {
            case "dup": rates.duplicate = p
            case "reorder": rates.reorder = p
            case "malformed": rates.malformed = p
            case "reboot": rates.reboot = p
            case "drop": rates.drop = p
            default:
                throw SimulationUsageError(flag: "--faults", "unknown fault '\(name)' (names: dup, reorder, malformed, reboot, drop)")
            }
        }
        return rates
    }
}

/// A bad flag or flag value; the CLI prints `description` as its one line and exits 2.
public struct SimulationUsageError: Error, Sendable, CustomStringConvertible {
    public var flag: String
    public var problem: String

    public init(flag: String, _ problem: String) {
        self.flag = flag
        self.problem = problem
    }

    public var description: String { "\(flag): \(problem)" }
}

/// How the simulated stations speak (`takt-sim --dialect`; docs/simulator.md).
public enum SimulationDialect: String, Sendable, CaseIterable {
    /// Takt's own JSON (`takt/v1/…`), every station.
    case takt
    /// Stations with a `sparkplug:` binding as Sparkplug B edge nodes; the rest JSON.
    case sparkplug
    /// Stations with a `umh:` asset as UMH `ia/` messages; the rest JSON.
    case umh
    /// Each station by its binding: `sparkplug:` first, then `umh:`, else JSON (one site whose
    /// lines use the three dialects together).
    case mixed
}

/// What to simulate: the span of simulated time, the seed and the faults.
public struct SimulationOptions: Sendable {
    /// First simulated instant, epoch ms.
    public var from: Int64
    /// Length of the run, ms; events at `from + duration` and later are not simulated.
    public var durationMs: Int64
    /// `--seed`.
    public var seed: UInt64
    public var faults: FaultRates
    /// `--dialect`.
    public var dialect: SimulationDialect

    public init(from: Int64, durationMs: Int64, seed: UInt64, faults: FaultRates = FaultRates(),
                dialect: SimulationDialect = .takt) {
        self.from = from
        self.durationMs = durationMs
        self.seed = seed
        self.faults = faults
        self.dialect = dialect
    }

    public var end: Int64 { from + durationMs }
}

/// The contract's flag formats (section 5), parsed by TaktCore's `ContractTime` and reported as
/// usage errors that name the flag.
public enum FlagFormats {
    /// `90s`, `15m`, `8h`, `30d` → milliseconds (> 0).
    public static func durationMs(_ text: String, flag: String) throws(SimulationUsageError) -> Int64 {
        do { return try ContractTime.durationMs(text) } catch { throw SimulationUsageError(flag: flag, error.description) }
    }

    /// ISO 8601 or epoch milliseconds → epoch ms.
    public static func timeMs(_ text: String, flag: String) throws(SimulationUsageError) -> Int64 {
        do { return try ContractTime.epochMs(text) } catch { throw SimulationUsageError(flag: flag, error.description) }
    }

    /// Epoch ms → `2026-11-01T00:00:00Z` (milliseconds dropped).
    public static func isoTime(_ ms: Int64) -> String { ContractTime.iso(ms) }
}
