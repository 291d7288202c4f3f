import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Mosquitto broker for tests: its own config, data directory and free loopback port,
/// started by the test and stopped after it. Persistence is on, queue limits are lifted so a
/// persistent session keeps every QoS 1 message, and `restart()` brings it back on the same port
/// with the same persistence file.
public final class MosquittoBroker: @unchecked Sendable {
    public struct Options: Sendable {
        /// Require this username and password (a password file made with `mosquitto_passwd`).
        public var credentials: (username: String, password: String)?
        /// Serve TLS with these PEM files instead of plain TCP.
        public var tls: (caFile: String, certFile: String, keyFile: String)?
        /// More `mosquitto.conf` lines.
        public var extraConfig: [String]
        /// A whole configuration of the caller's instead of the one above (a profile from
        /// `Config/`, rewritten for this broker): its lines for the broker's port and directory.
        /// `user root` is added when the tests run as root. `usesTLS` decides `url`'s scheme.
        public var customConfig: CustomConfig?

        public struct CustomConfig: Sendable {
            public var usesTLS: Bool
            public var lines: @Sendable (_ port: Int, _ directory: URL) throws -> [String]

            public init(usesTLS: Bool, lines: @escaping @Sendable (_ port: Int, _ directory: URL) throws -> [String]) {
                self.usesTLS = usesTLS
                self.lines = lines
            }
        }

        public init(credentials: (username: String, password: String)? = nil,
                    tls: (caFile: String, certFile: String, keyFile: String)? = nil,
                    extraConfig: [String] = [], customConfig: CustomConfig? = nil) {
            self.credentials = credentials
            self.tls = tls
            self.extraConfig = extraConfig
            self.customConfig = customConfig
        }
    }

    public let port: Int
    public let directory: URL
    public let options: Options
    private let lock = NSLock()
    private var process: ChildProcess?

    /// `mqtt://127.0.0.1:PORT` (or `mqtts://` with TLS).
    public var url: String {
        let tls = options.customConfig?.usesTLS ?? (options.tls != nil)
        return "\(tls ? "mqtts" : "mqtt")://127.0.0.1:\(port)"
    }

    private init(port: Int, directory: URL, options: Options) {
        self.port = port
        self.directory = directory
        self.options = options
    }

    /// Starts a broker on a free loopback port and waits until it accepts connections.
    public static func start(_ options: Options = Options()) async throws -> MosquittoBroker {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("takt-mosquitto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let broker = MosquittoBroker(port: try freeLoopbackPort(), directory: directory, options: options)
        try broker.writeConfig()
        try await broker.launch()
        return broker
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Stops the broker (SIGTERM, which makes it save its persistence file) and waits for it.
    public func stop() {
        lock.lock()
        let running = process
        process = nil
        lock.unlock()
        running?.terminate()
    }

    /// Kills the broker without letting it save anything (SIGKILL).
    public func kill() {
        lock.lock()
        let running = process
        process = nil
        lock.unlock()
        running?.signal(SIGKILL)
        running?.wait(timeout: 5)
    }

    /// Starts it again on the same port, with the same data directory.
    public func restart() async throws {
        stop()
        try await launch()
    }

    public var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return process?.isRunning ?? false
    }

    private var configFile: URL { directory.appendingPathComponent("mosquitto.conf") }
    public var logFile: URL { directory.appendingPathComponent("mosquitto.log") }

    private func writeConfig() throws {
        if let custom = options.customConfig {
            var lines = try custom.lines(port, directory)
            if geteuid() == 0 { lines.append("user root") }
            try (lines.joined(separator: "\n") + "\n").write(to: configFile, atomically: true, encoding: .utf8)
            return
        }
        var lines = [
            "listener \(port) 127.0.0.1",
            "persistence true",
            "persistence_location \(directory.path)/",
            "autosave_interval 1",
            "max_queued_messages 1000000",
            "max_inflight_messages 100",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
        ]
        if geteuid() == 0 { lines.append("user root") }
        if let credentials = options.credentials {
            let passwordFile = directory.appendingPathComponent("passwords")
            try TestProcess.run(TestProcess.executable("mosquitto_passwd"),
                                ["-b", "-c", passwordFile.path, credentials.username, credentials.password])
            lines += ["allow_anonymous false", "password_file \(passwordFile.path)"]
        } else {
            lines.append("allow_anonymous true")
        }
        if let tls = options.tls {
            lines += ["cafile \(tls.caFile)", "certfile \(tls.certFile)", "keyfile \(tls.keyFile)"]
        }
        lines += options.extraConfig
        try (lines.joined(separator: "\n") + "\n").write(to: configFile, atomically: true, encoding: .utf8)
    }

    private func launch() async throws {
        let process = try ChildProcess(try TestProcess.executable("mosquitto"), ["-c", configFile.path], logFile: logFile.path)
        lock.withLock { self.process = process }
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if !process.isRunning {
                let text = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
                throw TestSupportError("mosquitto exited at start (\(process.exitCode ?? -1)): \(text)")
            }
            if canConnect(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        // One last look: on a loaded 2-core run this task may have waited for a thread past the
        // deadline while the broker was up long since (CI saw trivial tests take 31 s to finish).
        if process.isRunning && canConnect(port: port) { return }
        stop()
        throw TestSupportError("mosquitto did not listen on port \(port) within 30 s")
    }
}

/// A failure of the test harness itself (not of the code under test).
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel's pick).
public func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestSupportError("socket() failed") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestSupportError("bind() failed") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// True when something accepts a TCP connection on 127.0.0.1:`port`.
public func canConnect(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = loopbackAddress(port: port)
    let rc = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    return rc == 0
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return address
}
