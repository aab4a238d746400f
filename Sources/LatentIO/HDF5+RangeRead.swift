@preconcurrency import CHDF5
import CDeflate
import CKernels
import Dispatch
import LatentCore

/// Reading a range of rows (first-axis positions) of a dataset: what a streaming source needs.
///
/// The fast path is the whole-file one of HDF5+ParallelRead.swift restricted to the chunks that
/// overlap the range: raw chunks are fetched under `HDF5Lock`, then inflated and unshuffled on
/// `H5Dataset.readThreads` threads outside it, and only the overlapping rows are copied out.
/// Anything else (other filters, another stored type, unwritten chunks) is a hyperslab H5Dread
/// with HDF5's type conversion, under the lock.
extension H5Dataset {
    /// Rows `range` of a 1-D or row-chunked 2-D dataset into `dest` (range.count × rowElems
    /// elements of `elementSize` bytes), converted to `memType`; `fileType` is the stored type the
    /// fast path needs (the memory type's little-endian twin).
    func readRows(_ range: Range<Int>, rowElems: Int, into dest: UnsafeMutableRawPointer, elementSize: Int,
                  memType: hid_t, fileType: hid_t) throws {
        if range.isEmpty || rowElems == 0 { return }
        if try readRowsFast(range, into: dest, elementSize: elementSize, fileType: fileType) { return }
        try HDF5Lock.run {
            let shape = self.shape
            let fileSpace = H5Dget_space(handle.id)
            defer { H5Sclose(fileSpace) }
            var start = [hsize_t](repeating: 0, count: shape.count), count = shape.map { hsize_t($0) }
            start[0] = hsize_t(range.lowerBound)
            count[0] = hsize_t(range.count)
            H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
            let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
            defer { H5Sclose(memSpace) }
            if H5Dread(handle.id, memType, memSpace, fileSpace, lh5_p_default(), dest) < 0 {
                throw error("cannot read rows \(range.lowerBound)..<\(range.upperBound) (damaged or truncated file?)")
            }
        }
    }

    /// False when the fast path does not apply (nothing written to `dest` that matters then).
    func readRowsFast(_ range: Range<Int>, into dest: UnsafeMutableRawPointer, elementSize: Int, fileType: hid_t) throws -> Bool {
        guard let (chunkRows, rowElems, shuffle) = HDF5Lock.run({ fastPathLayout(fileType: fileType) }), rowElems > 0 else { return false }
        let rank = HDF5Lock.run { shape.count }
        let chunkElems = chunkRows * rowElems
        let chunkBytes = chunkElems * elementSize
        let firstChunk = range.lowerBound / chunkRows, lastChunk = (range.upperBound - 1) / chunkRows
        let threads = H5Dataset.readThreads
        let batch = max(threads * 4, 8)
        var c0 = firstChunk
        while c0 <= lastChunk {
            let n = min(batch, lastChunk - c0 + 1)
            var raw = [[UInt8]](repeating: [], count: n)
            var masks = [UInt32](repeating: 0, count: n)
            let complete = try HDF5Lock.run { () throws -> Bool in
                for k in 0..<n {
                    var offset = [hsize_t](repeating: 0, count: rank)
                    offset[0] = hsize_t((c0 + k) * chunkRows)
                    var size: hsize_t = 0
                    if H5Dget_chunk_storage_size(handle.id, &offset, &size) < 0 { throw error("cannot read chunk sizes (damaged file?)") }
                    if size == 0 { return false }   // never written: fill values, leave to H5Dread
                    raw[k] = [UInt8](repeating: 0, count: Int(size))
                    var mask: UInt32 = 0
                    let ok = raw[k].withUnsafeMutableBytes { H5Dread_chunk(handle.id, lh5_p_default(), &offset, &mask, $0.baseAddress) }
                    if ok < 0 { throw error("cannot read data (damaged or truncated file?)") }
                    masks[k] = mask
                }
                return true
            }
            if !complete { return false }
            var failed = false
            let rawChunks = raw, masksNow = masks, start = c0
            DispatchQueue.concurrentPerform(iterations: min(threads, n)) { t in
                var scratch = [UInt8](repeating: 0, count: chunkBytes)
                guard let inflater = libdeflate_alloc_decompressor() else { failed = true; return }
                defer { libdeflate_free_decompressor(inflater) }
                var k = t
                while k < n {
                    defer { k += threads }
                    let c = start + k
                    // Rows of this chunk that the range wants, as element positions in the chunk.
                    let lo = max(range.lowerBound, c * chunkRows), hi = min(range.upperBound, (c + 1) * chunkRows)
                    let eFrom = (lo - c * chunkRows) * rowElems, eTo = (hi - c * chunkRows) * rowElems
                    let out = (dest + (lo - range.lowerBound) * rowElems * elementSize).assumingMemoryBound(to: UInt8.self)
                    let skipDeflate = masksNow[k] & (shuffle ? 2 : 1) != 0
                    let skipShuffle = !shuffle || masksNow[k] & 1 != 0
                    var plainCount = rawChunks[k].count
                    if !skipDeflate {
                        var destLen = 0
                        let rc = scratch.withUnsafeMutableBytes { d in
                            rawChunks[k].withUnsafeBytes { s in
                                libdeflate_zlib_decompress(inflater, s.baseAddress, s.count, d.baseAddress, d.count, &destLen)
                            }
                        }
                        if rc != LIBDEFLATE_SUCCESS || destLen < eTo * elementSize { failed = true; continue }
                        plainCount = destLen
                    } else {
                        if plainCount < eTo * elementSize || plainCount > chunkBytes { failed = true; continue }
                        scratch.withUnsafeMutableBytes { d in rawChunks[k].withUnsafeBytes { s in d.copyMemory(from: s) } }
                    }
                    scratch.withUnsafeBytes { p in
                        let src = p.baseAddress!.assumingMemoryBound(to: UInt8.self)
                        if skipShuffle {
                            out.update(from: src + eFrom * elementSize, count: (eTo - eFrom) * elementSize)
                        } else {
                            // Byte plane b of the full stored chunk holds byte b of every element.
                            lk_unshuffle(src, plainCount / elementSize, eFrom, eTo, elementSize, out)
                        }
                    }
                }
            }
            if failed { throw error("cannot inflate a compressed chunk (damaged file?)") }
            c0 += n
        }
        return true
    }
}
