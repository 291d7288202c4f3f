import Foundation
@testable import TaktDaemon
import Testing
import TestSupport

@Suite("Journal", .ownThreads)
struct JournalTests {
    @Test("records read back in order with the offsets appends returned, across reopen and segments")
    func roundTrip() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal")
        defer { try? FileManager.default.removeItem(at: directory) }
        var ends: [Int64] = []
        do {
            let journal = try Journal(directory: directory, fsync: .never, segmentBytes: 200)
            for i in 0..<50 {
                ends.append(try #require(journal.append(topic: "takt/v1/s/l/st/unit", payload: Array("{\"seq\":\(i)}".utf8))))
            }
            #expect(journal.endOffset == ends.last)
            journal.close()
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".log") }
        #expect(files.count > 1, "200-byte segments must roll over")
        let reopened = try Journal(directory: directory, fsync: .never, segmentBytes: 200)
        #expect(reopened.endOffset == ends.last)
        let all = try reopened.records(from: 0)
        #expect(all.map(\.endOffset) == ends)
        #expect(all.map { String(decoding: $0.payload, as: UTF8.self) } == (0..<50).map { "{\"seq\":\($0)}" })
        #expect(all.allSatisfy { String(decoding: $0.topic, as: UTF8.self) == "takt/v1/s/l/st/unit" })
        // From a committed offset: exactly the records after it.
        let tail = try reopened.records(from: ends[29])
        #expect(tail.map(\.endOffset) == Array(ends[30...]))
        // Releasing deletes whole segments before the offset, and reading past it still works.
        reopened.release(before: ends[40])
        let after = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".log") }
        #expect(after.count < files.count)
        #expect(try reopened.records(from: ends[40]).map(\.endOffset) == Array(ends[41...]))
    }

    @Test("buffered records reach the file only when written (writeBuffered, the next append or close), at the offsets they were given")
    func bufferedAppends() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-buffered")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory, fsync: .never)
        let a = try #require(journal.appendBuffered(topic: "t/a", payload: [1]))
        let b = try #require(journal.appendBuffered(topic: "t/b", payload: [2, 2]))
        #expect(a == Journal.recordSize(topicBytes: 3, payloadBytes: 1))
        #expect(b == a + Journal.recordSize(topicBytes: 3, payloadBytes: 2))
        #expect(journal.endOffset == b)
        #expect(try journal.records(from: 0).isEmpty, "buffered records must not be in the file yet")
        #expect(journal.writeBuffered())
        #expect(try journal.records(from: 0).map(\.endOffset) == [a, b])
        // An unbuffered append writes what is buffered before it, in order.
        let c = try #require(journal.appendBuffered(topic: "t/c", payload: [3]))
        let d = try #require(journal.append(topic: "t/d", payload: [4]))
        #expect(try journal.records(from: b).map(\.endOffset) == [c, d])
        // Close writes the rest.
        let e = try #require(journal.appendBuffered(topic: "t/e", payload: [5]))
        journal.close()
        let reopened = try Journal(directory: directory, fsync: .never)
        #expect(try reopened.records(from: 0).map { String(decoding: $0.topic, as: UTF8.self) } == ["t/a", "t/b", "t/c", "t/d", "t/e"])
        #expect(reopened.endOffset == e)
    }

    @Test("a write buffer past its limit is written on its own; segments still roll")
    func bufferLimit() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-limit")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory, fsync: .never, segmentBytes: 256 * 1024)
        let payload = [UInt8](repeating: 0x41, count: 64 * 1024)
        var ends: [Int64] = []
        for _ in 0..<(Journal.bufferLimit / payload.count + 2) {
            ends.append(try #require(journal.appendBuffered(topic: "t", payload: payload)))
        }
        let written = try journal.records(from: 0)
        #expect(!written.isEmpty && written.count < ends.count)
        #expect(written.map(\.endOffset) == Array(ends.prefix(written.count)))
        #expect(journal.writeBuffered())
        #expect(try journal.records(from: 0).map(\.endOffset) == ends)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".log") }
        #expect(files.count > 1)
    }

    @Test("release never deletes the open segment nor one that starts at or after it (a roll racing the directory listing)")
    func releaseKeepsNewSegments() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-release")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory, fsync: .never, segmentBytes: 100)
        var end: Int64 = 0
        for i in 0..<20 { end = try #require(journal.append(topic: "t/\(i)", payload: [UInt8](repeating: 1, count: 30))) }
        let before = try Journal.segments(in: directory)
        #expect(before.count > 2)
        // As if the network thread rolled to a new segment after `release` read the open one.
        let rolled = end + 1_000
        FileManager.default.createFile(atPath: Journal.path(directory, rolled), contents: Data())
        journal.release(before: Int64.max)
        let after = try Journal.segments(in: directory)
        #expect(after.contains(rolled), "a segment that starts after the open one was deleted")
        #expect(after.contains(before.last!), "the open segment was deleted")
        #expect(after.count == 2, "every closed segment before the open one is released: \(after)")
    }

    @Test("a torn record at the end (a crash inside write) is cut off when the journal opens")
    func tornTail() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-torn")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory, fsync: .never)
        let first = try #require(journal.append(topic: "a/b", payload: [1, 2, 3]))
        journal.close()
        let file = directory.appendingPathComponent(try #require(
            FileManager.default.contentsOfDirectory(atPath: directory.path).first { $0.hasSuffix(".log") }))
        let handle = try FileHandle(forWritingTo: file)
        handle.seekToEndOfFile()
        handle.write(Data([40, 0, 0, 0x80, 0, 0, 0, 0, 3, 0, 0x61]))  // claims 40 bytes, has 5
        try handle.close()
        let reopened = try Journal(directory: directory, fsync: .never)
        #expect(reopened.endOffset == first)
        let second = try #require(reopened.append(topic: "a/c", payload: [9]))
        #expect(try reopened.records(from: 0).map(\.endOffset) == [first, second])
    }

    /// Ten records of `payload(i)` in a fresh journal of one segment; returns their end offsets.
    static func tenRecords(_ directory: URL) throws -> [Int64] {
        let journal = try Journal(directory: directory, fsync: .never)
        defer { journal.close() }
        return try (0..<10).map { i in try #require(journal.append(topic: "t/\(i)", payload: Array("payload-\(i)".utf8))) }
    }

    static func segmentFile(_ directory: URL) throws -> URL {
        directory.appendingPathComponent(try #require(
            FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().first { $0.hasSuffix(".log") }))
    }

    /// Flips one bit of the segment at `offset`.
    static func flipBit(_ file: URL, at offset: Int64) throws {
        var bytes = try [UInt8](Data(contentsOf: file))
        bytes[Int(offset)] ^= 0x10
        try Data(bytes).write(to: file)
    }

    @Test("a bit flipped in a record in the middle of the newest segment: that record is skipped and reported, the rest is kept and read")
    func bitFlipInTheMiddle() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-flip")
        defer { try? FileManager.default.removeItem(at: directory) }
        let ends = try Self.tenRecords(directory)
        // A payload byte of record 4 (records are checksummed; version 1 journals had no check).
        try Self.flipBit(try Self.segmentFile(directory), at: ends[3] + 14)
        let reopened = try Journal(directory: directory, fsync: .never)
        #expect(reopened.endOffset == ends[9], "the segment after the damage must not be cut off")
        var reader = try reopened.reader(from: 0)
        var read: [Int64] = []
        while let record = try reader.next() { read.append(record.endOffset) }
        #expect(read == ends.enumerated().filter { $0.offset != 4 }.map(\.element))
        #expect(reader.damaged == [JournalReader.Damage(offset: ends[3], bytes: Int(ends[4] - ends[3]))])
    }

    @Test("a damaged length in an older segment: the stretch is skipped to the next valid record, not the rest of the segment")
    func damagedLengthInOlderSegment() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-len")
        defer { try? FileManager.default.removeItem(at: directory) }
        var ends: [Int64] = []
        do {
            let journal = try Journal(directory: directory, fsync: .never, segmentBytes: 300)
            for i in 0..<40 { ends.append(try #require(journal.append(topic: "t", payload: Array("record \(i)".utf8)))) }
            journal.close()
        }
        // The length field of record 2 (in the first segment, not the newest) claims 64 KB.
        try Self.flipBit(try Self.segmentFile(directory), at: ends[1] + 2)
        let reopened = try Journal(directory: directory, fsync: .never, segmentBytes: 300)
        var reader = try reopened.reader(from: 0)
        var read: [Int64] = []
        while let record = try reader.next() { read.append(record.endOffset) }
        #expect(read == ends.enumerated().filter { $0.offset != 2 }.map(\.element))
        #expect(reader.damaged.count == 1)
    }

    @Test("journals written before checksums (version 1 records) still read")
    func versionOneRecords() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-v1")
        defer { try? FileManager.default.removeItem(at: directory) }
        // [u32 body length][u16 topic length][topic][payload], as Takt wrote them before.
        var bytes: [UInt8] = []
        for (topic, payload) in [("a/b", "one"), ("c/d", "two")] {
            let body = 2 + topic.utf8.count + payload.utf8.count
            bytes += [UInt8(body), 0, 0, 0, UInt8(topic.utf8.count), 0] + Array(topic.utf8) + Array(payload.utf8)
        }
        try Data(bytes).write(to: directory.appendingPathComponent("journal-00000000000000000000.log"))
        let journal = try Journal(directory: directory, fsync: .never)
        #expect(journal.endOffset == Int64(bytes.count))
        let third = try #require(journal.append(topic: "e/f", payload: Array("three".utf8)))
        let records = try journal.records(from: 0)
        #expect(records.map { String(decoding: $0.payload, as: UTF8.self) } == ["one", "two", "three"])
        #expect(records.last?.endOffset == third)
    }

    @Test("journal segments are readable by the daemon's user only (0600)")
    func segmentMode() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-mode")
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try Self.tenRecords(directory)
        let attributes = try FileManager.default.attributesOfItem(atPath: try Self.segmentFile(directory).path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
    }

    @Test("a journal whose files were removed continues from the committed offset")
    func minimumOffset() throws {
        let directory = try TestProcess.temporaryDirectory("takt-journal-min")
        defer { try? FileManager.default.removeItem(at: directory) }
        let journal = try Journal(directory: directory, fsync: .always, minimumOffset: 1_000)
        #expect(journal.endOffset == 1_000)
        let end = try #require(journal.append(topic: "t", payload: [0]))
        #expect(end == 1_000 + Journal.recordSize(topicBytes: 1, payloadBytes: 1))
        #expect(try journal.records(from: 1_000).count == 1)
    }

    @Test("only device traffic is journaled: the daemon's own output and $SYS are not", arguments: [
        ("takt/v1/bishan/blade-01/eol/unit", true),
        ("takt/v1/bishan/blade-01/eol/bogus", true),
        ("takt/v1/", true),
        ("other/topic", true),
        ("takt/v1/metrics/bishan/blade-01/1m", false),
        ("takt/v1/deadletter", false),
        ("takt/v1/deadletterX/l/s/unit", true),
        ("takt/v1/metricsfoo/l/s/unit", true),
        ("takt/v1/status/taktd-a", false),
        ("$SYS/broker/publish/messages/dropped", false),
    ])
    func intakeFilter(topic: String, journaled: Bool) {
        #expect(IntakeFilter.isDeviceTraffic(topic) == journaled)
    }
}
