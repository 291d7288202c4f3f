import ArgumentParser
import TaktStore

/// `--store URL`, shared by the commands that read the store.
struct StoreOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The store: sqlite:PATH (or a bare path) or postgres://user:pass@host:port/db.", valueName: "url"))
    var store: String

    /// The parsed URL; a bad one is a ``UsageError`` naming `--store`.
    func url() throws(UsageError) -> StoreURL {
        do {
            return try StoreURL(parsing: store)
        } catch {
            throw UsageError(flag: "--store", error.description)
        }
    }
}
