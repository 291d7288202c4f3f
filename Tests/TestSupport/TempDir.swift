import Foundation

/// A temporary directory, removed by ``remove()`` (tests call it in `defer`).
public struct TempDir: Sendable {
    public let url: URL

    /// Creates a fresh directory under the system's temporary directory.
    public init() throws {
        url = try TestProcess.temporaryDirectory("takt-store-tests")
    }

    /// The path of `name` inside the directory.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Length of a `1h` window, ms.
public let hourMs: Int64 = 3_600_000
