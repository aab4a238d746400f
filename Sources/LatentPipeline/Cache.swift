import Foundation
import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The content-addressed cache:
///
/// ```
/// CACHE/entries/<key>/       one finished stage instance: its output files + manifest.json
/// CACHE/tmp/<key>.<pid>.<r>/ being built; renamed into entries/ only when complete
/// CACHE/locks/<key>.lock     flock while <key> is being built
/// CACHE/hashes/<h>.json      memo of external files' SHA-256 by path, size and mtime
/// ```
/// An entry exists completely or not at all (a directory rename is atomic), so a run killed at
/// any moment leaves only tmp/ debris, which the next run removes.
public struct Cache: Sendable {
    public var root: String

    public init(_ root: String) throws {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
        for d in [self.root, entries, tmp, locks, hashes] {
            do {
                try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            } catch {
                throw LatentError.badInput(root, nil, "cannot create the cache directory \(d)", hint: "check --cache and its permissions")
            }
        }
    }

    public var entries: String { root + "/entries" }
    public var tmp: String { root + "/tmp" }
    public var locks: String { root + "/locks" }
    public var hashes: String { root + "/hashes" }

    public func entry(_ key: String) -> String { entries + "/" + key }
    public func lockPath(_ key: String) -> String { locks + "/" + key + ".lock" }

    public func has(_ key: String) -> Bool {
        FileManager.default.fileExists(atPath: entry(key) + "/" + Manifest.fileName)
    }

    /// A fresh directory to build `key` in, named so its owner can be told apart.
    public func makeTemporary(_ key: String) throws -> String {
        let path = tmp + "/\(key).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        } catch {
            throw LatentError.internalFailure("cannot create \(path): \(error.localizedDescription)")
        }
        return path
    }

    /// Moves a finished build into place (replacing an older entry for --force).
    public func commit(_ temporary: String, key: String) throws {
        let target = entry(key)
        var displaced: String?
        if FileManager.default.fileExists(atPath: target) {
            let old = tmp + "/\(key).\(getpid()).old\(UInt32.random(in: 0...UInt32.max))"
            guard rename(target, old) == 0 else {
                throw LatentError.internalFailure("cannot replace \(target): \(String(cString: strerror(errno)))")
            }
            displaced = old
        }
        guard rename(temporary, target) == 0 else {
            throw LatentError.internalFailure("cannot move \(temporary) to \(target): \(String(cString: strerror(errno)))")
        }
        if let displaced { try? FileManager.default.removeItem(atPath: displaced) }
    }

    /// Removes builds left by runs that died: a tmp directory whose key nobody is building (its
    /// lock is free) or whose process is gone.
    @discardableResult
    public func removeAbandoned() -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        var removed = 0
        for name in names {
            let parts = name.split(separator: ".")
            guard parts.count >= 3, let pid = Int32(parts[1]) else { continue }
            let key = String(parts[0])
            if pid == getpid() { continue }
            if kill(pid, 0) == 0 || errno == EPERM {
                // The process exists, but a recycled pid is not the builder: ask the lock.
                guard let lock = try? EntryLock.tryAcquire(lockPath(key)) else { continue }
                lock.release()
            }
            if (try? FileManager.default.removeItem(atPath: tmp + "/" + name)) != nil { removed += 1 }
        }
        return removed
    }

    /// Every finished entry with its manifest (unreadable manifests are skipped).
    public func list() -> [(key: String, manifest: JSONValue?, bytes: Int64)] {
        let keys = ((try? FileManager.default.contentsOfDirectory(atPath: entries)) ?? []).sorted()
        return keys.map { key in
            let m = FileManager.default.contents(atPath: entry(key) + "/" + Manifest.fileName).flatMap { try? JSONValue.parse($0) }
            return (key, m, Cache.size(of: entry(key)))
        }
    }

    /// Deletes an entry under its lock, so a run building it is not disturbed.
    public func remove(_ key: String) throws {
        let lock = try EntryLock.acquire(lockPath(key))
        defer { lock.release() }
        let trash = tmp + "/\(key).\(getpid()).gc\(UInt32.random(in: 0...UInt32.max))"
        guard rename(entry(key), trash) == 0 else { return }
        try? FileManager.default.removeItem(atPath: trash)
        // The lock file stays: unlinking it while another run waits on it would let a third run
        // lock a new file of the same name, and both would build.
    }

    static func size(of dir: String) -> Int64 {
        var total: Int64 = 0
        if let e = FileManager.default.enumerator(atPath: dir) {
            for case let f as String in e {
                if let a = try? FileManager.default.attributesOfItem(atPath: dir + "/" + f), let s = a[.size] as? NSNumber {
                    total += s.int64Value
                }
            }
        }
        return total
    }
}
