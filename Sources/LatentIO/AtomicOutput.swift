import Foundation
import LatentCore

/// Writing outputs so that a failure or a kill never leaves a partial file under the final name:
/// the content goes to a hidden temporary file in the same directory, which is renamed into place
/// only when complete (rename within a directory is atomic on POSIX file systems).
public enum AtomicOutput {
    public static func write(to path: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw LatentError.badInput(path, nil, "output directory \(dir) does not exist")
        }
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            try body(tmp)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw LatentError(.internalFailure, file: path, "cannot move the finished output into place: \(reason)")
        }
    }

    /// Writes bytes atomically ("-" means stdout).
    public static func write(_ data: Data, to path: String) throws {
        if path == "-" {
            FileHandle.standardOutput.write(data)
            return
        }
        try write(to: path) { tmp in
            guard FileManager.default.createFile(atPath: tmp, contents: data) else {
                throw LatentError(.internalFailure, file: path, "cannot write output")
            }
        }
    }
}
