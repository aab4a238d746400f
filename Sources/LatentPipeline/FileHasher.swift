import Foundation
import LatentCore

/// Content hashes of the external files a pipeline reads. A memo in `CACHE/hashes/` keyed by
/// the absolute path holds (size, mtime, inode, sha256), so an unchanged file is hashed once,
/// not on every run; any change of size, mtime or inode hashes it again. The key still comes
/// from the content: a touched but identical file gets the same hash.
public final class FileHasher: @unchecked Sendable {
    let memoDirectory: String?
    private let lock = NSLock()
    private var memo: [String: String] = [:]

    public init(memoDirectory: String?) { self.memoDirectory = memoDirectory }

    public func hash(_ path: String, file: String, line: Int) throws -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return try hashDirectory(path, file: file, line: line)
        }
        lock.lock()
        if let h = memo[path] { lock.unlock(); return h }
        lock.unlock()
        var st = stat()
        guard stat(path, &st) == 0 else {
            throw LatentError.badInput(file, "\(line)", "missing input: cannot read \(path)")
        }
        let stamp = "\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec):\(st.st_ino)"
        let memoFile = memoDirectory.map { $0 + "/" + SHA256.hex(Array(path.utf8)) + ".json" }
        if let memoFile, let data = FileManager.default.contents(atPath: memoFile),
           let m = try? JSONValue.parse(data), m["path"]?.stringValue == path, m["stamp"]?.stringValue == stamp,
           let h = m["sha256"]?.stringValue {
            remember(path, h)
            return h
        }
        let h: String
        do { h = try SHA256.hexOfFile(path) } catch {
            throw LatentError.badInput(file, "\(line)", "missing input: cannot read \(path)")
        }
        if let memoFile {
            let doc = JSONValue.object(["path": .string(path), "stamp": .string(stamp), "sha256": .string(h)])
            let tmp = memoFile + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            if FileManager.default.createFile(atPath: tmp, contents: Data(doc.pretty.utf8)) {
                if rename(tmp, memoFile) != 0 { try? FileManager.default.removeItem(atPath: tmp) }
            }
        }
        remember(path, h)
        return h
    }

    /// A directory input (a 10x MatrixMarket folder): the hash of its files' relative paths and
    /// content hashes, hidden files left out.
    func hashDirectory(_ path: String, file: String, line: Int) throws -> String {
        guard let walker = FileManager.default.enumerator(atPath: path) else {
            throw LatentError.badInput(file, "\(line)", "missing input: cannot read the directory \(path)")
        }
        var files: [String: JSONValue] = [:]
        for case let rel as String in walker {
            if rel.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path + "/" + rel, isDirectory: &isDir), !isDir.boolValue else { continue }
            files[rel] = .string(try hash(path + "/" + rel, file: file, line: line))
        }
        return SHA256.hex(Array(JSONValue.object(files).canonical.utf8))
    }

    private func remember(_ path: String, _ h: String) {
        lock.lock()
        memo[path] = h
        lock.unlock()
    }
}
