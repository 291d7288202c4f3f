import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on the daemon's data directory (`taktd.lock`, `flock(2)`), held for the
/// life of the process: two daemons on one journal would corrupt each other's offsets. The
/// kernel drops the lock when the process ends, however it ends (`kill -9` included), so a
/// stale lock file never blocks a restart.
final class DataDirectoryLock: Sendable {
    private let fd: Int32

    /// Takes the lock or throws ``DataDirectoryLockError`` naming the directory (and the pid
    /// written by the daemon that holds it).
    init(directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("taktd.lock").path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw DataDirectoryLockError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            _ = close(fd)  // never held: nothing to release
            throw DataDirectoryLockError(
                "the data directory \(directory) is in use by another taktd\(holder.isEmpty ? "" : " (pid \(holder))"); give each daemon its own --data-dir")
        }
        // Who holds it, for the message above (informational: the lock is the flock, not this).
        let pid = Array("\(getpid())\n".utf8)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        self.fd = fd
    }

    deinit {
        _ = close(fd)  // releases the lock; nothing to report at this point
    }
}

/// The data directory is locked by another daemon (a runtime failure: exit 1).
struct DataDirectoryLockError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
