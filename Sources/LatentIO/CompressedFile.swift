import CZlib
import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Whole-file reading through zlib, which reads gzip and plain files alike.
public enum CompressedFile {
    /// The decompressed bytes of `path` (gzip or plain). `gzread` fills a malloc'd buffer that
    /// doubles when full, so a file of N bytes costs O(N) copying (growing an Array by fixed
    /// steps would copy O(N²) bytes: 10 s for a 400 MB table).
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard let gz = gzopen(path, "rb") else {
            throw LatentError.badInput(path, nil, "cannot open for reading")
        }
        defer { gzclose(gz) }
        gzbuffer(gz, 1 << 20)
        var capacity = 1 << 22
        guard var buffer = malloc(capacity)?.assumingMemoryBound(to: UInt8.self) else {
            throw LatentError.internalFailure("out of memory reading \(path)")
        }
        defer { free(buffer) }
        var length = 0
        while true {
            if length == capacity {
                capacity *= 2
                guard let grown = realloc(buffer, capacity)?.assumingMemoryBound(to: UInt8.self) else {
                    throw LatentError.internalFailure("out of memory reading \(path)")
                }
                buffer = grown
            }
            let got = gzread(gz, buffer + length, UInt32(min(capacity - length, 1 << 30)))
            if got < 0 {
                var errnum: Int32 = 0
                let msg = gzerror(gz, &errnum).map { String(cString: $0) } ?? "read error"
                throw LatentError.badInput(path, nil, "cannot decompress: \(msg) (truncated or damaged gzip file?)")
            }
            if got == 0 {
                // A gzip stream cut short reads as a clean end unless the error state is checked.
                var errnum: Int32 = 0
                let msg = gzerror(gz, &errnum).map { String(cString: $0) } ?? ""
                if errnum != Z_OK && errnum != Z_STREAM_END {
                    throw LatentError.badInput(path, nil, "cannot decompress: \(msg) (truncated or damaged gzip file?)")
                }
                break
            }
            length += Int(got)
        }
        return Array(UnsafeBufferPointer(start: buffer, count: length))
    }
}
