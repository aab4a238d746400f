@preconcurrency import CHDF5
import CDeflate
import Dispatch
import LatentCore

/// Reading gzip-compressed datasets on every core: HDF5 inflates chunks one at a time with zlib,
/// so for datasets chunked along the first axis only (1-D arrays; matrices whose chunks are whole
/// rows, as we and anndata write them) whose only filters are shuffle and deflate, and whose
/// stored type is the one we want, we fetch the raw chunks (H5Dread_chunk) and inflate (libdeflate)
/// + unshuffle them in parallel. Anything else goes through the ordinary H5Dread.
extension H5Dataset {
    /// Threads for parallel inflation (set by the command from --threads).
    nonisolated(unsafe) static var readThreads = 1

    /// Rows per chunk and elements per row if the fast path applies, with whether shuffle is on.
    func fastPathLayout(fileType expected: hid_t) -> (chunkRows: Int, rowElems: Int, shuffle: Bool)? {
        let shape = self.shape
        guard !shape.isEmpty else { return nil }
        let t = H5Dget_type(handle.id)
        defer { H5Tclose(t) }
        guard H5Tequal(t, expected) > 0 else { return nil }
        let dcpl = H5Dget_create_plist(handle.id)
        defer { H5Pclose(dcpl) }
        guard H5Pget_layout(dcpl) == H5D_CHUNKED else { return nil }
        var dims = [hsize_t](repeating: 0, count: shape.count)
        guard H5Pget_chunk(dcpl, Int32(shape.count), &dims) == shape.count else { return nil }
        // Chunks must span every axis but the first, so that chunk c is one contiguous run of rows.
        for a in 1..<shape.count where Int(dims[a]) != shape[a] { return nil }
        let nf = H5Pget_nfilters(dcpl)
        var shuffle = false, deflate = false
        for i in 0..<nf {
            var flags: UInt32 = 0, nelem = 4, config: UInt32 = 0
            var values = [UInt32](repeating: 0, count: 4)
            var name = [CChar](repeating: 0, count: 64)
            let id = H5Pget_filter2(dcpl, UInt32(i), &flags, &nelem, &values, 64, &name, &config)
            if id == H5Z_FILTER_SHUFFLE { shuffle = true } else if id == H5Z_FILTER_DEFLATE { deflate = true } else { return nil }
        }
        guard deflate else { return nil }
        return (Int(dims[0]), shape.dropFirst().reduce(1, *), shuffle)
    }

    /// Fills `out` (count elements of `elementSize` bytes) from the chunks, or returns false when
    /// the fast path does not apply (the caller then uses H5Dread).
    /// Whether `readChunksInParallel` would take the fast path for this stored type.
    func canReadChunksInParallel(fileType: hid_t) -> Bool { fastPathLayout(fileType: fileType) != nil }

    func readChunksInParallel(into out: UnsafeMutableRawPointer, count: Int, elementSize: Int, fileType: hid_t) throws -> Bool {
        guard let (chunkRows, rowElems, shuffle) = fastPathLayout(fileType: fileType), rowElems > 0 else { return false }
        let chunk = chunkRows * rowElems
        let rank = shape.count
        let nChunks = (count + chunk - 1) / chunk
        let chunkBytes = chunk * elementSize
        let threads = H5Dataset.readThreads
        let batch = max(threads * 8, 16)
        var raw = [[UInt8]](repeating: [], count: batch)
        var masks = [UInt32](repeating: 0, count: batch)
        var start = 0
        while start < nChunks {
            let n = min(batch, nChunks - start)
            for k in 0..<n {
                var offset = [hsize_t](repeating: 0, count: rank)
                offset[0] = hsize_t(UInt64((start + k) * chunkRows))
                var size: hsize_t = 0
                if H5Dget_chunk_storage_size(handle.id, &offset, &size) < 0 { throw error("cannot read chunk sizes (damaged file?)") }
                // A chunk never written holds the fill value: leave such datasets to H5Dread.
                if size == 0 { return false }
                raw[k] = [UInt8](repeating: 0, count: Int(size))
                var mask: UInt32 = 0
                let ok = raw[k].withUnsafeMutableBytes { H5Dread_chunk(handle.id, lh5_p_default(), &offset, &mask, $0.baseAddress) }
                if ok < 0 { throw error("cannot read data (damaged or truncated file?)") }
                masks[k] = mask
            }
            var failed = false
            let rawChunks = raw
            let masksNow = masks
            DispatchQueue.concurrentPerform(iterations: min(threads, n)) { t in
                var scratch = [UInt8](repeating: 0, count: chunkBytes)
                // libdeflate inflates 2-4x faster than zlib (Benchmarks/results/deflate.md).
                guard let inflater = libdeflate_alloc_decompressor() else { failed = true; return }
                defer { libdeflate_free_decompressor(inflater) }
                var k = t
                while k < n {
                    let c = start + k
                    let have = min(chunk, count - c * chunk) * elementSize
                    // Filter mask bit i set = filter i skipped for this chunk (0 = shuffle, 1 = deflate when both).
                    let skipDeflate = masksNow[k] & (shuffle ? 2 : 1) != 0
                    let skipShuffle = !shuffle || masksNow[k] & 1 != 0
                    var plain = rawChunks[k]
                    if !skipDeflate {
                        var destLen = 0
                        let rc = scratch.withUnsafeMutableBytes { d in
                            rawChunks[k].withUnsafeBytes { s in
                                libdeflate_zlib_decompress(inflater, s.baseAddress, s.count, d.baseAddress, d.count, &destLen)
                            }
                        }
                        if rc != LIBDEFLATE_SUCCESS || destLen < have { failed = true; k += threads; continue }
                        plain = Array(scratch[0..<destLen])
                    }
                    let dest = (out + c * chunkBytes).assumingMemoryBound(to: UInt8.self)
                    if skipShuffle {
                        plain.withUnsafeBytes { dest.update(from: $0.baseAddress!.assumingMemoryBound(to: UInt8.self), count: have) }
                    } else {
                        // Undo HDF5's byte shuffle over the full stored chunk.
                        let elems = plain.count / elementSize
                        plain.withUnsafeBytes { p in
                            let src = p.baseAddress!.assumingMemoryBound(to: UInt8.self)
                            for e in 0..<(have / elementSize) {
                                for b in 0..<elementSize { dest[e * elementSize + b] = src[b * elems + e] }
                            }
                        }
                    }
                    k += threads
                }
            }
            if failed { throw error("cannot inflate a compressed chunk (damaged file?)") }
            start += n
        }
        return true
    }
}

/// Process-wide I/O settings the command line sets from `--threads`.
public enum IOSettings {
    public static var threads: Int {
        get { H5Dataset.readThreads }
        set { H5Dataset.readThreads = max(1, newValue) }
    }
}
