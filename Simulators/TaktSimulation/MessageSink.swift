#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the simulator's messages go: a file (`--out`) or a broker.
public protocol MessageSink: AnyObject {
    /// Sends every message of `batch`, in order; `topics` is ``SimulationEngine/topics``.
    func write(_ batch: MessageBatch, topics: [String]) async throws
    /// Returns when everything written so far has left (flushed, acknowledged).
    func finish() async throws
}

/// A failure of the run itself (exit 1).
public struct SimulationRuntimeError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Writes `topic<TAB>payload<LF>` lines to a file: one `write(2)` per batch.
public final class FileSink: MessageSink {
    private var fd: Int32
    public let path: String

    /// Creates or truncates `path`.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SimulationRuntimeError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    public func write(_ batch: MessageBatch, topics: [String]) async throws {
        try writeAll(batch.bytes)
    }

    /// Writes `bytes` as they are.
    public func write(bytes: [UInt8]) throws {
        try writeAll(bytes)
    }

    func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SimulationRuntimeError("cannot write \(path): \(String(cString: strerror(errno)))")
                }
                offset += n
            }
        }
    }

    public func finish() async throws {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }
}

/// Keeps the messages in memory (tests).
public final class MemorySink: MessageSink {
    public private(set) var bytes: [UInt8] = []

    public init() {}

    public func write(_ batch: MessageBatch, topics: [String]) async throws {
        bytes.append(contentsOf: batch.bytes)
    }

    public func finish() async throws {}
}
