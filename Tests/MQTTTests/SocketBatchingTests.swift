import CSocketBatching
import Foundation
@testable import MQTT
import Testing

/// `CSocketBatching`: read(2), write(2), close(2) and socketpair(2) interposed for the sockets a
/// receiving client registers (libmosquitto reads each packet in 3–4 small reads and writes
/// each PUBACK on its own; one read and one write per burst serve them all).
@Suite("System-call batching under libmosquitto (interposed read, write, close, socketpair)")
struct SocketBatchingTests {
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
        #expect(takt_batching_register(r) == 0)
        #expect(takt_batching_register(r) == 0, "idempotent")
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
        #expect(takt_batching_register(r) == 0)
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

    // MARK: gathering writes

    /// Everything readable on `fd` now (non-blocking), in order.
    static func drain(_ fd: Int32) -> [UInt8] {
        var all: [UInt8] = []
        while let more = read(fd, 65_536), !more.isEmpty { all += more }
        return all
    }

    @Test("gathered writes say they wrote, reach the peer only at the end, in order")
    func gatheredInOrder() throws {
        let (peer, sock) = try Self.socketPair()
        defer { close(peer); close(sock) }
        _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK)
        #expect(takt_gather_begin(sock) == -1, "not registered: writes stay direct")
        #expect(takt_batching_register(sock) == 0)
        #expect(takt_gather_begin(sock) == 0)
        // PUBACKs: 4 bytes each.
        var sent: [UInt8] = []
        for i in 0..<500 {
            let puback: [UInt8] = [0x40, 0x02, UInt8(i >> 8), UInt8(i & 0xFF)]
            Self.write(sock, puback)
            sent += puback
        }
        #expect(takt_gather_pending(sock) == 2_000)
        #expect(Self.read(peer, 16) == nil && Self.lastError == EAGAIN, "nothing reached the peer while gathering")
        #expect(takt_gather_end(sock) == 0)
        #expect(takt_gather_pending(sock) == 0)
        #expect(Self.drain(peer) == sent)
        // After the end, writes are direct again.
        Self.write(sock, [9, 9])
        #expect(takt_gather_pending(sock) == 0)
        #expect(Self.drain(peer) == [9, 9])
    }

    @Test("a full socket: what it does not take stays pending, a direct write answers EAGAIN until it is sent, nothing is reordered")
    func fullSocketKeepsOrder() throws {
        let (peer, sock) = try Self.socketPair()
        defer { close(peer); close(sock) }
        _ = fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK)
        var small: Int32 = 4_096
        _ = setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        #expect(takt_batching_register(sock) == 0)
        #expect(takt_gather_begin(sock) == 0)
        // More than the socket takes, less than the 64 KiB buffer: every write is taken.
        let gathered = (0..<60_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for start in stride(from: 0, to: gathered.count, by: 1_000) {
            Self.write(sock, Array(gathered[start..<min(start + 1_000, gathered.count)]))
        }
        #expect(takt_gather_end(sock) == 0, "a full socket is not an error")
        let pending = takt_gather_pending(sock)
        #expect(pending > 0, "the small socket buffer cannot hold 60,000 bytes")
        // A direct write now must not overtake the pending bytes.
        let later: [UInt8] = [0xEE, 0xEE, 0xEE]
        let n = later.withUnsafeBytes { Glibc.write(sock, $0.baseAddress, $0.count) }
        #expect(n == -1 && errno == EAGAIN)
        // The peer reads; the flush (POLLOUT in pollOnce) sends the rest, then the direct write goes.
        var received: [UInt8] = []
        while takt_gather_pending(sock) > 0 {
            received += Self.drain(peer)
            #expect(takt_gather_flush(sock) == 0)
        }
        Self.write(sock, later)
        received += Self.drain(peer)
        #expect(received == gathered + later)
    }

    @Test("a socket that failed: the end of gathering reports it and drops the bytes")
    func failedSocketReports() throws {
        let (peer, sock) = try Self.socketPair()
        defer { close(sock) }
        #expect(takt_batching_register(sock) == 0)
        #expect(takt_gather_begin(sock) == 0)
        Self.write(sock, [1, 2, 3, 4])
        close(peer)
        signal(SIGPIPE, SIG_IGN)
        #expect(takt_gather_end(sock) == -1)
        #expect(errno == EPIPE)
        #expect(takt_gather_pending(sock) == 0)
    }

    @Test("close drops gathered bytes: a reused descriptor number never sends the old socket's bytes")
    func closeDropsGathered() throws {
        let (peer, sock) = try Self.socketPair()
        #expect(takt_batching_register(sock) == 0)
        #expect(takt_gather_begin(sock) == 0)
        Self.write(sock, [5, 5, 5])
        close(sock)
        #expect(takt_gather_pending(sock) == 0)
        #expect(Self.read(peer, 8) == [], "nothing was sent: the peer sees the end of the stream")
        close(peer)
    }

    // MARK: muting and the captured socketpair

    @Test("socketpair is captured on the capturing thread; a muted descriptor's writes succeed without reaching it, on that thread only")
    func captureAndMute() throws {
        takt_socketpair_capture_begin()
        let (r, w) = try Self.socketPair()
        var pair: [Int32] = [-1, -1]
        #expect(takt_socketpair_capture_end(&pair) == 0)
        #expect(pair == [r, w])
        defer { close(r); close(w) }
        // Nothing captured outside a window, and two pairs in one are refused.
        takt_socketpair_capture_begin()
        #expect(takt_socketpair_capture_end(&pair) == -1)
        takt_socketpair_capture_begin()
        let first = try Self.socketPair(), second = try Self.socketPair()
        #expect(takt_socketpair_capture_end(&pair) == -1)
        for fd in [first.reader, first.writer, second.reader, second.writer] { close(fd) }

        takt_mute_begin(w)
        Self.write(w, [1])  // succeeds, reaches nobody
        // Another thread's write to the same descriptor is not muted.
        let written = DispatchSemaphore(value: 0)
        Thread { Self.write(w, [2]); written.signal() }.start()
        written.wait()
        takt_mute_end()
        Self.write(w, [3])
        #expect(Self.drain(r) == [2, 3])
    }

    @Test("a client knows libmosquitto's wake-up socketpair: the end mosquitto_new created, which it writes a byte to per queued packet")
    func clientCapturesWakePair() throws {
        let url = MQTTBrokerURL(host: "127.0.0.1", port: 1)
        let core = ClientCore(configuration: MQTTClient.Configuration(broker: url, clientID: "capture-test"))
        let wake = core.libraryWakeWrite
        #expect(wake >= 0)
        // It is a Unix stream socket (one end of a pair), not the client's TCP socket (none yet).
        var domain: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(wake, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0)
        #expect(domain == AF_UNIX)
    }
}
