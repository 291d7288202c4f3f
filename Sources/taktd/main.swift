import ArgumentParser
import CTaktdStartup
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import UnixSignals
import TaktDaemon

/// `taktd [--config FILE] [flags]` — contract section 5. Flags override the file.
struct Taktd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "taktd",
        abstract: "Takt's MQTT ingest daemon: exactly-once windowed rollups of production-line events.",
        discussion: """
            Listens to takt/v1/# on the broker, journals every message before acknowledging it, \
            counts each (source, seq) once, aggregates 1m/1h/1d windows, commits them to the store \
            and republishes them (retained) on takt/v1/metrics/{site}/{line}/{window}. \
            SIGTERM or SIGINT: stop taking messages, write every open window, publish the offline \
            status and exit 0. Settings: Config/taktd.yaml documents every key.
            """,
        version: taktVersion)

    @Option(name: .long, help: "YAML settings file (see Config/taktd.yaml).")
    var config: String?
    @Option(name: .long, help: "Broker URL: mqtt://host:port or mqtts://host:port (default mqtt://127.0.0.1:1883); the nodes of a clustered broker as a comma-separated list, tried in turn.")
    var broker: String?
    @Option(name: .long, help: "Store URL: sqlite:PATH (default sqlite:{data-dir}/takt.sqlite) or postgres://user:pass@host:port/db.")
    var store: String?
    @Option(name: .long, help: "Plant file (repeatable, one site each).")
    var plant: [String] = []
    @Option(name: .long, help: "Directory for the journal and the default SQLite store (default ./data).")
    var dataDir: String?
    @Option(name: .long, help: "Instance name for status topics and the MQTT client id (default: host name).")
    var instance: String?
    @Option(name: .long, help: "HTTP API address (host:port or :port; GET /healthz, /metrics, /api/v1/windows), or 'off' (the default).")
    var http: String?

    func resolvedConfiguration() throws -> DaemonConfiguration {
        var configuration = DaemonConfiguration()
        if let config {
            guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
                throw DaemonConfigurationError("--config: cannot read '\(config)'")
            }
            configuration = try DaemonConfiguration.load(yaml: text, fileName: config)
        }
        if let broker { configuration.broker = broker }
        if let store { configuration.store = store }
        if !plant.isEmpty { configuration.plants = plant }
        if let dataDir { configuration.dataDirectory = dataDir }
        if let instance { configuration.instance = instance }
        if let http { configuration.http = http }
        return configuration
    }

    /// Runs the daemon; `shutdown` has trapped SIGTERM/SIGINT since the process began.
    func run(shutdown: ShutdownRequest) async throws {
        var logger = Logger(label: "taktd")
        logger.logLevel = .info
        let settings: DaemonSettings
        do {
            settings = try DaemonSettings(try resolvedConfiguration())
        } catch let error as DaemonConfigurationError {
            FileHandle.standardError.write(Data("taktd: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        let services: [ServiceGroupConfiguration.ServiceConfiguration]
        // The daemon object holds the data directory's lock: it must live until the group ends.
        let daemon: AnyObject
        do {
            if settings.sharesLines {
                // Several daemons on one PostgreSQL store (contract section 11): the lease
                // coordinator runs the pipeline for the lines it holds.
                let shared = try await SharedLinesDaemon.open(settings: settings, logger: logger)
                logger.info("lease owner \(shared.owner)")
                shared.bootstrapMetrics()
                services = [.init(service: shared, successTerminationBehavior: .gracefullyShutdownGroup)]
                daemon = shared
            } else {
                let single = try await Daemon.open(settings: settings, logger: logger)
                single.bootstrapMetrics()
                services = single.services()
                daemon = single
            }
        } catch let error as DaemonConfigurationError {
            FileHandle.standardError.write(Data("taktd: \(error.description)\n".utf8))
            throw ExitCode(2)
        } catch {
            FileHandle.standardError.write(Data("taktd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        defer { withExtendedLifetime(daemon) {} }
        // Signals go to the group through `shutdown` (a signal that came during start-up
        // shuts it down as soon as it runs), so the group traps none of its own.
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [], logger: logger))
        await shutdown.attach(group)
        do {
            try await group.run()
        } catch {
            FileHandle.standardError.write(Data("taktd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        logger.info("stopped cleanly")
    }
}

/// SIGTERM and SIGINT, trapped from the first instruction: a signal before the service group
/// exists is remembered and shuts the group down as soon as it is attached.
actor ShutdownRequest {
    private var group: ServiceGroup?
    private var requested = false

    /// Traps the signals now and forwards each to the group (or remembers it), including one
    /// the load-time handler noted before this (CTaktdStartup).
    static func trap() async -> ShutdownRequest {
        let request = ShutdownRequest()
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        Task {
            for await signal in signals {
                await request.signalled(signal)
            }
        }
        let early = takt_startup_signal_received()
        if early != 0 { await request.signalled(early == SIGINT ? .sigint : .sigterm) }
        return request
    }

    private func signalled(_ signal: UnixSignal) async {
        FileHandle.standardError.write(Data("taktd: \(signal), shutting down\n".utf8))
        requested = true
        await group?.triggerGracefulShutdown()
    }

    func attach(_ group: ServiceGroup) async {
        self.group = group
        if requested { await group.triggerGracefulShutdown() }
    }
}

// First: since load time (CTaktdStartup) a SIGTERM or SIGINT is noted, not fatal; from here on
// each is a clean shutdown (exit 0), even during start-up.
precondition(takt_startup_handler_installed() == 1, "CTaktdStartup's constructor did not run")
let shutdown = await ShutdownRequest.trap()

// glibc gives every thread that allocates its own malloc arena (up to 8 per core); the daemon's
// threads (network, pool, NIO) then each keep freed memory of their own. Two arenas keep the
// peak RSS of a 4,000-station plant down (docs/BENCHMARKS.md).
#if canImport(Glibc)
// mallopt(M_ARENA_MAX = -8, 2); Swift's Glibc module does not declare mallopt.
if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") {
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-8, 2)
}
#endif
LoggingSystem.bootstrap(StreamLogHandler.standardError)
do {
    let command = try Taktd.parseAsRoot()
    guard let daemonCommand = command as? Taktd else {
        // --help / --version are reported as errors with exit code 0 by parseAsRoot.
        throw CleanExit.message(Taktd.helpMessage())
    }
    try await daemonCommand.run(shutdown: shutdown)
} catch {
    // Contract section 5: usage errors exit 2 (ArgumentParser would use 64).
    let code = Taktd.exitCode(for: error)
    if code == .success || code.rawValue == 1 || code.rawValue == 2 {
        Taktd.exit(withError: error)
    }
    FileHandle.standardError.write(Data("taktd: \(Taktd.message(for: error))\n".utf8))
    exit(2)
}
