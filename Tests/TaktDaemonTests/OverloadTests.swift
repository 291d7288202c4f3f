import Foundation
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Overload: the daemon stalled (its store locked) while a publisher keeps going at full speed
/// against a broker whose queue for the daemon holds 1,000 messages.
@Suite("Overload: back-pressure reaches the broker", .serialized, .heavyweight)
struct OverloadTests {
    /// `VmHWM` (peak resident set, kB) of a process.
    static func peakRSSKB(_ pid: pid_t) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "")
    }

    @Test("a full-speed publisher against a stalled daemon and a 1,000-message broker queue: the daemon holds no backlog of its own (flat memory), counts every message the broker delivered exactly once, and exports the broker's drops")
    func stalledDaemonBrokerQueue() async throws {
        let broker = try await MosquittoBroker.start(.init(extraConfig: ["max_queued_messages 1000", "sys_interval 1"]))
        let harness = try await DaemonHarness.make(broker: broker)
        defer { harness.cleanUp() }
        let port = try freeLoopbackPort()
        let daemon = try harness.startDaemon(extra: ["--http", "127.0.0.1:\(port)"])
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        try await Task.sleep(for: .seconds(1))
        let baseline = try #require(Self.peakRSSKB(daemon.pid))

        // Stall the daemon: another process holds the store's write lock.
        let locker = try StoreLocker(store: "\(harness.dataDirectory)/takt.sqlite")
        // ~300,000 messages at full speed (QoS 1): far more than the broker may queue.
        let truth = try await harness.runSimulator(["--duration", "96h", "--seed", "51"])
        try locker.release()

        let published = try #require(((truth["messages"] as? [String: Any])?["published"] as? NSNumber)?.intValue)
        let metricsURL = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        func metric(_ name: String) async throws -> Double? {
            let (body, _) = try await URLSession.shared.data(from: metricsURL)
            return HTTPTests.sample(name, in: String(decoding: body, as: UTF8.self))
        }
        // Caught up once accepted + dropped accounts for every published message.
        var accepted = 0.0, dropped = 0.0
        let deadline = Date().addingTimeInterval(120)
        repeat {
            try await Task.sleep(for: .seconds(1))
            accepted = try await metric(#"takt_messages_accepted_total{site="demo"}"#) ?? 0
            dropped = try await metric("takt_broker_dropped_messages") ?? 0
        } while Int(accepted + dropped) < published && Date() < deadline
        // …and has stopped counting (the broker's figure also holds a few drops of its own).
        var settled = -1.0
        while settled != accepted && Date() < deadline {
            settled = accepted
            try await Task.sleep(for: .seconds(2))
            accepted = try await metric(#"takt_messages_accepted_total{site="demo"}"#) ?? 0
        }
        dropped = try await metric("takt_broker_dropped_messages") ?? 0
        #expect(dropped > 0, "the broker never had to drop: the test did not overload it")
        // Every published message was counted or dropped by the broker. The broker's count also
        // holds drops of the daemon's own outbound messages (its intake hears takt/v1/#), so it
        // may exceed the difference by a few.
        #expect(Int(accepted) <= published && Int(accepted) + Int(dropped) >= published,
                "accepted \(accepted), dropped \(dropped), published \(published)")
        #expect(Int(accepted) + Int(dropped) - published < 1_000, "the broker dropped far more than the device messages lost")
        #expect(try await metric(#"takt_messages_duplicate_total{site="demo"}"#) == 0)
        let peak = try #require(Self.peakRSSKB(daemon.pid))
        #expect(peak < baseline + 64 * 1024, "peak RSS \(peak) kB against \(baseline) kB before the overload")
        #expect(harness.log("taktd.log").contains("the broker dropped"))
    }

    @Test("the same overload against a broker queue sized for an outage (as Config/mosquitto.conf): nothing lost, the rollups equal the truth, memory flat")
    func stalledDaemonNothingLost() async throws {
        let harness = try await DaemonHarness.make()
        defer { harness.cleanUp() }
        let daemon = try harness.startDaemon()
        defer { daemon.terminate() }
        _ = try await harness.waitUntilOnline()
        try await Task.sleep(for: .seconds(1))
        let baseline = try #require(Self.peakRSSKB(daemon.pid))
        let locker = try StoreLocker(store: "\(harness.dataDirectory)/takt.sqlite")
        let truth = try await harness.runSimulator(["--duration", "96h", "--seed", "52"])
        try locker.release()
        let problems = try await harness.waitUntilCaughtUp(truth: truth, timeout: 180)
        #expect(problems.isEmpty, "\(problems.prefix(5))\n\(harness.log("taktd.log"))")
        let peak = try #require(Self.peakRSSKB(daemon.pid))
        #expect(peak < baseline + 64 * 1024, "peak RSS \(peak) kB against \(baseline) kB before the overload")
    }
}
