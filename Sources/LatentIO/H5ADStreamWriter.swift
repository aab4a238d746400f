@preconcurrency import CHDF5
import CDeflate
import Dispatch
import Foundation
import LatentCore

/// An .h5ad whose X arrives in row blocks: the `MatrixSink` of streaming stages (issue 16).
///
/// The file must come out exactly as `H5AD.write` would write the same dataset, so that streamed,
/// sharded and in-memory runs give the same bytes. `H5AD.write` creates each array with its final
/// length, chunk length min(length, ~1 MiB) and writes its chunks in order, array after array; the
/// HDF5 file's layout follows that order of calls. Appending to extendible datasets would give
/// another layout (max dims, chunk index, data interleaved between arrays). So the blocks'
/// values are cut into those same chunks as they arrive, compressed in parallel (the chunk
/// compressor of `H5AD.write`: shuffle + libdeflate), and spooled to unnamed temporary files
/// beside the output; `finish` then replays `H5AD.write`'s sequence with the ready chunks
/// (H5Dwrite_chunk, no recompression) into a temporary file renamed into place. The cost is one
/// extra sequential write and read of the compressed X. Memory stays at a few MiB per array
/// plus 8 bytes per row for indptr.
///
/// Nothing is visible under `path` before `finish` succeeds; the spool files have no name, so a
/// failure or a kill leaves nothing behind. obs/var (and obsm/varm/uns) are given up front or set
/// in `annotations` before `finish`.
public final class H5ADStreamWriter: MatrixSink {
    public let path: String
    public let cols: Int
    public let isSparse: Bool
    public let compression: Compression
    /// obs (one row per appended row), var (one per column), obsm/varm/uns; needed by `finish`.
    public var annotations: H5AD.Annotations?
    public var rows: Int { x.rows }

    private let x: MatrixSpool
    /// Layers declared up front, in the order they are written (H5AD.write's: the dict's order).
    private let layers: [(name: String, spool: MatrixSpool)]
    private var finished = false

    /// `sparse`: X is written as CSR (int64 indptr); else as a dense array. `layers` (name and
    /// sparse or not) are streamed beside X with `appendLayer`, each the same rows as X. The
    /// output's directory must exist (checked here, before any work).
    public init(path: String, cols: Int, sparse: Bool, compression: Compression = Compression(),
                annotations: H5AD.Annotations? = nil, layers: [(name: String, sparse: Bool)] = []) throws {
        self.path = path
        self.cols = cols
        self.isSparse = sparse
        self.compression = compression
        self.annotations = annotations
        let dir = (path as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        let d = dir.isEmpty ? "." : dir
        guard FileManager.default.fileExists(atPath: d, isDirectory: &isDir), isDir.boolValue else {
            throw LatentError.badInput(path, nil, "output directory \(d) does not exist")
        }
        if Set(layers.map(\.name)).count != layers.count { preconditionFailure("layer named twice") }
        x = try MatrixSpool(directory: d, output: path, what: "X", cols: cols, sparse: sparse, compression: compression)
        self.layers = try layers.map { ($0.name, try MatrixSpool(directory: d, output: path, what: "layers/" + $0.name, cols: cols,
                                                                   sparse: $0.sparse, compression: compression)) }
    }

    /// The next rows of X.
    public func append(_ block: MatrixData) throws {
        precondition(!finished, "append after finish")
        try x.append(block)
    }

    /// The next rows of layer `name` (declared in `init`).
    public func appendLayer(_ name: String, _ block: MatrixData) throws {
        precondition(!finished, "append after finish")
        guard let l = layers.first(where: { $0.name == name }) else {
            throw LatentError.internalFailure("layer \(name) was not declared when the output was opened", file: path)
        }
        try l.spool.append(block)
    }

    /// Writes the file (X from the spool, then obs, var, layers, … as `H5AD.write`) and renames it into place.
    public func finish() throws {
        precondition(!finished, "finish called twice")
        guard let a = annotations else { throw LatentError.internalFailure("streamed output finished without obs/var", file: path) }
        if a.obs.count != rows { throw LatentError.internalFailure("obs has \(a.obs.count) rows but \(rows) rows were written", file: path) }
        if a.var.count != cols { throw LatentError.internalFailure("var has \(a.var.count) rows but X has \(cols) columns", file: path) }
        for l in layers where l.spool.rows != rows {
            throw LatentError.internalFailure("layers/\(l.name) has \(l.spool.rows) rows, X \(rows)", file: path)
        }
        for k in a.obsm.keys where a.obsm[k]!.rows != rows {
            throw LatentError.internalFailure("obsm/\(k) has \(a.obsm[k]!.rows) rows, expected \(rows)", file: path)
        }
        try x.close()
        for l in layers { try l.spool.close() }
        try HDF5Lock.run {
            try AtomicOutput.write(to: path) { tmp in
                let file = try H5File.create(tmp, displayName: path)
                let w = H5AD.Writer(compression: compression)
                try H5AD.writeElements(file, w, X: { root in try x.write(root, "X") },
                                       obs: a.obs, var: a.var,
                                       layers: { root in
                                           let g = try root.createGroup("layers")
                                           try g.setEncoding("dict", "0.1.0")
                                           for l in layers { try l.spool.write(g, l.name) }
                                       },
                                       obsm: a.obsm, varm: a.varm, uns: a.uns)
            }
        }
        finished = true
    }
}

/// One matrix (X or a layer) arriving in row blocks: CSR's data and indices spooled, indptr in
/// memory (8 bytes a row), or a dense matrix's rows spooled.
final class MatrixSpool {
    let output: String, what: String
    let cols: Int
    let isSparse: Bool
    let compression: Compression
    private(set) var rows = 0
    private var indptr: [Int64] = [0]
    private let values: ChunkSpool
    private let indices: ChunkSpool?

    init(directory: String, output: String, what: String, cols: Int, sparse: Bool, compression: Compression) throws {
        self.output = output
        self.what = what
        self.cols = cols
        self.isSparse = sparse
        self.compression = compression
        values = try ChunkSpool(directory: directory, output: output, elementSize: 4, rowElems: sparse ? 1 : cols, compression: compression)
        indices = sparse ? try ChunkSpool(directory: directory, output: output, elementSize: 4, rowElems: 1, compression: compression) : nil
    }

    func append(_ block: MatrixData) throws {
        guard block.cols == cols else {
            throw LatentError.internalFailure("block with \(block.cols) columns appended to \(what) of \(cols) columns", file: output)
        }
        switch block {
        case .sparse(let s):
            guard isSparse, let indices else { throw LatentError.internalFailure("sparse block appended to a dense \(what)", file: output) }
            let base = indptr.last!
            indptr.reserveCapacity(indptr.count + s.rows)
            for i in 0..<s.rows { indptr.append(base + Int64(s.indptr[i + 1] - s.indptr[0])) }
            let lo = s.indptr[0], hi = s.indptr[s.rows]
            try s.values.withUnsafeBytes { try values.append(UnsafeRawBufferPointer(rebasing: $0[(lo * 4)..<(hi * 4)])) }
            try s.indices.withUnsafeBytes { try indices.append(UnsafeRawBufferPointer(rebasing: $0[(lo * 4)..<(hi * 4)])) }
        case .dense(let m):
            guard !isSparse else { throw LatentError.internalFailure("dense block appended to a sparse \(what)", file: output) }
            try m.values.withUnsafeBytes { try values.append($0) }
        }
        rows += block.rows
    }

    func close() throws {
        try values.close()
        try indices?.close()
    }

    /// The matrix as `H5AD.Writer.matrix` writes it.
    func write(_ parent: H5Group, _ name: String) throws {
        if let indices {
            let g = try parent.createGroup(name)
            try g.setEncoding("csr_matrix", "0.1.0")
            try g.setAttribute("shape", int64s: [Int64(rows), Int64(cols)])
            try values.writeDataset(g, "data", shape: [values.units], fileType: Float.fileType, memType: Float.memType)
            try indices.writeDataset(g, "indices", shape: [indices.units], fileType: Int32.fileType, memType: Int32.memType)
            try g.writeArray("indptr", indptr, compression: compression)
        } else {
            let ds = try values.writeDataset(parent, name, shape: [rows, cols], fileType: Float.fileType, memType: Float.memType)
            try ds.setEncoding("array", "0.2.0")
        }
    }
}

/// One array's values on their way to the file: cut into the chunks `H5AD.write` would make,
/// compressed in parallel batches, appended to an unnamed temporary file. Level 0 spools the raw
/// bytes (the array is then contiguous, as `H5AD.write` stores it uncompressed).
final class ChunkSpool {
    let elementSize: Int
    let rowElems: Int
    let compression: Compression
    let output: String
    /// Rows (elements for 1-D) received.
    private(set) var units = 0
    private let fd: Int32
    private var offset = 0
    /// Compressed chunk sizes in spool order (compressed arrays only).
    private var chunkSizes: [Int] = []
    private var pending: [UInt8] = []
    private let fullChunkRows: Int
    private let batch: Int
    private var closed = false

    init(directory: String, output: String, elementSize: Int, rowElems: Int, compression: Compression) throws {
        self.elementSize = elementSize
        self.rowElems = rowElems
        self.compression = compression
        self.output = output
        fullChunkRows = chunkRowsFor(rows: Int.max, rowBytes: rowElems * elementSize)
        batch = max(compression.threads * 4, 8)
        // Named only for an instant: unlinked at once, so neither a failure nor a kill leaves it.
        let name = directory + "/.\((output as NSString).lastPathComponent).spool-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        fd = open(name, O_RDWR | O_CREAT | O_EXCL, 0o600)
        if fd < 0 { throw LatentError.internalFailure("cannot create a temporary file in \(directory): \(String(cString: strerror(errno)))", file: output) }
        unlink(name)
    }

    deinit { Glibc.close(fd) }

    private var rowBytes: Int { rowElems * elementSize }
    private var compressed: Bool { compression.level > 0 }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(bytes.count % max(1, rowBytes) == 0)
        units += rowBytes == 0 ? 0 : bytes.count / rowBytes
        pending.append(contentsOf: bytes)
        let chunkBytes = fullChunkRows * rowBytes
        if compressed {
            // A batch of full chunks at a time, so every thread has work.
            if pending.count >= batch * chunkBytes { try flushChunks(chunkRows: fullChunkRows, final: false) }
        } else if pending.count >= 16 << 20 {
            try writeSpool(pending[...])
            pending.removeAll(keepingCapacity: true)
        }
    }

    /// Compresses the pending full chunks (and with `final` the last partial one, zero-padded as
    /// `H5AD.write` pads it) and spools them; what is left stays pending.
    private func flushChunks(chunkRows: Int, final: Bool) throws {
        let chunkBytes = chunkRows * rowBytes
        let whole = pending.count / chunkBytes
        let n = whole + (final && pending.count % chunkBytes != 0 ? 1 : 0)
        if n == 0 { return }
        let bound = libdeflate_zlib_compress_bound(nil, chunkBytes)
        let threads = max(1, min(compression.threads, n))
        let level = Int32(min(9, compression.level))
        var outs = [[UInt8]](repeating: [], count: n)
        var sizes = [Int](repeating: 0, count: n)
        var failed = false
        pending.withUnsafeBytes { raw in
            outs.withUnsafeMutableBufferPointer { outBuf in
                sizes.withUnsafeMutableBufferPointer { sz in
                    DispatchQueue.concurrentPerform(iterations: threads) { t in
                        guard let c = libdeflate_alloc_compressor(level) else { failed = true; return }
                        defer { libdeflate_free_compressor(c) }
                        let shuffled = UnsafeMutablePointer<UInt8>.allocate(capacity: chunkBytes)
                        defer { shuffled.deallocate() }
                        var k = t
                        while k < n {
                            let from = k * chunkBytes
                            let have = min(chunkBytes, raw.count - from)
                            shuffleBytes(raw.baseAddress! + from, have: have, total: chunkBytes, elementSize: elementSize, into: shuffled)
                            var out = [UInt8](repeating: 0, count: bound)
                            let m = out.withUnsafeMutableBytes { libdeflate_zlib_compress(c, shuffled, chunkBytes, $0.baseAddress, bound) }
                            if m == 0 { failed = true }
                            sz[k] = m
                            outBuf[k] = out
                            k += threads
                        }
                    }
                }
            }
        }
        if failed { throw LatentError.internalFailure("deflate failed while compressing X", file: output) }
        for k in 0..<n {
            try writeSpool(outs[k][0..<sizes[k]])
            chunkSizes.append(sizes[k])
        }
        pending.removeFirst(min(pending.count, n * chunkBytes))
    }

    private func writeSpool(_ bytes: ArraySlice<UInt8>) throws {
        try bytes.withUnsafeBytes { b in
            var done = 0
            while done < b.count {
                let w = pwrite(fd, b.baseAddress! + done, b.count - done, off_t(offset + done))
                if w < 0 {
                    if errno == EINTR { continue }
                    throw LatentError.internalFailure("cannot write the temporary spool: \(String(cString: strerror(errno)))", file: output)
                }
                done += w
            }
        }
        offset += bytes.count
    }

    private func readSpool(at pos: Int, _ count: Int, into p: UnsafeMutableRawPointer) throws {
        var done = 0
        while done < count {
            let r = pread(fd, p + done, count - done, off_t(pos + done))
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { throw LatentError.internalFailure("cannot read back the temporary spool", file: output) }
            done += r
        }
    }

    /// The rows per chunk the whole array gets: `H5AD.write`'s min(rows, ~1 MiB of rows).
    private var chunkRows: Int { chunkRowsFor(rows: units, rowBytes: rowBytes) }

    /// Spools what is pending (the last chunk); no appends after this.
    func close() throws {
        guard !closed else { return }
        closed = true
        if compressed && units > 0 {
            // Fewer rows than one full chunk: no chunk was spooled yet and the one chunk is `units` rows.
            try flushChunks(chunkRows: chunkRows, final: true)
        } else if !pending.isEmpty {
            try writeSpool(pending[...])
            pending = []
        }
    }

    /// Creates the dataset as `writeArray` would for the whole array and fills it from the spool.
    @discardableResult
    func writeDataset(_ parent: H5Group, _ name: String, shape: [Int], fileType: hid_t, memType: hid_t) throws -> H5Dataset {
        precondition(closed && shape[0] == units)
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(shape.count), &dims, nil)
        defer { H5Sclose(space) }
        let (dcpl, rowsPerChunk) = parent.arrayCreateProperties(shape: shape, elementSize: elementSize, compression: compression)
        defer { H5Pclose(dcpl) }
        let id = lh5_dcreate(parent.handle.id, name, fileType, space, dcpl)
        if id < 0 { throw LatentError.internalFailure("cannot create dataset \(parent.handle.childPath(name))", file: output) }
        let ds = H5Dataset(H5Handle(id: id, path: parent.handle.childPath(name), file: parent.file, closer: H5Dclose))
        if units == 0 || rowElems == 0 { return ds }
        if rowsPerChunk > 0 {
            precondition(rowsPerChunk == chunkRows)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, chunkSizes.max() ?? 1), alignment: 16)
            defer { buffer.deallocate() }
            var pos = 0
            for (c, size) in chunkSizes.enumerated() {
                try readSpool(at: pos, size, into: buffer)
                pos += size
                var off = [hsize_t](repeating: 0, count: shape.count)
                off[0] = hsize_t(c * rowsPerChunk)
                if H5Dwrite_chunk(id, lh5_p_default(), 0, &off, size, buffer) < 0 {
                    throw LatentError.internalFailure("cannot write chunk of \(ds.path)", file: output)
                }
            }
        } else {
            // Contiguous: row slabs of about 64 MiB.
            let slabRows = max(1, (64 << 20) / max(1, rowBytes))
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: min(units, slabRows) * rowBytes, alignment: 16)
            defer { buffer.deallocate() }
            var r = 0
            while r < units {
                let n = min(slabRows, units - r)
                try readSpool(at: r * rowBytes, n * rowBytes, into: buffer)
                let fileSpace = H5Dget_space(id)
                defer { H5Sclose(fileSpace) }
                var start = [hsize_t](repeating: 0, count: shape.count), count = dims
                start[0] = hsize_t(r)
                count[0] = hsize_t(n)
                H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, &start, nil, &count, nil)
                let memSpace = H5Screate_simple(Int32(count.count), &count, nil)
                defer { H5Sclose(memSpace) }
                if H5Dwrite(id, memType, memSpace, fileSpace, lh5_p_default(), buffer) < 0 {
                    throw LatentError.internalFailure("cannot write \(ds.path)", file: output)
                }
                r += n
            }
        }
        return ds
    }
}
