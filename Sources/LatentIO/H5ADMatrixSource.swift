@preconcurrency import CHDF5
import LatentCore

/// X (or a layer) of an .h5ad read in row ranges: the file side of streaming (issue 16).
///
/// CSR keeps only `indptr` in memory (8 bytes a row: 10 MB for 1.3 M cells), so a chunk's
/// non-zeros are one contiguous slice of `data` and `indices`, and `storedCount` needs no I/O.
/// Dense X is read by row blocks. Compressed chunks are inflated in parallel outside the HDF5
/// lock (HDF5+RangeRead.swift), so the prefetch of `RowChunking.forEach` overlaps a stage's work.
/// CSC cannot be cut by rows without reading it all; it is refused with what to do instead.
public final class H5ADMatrixSource: MatrixSource, @unchecked Sendable {
    public let path: String
    /// The HDF5 path of the matrix ("/X" or "/layers/<name>").
    public let element: String
    public let rows: Int
    public let cols: Int
    public let isSparse: Bool
    /// CSR row pointers (empty when dense).
    public let indptr: [Int]

    private let file: H5File
    private let data: H5Dataset
    private let indices: H5Dataset?

    /// Opens `path` and X, or `layers/<layer>` when `layer` is given. Bad files throw one-line
    /// errors naming the file and HDF5 path.
    public init(path: String, layer: String? = nil) throws {
        self.path = path
        let opened = try HDF5Lock.run { () throws -> (H5File, String, Int, Int, Bool, [Int], H5Dataset, H5Dataset?) in
            try AtomicOutput.decoding(path) {
                let file = try H5File.open(path)
                var parent = file.root
                var name = "X"
                if let layer {
                    parent = try file.root.group("layers")
                    name = layer
                }
                let element = parent.handle.childPath(name)
                switch parent.kind(of: name) {
                case .missing:
                    throw LatentError.badInput(path, element, "missing: the file has no such matrix")
                case .dataset:
                    let d = try parent.dataset(name)
                    if let enc = try d.stringAttribute("encoding-type"), enc != "array" {
                        throw d.error("encoding-type '\(enc)' where a matrix was expected (array, csr_matrix or csc_matrix)")
                    }
                    let shape = d.shape
                    guard shape.count == 2 else { throw d.error("expected a 2-D array, found \(shape.count)-D shape \(shape)") }
                    switch d.valueClass {
                    case .integer, .float, .bool: break
                    case .string: throw d.error("expected numbers, found strings")
                    case .other(let s): throw d.error("expected numbers, found \(s)")
                    }
                    return (file, element, shape[0], shape[1], false, [], d, nil)
                case .group:
                    let g = try parent.group(name)
                    var enc = try g.stringAttribute("encoding-type")
                    if enc == nil, let legacy = try g.stringAttribute("h5sparse_format") { enc = legacy + "_matrix" }
                    if enc == "csc_matrix" {
                        throw g.error("CSC matrix cannot be streamed by rows",
                                      hint: "convert it to CSR first, e.g. latent import \(path) -o csr.h5ad, or in Python adata.X = adata.X.tocsr()")
                    }
                    guard enc == "csr_matrix" else {
                        throw g.error("unknown encoding-type '\(enc ?? "none")' for a matrix (expected csr_matrix or a dense array)")
                    }
                    guard let shape = try g.int64sAttribute("shape") ?? g.int64sAttribute("h5sparse_shape"), shape.count == 2,
                          shape[0] >= 0, shape[1] >= 0 else {
                        throw g.error("sparse matrix without a 2-element 'shape' attribute")
                    }
                    let rows = Int(shape[0]), cols = Int(shape[1])
                    let dataDs = try g.dataset("data"), indDs = try g.dataset("indices"), ptrDs = try g.dataset("indptr")
                    for (ds, what) in [(dataDs, "data"), (indDs, "indices"), (ptrDs, "indptr")] {
                        guard ds.shape.count == 1 else { throw ds.error("\(what) should be 1-D, found shape \(ds.shape)") }
                        switch ds.valueClass {
                        case .integer, .float, .bool: break
                        case .string: throw ds.error("expected numbers, found strings")
                        case .other(let s): throw ds.error("expected numbers, found \(s)")
                        }
                    }
                    if case .float = indDs.valueClass { throw indDs.error("column indices should be integers, found floats") }
                    let nnz = dataDs.elementCount
                    if indDs.elementCount != nnz { throw indDs.error("has \(indDs.elementCount) entries but data has \(nnz)") }
                    guard ptrDs.elementCount == rows + 1 else {
                        throw ptrDs.error("has \(ptrDs.elementCount) entries, expected \(rows + 1) (rows + 1)")
                    }
                    // int32 or int64 on disk; HDF5 widens int32 on the way.
                    let ptr = try ptrDs.readInt64s()
                    var indptr = [Int](repeating: 0, count: ptr.count)
                    if ptr.first != 0 { throw ptrDs.error("does not start at 0") }
                    for i in 0..<ptr.count {
                        indptr[i] = Int(ptr[i])
                        if i > 0 && indptr[i] < indptr[i - 1] { throw ptrDs.error("decreases at row \(i - 1)") }
                    }
                    if indptr[rows] != nnz { throw ptrDs.error("ends at \(indptr[rows]) but data has \(nnz) non-zeros") }
                    return (file, element, rows, cols, true, indptr, dataDs, indDs)
                }
            }
        }
        (file, element, rows, cols, isSparse, indptr, data, indices) = opened
    }

    public func storedCount(_ range: Range<Int>) -> Int {
        isSparse ? indptr[range.upperBound] - indptr[range.lowerBound] : range.count * cols
    }

    /// Rows `range`; a sparse block's indptr starts at 0 and its column indices are checked.
    public func read(_ range: Range<Int>) throws -> MatrixData {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "row range outside the matrix")
        return try AtomicOutput.decoding(path) {
            guard let indices else {
                let values = try readSlice(data, range, rowElems: cols, as: Float.self)
                return .dense(Matrix(rows: range.count, cols: cols, values: values))
            }
            let lo = indptr[range.lowerBound], hi = indptr[range.upperBound]
            let values = try readSlice(data, lo..<hi, rowElems: 1, as: Float.self)
            let idx = try readSlice(indices, lo..<hi, rowElems: 1, as: Int32.self)
            let c = Int32(truncatingIfNeeded: cols)
            if cols > Int(Int32.max) { throw data.error("\(cols) columns do not fit 32-bit column indices") }
            // The largest index as unsigned (negatives wrap above every column): a vectorised
            // reduction; the position is searched only when one is out of range.
            let largest = idx.withUnsafeBufferPointer { b in b.reduce(UInt32(0)) { Swift.max($0, UInt32(bitPattern: $1)) } }
            if largest >= UInt32(c), let bad = idx.firstIndex(where: { $0 < 0 || $0 >= c }) {
                throw indices.error("column index \(idx[bad]) out of range 0..<\(cols) at position \(lo + bad)")
            }
            var ptr = [Int](repeating: 0, count: range.count + 1)
            for (k, i) in range.enumerated() { ptr[k + 1] = indptr[i + 1] - lo }
            return .sparse(SparseMatrix(rows: range.count, cols: cols, indptr: ptr, indices: idx, values: values))
        }
    }

    private func readSlice<T: H5Element>(_ ds: H5Dataset, _ range: Range<Int>, rowElems: Int, as: T.Type) throws -> [T] {
        let count = range.count * rowElems
        if count == 0 { return [] }
        var failure: Error? = nil
        let out = [T](unsafeUninitializedCapacity: count) { buf, n in
            do {
                try ds.readRows(range, rowElems: rowElems, into: UnsafeMutableRawPointer(buf.baseAddress!),
                                elementSize: MemoryLayout<T>.stride, memType: T.memType, fileType: T.fileType)
            } catch {
                failure = error
                UnsafeMutableRawPointer(buf.baseAddress!).initializeMemory(as: UInt8.self, repeating: 0, count: count * MemoryLayout<T>.stride)
            }
            n = count
        }
        if let failure { throw failure }
        return out
    }
}

extension H5AD {
    /// Everything of an .h5ad but its matrices' values: obs, var, and (when asked) obsm, varm
    /// and uns. What a streaming stage reads besides X, and what `H5ADStreamWriter` writes.
    public struct Annotations: Sendable, Equatable {
        public var obs: DataFrame
        public var `var`: DataFrame
        public var obsm = MatrixDict()
        public var varm = MatrixDict()
        public var uns = OrderedDict()

        public init(obs: DataFrame, `var` vars: DataFrame, obsm: MatrixDict = MatrixDict(), varm: MatrixDict = MatrixDict(),
                    uns: OrderedDict = OrderedDict()) {
            self.obs = obs
            self.var = vars
            self.obsm = obsm
            self.varm = varm
            self.uns = uns
        }

        /// The annotations of an in-memory dataset (its layers are not part of them).
        public init(_ ds: Dataset) {
            self.init(obs: ds.obs, var: ds.var, obsm: ds.obsm, varm: ds.varm, uns: ds.uns)
        }
    }

    /// obs and var (and obsm/varm/uns with `aligned`) without reading X. Warnings as `read`'s.
    public static func readAnnotations(_ path: String, aligned: Bool = true, warnings: inout [String]) throws -> Annotations {
        try HDF5Lock.run {
            try AtomicOutput.decoding(path) {
                let file = try H5File.open(path)
                let root = file.root
                if root.kind(of: "obs") == .dataset {
                    throw LatentError.badInput(path, "/obs", "legacy AnnData layout (obs as a compound dataset, anndata < 0.7)",
                                               hint: "re-save the file with a current anndata: ad.read_h5ad(f).write_h5ad(f)")
                }
                var reader = Reader(warnings: [], source: nil)
                defer { warnings += reader.warnings }
                var a = Annotations(obs: try reader.dataFrame(try root.group("obs")), var: try reader.dataFrame(try root.group("var")))
                if aligned {
                    for (name, keyPath) in [("obsm", \Annotations.obsm), ("varm", \Annotations.varm)] as [(String, WritableKeyPath<Annotations, MatrixDict>)] {
                        guard root.kind(of: name) == .group else { continue }
                        let g = try root.group(name)
                        for key in try g.memberNames() {
                            if let m = try reader.alignedMatrix(g, key) { a[keyPath: keyPath][key] = m }
                        }
                    }
                    if root.kind(of: "uns") == .group {
                        let uns = try root.group("uns")
                        try reader.checkKnown(uns)
                        a.uns = try reader.dict(uns)
                    }
                }
                return a
            }
        }
    }
}
