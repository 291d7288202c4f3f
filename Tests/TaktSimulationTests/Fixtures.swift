import Foundation
import TaktCore
import TaktSimulation
import TestSupport

/// Paths and helpers the simulator tests share.
enum Fixtures {
    /// The package root.
    static var root: URL { TaktBinaries.packageRoot }

    static func plant(_ name: String) throws -> Plant {
        let url = root.appendingPathComponent("Config/\(name)")
        return try Plant.load(yaml: String(contentsOf: url, encoding: .utf8), fileName: name)
    }

    /// `.build/debug/takt-sim`, built by `swift build --build-tests`.
    static var simulatorBinary: URL { get throws { URL(fileURLWithPath: try TaktBinaries.path("takt-sim")) } }

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
        try TestProcess.temporaryDirectory("takt-sim-tests")
    }

    /// Runs `takt-sim` with `arguments` from the package root; returns exit status and stderr.
    static func runSimulator(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let run = try TaktBinaries.run("takt-sim", arguments)
        return (run.status, run.stderr)
    }
}
