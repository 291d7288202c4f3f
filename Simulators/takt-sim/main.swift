import ArgumentParser
import Foundation
import TaktCore
import TaktSimulation

/// `takt-sim`: contract section 5. The work is in `TaktSimulation`; this file parses flags and
/// maps errors to exit codes (2: usage or config, one line naming the flag or key; 1: runtime).
struct TaktSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "takt-sim",
        abstract: "Simulates a plant's production lines and publishes their MQTT traffic, with exact ground truth.",
        discussion: """
            Publishes takt/v1/{site}/{line}/{station}/unit and .../state messages (docs/protocol.md sections 1-2) \
            for every station of the plant file, from a deterministic discrete-event simulation. \
            Same plant, seed and flags: the same messages, byte for byte. See docs/simulator.md.
            """)

    @Option(help: ArgumentHelp("The plant file (YAML, docs/protocol.md section 7).", valueName: "file"))
    var plant: String

    @Option(help: ArgumentHelp(
        "Broker to publish to, mqtt://host:port or mqtts://host:port (TLS; needs --ca-file); default mqtt://127.0.0.1:1883. The nodes of a clustered broker as a comma-separated list, tried in turn.",
        valueName: "url"))
    var broker: String?

    @Option(help: ArgumentHelp("Broker user name (the secure profile: the site id).", valueName: "name"))
    var username: String?

    @Option(help: ArgumentHelp("Broker password (visible in process listings: prefer --password-file).", valueName: "password"))
    var password: String?

    @Option(name: .customLong("password-file"),
            help: ArgumentHelp("Read the broker password from the first line of this file.", valueName: "file"))
    var passwordFile: String?

    @Option(name: .customLong("ca-file"),
            help: ArgumentHelp("PEM file of the CA that signed the broker's certificate (mqtts://).", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("Simulated seconds per wall second, or 'max' for no pacing.", valueName: "N|max"))
    var speed: String = "1"

    @Option(help: ArgumentHelp(
        "First simulated instant: ISO 8601 or epoch ms (default: now at --speed 1, else now - duration).",
        valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Simulated span: 90s, 15m, 8h, 30d.", valueName: "duration"))
    var duration: String = "1h"

    @Option(help: ArgumentHelp("Seed of the simulation's random numbers.", valueName: "n"))
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp("Write the exact expected totals (JSON) to this file at the end.", valueName: "file"))
    var truth: String?

    @Option(help: ArgumentHelp("Faults to inject, each a probability per message.", valueName: "dup=P,reorder=P,malformed=P,reboot=P,drop=P"))
    var faults: String?

    @Option(help: ArgumentHelp(
        "How stations speak: takt (JSON), sparkplug (stations with a sparkplug: binding as Sparkplug B edge nodes), umh (stations with a umh: asset as ia/ messages), mixed (each by its binding).",
        valueName: "takt|sparkplug|umh|mixed"))
    var dialect: String = "takt"

    @Option(help: ArgumentHelp("Write topic<TAB>payload lines to this file instead of publishing.", valueName: "file"))
    var out: String?

    @Option(help: ArgumentHelp("MQTT QoS of the publishes: 0 or 1.", valueName: "0|1"))
    var qos: Int = 1

    @Option(name: .customLong("client-id"), help: ArgumentHelp("MQTT client id (default takt-sim-{site}).", valueName: "id"))
    var clientID: String?

    /// Everything the flags mean, checked; throws ``SimulationUsageError`` or ``PlantFileError``.
    func settings() throws -> (plant: Plant, options: SimulationOptions, pace: SimulationRunner.Pace) {
        let text: String
        do {
            text = try String(contentsOfFile: plant, encoding: .utf8)
        } catch {
            throw SimulationUsageError(flag: "--plant", "cannot read '\(plant)': \((error as NSError).localizedDescription)")
        }
        let plantModel = try Plant.load(yaml: text, fileName: plant)
        let pace: SimulationRunner.Pace
        if speed == "max" {
            pace = .max
        } else if let factor = Double(speed), factor.isFinite, factor > 0 {
            pace = .factor(factor)
        } else {
            throw SimulationUsageError(flag: "--speed", "'\(speed)' is not a positive number or 'max'")
        }
        let durationMs = try FlagFormats.durationMs(duration, flag: "--duration")
        let start: Int64
        if let from {
            start = try FlagFormats.timeMs(from, flag: "--from")
        } else {
            let now = Int64((Date().timeIntervalSince1970 * 1000).rounded())
            start = pace == .factor(1) ? now : now - durationMs
        }
        let faultRates = try faults.map { try FaultRates.parse($0) } ?? FaultRates()
        guard let dialectChoice = SimulationDialect(rawValue: dialect) else {
            throw SimulationUsageError(flag: "--dialect", "'\(dialect)' is not one of takt, sparkplug, umh, mixed")
        }
        guard qos == 0 || qos == 1 else {
            throw SimulationUsageError(flag: "--qos", "'\(qos)' is not 0 or 1")
        }
        if out != nil, broker != nil {
            throw SimulationUsageError(flag: "--out", "writes to a file instead of publishing; drop --broker")
        }
        if out != nil, username != nil || password != nil || passwordFile != nil || caFile != nil {
            throw SimulationUsageError(flag: "--out", "writes to a file instead of publishing; drop the broker's credentials")
        }
        return (plantModel, SimulationOptions(from: start, durationMs: durationMs, seed: seed, faults: faultRates,
                                                     dialect: dialectChoice), pace)
    }

    /// `--username`, `--password` or `--password-file`, `--ca-file`, checked.
    func credentials() throws -> BrokerSink.Credentials {
        if password != nil, passwordFile != nil {
            throw SimulationUsageError(flag: "--password-file", "give --password or --password-file, not both")
        }
        var secret = password
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw SimulationUsageError(flag: "--password-file", "cannot read '\(passwordFile)'")
            }
            secret = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw SimulationUsageError(flag: "--ca-file", "cannot read '\(caFile)'")
        }
        return BrokerSink.Credentials(username: username, password: secret, caFile: caFile)
    }

    func run() async throws {
        let (plantModel, options, pace) = try settings()
        let brokerCredentials = out == nil ? try credentials() : BrokerSink.Credentials()
        // Open the outputs before the run, so a bad path is a usage error, not a lost run.
        let truthHandle: FileSink?
        do {
            truthHandle = try truth.map { try FileSink(path: $0) }
        } catch {
            throw SimulationUsageError(flag: "--truth", "\(error)")
        }
        var engine = SimulationEngine(plant: plantModel, options: options)
        let sink: any MessageSink
        if let out {
            do {
                sink = try FileSink(path: out)
            } catch {
                throw SimulationUsageError(flag: "--out", "\(error)")
            }
        } else {
            let brokerSink = try await BrokerSink.connect(
                url: broker ?? "mqtt://127.0.0.1:1883", clientID: clientID ?? "takt-sim-\(plantModel.site)", qos: qos,
                credentials: brokerCredentials, rebirths: engine.rebirths)  // the edge nodes answer NCMD Rebirth
            brokerSink.warnings.forEach { Self.printError("takt-sim: warning: \($0)") }
            sink = brokerSink
        }

        let stop = StopRequest()
        let signalSources = Self.onInterrupt { stop.request() }
        defer { signalSources.forEach { $0.cancel() } }
        let summary = try await SimulationRunner.run(&engine, into: sink, pace: pace, stop: stop) { progress in
            guard !progress.finished else { return }
            Self.printError(
                "takt-sim: sim \(FlagFormats.isoTime(progress.simTime))  \(progress.messages) msgs  "
                    + "\(Int(progress.rate)) msg/s  \(String(format: "%.1f", progress.fraction * 100))%")
        }
        if let truthHandle {
            try truthHandle.write(bytes: engine.truthJSON())
            try await truthHandle.finish()
        }
        let c = engine.counts
        Self.printError(
            "takt-sim: \(summary.interrupted ? "interrupted" : "done"): \(c.total) messages (unit \(c.unit), state \(c.state), duplicate \(c.duplicate), "
                + "malformed \(c.malformed); reorders \(c.reorders), reboots \(c.reboots)\(c.rebirths > 0 ? ", rebirths \(c.rebirths)" : "")) in "
                + "\(String(format: "%.2f", summary.elapsedSeconds)) s, \(Int(summary.rate)) msg/s; simulated "
                + "\(FlagFormats.isoTime(options.from)) to \(FlagFormats.isoTime(engine.simTime))")
    }

    /// SIGINT and SIGTERM end the run cleanly: publishes are flushed and the truth is written
    /// for what was sent.
    static func onInterrupt(_ handler: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        return [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            return source
        }
    }

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}

/// Prints one line on stderr and exits with `code`.
func exitWith(_ code: Int32, _ message: String) -> Never {
    let firstLine = message.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? message
    TaktSim.printError(firstLine.hasPrefix("takt-sim") ? firstLine : "takt-sim: \(firstLine)")
    exit(code)
}

// A parent may have started us with SIGINT/SIGTERM blocked (children spawned from dispatch
// threads inherit such a mask); unblock them on the main thread, before any other thread
// exists, or they would never arrive.
var interruptSignals = sigset_t()
sigemptyset(&interruptSignals)
sigaddset(&interruptSignals, SIGINT)
sigaddset(&interruptSignals, SIGTERM)
pthread_sigmask(SIG_UNBLOCK, &interruptSignals, nil)

let command: TaktSim
do {
    command = try TaktSim.parse()
} catch {
    if TaktSim.exitCode(for: error) == .success { TaktSim.exit(withError: error) }  // --help
    exitWith(2, TaktSim.message(for: error))
}
do {
    try await command.run()
} catch let error as SimulationUsageError {
    exitWith(2, error.description)
} catch let error as PlantFileError {
    exitWith(2, error.description)
} catch {
    exitWith(1, "\(error)")
}
