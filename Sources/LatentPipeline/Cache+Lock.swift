import Foundation
import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// An exclusive `flock` on `CACHE/locks/<key>.lock`, held while an entry is built. The kernel
/// drops it when the holder exits in any way (kill -9 included), so a crashed run never leaves a
/// stale lock; a second run asking for it waits, then finds the finished entry.
public final class EntryLock {
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Blocks until the lock is ours.
    public static func acquire(_ path: String) throws -> EntryLock {
        let fd = try open(path)
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LatentError.internalFailure("cannot lock \(path): \(reason)")
        }
        return EntryLock(fd: fd)
    }

    /// The lock if nobody holds it, else nil (never waits).
    public static func tryAcquire(_ path: String) throws -> EntryLock? {
        let fd = try open(path)
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return EntryLock(fd: fd)
    }

    private static func open(_ path: String) throws -> Int32 {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw LatentError.internalFailure("cannot open the lock file \(path): \(String(cString: strerror(errno)))")
        }
        return fd
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
