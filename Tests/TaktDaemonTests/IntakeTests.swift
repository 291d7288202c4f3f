import Foundation
import Logging
import MQTT
import TaktCore
@testable import TaktDaemon
import Testing
import TestSupport

/// `Intake`: the network thread's hot path (journal + aggregate in place) and its hand-over of
/// drained batches to the committer.
@Suite("Intake (journal, aggregate, drain)", .ownThreads)
struct IntakeTests {
    /// One line `l` with output station `eol`, site `s`.
    static let plant = Plant(site: "s", timeZone: TimeZone(identifier: "UTC")!, plannedHoursPerYear: 8000, lines: [
        Plant.Line(id: "l", product: "p", idealCycleS: 6, unitKWh: 0.5, outputStation: "eol",
                   stations: [Plant.Station(id: "eol", cycleS: 6)]),
    ])
    static let t0: Int64 = 1_780_272_000_000

    struct Fixture {
        let directory: URL
        let journal: Journal
        let intake: Intake

        init(commitMaxEvents: Int, maxWait: TimeInterval = 5, plant: Plant = IntakeTests.plant,
             settings: AggregatorSettings = AggregatorSettings(maxPastMs: 0)) throws {
            directory = try TestProcess.temporaryDirectory("takt-intake")
            journal = try Journal(directory: directory, fsync: .never)
            intake = Intake(aggregator: try Aggregator(plants: [plant], settings: settings),
                            journal: journal, offset: 0,
                            sites: ["s"], commitMaxEvents: commitMaxEvents, maxWait: maxWait,
                            logger: Logger(label: "test"))
        }

        /// Hands one message to `Intake.receive` the way the MQTT client does (borrowed bytes).
        func receive(_ topic: String, _ payload: String, inBurst: Bool = true, qos: MQTTQoS = .atLeastOnce) {
            receive(topic, bytes: Array(payload.utf8), inBurst: inBurst, qos: qos)
        }

        /// Hands one Sparkplug message of node g1/n1 to `Intake.receive`.
        func sparkplug(_ type: SparkplugTopic.MessageType, _ payload: SparkplugPayload, inBurst: Bool = true) {
            receive(SparkplugTopic(group: "g1", type: type, node: "n1").text, bytes: payload.encoded(), inBurst: inBurst)
        }

        func receive(_ topic: String, bytes: [UInt8], inBurst: Bool = true, qos: MQTTQoS = .atLeastOnce) {
            var topic = topic
            topic.withUTF8 { t in
                bytes.withUnsafeBytes { p in
                    intake.receive(MQTTReceivedMessage(topic: UnsafeRawBufferPointer(t), payload: p,
                                                       qos: qos, retain: false, acknowledgedAfterBatch: inBurst))
                }
            }
        }

        func unit(_ seq: Int) { receive("takt/v1/s/l/eol/unit", "{\"ts\": \(IntakeTests.t0 + Int64(seq) * 6000), \"seq\": \(seq)}") }

        func remove() { try? FileManager.default.removeItem(at: directory) }
    }

    @Test("batches drain every commit_max_events, in order, each at the journal offset of its last message, its records written")
    func drainsInOrder() throws {
        let f = try Fixture(commitMaxEvents: 3)
        defer { f.remove() }
        for seq in 0..<3 { f.unit(seq) }
        // Drained on the network thread once 3 events are pending; the records are in the file.
        let first = try #require(f.intake.take(.queued))
        #expect(first.events == 3)
        let records = try f.journal.records(from: 0)
        #expect(records.count == 3)
        #expect(first.batch.journalOffset == records[2].endOffset)
        #expect(f.intake.take(.queued) == nil)

        for seq in 3..<5 { f.unit(seq) }
        #expect(f.intake.take(.queued) == nil, "2 < commit_max_events: nothing drained yet")
        #expect(f.intake.commitDue(maxDelay: .seconds(3600)) != .now, "inside a burst, before the interval")
        let rest = try #require(f.intake.take(.everything))
        #expect(rest.events == 2)
        let all = try f.journal.records(from: 0)
        #expect(all.count == 5, "a drain writes the buffered records first")
        #expect(rest.batch.journalOffset == all[4].endOffset)
        #expect(f.intake.take(.everything) == nil)
        let stats = f.intake.statistics()
        #expect(stats.sites.first?.accepted == 5)
        #expect(stats.journalOffset == all[4].endOffset && stats.pendingEvents == 0)
    }

    @Test("commit on idle: events pending are due once their burst ends (or at once outside a burst), not before; inside a burst at the oldest + maxDelay; a full batch at once")
    func dueWhenIdle() throws {
        let f = try Fixture(commitMaxEvents: 3)
        defer { f.remove() }
        let hour = Duration.seconds(3600)
        #expect(f.intake.commitDue(maxDelay: hour) == .nothing)
        f.unit(0)
        guard case .at(let latest) = f.intake.commitDue(maxDelay: hour) else {
            Issue.record("inside a burst the pending event waits for the burst's end")
            return
        }
        #expect(latest > .now + .seconds(3500))
        #expect(f.intake.commitDue(maxDelay: .zero) == .now, "the oldest event has waited maxDelay")
        f.intake.batchEnded()
        #expect(f.intake.commitDue(maxDelay: hour) == .now, "the burst ended: the intake is idle")
        #expect(f.intake.take(.everything)?.events == 1)
        #expect(f.intake.commitDue(maxDelay: hour) == .nothing)
        f.receive("takt/v1/s/l/eol/unit", "{\"ts\": \(IntakeTests.t0 + 6000), \"seq\": 1}", inBurst: false)
        #expect(f.intake.commitDue(maxDelay: hour) == .now, "a message outside a burst leaves the intake idle")
        for seq in 2...3 { f.unit(seq) }  // 3 pending: drained into the queue, mid-burst
        #expect(f.intake.commitDue(maxDelay: hour) == .now, "a full batch waits")
        #expect(f.intake.take(.queued)?.events == 3)
        #expect(f.intake.take(.everything) == nil)
    }

    @Test("a Sparkplug gap given up by the host's timer (tick) wakes the committer: what it applied is due now, with no other message to end a burst")
    func sparkplugTimeoutWakesCommitter() async throws {
        let binding = SparkplugBinding(group: "g1", node: "n1", metrics: .init(good: "Production/Good"))
        let plant = Plant(site: "s", timeZone: TimeZone(identifier: "UTC")!, plannedHoursPerYear: 8000, lines: [
            Plant.Line(id: "l", product: "p", idealCycleS: 6, unitKWh: 0.5, outputStation: "eol",
                       stations: [Plant.Station(id: "eol", cycleS: 6, sparkplug: binding)]),
        ])
        var settings = AggregatorSettings(maxPastMs: 0)
        settings.sparkplug.reorderTimeoutMs = 50
        let f = try Fixture(commitMaxEvents: 1_000, plant: plant, settings: settings)
        defer { f.remove() }
        let t = Self.t0
        f.sparkplug(.nbirth, SparkplugPayload(timestamp: t, seq: 0, metrics: [
            .init(name: "bdSeq", datatype: 8, value: .long(1)),
            .init(name: "Production/Good", alias: 1, timestamp: t, datatype: 8, value: .long(100))]))
        f.sparkplug(.ndata, SparkplugPayload(timestamp: t + 60_000, seq: 2, metrics: [.init(alias: 1, timestamp: t + 60_000, value: .long(101))]))
        f.intake.batchEnded()
        // The committer commits the burst (seq 2 still waits for seq 1) and goes back to sleep.
        #expect(f.intake.commitDue(maxDelay: .seconds(3600)) == .now)
        _ = try #require(f.intake.take(.everything))
        await f.intake.signal.wait(until: .now)
        #expect(f.intake.commitDue(maxDelay: .seconds(3600)) == .nothing && !f.intake.signal.isRaised)
        // Past the reorder timeout, the host's timer gives the gap up and applies seq 2.
        try await Task.sleep(for: .milliseconds(120))
        f.intake.tick()
        #expect(f.intake.signal.isRaised, "nothing else will end a burst: the tick must wake the committer")
        #expect(f.intake.commitDue(maxDelay: .seconds(3600)) == .now)
        let batch = try #require(f.intake.take(.everything))
        #expect(batch.batch.updates.contains { $0.key.tier == .minute && $0.good == 1 }, "the unit of seq 2: \(batch)")
    }

    @Test("quietAt: while a burst is read the intake is not quiet; after it ends, quiet once nothing more was read for the given time")
    func quietAfterBursts() async throws {
        let f = try Fixture(commitMaxEvents: 1_000)
        defer { f.remove() }
        let quiet = Duration.milliseconds(50)
        f.unit(0)  // inside a burst: never quiet before it ends
        try await Task.sleep(for: .milliseconds(80))
        #expect(f.intake.quietAt(after: quiet) > .now, "a burst is being read")
        f.intake.batchEnded()
        let ended = ContinuousClock.now
        let at = f.intake.quietAt(after: quiet)
        #expect(at > ended && at <= ended + quiet, "quiet 50 ms after the burst ended")
        try await Task.sleep(until: at + .milliseconds(5), clock: .continuous)
        #expect(f.intake.quietAt(after: quiet) <= .now)
        // A message outside a burst counts as activity too.
        f.unit(1)
        f.receive("takt/v1/s/l/eol/unit", "{\"ts\": \(Self.t0 + 12_000), \"seq\": 2}", inBurst: false)
        #expect(f.intake.quietAt(after: quiet) > .now)
    }

    @Test("dead letters travel with the batch that counts them; the daemon's own topics and $SYS are not journaled")
    func deadLettersAndFilter() throws {
        let f = try Fixture(commitMaxEvents: 100)
        defer { f.remove() }
        f.unit(0)
        f.receive("takt/v1/s/l/eol/unit", "{not json")
        f.receive("takt/v1/metrics/s/l/1m", "{}")
        f.receive("$SYS/broker/publish/messages/dropped", "0", qos: .atMostOnce)
        let batch = try #require(f.intake.take(.everything))
        #expect(batch.events == 2)
        #expect(batch.deadLetters.map(\.topic) == ["takt/v1/s/l/eol/unit"])
        #expect(try f.journal.records(from: 0).count == 2)
        #expect(f.intake.statistics().sites.first?.deadLetters == 1)
    }

    @Test("a message outside a burst is journaled before receive returns; one inside waits for batchEnded")
    func journalTiming() throws {
        let f = try Fixture(commitMaxEvents: 100)
        defer { f.remove() }
        f.receive("takt/v1/s/l/eol/unit", "{\"ts\": \(IntakeTests.t0), \"seq\": 0}", inBurst: false)
        #expect(try f.journal.records(from: 0).count == 1)
        f.unit(1)
        #expect(try f.journal.records(from: 0).count == 1, "buffered until the burst ends")
        f.intake.batchEnded()
        #expect(try f.journal.records(from: 0).count == 2)
    }

    @Test("with a batch waiting for the committer, batchEnded waits for it — but only up to maxWait, and not after finish()")
    func backPressure() async throws {
        let f = try Fixture(commitMaxEvents: 1, maxWait: 2)
        defer { f.remove() }
        f.unit(0)  // queued: the queue (1) is full
        let started = Date()
        f.intake.batchEnded()  // nobody takes: returns after maxWait
        #expect(Date().timeIntervalSince(started) >= 1.9)
        // Taken meanwhile: batchEnded returns once there is room.
        let taker = Task.detached {
            try await Task.sleep(for: .milliseconds(50))
            return f.intake.take(.queued)
        }
        f.intake.batchEnded()
        #expect(try await taker.value != nil)
        f.unit(1)
        f.intake.finish()
        let afterFinish = Date()
        f.intake.batchEnded()  // finished: never waits
        #expect(Date().timeIntervalSince(afterFinish) < 1.5, "waited for queue space after finish()")
        #expect(f.intake.take(.queued)?.events == 1)
    }
}
