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

extension TaktBinaries {
    /// How a program run by ``run(_:_:)`` ended: exit status and everything it printed.
    public struct Run: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs the built program `name` (`takt`, …) with `arguments` to completion: the one next to
    /// the test bundle (`swift build --build-tests` builds it there), else ``path(_:)``'s — in the
    /// package root, so relative paths like `Config/plant-demo.yaml` work.
    ///
    /// Blocks the calling thread until the program exits (`Process.waitUntilExit`).
    public static func run(_ name: String, _ arguments: [String]) throws -> Run {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
        let process = Process()
        process.executableURL = FileManager.default.isExecutableFile(atPath: besideTests.path)
            ? besideTests : URL(fileURLWithPath: try path(name))
        process.arguments = arguments
        process.currentDirectoryURL = packageRoot
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a large output cannot fill the pipe and block the child.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                   stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Chromium's binary, for the tests that render pages: `$TAKT_CHROMIUM`, or `chromium` /
    /// `chromium-browser` on the PATH; nil when none is installed.
    public static let chromium: String? = {
        if let path = ProcessInfo.processInfo.environment["TAKT_CHROMIUM"] { return path }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            for name in ["chromium", "chromium-browser"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }()
}
