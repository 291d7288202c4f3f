import Foundation
import MQTT

#if canImport(Glibc)
import Glibc
#endif

/// A real clustered broker for tests: `nodes` NATS servers (Debian's `nats-server`, 2.9) routed
/// into one cluster with JetStream and the MQTT interface on, each with its own free loopback
/// ports (client, route, MQTT) and JetStream directory in a temporary directory. `start` returns
/// once every node accepts MQTT connections and the account's MQTT streams exist; `kill(_:)`
/// takes a node down hard, `restart(_:)` brings it back on the same ports and store;
/// `stop()` (and deinit) ends every node.
///
/// NATS's MQTT interface keeps sessions, QoS 1 messages and retained messages in JetStream
/// streams, replicated to min(3, nodes) servers: a persistent session is the same on every node.
/// It needs JetStream and a `server_name` on each node (docs/deploy.md).
public final class NATSCluster: @unchecked Sendable {
    /// One server of the cluster.
    public struct Node: Sendable {
        public let name: String
        public let clientPort: Int
        public let routePort: Int
        public let mqttPort: Int
        /// `mqtt://127.0.0.1:PORT` of this node's MQTT interface.
        public var url: String { "mqtt://127.0.0.1:\(mqttPort)" }
    }

    public let nodes: [Node]
    public let directory: URL
    /// More lines for every node's `mqtt { }` block (e.g. `ack_wait: "5s"`).
    public let mqttOptions: [String]
    private let lock = NSLock()
    private var processes: [ChildProcess?]

    /// Every node's URL, comma-separated, node 0 first: what `taktd --broker` and
    /// `takt-sim --broker` are given.
    public var url: String { nodes.map(\.url).joined(separator: ",") }

    private init(nodes: [Node], directory: URL, mqttOptions: [String]) {
        self.nodes = nodes
        self.directory = directory
        self.mqttOptions = mqttOptions
        self.processes = Array(repeating: nil, count: nodes.count)
    }

    /// Starts the cluster and waits (up to `timeout` seconds) until it serves MQTT on every node.
    public static func start(nodes count: Int = 3, mqttOptions: [String] = [], timeout: Double = 180) async throws -> NATSCluster {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("takt-nats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var nodes: [Node] = []
        var taken: Set<Int> = []
        func port() throws -> Int {
            // The kernel may hand the same free port out twice in a row: keep the nine distinct.
            for _ in 0..<20 {
                let candidate = try freeLoopbackPort()
                if taken.insert(candidate).inserted { return candidate }
            }
            throw TestSupportError("no distinct free loopback port")
        }
        for i in 1...count {
            nodes.append(Node(name: "n\(i)", clientPort: try port(), routePort: try port(), mqttPort: try port()))
        }
        let cluster = NATSCluster(nodes: nodes, directory: directory, mqttOptions: mqttOptions)
        do {
            for i in nodes.indices {
                try cluster.writeConfig(i)
                try cluster.launch(i)
            }
            try await cluster.waitUntilServing(timeout: timeout)
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Ends every node (SIGTERM, SIGKILL after 5 s) and waits for each.
    public func stop() {
        let running = lock.withLock {
            defer { processes = Array(repeating: nil, count: processes.count) }
            return processes
        }
        for process in running { process?.signal(SIGTERM) }
        for process in running { process?.terminate() }
    }

    /// Kills node `index` (SIGKILL: no goodbye to its routes or clients) and waits for it to end.
    public func kill(_ index: Int) {
        let running = lock.withLock {
            defer { processes[index] = nil }
            return processes[index]
        }
        running?.signal(SIGKILL)
        running?.wait(timeout: 10)
    }

    /// Starts node `index` again with its ports and JetStream directory; waits until it serves MQTT.
    public func restart(_ index: Int, timeout: Double = 60) async throws {
        kill(index)
        try launch(index)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if canConnect(port: nodes[index].mqttPort) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("nats-server \(nodes[index].name) did not listen again within \(timeout) s: \(log(index))")
    }

    public func isRunning(_ index: Int) -> Bool {
        lock.withLock { processes[index]?.isRunning ?? false }
    }

    /// The last 4,000 characters of node `index`'s log.
    public func log(_ index: Int) -> String {
        let text = (try? String(contentsOf: logFile(index), encoding: .utf8)) ?? ""
        return String(text.suffix(4000))
    }

    public func logFile(_ index: Int) -> URL { directory.appendingPathComponent("\(nodes[index].name).log") }
    private func configFile(_ index: Int) -> URL { directory.appendingPathComponent("\(nodes[index].name).conf") }

    private func writeConfig(_ index: Int) throws {
        let node = nodes[index]
        let routes = nodes.map { "nats-route://127.0.0.1:\($0.routePort)" }.joined(separator: ", ")
        let lines = [
            "server_name: \(node.name)",
            "listen: 127.0.0.1:\(node.clientPort)",
            "jetstream { store_dir: \"\(directory.appendingPathComponent(node.name).path)\" }",
            "cluster {",
            "  name: takt-test",
            "  listen: 127.0.0.1:\(node.routePort)",
            "  routes: [\(routes)]",
            "}",
            "mqtt {",
            "  listen: 127.0.0.1:\(node.mqttPort)",
        ] + mqttOptions.map { "  \($0)" } + ["}"]
        try (lines.joined(separator: "\n") + "\n").write(to: configFile(index), atomically: true, encoding: .utf8)
    }

    private func launch(_ index: Int) throws {
        let process = try ChildProcess(try TestProcess.executable("nats-server"), ["-c", configFile(index).path],
                                       logFile: logFile(index).path)
        lock.withLock { processes[index] = process }
    }

    /// Every node listens for MQTT, then one MQTT connection per node gets its CONNACK. The first
    /// MQTT connection of an account creates its JetStream streams (R3: a meta leader must be
    /// elected first), which takes seconds on a loaded machine; no test should measure that.
    private func waitUntilServing(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        for index in nodes.indices {
            while !canConnect(port: nodes[index].mqttPort) {
                guard isRunning(index) else { throw TestSupportError("nats-server \(nodes[index].name) exited at start: \(log(index))") }
                guard Date() < deadline else { throw TestSupportError("nats-server \(nodes[index].name) did not listen within \(timeout) s") }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        for index in nodes.indices {
            var lastError: any Error = TestSupportError("no attempt")
            while true {
                guard Date() < deadline else {
                    throw TestSupportError("\(nodes[index].name) accepted no MQTT connection within \(timeout) s (\(lastError)): \(log(index))")
                }
                let client = MQTTClient(configuration: .init(broker: try MQTTBrokerURL(nodes[index].url), clientID: "takt-warm-up-\(index)"))
                do {
                    try await withTimeout(15, "CONNACK of \(nodes[index].name)") { try await client.connect() }
                    await client.closeAndWait()
                    break
                } catch {
                    lastError = error
                    client.close()
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
        }
    }
}
