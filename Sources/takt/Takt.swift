import ArgumentParser
import Foundation
import TaktStore

/// `takt`: the command-line reader of Takt's store (contract section 5).
///
/// Exit codes: 0 success (and `--help`), 2 a usage error (one line on stderr naming the flag),
/// 1 a runtime failure (one line on stderr).
@main
struct Takt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "takt",
        abstract: "Reads Takt's production-line rollups.",
        discussion: "See docs/protocol.md section 5 and docs/store.md.",
        subcommands: [Query.self, Plan.self, Report.self, Store.self, Watch.self])

    /// Parses, runs, and maps every error to the contract's exit codes and one stderr line.
    static func main() async {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) == .success { exit(withError: error) }  // --help, --version
            fail(2, message(for: error))
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
        } catch let error as UsageError {
            fail(2, error.description)
        } catch let error as StoreError {
            fail(1, error.description)
        } catch {
            // ArgumentParser's own errors (help shown by a command without `run`, CleanExit,
            // ValidationError) keep their meaning; anything else is a runtime failure.
            switch exitCode(for: error) {
            case .success: exit(withError: error)
            case .validationFailure: fail(2, message(for: error))
            default: fail(1, message(for: error))
            }
        }
    }

    /// Prints the first line of `message` on stderr, prefixed `takt: `, and exits with `code`.
    static func fail(_ code: Int32, _ message: String) -> Never {
        let first = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? message
        let line = first.hasPrefix("Error: ") ? String(first.dropFirst("Error: ".count)) : first
        FileHandle.standardError.write(Data(("takt: " + line + "\n").utf8))
        Foundation.exit(code)
    }
}
