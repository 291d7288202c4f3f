import Foundation

/// The package's own built programs (`swift build --build-tests` builds them before the tests).
public enum TaktBinaries {
    /// The package root, found from this file's path.
    public static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Path of a built executable (`taktd`, `takt`, `takt-sim`) in the debug build folder.
    public static func path(_ name: String) throws -> String {
        let candidate = packageRoot.appendingPathComponent(".build/debug/\(name)").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestSupportError("\(candidate) is missing: run `swift build --build-tests` (make test does)")
        }
        return candidate
    }

    /// A file of the repository (`Config/plant-demo.yaml`, …).
    public static func file(_ relativePath: String) -> String {
        packageRoot.appendingPathComponent(relativePath).path
    }
}
