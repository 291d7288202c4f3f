import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server for tests, from Debian's package: its own cluster (`initdb`, about
/// half a second) in a temporary folder, on a free loopback port, trust authentication for the
/// role `takt`, stopped and removed by ``stop()`` (or when the object goes away).
///
/// `initdb` refuses to run as root: when the tests run as root, the server runs as the
/// `postgres` user the package created (`setpriv`, which execs without a fork, so signals reach
/// the postmaster itself). `fsync` is off: these tests restart and kill the server, they do not
/// test PostgreSQL's own crash safety.
public final class PostgresServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let lock = NSLock()
    private var process: ChildProcess?

    /// The binaries of the newest installed major version (`/usr/lib/postgresql/N/bin`).
    public static func binDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        guard let newest = versions.last else {
            throw TestSupportError("PostgreSQL is not installed (no \(root)/N/bin); make test installs it (scripts/install-deps.sh)")
        }
        return "\(root)/\(newest)/bin"
    }

    private init(port: Int, directory: URL) {
        self.port = port
        self.directory = directory
    }

    /// A new cluster, started and accepting connections, with an empty database `takt`.
    public static func start() async throws -> PostgresServer {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("takt-postgres-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let server = PostgresServer(port: try freeLoopbackPort(), directory: directory)
        try await offCooperativePool { try server.initialise() }
        try await server.launch()
        try await server.createDatabase("takt")
        return server
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// `postgres://takt@127.0.0.1:PORT/DATABASE?sslmode=disable`.
    public func url(database: String = "takt") -> String {
        "postgres://takt@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    public var logFile: String { directory.appendingPathComponent("postgres.log").path }

    /// Runs a server binary, as `postgres` when we are root.
    private func command(_ binary: String, _ arguments: [String]) throws -> (String, [String]) {
        let path = "\(try Self.binDirectory())/\(binary)"
        // No `--pdeathsig`: it fires when the spawning *thread* ends, and Swift's pool retires idle
        // threads — servers died under running tests in a CI dry run.
        guard geteuid() == 0 else { return (path, arguments) }
        return ("/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", path] + arguments)
    }

    private func initialise() throws {
        if geteuid() == 0 {
            _ = try TestProcess.run("/bin/chown", ["postgres:postgres", directory.path])
        }
        let (executable, arguments) = try command("initdb", ["-D", dataDirectory, "-U", "takt", "-A", "trust", "-N",
                                                             "-E", "UTF8", "--locale=C"])
        let child = try ChildProcess(executable, arguments, logFile: logFile)
        guard child.wait(timeout: 60) == 0 else {
            throw TestSupportError("initdb failed: \((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")")
        }
    }

    private func launch() async throws {
        let (executable, arguments) = try command("postgres", [
            "-D", dataDirectory, "-p", String(port), "-k", directory.path, "-c", "listen_addresses=127.0.0.1",
            "-c", "fsync=off", "-c", "max_connections=100", "-c", "shared_buffers=32MB",
        ])
        let process = try ChildProcess(executable, arguments, logFile: logFile)
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning {
                throw TestSupportError("postgres exited at start: \((try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")")
            }
            if canConnect(port: port), (try? await psql("SELECT 1", database: "postgres")) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning, canConnect(port: port) { return }
        stop()
        throw TestSupportError("postgres did not accept connections on port \(port) within 30 s")
    }

    /// Runs one SQL command through `psql` and returns its unaligned output (`-At`).
    @discardableResult
    public func psql(_ sql: String, database: String = "takt") async throws -> String {
        let port = port
        return try await offCooperativePool {
            try TestProcess.run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "takt", "-d", database,
                                                  "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], timeout: 60)
        }
    }

    /// Creates an empty database; returns its URL.
    @discardableResult
    public func createDatabase(_ name: String) async throws -> String {
        try await psql("CREATE DATABASE \"\(name)\"", database: "postgres")
        return url(database: name)
    }

    /// Fast shutdown (SIGINT: clients are disconnected, the server stops cleanly); returns at
    /// once and reaps the server on a thread of its own (a blocking wait here, in a `defer` on
    /// Swift's cooperative pool, starved the other suites on 2 cores).
    public func stop() {
        guard let running = takeProcess() else { return }
        running.signal(SIGINT)
        Thread.detachNewThread { Self.reap(running) }
    }

    /// Fast shutdown, returning once the server is gone (the wait runs off the cooperative pool).
    public func shutDown() async throws {
        guard let running = takeProcess() else { return }
        running.signal(SIGINT)
        try await offCooperativePool { Self.reap(running) }
    }

    /// Stops it and starts it again on the same port and data (the old one is gone before the
    /// new one starts; the wait runs off the cooperative pool).
    public func restart() async throws {
        try await shutDown()
        try await launch()
    }

    private func takeProcess() -> ChildProcess? {
        lock.withLock { () -> ChildProcess? in
            defer { process = nil }
            return process
        }
    }

    private static func reap(_ running: ChildProcess) {
        if running.wait(timeout: 20) == nil {
            running.signal(SIGKILL)
            running.wait(timeout: 5)
        }
    }

    public var isRunning: Bool {
        lock.withLock { process?.isRunning ?? false }
    }
}
