import Foundation
import TaktCore
import TaktSimulation

/// Paths and helpers the simulator tests share.
enum Fixtures {
    /// The package root (three levels above this file).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func plant(_ name: String) throws -> Plant {
        let url = root.appendingPathComponent("Config/\(name)")
        return try Plant.load(yaml: String(contentsOf: url, encoding: .utf8), fileName: name)
    }

    /// `.build/debug/takt-sim`, built by `swift build --build-tests`.
    static var simulatorBinary: URL { root.appendingPathComponent(".build/debug/takt-sim") }

    /// 2026-11-01T00:00:00Z.
    static let november1: Int64 = 1_793_491_200_000

    /// Runs the engine to its end into memory.
    static func simulate(_ plant: Plant, _ options: SimulationOptions) async throws -> (engine: SimulationEngine, stream: [UInt8]) {
        var engine = SimulationEngine(plant: plant, options: options)
        let sink = MemorySink()
        _ = try await SimulationRunner.run(&engine, into: sink)
        return (engine, sink.bytes)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("takt-sim-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs `takt-sim` with `arguments`; returns exit status and stderr.
    static func runSimulator(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = simulatorBinary
        process.arguments = arguments
        process.currentDirectoryURL = root
        let errorPipe = Pipe()
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let data = errorPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
