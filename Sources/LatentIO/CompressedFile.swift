import CZlib
import LatentCore

/// Whole-file reading through zlib, which reads gzip and plain files alike.
public enum CompressedFile {
    /// The decompressed bytes of `path` (gzip or plain).
    public static func readAll(_ path: String) throws -> [UInt8] {
        guard let gz = gzopen(path, "rb") else {
            throw LatentError.badInput(path, nil, "cannot open for reading")
        }
        defer { gzclose(gz) }
        gzbuffer(gz, 1 << 20)
        var out: [UInt8] = []
        let block = 1 << 22
        while true {
            let start = out.count
            out.reserveCapacity(start + block)
            var got: Int32 = 0
            out.append(contentsOf: repeatElement(0, count: block))
            got = out.withUnsafeMutableBufferPointer { gzread(gz, $0.baseAddress! + start, UInt32(block)) }
            if got < 0 {
                var errnum: Int32 = 0
                let msg = gzerror(gz, &errnum).map { String(cString: $0) } ?? "read error"
                throw LatentError.badInput(path, nil, "cannot decompress: \(msg) (truncated or damaged gzip file?)")
            }
            out.removeLast(block - Int(got))
            if got == 0 { break }
        }
        return out
    }
}
