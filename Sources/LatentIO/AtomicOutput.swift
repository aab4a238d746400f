import CRuntime
import Foundation
import LatentCore

/// Writing outputs so that a failure or a kill never leaves a partial file under the final name:
/// the content goes to a hidden temporary file in the same directory, which is renamed into place
/// only when complete (rename within a directory is atomic on POSIX file systems); an existing
/// output of that name is removed just before.
public enum AtomicOutput {
    public static func write(to path: String, _ body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw LatentError.badInput(path, nil, "output directory \(dir) does not exist")
        }
        let tmp = dir + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        lr_set_pending_output(tmp)            // removed by the signal handler if interrupted
        defer { lr_clear_pending_output() }
        do {
            try body(tmp)
        } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
        // The old output is removed first: renaming over an existing file makes ext4 (auto_da_alloc)
        // write the new file's data out before rename returns (0.13 s for a 240 MB h5ad), which a
        // rerun should not pay. The name is briefly absent, never partial.
        _ = unlink(path)
        if rename(tmp, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: tmp)
            throw LatentError(.internalFailure, file: path, "cannot move the finished output into place: \(reason)")
        }
    }

    /// On SIGINT/SIGTERM, remove the output being written and exit with 128 + signal; on a fatal
    /// signal, one error line (see CRuntime) instead of a backtrace.
    public static func installInterruptCleanup() { lr_install_interrupt_cleanup() }

    /// Marks `path` as the input being decoded by a C library while `body` runs, so that a crash
    /// inside that library is reported as a damaged input file (exit 2).
    public static func decoding<T>(_ path: String, _ body: () throws -> T) rethrows -> T {
        lr_set_current_input(path)
        defer { lr_clear_current_input() }
        return try body()
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
