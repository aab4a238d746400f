@preconcurrency import CHDF5
import LatentCore

extension H5AD {
    /// Writes `dataset` as an `.h5ad` that anndata ≥ 0.8 reads unchanged, atomically (temporary
    /// file, then rename).
    ///
    /// **Carried elements.** X and each layers/obsm/varm entry that still remembers
    /// where it is stored (`Dataset.stored`, `MatrixDict.stored`; see Dataset+Stored.swift) is
    /// copied from that file as stored — same chunks, same filters, never decoded or re-encoded —
    /// and everything else is encoded with `compression`. A stage gets this for free: read the
    /// input with `H5AD.read`, add or replace only what it computes (assigning X or mutating
    /// obs forgets their stored location), write. To keep a dataset in memory between stages,
    /// use the returned value: it is `dataset` with every element marked as stored in the file
    /// just written, exactly as `H5AD.read` of that file would mark it, so writing the next
    /// stage's result from it gives the same bytes as a process that reads this file back.
    /// A source file changed since it was read is not copied from (its values are encoded).
    /// If the written file is then moved (a cache entry's directory renamed into place), call
    /// `storedFileMoved(from:to:)` on the returned dataset so that its marks follow the file.
    @discardableResult
    public static func write(_ dataset: Dataset, to path: String, compression: Compression = Compression()) throws -> Dataset {
        if let (p, msg) = dataset.shapeError() { throw LatentError.internalFailure("refusing to write inconsistent data: \(p) \(msg)", file: path) }
        let copier = StoredCopier()
        try HDF5Lock.run { try AtomicOutput.write(to: path) { tmp in
            let file = try H5File.create(tmp, displayName: path)
            let w = Writer(compression: compression, copier: copier)
            try writeElements(file, w, X: { root in
                if !copier.copy(dataset.stored.X, to: root, "X") { try w.matrix(root, "X", dataset.X) }
            }, obs: dataset.obs, var: dataset.var,
               layers: { try w.matrixDict($0, "layers", dataset.layers) }, obsm: dataset.obsm, varm: dataset.varm, uns: dataset.uns)
        } }
        lastCarried = copier.copied
        var out = dataset
        guard let written = StoredFile.current(path) else { out.forgetStored(); return out }
        func at(_ p: String) -> StoredElement { StoredElement(file: written, path: p) }
        out.stored = StoredElements(X: at("/X"), obs: at("/obs"), var: at("/var"))
        for k in out.layers.keys { out.layers.markStored(k, at: at("/layers/" + k)) }
        for k in out.obsm.keys { out.obsm.markStored(k, at: at("/obsm/" + k)) }
        for k in out.varm.keys { out.varm.markStored(k, at: at("/varm/" + k)) }
        return out
    }

    /// The file's elements in anndata's order; X by `X`. `H5ADStreamWriter` shares this, so that a
    /// streamed file is laid out exactly as one written from memory.
    static func writeElements(_ file: H5File, _ w: Writer, X: (H5Group) throws -> Void,
                              obs: DataFrame, `var` vars: DataFrame,
                              layers: (H5Group) throws -> Void, obsm: MatrixDict, varm: MatrixDict, uns: OrderedDict) throws {
        let root = file.root
        try root.setEncoding("anndata", "0.1.0")
        try X(root)
        // obs and var are encoded, never carried: they are in memory anyway and small beside X,
        // and an H5Ocopy'd group is laid out otherwise than a written one (a sharded run's gather
        // could not give the single run's bytes).
        try w.dataFrame(root, "obs", obs)
        try w.dataFrame(root, "var", vars)
        try layers(root)
        try w.matrixDict(root, "obsm", obsm)
        try w.matrixDict(root, "varm", varm)
        try w.matrixDict(root, "obsp", MatrixDict())
        try w.matrixDict(root, "varp", MatrixDict())
        try w.dict(root, "uns", uns)
        try file.flush()
    }

    /// What the last `write` in this process copied as stored ("source:path → path"); for tests.
    nonisolated(unsafe) public private(set) static var lastCarried: [String] = []

    struct Writer {
        let compression: Compression
        var copier = StoredCopier()

        func matrix(_ parent: H5Group, _ name: String, _ m: MatrixData) throws {
            switch m {
            case .dense(let d):
                let ds = try d.values.withUnsafeBufferPointer {
                    try parent.writeArray(name, $0, shape: [d.rows, d.cols], compression: compression)
                }
                try ds.setEncoding("array", "0.2.0")
            case .sparse(let s):
                let g = try parent.createGroup(name)
                try g.setEncoding("csr_matrix", "0.1.0")
                try g.setAttribute("shape", int64s: [Int64(s.rows), Int64(s.cols)])
                try g.writeArray("data", s.values, compression: compression)
                try g.writeArray("indices", s.indices, compression: compression)
                try g.writeArray("indptr", s.indptr.map { Int64($0) }, compression: compression)
            }
        }

        func matrixDict(_ parent: H5Group, _ name: String, _ d: MatrixDict) throws {
            let g = try parent.createGroup(name)
            try g.setEncoding("dict", "0.1.0")
            for key in d.keys where !copier.copy(d.stored[key], to: g, key) { try matrix(g, key, d[key]!) }
        }

        func dataFrame(_ parent: H5Group, _ name: String, _ df: DataFrame) throws {
            let g = try parent.createGroup(name)
            try g.setEncoding("dataframe", "0.2.0")
            try g.setAttribute("_index", string: df.indexName)
            if df.columnNames.isEmpty {
                try g.setAttributeEmptyFloatArray("column-order")
            } else {
                try g.setAttribute("column-order", strings: df.columnNames)
            }
            try g.writeStrings(df.indexName, df.index, compression: compression).setEncoding("string-array", "0.2.0")
            for col in df.columnNames { try column(g, col, df[col]!) }
        }

        func column(_ g: H5Group, _ name: String, _ c: Column) throws {
            let ds: H5Dataset
            switch c {
            case .float64(let v): ds = try g.writeArray(name, v, compression: compression)
            case .float32(let v): ds = try g.writeArray(name, v, compression: compression)
            case .int64(let v): ds = try g.writeArray(name, v, compression: compression)
            case .int32(let v): ds = try g.writeArray(name, v, compression: compression)
            case .bool(let v): ds = try g.writeBools(name, v, compression: compression)
            case .string(let v):
                try g.writeStrings(name, v, compression: compression).setEncoding("string-array", "0.2.0")
                return
            case .categorical(let codes, let cats, let ordered):
                let cg = try g.createGroup(name)
                try cg.setEncoding("categorical", "0.2.0")
                try cg.setAttribute("ordered", bool: ordered)
                try cg.writeStrings("categories", cats, compression: compression).setEncoding("string-array", "0.2.0")
                // pandas picks the narrowest code type that holds every category.
                let codesDs: H5Dataset
                if cats.count < 128 {
                    codesDs = try cg.writeArray("codes", codes.map { Int8($0) }, compression: compression)
                } else if cats.count < 32768 {
                    codesDs = try cg.writeArray("codes", codes, compression: compression)
                } else {
                    codesDs = try cg.writeArray("codes", codes, compression: compression)
                }
                try codesDs.setEncoding("array", "0.2.0")
                return
            case .nullableInteger(let values, let missing, let type):
                let cg = try g.createGroup(name)
                try cg.setEncoding("nullable-integer", "0.1.0")
                try cg.writeIntegers("values", values, bytes: type.byteWidth, signed: type.isSigned, compression: compression)
                    .setEncoding("array", "0.2.0")
                try cg.writeBools("mask", missing, compression: compression).setEncoding("array", "0.2.0")
                return
            case .nullableBool(let values, let missing):
                let cg = try g.createGroup(name)
                try cg.setEncoding("nullable-boolean", "0.1.0")
                try cg.writeBools("values", values, compression: compression).setEncoding("array", "0.2.0")
                try cg.writeBools("mask", missing, compression: compression).setEncoding("array", "0.2.0")
                return
            case .nullableString(let values, let missing):
                let cg = try g.createGroup(name)
                try cg.setEncoding("nullable-string-array", "0.1.0")
                try cg.writeStrings("values", values, compression: compression).setEncoding("string-array", "0.2.0")
                try cg.writeBools("mask", missing, compression: compression).setEncoding("array", "0.2.0")
                return
            }
            try ds.setEncoding("array", "0.2.0")
        }

        func dict(_ parent: H5Group, _ name: String, _ d: OrderedDict) throws {
            let g = try parent.createGroup(name)
            try g.setEncoding("dict", "0.1.0")
            for key in d.keys { try unsValue(g, key, d[key]!) }
        }

        func unsValue(_ g: H5Group, _ key: String, _ v: UnsValue) throws {
            switch v {
            case .dict(let sub): try dict(g, key, sub)
            case .string(let s): try g.writeScalarString(key, s).setEncoding("string", "0.2.0")
            case .int(let i): try g.writeScalar(key, i).setEncoding("numeric-scalar", "0.2.0")
            case .double(let x): try g.writeScalar(key, x).setEncoding("numeric-scalar", "0.2.0")
            case .bool(let b): try g.writeBools(key, [b], shape: [], compression: .none).setEncoding("numeric-scalar", "0.2.0")
            case .strings(let s): try g.writeStrings(key, s, compression: compression).setEncoding("string-array", "0.2.0")
            case .numbers(let a):
                let ds: H5Dataset
                switch a.storage {
                case .float64(let x): ds = try x.withUnsafeBufferPointer { try g.writeArray(key, $0, shape: a.shape, compression: compression) }
                case .float32(let x): ds = try x.withUnsafeBufferPointer { try g.writeArray(key, $0, shape: a.shape, compression: compression) }
                case .int64(let x): ds = try x.withUnsafeBufferPointer { try g.writeArray(key, $0, shape: a.shape, compression: compression) }
                case .int32(let x): ds = try x.withUnsafeBufferPointer { try g.writeArray(key, $0, shape: a.shape, compression: compression) }
                case .bool(let x): ds = try g.writeBools(key, x, shape: a.shape, compression: compression)
                }
                try ds.setEncoding("array", "0.2.0")
            }
        }
    }
}
