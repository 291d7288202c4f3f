import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The write-ahead journal: every message the daemon receives is appended here on libmosquitto's
/// thread *before* the message callback returns, and so before the broker gets its PUBACK. A
/// `write(2)` to the file survives a `kill -9` of the daemon (the kernel holds the data); `fsync`
/// adds survival of power loss, at the cost set by `FsyncPolicy`.
///
/// Records are `[u32 LE record length][u16 LE topic length][topic bytes][payload bytes]`, where
/// the record length counts everything after itself. Offsets are byte positions in one logical
/// stream cut into segment files `journal-<first offset, 20 digits>.log`; a new segment starts
/// when the current one passes `segmentBytes`, and segments wholly before the committed offset
/// are deleted (`release(before:)`). A torn record at the very end (a crash inside `write`) is
/// cut off when the journal is opened.
///
/// Appends of messages whose PUBACK waits for the end of a receive batch go to a write buffer
/// (`appendBuffered`) written with one `write(2)` per batch (`writeBuffered`) — still before any
/// of their PUBACKs reaches the socket.
///
/// Thread-safety: appends come from one thread (the network thread); `writeBuffered`, `release`
/// and the flush timer also from others. A mutex guards the file state.
public final class Journal: Sendable {
    public enum FsyncPolicy: Sendable, Equatable {
        /// fsync after every append (survives power loss; slowest).
        case always
        /// fsync at most every `milliseconds` (a background timer, and on close).
        case interval(milliseconds: Int)
        /// Never fsync (survives a process crash, not power loss).
        case never
    }

    public struct Record: Sendable, Equatable {
        public var topic: [UInt8]
        public var payload: [UInt8]
        /// Offset just past this record: the offset to commit once it is reflected in the store.
        public var endOffset: Int64
    }

    /// Bytes a record of this topic and payload takes in the journal.
    @inline(__always)
    public static func recordSize(topicBytes: Int, payloadBytes: Int) -> Int64 {
        Int64(4 + 2 + topicBytes + payloadBytes)
    }

    let directory: URL
    let segmentBytes: Int64
    let fsync: FsyncPolicy
    private let state: Mutex<FileState>

    struct FileState {
        var fd: Int32 = -1
        /// Offset of the first byte of the open segment.
        var segmentStart: Int64 = 0
        /// Offset just past the last appended record (buffered or written).
        var end: Int64 = 0
        var dirty = false
        var closed = false
        /// Records appended but not written yet (``appendBuffered(topic:payload:)``).
        var writeBuffer: [UInt8] = []
        var failure: String?
    }

    /// Opens (or creates) the journal in `directory`, cutting off a torn tail record. When the
    /// journal ends before `minimumOffset` (the offset the store last committed — the files were
    /// removed), it continues from there, so offsets never go back below a committed one.
    public init(directory: URL, fsync: FsyncPolicy = .interval(milliseconds: 100), segmentBytes: Int64 = 64 << 20,
                minimumOffset: Int64 = 0) throws {
        self.directory = directory
        self.fsync = fsync
        self.segmentBytes = segmentBytes
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var file = FileState()
        let segments = try Journal.segments(in: directory)
        if let last = segments.last {
            let path = Journal.path(directory, last)
            let validLength = try Journal.validLength(ofSegmentAt: path)
            guard truncate(path, off_t(validLength)) == 0 else {
                throw JournalError("cannot truncate \(path): \(String(cString: strerror(errno)))")
            }
            file.segmentStart = last
            file.end = last + validLength
            file.fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        } else {
            file.fd = open(Journal.path(directory, 0), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        }
        if file.fd >= 0 && file.end < minimumOffset {
            _ = Glibc.close(file.fd)
            file.segmentStart = minimumOffset
            file.end = minimumOffset
            file.fd = open(Journal.path(directory, minimumOffset), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        }
        guard file.fd >= 0 else {
            throw JournalError("cannot open the journal in \(directory.path): \(String(cString: strerror(errno)))")
        }
        file.writeBuffer.reserveCapacity(64 * 1024)
        state = Mutex(file)
    }

    deinit {
        close()
    }

    /// Offset just past the last appended record.
    public var endOffset: Int64 { state.withLock { $0.end } }

    /// The first error that stopped appends, if any (disk full, …); the daemon reports it and
    /// stops acknowledging.
    public var failure: String? { state.withLock { $0.failure } }

    /// Appends one record and writes it, with whatever is buffered before it, in one
    /// `write(2)`. Returns the offset just past it, or nil when the write failed (then `failure`
    /// says why).
    @discardableResult
    public func append(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Int64? {
        state.withLock { s in
            guard let end = buffer(&s, topic: topic, payload: payload) else { return nil }
            return writeBuffered(&s) ? end : nil
        }
    }

    /// Appends one record to the write buffer without writing it: it is in the file (and
    /// survives a `kill -9`) only after the next ``writeBuffered()`` or ``append(topic:payload:)``.
    /// For a message whose acknowledgement waits for that call. The buffer is written on its
    /// own when it passes `bufferLimit` bytes. Returns the offset just past the record, or nil
    /// when the journal has failed.
    public func appendBuffered(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Int64? {
        state.withLock { s in
            guard let end = buffer(&s, topic: topic, payload: payload) else { return nil }
            if s.writeBuffer.count >= Journal.bufferLimit && !writeBuffered(&s) { return nil }
            return end
        }
    }

    /// Writes every buffered record with one `write(2)`. False when the journal has failed
    /// (then `failure` says why): the buffered messages must not be acknowledged.
    @discardableResult
    public func writeBuffered() -> Bool {
        state.withLock { s in writeBuffered(&s) }
    }

    /// Buffered bytes written in one go at the latest (bounds the buffer's memory).
    public static let bufferLimit = 1 << 20

    private func buffer(_ s: inout FileState, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer) -> Int64? {
        guard !s.closed, s.failure == nil, topic.count <= Int(UInt16.max) else {
            if topic.count > Int(UInt16.max) { s.failure = "topic longer than 65535 bytes" }
            return nil
        }
        let bodyLength = UInt32(2 + topic.count + payload.count)
        withUnsafeBytes(of: bodyLength.littleEndian) { s.writeBuffer.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt16(topic.count).littleEndian) { s.writeBuffer.append(contentsOf: $0) }
        s.writeBuffer.append(contentsOf: topic)
        s.writeBuffer.append(contentsOf: payload)
        s.end += Journal.recordSize(topicBytes: topic.count, payloadBytes: payload.count)
        return s.end
    }

    private func writeBuffered(_ s: inout FileState) -> Bool {
        guard s.failure == nil, !s.closed else { return false }
        guard !s.writeBuffer.isEmpty else { return true }
        let ok = s.writeBuffer.withUnsafeBytes { Journal.writeAll(s.fd, $0) }
        guard ok else {
            s.failure = "journal write failed: \(String(cString: strerror(errno)))"
            return false
        }
        s.writeBuffer.removeAll(keepingCapacity: true)
        switch fsync {
        case .always:
            guard Journal.sync(s.fd, &s) else { return false }
        case .interval: s.dirty = true
        case .never: break
        }
        if s.end - s.segmentStart >= segmentBytes {
            rollSegment(&s)
        }
        return true
    }

    /// Convenience for tests and replay tools.
    @discardableResult
    public func append(topic: String, payload: [UInt8]) -> Int64? {
        var topicCopy = topic
        return topicCopy.withUTF8 { t in payload.withUnsafeBytes { append(topic: UnsafeRawBufferPointer(t), payload: $0) } }
    }

    /// Convenience for tests.
    public func appendBuffered(topic: String, payload: [UInt8]) -> Int64? {
        var topicCopy = topic
        return topicCopy.withUTF8 { t in payload.withUnsafeBytes { appendBuffered(topic: UnsafeRawBufferPointer(t), payload: $0) } }
    }

    /// fsync now if anything was appended since the last one (called by the interval timer).
    /// The fsync runs on a duplicate of the descriptor, outside the lock, so that appends on the
    /// network thread do not wait for the disk.
    public func flush() {
        let fd: Int32 = state.withLock { s in
            guard s.dirty && s.fd >= 0 else { return -1 }
            s.dirty = false
            return dup(s.fd)
        }
        guard fd >= 0 else { return }
        let failed = Glibc.fsync(fd) != 0 ? errno : 0
        _ = Glibc.close(fd)  // a duplicate: nothing was written through it
        if failed != 0 {
            // After a failed fsync the kernel may have dropped the dirty pages: the journal can
            // no longer promise what it has acknowledged, so it refuses further appends.
            state.withLock { s in
                if s.failure == nil { s.failure = "journal fsync failed: \(String(cString: strerror(failed)))" }
            }
        }
    }

    /// fsync of the open segment; on failure records it in `s.failure` (every later append
    /// fails, so nothing more is acknowledged) and returns false.
    private static func sync(_ fd: Int32, _ s: inout FileState) -> Bool {
        guard Glibc.fsync(fd) == 0 else {
            s.failure = "journal fsync failed: \(String(cString: strerror(errno)))"
            return false
        }
        return true
    }

    /// Deletes segments that end at or before `offset` (everything in them is committed).
    ///
    /// Only segments that start before the open one are candidates, and a segment's end is the
    /// next listed segment's start: the network thread may roll to a new segment while the
    /// directory is listed, and that new file (start ≥ `open`) must never be taken for a closed
    /// one (deleting it would lose acknowledged, uncommitted messages at a `kill -9`).
    public func release(before offset: Int64) {
        let open = state.withLock { $0.segmentStart }
        guard let segments = try? Journal.segments(in: directory) else { return }
        for (index, start) in segments.enumerated() where start < open && index + 1 < segments.count {
            if segments[index + 1] <= offset {
                try? FileManager.default.removeItem(atPath: Journal.path(directory, start))
            }
        }
    }

    /// Reads every record from `offset` to the end, in order.
    public func records(from offset: Int64) throws -> [Record] {
        var records: [Record] = []
        let segments = try Journal.segments(in: directory)
        for (index, start) in segments.enumerated() {
            let next = index + 1 < segments.count ? segments[index + 1] : Int64.max
            if next <= offset { continue }
            let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Journal.path(directory, start))))
            var position = 0
            while position + 6 <= data.count {
                let length = Int(Journal.readUInt32(data, position))
                guard position + 4 + length <= data.count, length >= 2 else { break }
                let topicLength = Int(Journal.readUInt16(data, position + 4))
                guard 2 + topicLength <= length else { break }
                let recordStart = start + Int64(position)
                let recordEnd = recordStart + 4 + Int64(length)
                if recordStart >= offset {
                    let topicStart = position + 6
                    records.append(Record(
                        topic: Array(data[topicStart..<topicStart + topicLength]),
                        payload: Array(data[(topicStart + topicLength)..<(position + 4 + length)]),
                        endOffset: recordEnd))
                }
                position += 4 + length
            }
        }
        return records
    }

    /// Writes what is buffered, flushes and closes the file. Idempotent.
    public func close() {
        state.withLock { s in
            guard !s.closed else { return }
            _ = writeBuffered(&s)
            s.closed = true
            if s.fd >= 0 {
                if fsync != .never { _ = Journal.sync(s.fd, &s) }
                // close(2) of a regular file after its fsync reports nothing more to act on.
                _ = Glibc.close(s.fd)
                s.fd = -1
            }
        }
    }

    // MARK: files

    private func rollSegment(_ s: inout FileState) {
        if fsync != .never { guard Journal.sync(s.fd, &s) else { return } }
        _ = Glibc.close(s.fd)
        s.segmentStart = s.end
        s.dirty = false
        s.fd = open(Journal.path(directory, s.end), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        if s.fd < 0 { s.failure = "cannot start a journal segment: \(String(cString: strerror(errno)))" }
    }

    static func path(_ directory: URL, _ start: Int64) -> String {
        let digits = String(start)
        return directory.appendingPathComponent("journal-\(String(repeating: "0", count: max(0, 20 - digits.count)))\(digits).log").path
    }

    /// Segment start offsets, ascending.
    static func segments(in directory: URL) throws -> [Int64] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .compactMap { name -> Int64? in
                guard name.hasPrefix("journal-"), name.hasSuffix(".log") else { return nil }
                return Int64(name.dropFirst(8).dropLast(4))
            }
            .sorted()
    }

    /// Length of the whole records at the start of a segment (a torn last record is excluded).
    static func validLength(ofSegmentAt path: String) throws -> Int64 {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        var position = 0
        while position + 6 <= data.count {
            let length = Int(readUInt32(data, position))
            guard length >= 2, position + 4 + length <= data.count else { break }
            position += 4 + length
        }
        return Int64(position)
    }

    static func readUInt32(_ data: [UInt8], _ at: Int) -> UInt32 {
        UInt32(data[at]) | UInt32(data[at + 1]) << 8 | UInt32(data[at + 2]) << 16 | UInt32(data[at + 3]) << 24
    }

    static func readUInt16(_ data: [UInt8], _ at: Int) -> UInt16 {
        UInt16(data[at]) | UInt16(data[at + 1]) << 8
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            written += n
        }
        return true
    }
}

public struct JournalError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
