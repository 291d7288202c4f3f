import Foundation
import TaktCore

/// `--plant FILE` with `--site S`: reads and validates the plant file and checks that it is the
/// site asked for; every problem is a usage error naming the flag.
enum PlantFlag {
    static func load(_ path: String, site: String) throws(UsageError) -> Plant {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw UsageError(flag: "--plant", "cannot read '\(path)'")
        }
        let parsed: Plant
        do {
            parsed = try Plant.load(yaml: text, fileName: path)
        } catch {
            throw UsageError(flag: "--plant", error.description)
        }
        guard parsed.site == site else {
            throw UsageError(flag: "--site", "'\(site)' is not in the plant file '\(path)' (its site is '\(parsed.site)')")
        }
        return parsed
    }
}
