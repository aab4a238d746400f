@preconcurrency import CHDF5
import LatentCore

extension H5AD {
    /// Writes `dataset` as an `.h5ad` that anndata ≥ 0.8 reads unchanged, atomically.
    public static func write(_ dataset: Dataset, to path: String, compression: Compression = Compression()) throws {
        if let (p, msg) = dataset.shapeError() { throw LatentError.internalFailure("refusing to write inconsistent data: \(p) \(msg)", file: path) }
        try AtomicOutput.write(to: path) { tmp in
            let file = try H5File.create(tmp, displayName: path)
            let w = Writer(compression: compression)
            let root = file.root
            try root.setEncoding("anndata", "0.1.0")
            try w.matrix(root, "X", dataset.X)
            try w.dataFrame(root, "obs", dataset.obs)
            try w.dataFrame(root, "var", dataset.var)
            try w.matrixDict(root, "layers", dataset.layers)
            try w.matrixDict(root, "obsm", dataset.obsm)
            try w.matrixDict(root, "varm", dataset.varm)
            try w.matrixDict(root, "obsp", MatrixDict())
            try w.matrixDict(root, "varp", MatrixDict())
            try w.dict(root, "uns", dataset.uns)
            try file.flush()
        }
    }

    struct Writer {
        let compression: Compression

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
            for key in d.keys { try matrix(g, key, d[key]!) }
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
