import CReadAhead
import Foundation
import Testing

/// `CReadAhead`: read(2) and close(2) interposed for the sockets a receiving client registers
/// (libmosquitto reads each packet in 3–4 small reads; one read per burst serves them all).
@Suite("Read-ahead under libmosquitto (interposed read and close)")
struct ReadAheadTests {
    /// A non-blocking socket pair: (the end the test reads, the end it writes).
    static func socketPair() throws -> (reader: Int32, writer: Int32) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { throw POSIXError(.EIO) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return (fds[0], fds[1])
    }

    static func write(_ fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { #expect(Glibc.write(fd, $0.baseAddress, $0.count) == bytes.count) }
    }

    /// errno of the last ``read(_:_:)`` that failed.
    nonisolated(unsafe) static var lastError: Int32 = 0

    /// read(2) of `count` bytes: the bytes, or nil (errno in `lastError`, taken at once).
    static func read(_ fd: Int32, _ count: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: count)
        var error: Int32 = 0
        let got = buffer.withUnsafeMutableBytes { raw -> Int in
            let n = Glibc.read(fd, raw.baseAddress, count)
            if n < 0 { error = errno }
            return n
        }
        if got < 0 {
            lastError = error
            return nil
        }
        return Array(buffer.prefix(got))
    }

    @Test("a registered socket: small reads are served in order from one read ahead; EAGAIN and EOF only once the buffer is empty")
    func smallReadsInOrder() throws {
        let (r, w) = try Self.socketPair()
        defer { close(r); close(w) }
        #expect(takt_readahead_register(r) == 0)
        #expect(takt_readahead_register(r) == 0, "idempotent")
        let sent = (0..<1_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        Self.write(w, sent)
        #expect(takt_readahead_buffered(r) == 0, "nothing is read before someone reads")
        // The packet pattern: one byte, one byte, then a body.
        var received: [UInt8] = []
        received += try #require(Self.read(r, 1))
        #expect(takt_readahead_buffered(r) == 999, "the first read took everything the socket had")
        received += try #require(Self.read(r, 1))
        received += try #require(Self.read(r, 98))
        while let more = Self.read(r, 300), !more.isEmpty { received += more }
        #expect(Self.lastError == EAGAIN, "the socket's own EAGAIN, once the buffer is empty")
        #expect(received == sent)
        #expect(takt_readahead_buffered(r) == 0)
        // More bytes later, then the writer closes: bytes first, then EOF.
        Self.write(w, [1, 2, 3])
        close(w)
        #expect(Self.read(r, 2) == [1, 2])
        #expect(Self.read(r, 2) == [3])
        #expect(Self.read(r, 2) == [])
    }

    @Test("close drops the buffer: a descriptor number given out again is not served the old socket's bytes")
    func closeForgets() throws {
        let (r, w) = try Self.socketPair()
        #expect(takt_readahead_register(r) == 0)
        Self.write(w, Array(repeating: 0xAB, count: 100))
        #expect(Self.read(r, 1) == [0xAB])
        #expect(takt_readahead_buffered(r) == 99)
        close(r)
        close(w)
        #expect(takt_readahead_buffered(r) == 0)
        // The lowest free numbers come back first, so the next pair usually reuses r (another
        // test's thread may take it first: then the check above is what this test has).
        let (r2, w2) = try Self.socketPair()
        defer { close(r2); close(w2) }
        if r2 == r || w2 == r {
            let (reader, writer) = r2 == r ? (r2, w2) : (w2, r2)
            Self.write(writer, [7])
            #expect(Self.read(reader, 10) == [7], "not the 99 bytes left of the closed socket")
        }
    }

    @Test("descriptors that are not registered are read directly: nothing is read ahead")
    func unregisteredDirect() throws {
        let (r, w) = try Self.socketPair()
        defer { close(r); close(w) }
        Self.write(w, [1, 2, 3, 4])
        #expect(Self.read(r, 1) == [1])
        #expect(takt_readahead_buffered(r) == 0)
        // The rest is still in the kernel: a peek sees it.
        var peek = [UInt8](repeating: 0, count: 8)
        let n = peek.withUnsafeMutableBytes { recv(r, $0.baseAddress, 8, Int32(MSG_PEEK)) }
        #expect(n == 3)
    }
}
