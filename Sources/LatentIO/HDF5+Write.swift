@preconcurrency import CHDF5
import CDeflate
import Dispatch
import LatentCore

/// How arrays are stored: gzip level (0 = uncompressed; 1-9 as zlib's, given to libdeflate)
/// and how many threads compress.
public struct Compression: Sendable, Equatable {
    public var level: Int
    public var threads: Int

    /// The gzip level every `-o` .h5ad uses unless told otherwise (`--compression-level`).
    /// libdeflate at 2 gives the size zlib gave at 4, 2.2-2.8x faster (Benchmarks/results/deflate.md).
    public static let defaultLevel = 2

    public init(level: Int = Compression.defaultLevel, threads: Int = 1) {
        self.level = level
        self.threads = threads
    }

    public static let none = Compression(level: 0, threads: 1)
}

/// Element types we write, with their HDF5 file and memory types.
protocol H5Element {
    static var fileType: hid_t { get }
    static var memType: hid_t { get }
}
extension Float: H5Element {
    static var fileType: hid_t { lh5_ieee_f32le() }
    static var memType: hid_t { lh5_native_float() }
}
extension Double: H5Element {
    static var fileType: hid_t { lh5_ieee_f64le() }
    static var memType: hid_t { lh5_native_double() }
}
extension Int32: H5Element {
    static var fileType: hid_t { lh5_std_i32le() }
    static var memType: hid_t { lh5_native_int32() }
}
extension Int64: H5Element {
    static var fileType: hid_t { lh5_std_i64le() }
    static var memType: hid_t { lh5_native_int64() }
}
extension Int8: H5Element {
    static var fileType: hid_t { lh5_std_i8le() }
    static var memType: hid_t { lh5_native_int8() }
}

/// About 1 MiB per chunk: large enough for deflate to work well, small enough to split over threads.
let targetChunkBytes = 1 << 20

/// Rows per chunk of a compressed array of `rows` rows of `rowBytes` bytes.
func chunkRowsFor(rows: Int, rowBytes: Int) -> Int { max(1, min(rows, targetChunkBytes / max(1, rowBytes))) }

extension H5Group {
    private func fail(_ name: String, _ what: String) -> LatentError {
        .internalFailure("cannot \(what) \(handle.childPath(name))", file: file)
    }

    /// Writes a numeric array of `shape` (row-major). Compressed arrays are chunked along the first
    /// axis and compressed in parallel, then handed to HDF5 as ready chunks (H5Dwrite_chunk), which
    /// is what lets gzip writing use every core.
    @discardableResult
    func writeArray<T: H5Element>(_ name: String, _ values: UnsafeBufferPointer<T>, shape: [Int],
                                  compression: Compression) throws -> H5Dataset {
        precondition(shape.reduce(1, *) == values.count)
        var dims = shape.map { hsize_t($0) }
        let space = shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(shape.count), &dims, nil)
        defer { H5Sclose(space) }
        let (dcpl, chunkRows) = arrayCreateProperties(shape: shape, elementSize: MemoryLayout<T>.stride, compression: compression)
        defer { H5Pclose(dcpl) }
        let compress = chunkRows > 0
        let id = lh5_dcreate(handle.id, name, T.fileType, space, dcpl)
        if id < 0 { throw fail(name, "create dataset") }
        let ds = H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
        if values.isEmpty { return ds }
        if compress {
            try writeChunksInParallel(ds, values, shape: shape, chunkRows: chunkRows, compression: compression)
        } else if H5Dwrite(id, T.memType, lh5_s_all(), lh5_s_all(), lh5_p_default(), values.baseAddress) < 0 {
            throw fail(name, "write")
        }
        return ds
    }

    /// The creation properties of a numeric array and its rows per chunk (0: contiguous, not
    /// compressed): chunks of about `targetChunkBytes` along the first axis, shuffle + deflate.
    /// `H5ADStreamWriter` cuts its chunks by the same rule, so streamed and in-memory files agree.
    func arrayCreateProperties(shape: [Int], elementSize: Int, compression: Compression) -> (dcpl: hid_t, chunkRows: Int) {
        let dcpl = H5Pcreate(lh5_p_dataset_create())
        let count = shape.reduce(1, *)
        guard compression.level > 0 && count > 0 && !shape.isEmpty else { return (dcpl, 0) }
        var chunkDims = shape.map { hsize_t($0) }
        chunkDims[0] = hsize_t(chunkRowsFor(rows: shape[0], rowBytes: shape.dropFirst().reduce(1, *) * elementSize))
        H5Pset_chunk(dcpl, Int32(chunkDims.count), &chunkDims)
        H5Pset_shuffle(dcpl)
        H5Pset_deflate(dcpl, UInt32(min(9, compression.level)))
        return (dcpl, Int(chunkDims[0]))
    }

    @discardableResult
    func writeArray<T: H5Element>(_ name: String, _ values: [T], shape: [Int]? = nil, compression: Compression) throws -> H5Dataset {
        try values.withUnsafeBufferPointer { try writeArray(name, $0, shape: shape ?? [values.count], compression: compression) }
    }

    private func writeChunksInParallel<T>(_ ds: H5Dataset, _ values: UnsafeBufferPointer<T>, shape: [Int],
                                          chunkRows: Int, compression: Compression) throws {
        let elem = MemoryLayout<T>.stride
        let rowElems = shape.dropFirst().reduce(1, *)
        let chunkElems = chunkRows * rowElems
        let chunkBytes = chunkElems * elem
        let nChunks = (shape[0] + chunkRows - 1) / chunkRows
        let threads = max(1, compression.threads)
        // Compress a batch of chunks at a time so memory stays bounded by batch × chunk size.
        let batch = max(threads * 4, 8)
        let bound = libdeflate_zlib_compress_bound(nil, chunkBytes)
        let raw = UnsafeRawBufferPointer(values)
        var outBuffers = [UnsafeMutableRawPointer](repeating: UnsafeMutableRawPointer(bitPattern: 1)!, count: batch)
        for i in 0..<batch { outBuffers[i] = .allocate(byteCount: bound, alignment: 16) }
        var scratch = [UnsafeMutableRawPointer](repeating: UnsafeMutableRawPointer(bitPattern: 1)!, count: batch)
        for i in 0..<batch { scratch[i] = .allocate(byteCount: chunkBytes, alignment: 16) }
        defer {
            for p in outBuffers { p.deallocate() }
            for p in scratch { p.deallocate() }
        }
        var sizes = [Int](repeating: 0, count: batch)
        // libdeflate writes the same zlib streams as zlib's compress2 (HDF5's gzip filter reads
        // them), 1.5-2.5x faster and no larger at the same level; one compressor per thread.
        let level = Int32(min(9, compression.level))
        let workers = min(threads, batch)
        var compressors = [OpaquePointer?](repeating: nil, count: workers)
        for t in 0..<workers {
            guard let c = libdeflate_alloc_compressor(level) else {
                compressors.forEach { if let c = $0 { libdeflate_free_compressor(c) } }
                throw LatentError.internalFailure("cannot allocate a compressor for \(ds.path)", file: file)
            }
            compressors[t] = c
        }
        defer { compressors.forEach { if let c = $0 { libdeflate_free_compressor(c) } } }
        var start = 0
        while start < nChunks {
            let n = min(batch, nChunks - start)
            let failed = sizes.withUnsafeMutableBufferPointer { sz -> Bool in
                let outs = outBuffers, scr = scratch, cmp = compressors
                var bad = false
                DispatchQueue.concurrentPerform(iterations: min(threads, n)) { t in
                    var k = t
                    while k < n {
                        let c = start + k
                        let from = c * chunkBytes
                        let have = min(chunkBytes, raw.count - from)
                        let shuffled = scr[k].assumingMemoryBound(to: UInt8.self)
                        shuffleBytes(raw.baseAddress! + from, have: have, total: chunkBytes, elementSize: elem, into: shuffled)
                        let n = libdeflate_zlib_compress(cmp[t], shuffled, chunkBytes, outs[k], bound)
                        if n == 0 { bad = true }
                        sz[k] = n
                        k += threads
                    }
                }
                return bad
            }
            if failed { throw LatentError.internalFailure("deflate failed while compressing \(ds.path)", file: file) }
            for k in 0..<n {
                var offset = [hsize_t](repeating: 0, count: shape.count)
                offset[0] = hsize_t((start + k) * chunkRows)
                if H5Dwrite_chunk(ds.handle.id, lh5_p_default(), 0, &offset, sizes[k], outBuffers[k]) < 0 {
                    throw LatentError.internalFailure("cannot write chunk of \(ds.path)", file: file)
                }
            }
            start += n
        }
    }

    /// A string array as anndata writes it: variable-length UTF-8.
    @discardableResult
    func writeStrings(_ name: String, _ strings: [String], compression: Compression) throws -> H5Dataset {
        let t = makeUTF8VariableStringType()
        defer { H5Tclose(t) }
        var dims = [hsize_t(strings.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(lh5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        if compression.level > 0 && !strings.isEmpty {
            var chunk = [hsize_t(min(strings.count, 65536))]
            H5Pset_chunk(dcpl, 1, &chunk)
            H5Pset_deflate(dcpl, UInt32(min(9, compression.level)))
        }
        let id = lh5_dcreate(handle.id, name, t, space, dcpl)
        if id < 0 { throw fail(name, "create dataset") }
        let ds = H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
        if strings.isEmpty { return ds }
        let rc = withCStringArray(strings) { H5Dwrite(id, t, lh5_s_all(), lh5_s_all(), lh5_p_default(), $0) }
        if rc < 0 { throw fail(name, "write") }
        return ds
    }

    @discardableResult
    func writeScalarString(_ name: String, _ value: String) throws -> H5Dataset {
        let t = makeUTF8VariableStringType()
        defer { H5Tclose(t) }
        let space = H5Screate(H5S_SCALAR)
        defer { H5Sclose(space) }
        let id = lh5_dcreate(handle.id, name, t, space, lh5_p_default())
        if id < 0 { throw fail(name, "create dataset") }
        let ds = H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
        let rc = value.withCString { p -> herr_t in
            var ptr: UnsafePointer<CChar>? = p
            return H5Dwrite(id, t, lh5_s_all(), lh5_s_all(), lh5_p_default(), &ptr)
        }
        if rc < 0 { throw fail(name, "write") }
        return ds
    }

    @discardableResult
    func writeScalar<T: H5Element>(_ name: String, _ value: T) throws -> H5Dataset {
        try [value].withUnsafeBufferPointer { try writeArray(name, $0, shape: [], compression: .none) }
    }

    /// Integers stored with the little-endian integer type of `bytes` width and signedness
    /// (pandas' nullable Int8 … UInt64 keep their width); HDF5 converts from Int64.
    @discardableResult
    func writeIntegers(_ name: String, _ values: [Int64], bytes: Int, signed: Bool, compression: Compression) throws -> H5Dataset {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(lh5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        if compression.level > 0 && !values.isEmpty {
            var chunk = [hsize_t(min(values.count, targetChunkBytes / 8))]
            H5Pset_chunk(dcpl, 1, &chunk)
            H5Pset_deflate(dcpl, UInt32(min(9, compression.level)))
        }
        let id = lh5_dcreate(handle.id, name, lh5_std_int_le(Int32(bytes), signed ? 1 : 0), space, dcpl)
        if id < 0 { throw fail(name, "create dataset") }
        let ds = H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
        if values.isEmpty { return ds }
        if H5Dwrite(id, lh5_native_int64(), lh5_s_all(), lh5_s_all(), lh5_p_default(), values) < 0 { throw fail(name, "write") }
        return ds
    }

    /// A bool array as h5py writes numpy bools: an enum {FALSE=0, TRUE=1} over int8.
    @discardableResult
    func writeBools(_ name: String, _ values: [Bool], shape: [Int]? = nil, compression: Compression) throws -> H5Dataset {
        let t = makeBoolType()
        defer { H5Tclose(t) }
        let shp = shape ?? [values.count]
        var dims = shp.map { hsize_t($0) }
        let space = shp.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, nil)
        defer { H5Sclose(space) }
        let dcpl = H5Pcreate(lh5_p_dataset_create())
        defer { H5Pclose(dcpl) }
        if compression.level > 0 && !values.isEmpty && !shp.isEmpty {
            var chunk = dims
            chunk[0] = hsize_t(min(Int(dims[0]), targetChunkBytes))
            H5Pset_chunk(dcpl, Int32(chunk.count), &chunk)
            H5Pset_deflate(dcpl, UInt32(min(9, compression.level)))
        }
        let id = lh5_dcreate(handle.id, name, t, space, dcpl)
        if id < 0 { throw fail(name, "create dataset") }
        let ds = H5Dataset(H5Handle(id: id, path: handle.childPath(name), file: file, closer: H5Dclose))
        if values.isEmpty { return ds }
        let bytes = values.map { Int8($0 ? 1 : 0) }
        if H5Dwrite(id, t, lh5_s_all(), lh5_s_all(), lh5_p_default(), bytes) < 0 { throw fail(name, "write") }
        return ds
    }
}

/// HDF5's shuffle filter: byte k of every element goes to plane k. Bytes past `have` are zero
/// padding (the last chunk of a dataset is written full size).
@inline(__always)
func shuffleBytes(_ src: UnsafeRawPointer, have: Int, total: Int, elementSize: Int, into dst: UnsafeMutablePointer<UInt8>) {
    let s = src.assumingMemoryBound(to: UInt8.self)
    let n = total / elementSize
    let full = have / elementSize
    if elementSize == 1 {
        dst.update(from: s, count: have)
        (dst + have).initialize(repeating: 0, count: total - have)
        return
    }
    for b in 0..<elementSize {
        let plane = dst + b * n
        var i = 0
        var p = s + b
        while i < full { plane[i] = p.pointee; p += elementSize; i += 1 }
        while i < n { plane[i] = 0; i += 1 }
    }
}
