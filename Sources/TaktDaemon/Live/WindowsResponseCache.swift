import Synchronization
import TaktCore

/// Encoded `/api/v1/windows` answers from the ring buffers, kept until the rings change.
///
/// A dashboard polls the same few ranges over and over, and encoding 180 rows of JSON costs
/// ~4 ms of CPU (measured: `wrk` on one line's last 3 hours of `1m` rows made `taktd` spend a
/// core on number formatting, CPU the broker and the intake needed). Between two commits the
/// answer cannot change, so it is encoded once per ``LiveWindows/version``.
///
/// Invariant: an answer is returned only for the version it was stored with, and it was built
/// from rings read *after* that version was taken (``LiveWindows/version`` is raised under the
/// rings' lock by every change), so a cached answer is never older than the rings. Memory:
/// answers over `maxEntryBytes` are not kept, and the whole cache is emptied before it would
/// hold more than `maxTotalBytes`.
final class WindowsResponseCache: Sendable {
    struct Key: Hashable, Sendable {
        var site: String
        var line: String?
        var station: String?
        var tier: WindowTier
        /// The query's range, epoch ms.
        var from: Int64
        var to: Int64
    }

    private struct Entry {
        var version: UInt64
        var bytes: [UInt8]
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        var bytes = 0
        var hits: Int64 = 0
    }

    private let maxEntryBytes: Int
    private let maxTotalBytes: Int
    private let state = Mutex(State())

    /// - Parameters:
    ///   - maxEntryBytes: the largest answer kept (bytes).
    ///   - maxTotalBytes: the most all answers kept may take (bytes).
    init(maxEntryBytes: Int = 1 << 20, maxTotalBytes: Int = 8 << 20) {
        self.maxEntryBytes = maxEntryBytes
        self.maxTotalBytes = maxTotalBytes
    }

    /// The answer stored for `key` at `version`, if any.
    func bytes(for key: Key, version: UInt64) -> [UInt8]? {
        state.withLock { s in
            guard let entry = s.entries[key], entry.version == version else { return nil }
            s.hits += 1
            return entry.bytes
        }
    }

    /// Keeps `bytes`, built from rings read after `version` was taken, for `key`.
    func store(_ bytes: [UInt8], for key: Key, version: UInt64) {
        guard bytes.count <= maxEntryBytes else { return }
        state.withLock { s in
            if let old = s.entries[key] {
                guard old.version < version else { return }  // a newer answer is there already
                s.bytes -= old.bytes.count
            }
            if s.bytes + bytes.count > maxTotalBytes {
                s.entries.removeAll(keepingCapacity: true)
                s.bytes = 0
            }
            s.entries[key] = Entry(version: version, bytes: bytes)
            s.bytes += bytes.count
        }
    }

    /// Answers served from the cache since start, and the bytes it holds.
    var statistics: (hits: Int64, bytes: Int) {
        state.withLock { ($0.hits, $0.bytes) }
    }
}
