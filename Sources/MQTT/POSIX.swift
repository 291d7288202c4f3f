internal import CMosquitto  // declares pipe2, which Glibc hides without _GNU_SOURCE
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The system calls this module makes itself (libmosquitto makes its own), each in one place:
/// `EINTR` is retried and -1 becomes a thrown `POSIX.Error`, so a caller cannot drop a failure
/// unread — it handles it or says in a comment why it may ignore it.
enum POSIX {
    /// A failed system call: which one and its `errno`.
    struct Error: Swift.Error, Equatable, CustomStringConvertible {
        let call: String
        let code: Int32

        /// The call would have blocked on a non-blocking descriptor (`EAGAIN`/`EWOULDBLOCK`).
        var wouldBlock: Bool { code == EAGAIN || code == EWOULDBLOCK }

        var description: String { "\(call): \(String(cString: strerror(code)))" }
    }

    /// `pipe2(2)`: a new pipe whose two ends both get `flags` (`O_NONBLOCK | O_CLOEXEC`).
    static func pipe(flags: Int32) throws(Error) -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        _ = try retryingEINTR("pipe2") { pipe2(&fds, flags) }
        return (fds[0], fds[1])
    }

    /// `close(2)`. Not retried on `EINTR`: Linux releases the descriptor even then, and a retry
    /// could close one that another thread has just been given.
    static func close(_ fd: Int32) throws(Error) {
        if unistdClose(fd) == -1 { throw Error(call: "close", code: errno) }
    }

    /// `write(2)` of `bytes`; returns how many were written (possibly fewer).
    @discardableResult
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Error) -> Int {
        try retryingEINTR("write") { unistdWrite(fd, bytes.baseAddress, bytes.count) }
    }

    /// `read(2)` into `buffer`; returns how many bytes were read (0 at end of file).
    @discardableResult
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Error) -> Int {
        try retryingEINTR("read") { unistdRead(fd, buffer.baseAddress, buffer.count) }
    }

    /// `poll(2)` for at most `timeout` ms; returns how many descriptors have events (0 when the
    /// time ran out). An interrupted poll starts again with the whole timeout.
    @discardableResult
    static func poll(_ fds: inout [pollfd], timeout: Int32) throws(Error) -> Int {
        let count = nfds_t(fds.count)
        return Int(try retryingEINTR("poll") { systemPoll(&fds, count, timeout) })
    }

    /// Runs `body` again while it fails with `EINTR`; any other -1 is thrown with its `errno`.
    private static func retryingEINTR<Result: BinaryInteger>(
        _ call: String, _ body: () -> Result
    ) throws(Error) -> Result {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = errno
            if code != EINTR { throw Error(call: call, code: code) }
        }
    }
}

// The C functions under names that the static functions above do not shadow.
private func unistdClose(_ fd: Int32) -> Int32 { close(fd) }
private func unistdWrite(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int { write(fd, bytes, count) }
private func unistdRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { read(fd, buffer, count) }
private func systemPoll(_ fds: UnsafeMutablePointer<pollfd>, _ count: nfds_t, _ timeout: Int32) -> Int32 {
    poll(fds, count, timeout)
}
