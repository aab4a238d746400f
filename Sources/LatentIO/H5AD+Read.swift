@preconcurrency import CHDF5
import LatentCore

/// Reading AnnData `.h5ad` files (anndata ≥ 0.8 layout, every element tagged with
/// `encoding-type` / `encoding-version`). Goals in order: never crash on a bad file and name the
/// HDF5 path that is wrong; keep column types; read big sparse X without extra copies.
public enum H5AD {
    public struct ReadOptions: Sendable {
        /// Skip layers/obsm/varm/uns (inspecting or reading only X and annotations).
        public var readAligned = true
        /// False: X and the layers are not decoded. Each becomes an all-zero CSR placeholder of
        /// its shape (no stored values), still marked as stored in the file, for a stage that
        /// streams X from the file (`H5ADMatrixSource`) and carries X and layers over unchanged.
        /// Such a stage must check that the write carried them (`H5AD.lastCarried`).
        public var readMatrices = true
        public init(readAligned: Bool = true, readMatrices: Bool = true) {
            self.readAligned = readAligned
            self.readMatrices = readMatrices
        }
    }

    /// Reads a whole file. Warnings (skipped elements) go to `warnings`. A crash inside libhdf5
    /// (1.10 segfaults on some corrupted heaps) is reported as a damaged file, exit 2.
    ///
    /// The dataset remembers, for X, obs, var and every layers/obsm/varm entry, that it is stored
    /// unchanged in this file (see `H5AD.write`: those are carried over as stored bytes when left
    /// untouched). An element whose `encoding-type` anndata does not know is refused, not read
    /// as if it were plain.
    public static func read(_ path: String, options: ReadOptions = .init(), warnings: inout [String]) throws -> Dataset {
        try HDF5Lock.run { try AtomicOutput.decoding(path) { try readUnguarded(path, options: options, warnings: &warnings) } }
    }

    static func readUnguarded(_ path: String, options: ReadOptions, warnings: inout [String]) throws -> Dataset {
        // Fingerprint before opening: if the file changes while we read, the write will not copy from it.
        let source = StoredFile.current(path)
        let file = try H5File.open(path)
        let root = file.root
        var reader = Reader(warnings: [], source: source)
        defer { warnings += reader.warnings }
        if root.kind(of: "obs") == .dataset {
            throw LatentError.badInput(path, "/obs", "legacy AnnData layout (obs as a compound dataset, anndata < 0.7)",
                                       hint: "re-save the file with a current anndata: ad.read_h5ad(f).write_h5ad(f)")
        }
        if let enc = try root.stringAttribute("encoding-type"), enc != "anndata" {
            throw LatentError.badInput(path, "/", "unknown root encoding-type '\(enc)' (expected 'anndata')")
        }
        guard root.kind(of: "X") != .missing else {
            throw LatentError.badInput(path, "/X", "missing: the file has no X matrix", hint: "latent needs X; copy a layer to X with anndata first")
        }
        var profile = StepProfile()
        let X = options.readMatrices ? try reader.matrix(root, "X") : try reader.placeholder(root, "X")
        profile.step("X")
        let obs = try reader.dataFrame(try root.group("obs"))
        let vars = try reader.dataFrame(try root.group("var"))
        profile.step("obs/var")
        var ds = Dataset(X: X, obs: obs, var: vars)
        ds.stored = StoredElements(X: reader.stored("/X"), obs: reader.stored("/obs"), var: reader.stored("/var"))
        if options.readAligned {
            for (name, keyPath) in [("layers", \Dataset.layers), ("obsm", \Dataset.obsm), ("varm", \Dataset.varm)] as [(String, WritableKeyPath<Dataset, MatrixDict>)] {
                guard root.kind(of: name) == .group else { continue }
                let g = try root.group(name)
                for key in try g.memberNames() {
                    if !options.readMatrices && name == "layers" {
                        ds.layers[key] = try reader.placeholder(g, key)
                        ds.layers.markStored(key, at: reader.stored(g.handle.childPath(key)))
                        continue
                    }
                    if let m = try reader.alignedMatrix(g, key) {
                        ds[keyPath: keyPath][key] = m
                        ds[keyPath: keyPath].markStored(key, at: reader.stored(g.handle.childPath(key)))
                    }
                }
            }
            if root.kind(of: "uns") == .group {
                let uns = try root.group("uns")
                try reader.checkKnown(uns)
                ds.uns = try reader.dict(uns)
            }
            for skipped in ["raw", "obsp", "varp"] {
                if root.kind(of: skipped) == .group, let g = try? root.group(skipped), let m = try? g.memberNames(), !m.isEmpty {
                    reader.warnings.append("\(path):/\(skipped): not read (latent does not use \(skipped))")
                }
            }
        }
        if let (p, msg) = ds.shapeError() { throw LatentError.badInput(path, "/" + p, msg) }
        profile.step("rest")
        profile.report()
        return ds
    }

    /// Only the shape, storage and annotation names, without reading X's values.
    public struct Summary: Sendable {
        public var nObs: Int, nVars: Int
        public var encoding: String
        public var storedCount: Int
        public var dtype: String
    }

    /// Every `encoding-type` anndata 0.12 reads (its IO registry). Anything else is refused with
    /// the HDF5 path named, as anndata refuses it, rather than guessed at.
    static let knownEncodings: Set<String> = [
        "anndata", "raw", "dict", "array", "rec-array", "string-array", "csr_matrix", "csc_matrix",
        "dataframe", "categorical", "nullable-integer", "nullable-boolean", "nullable-string-array",
        "awkward-array", "numeric-scalar", "string", "bytes", "null",
    ]

    struct Reader {
        var warnings: [String]
        /// The file being read, for marking elements as stored there (nil: cannot stat it).
        var source: StoredFile? = nil

        func stored(_ path: String) -> StoredElement? { source.map { StoredElement(file: $0, path: path) } }

        /// The element's encoding-type, after refusing one anndata does not know.
        func encoding(_ obj: H5Object) throws -> String? {
            let enc = try obj.stringAttribute("encoding-type")
            if let enc, !H5AD.knownEncodings.contains(enc) {
                throw obj.error("unknown encoding-type '\(enc)' (anndata cannot read it either)",
                                hint: "write this element with anndata, or remove it")
            }
            return enc
        }

        /// Refuses an unknown encoding-type on `obj`.
        func checkKnown(_ obj: H5Object) throws { _ = try encoding(obj) }

        /// X or a layer: a dense 2-D dataset or a CSR/CSC group.
        mutating func matrix(_ parent: H5Group, _ name: String) throws -> MatrixData {
            switch parent.kind(of: name) {
            case .dataset:
                let d = try parent.dataset(name)
                if let enc = try encoding(d), enc != "array" {
                    throw d.error("encoding-type '\(enc)' where a matrix was expected (array, csr_matrix or csc_matrix)")
                }
                let shape = d.shape
                guard shape.count == 2 else { throw d.error("expected a 2-D array, found \(shape.count)-D shape \(shape)") }
                if case .string = d.valueClass { throw d.error("expected numbers, found strings") }
                return .dense(Matrix(rows: shape[0], cols: shape[1], values: try d.readFloats()))
            case .group:
                let g = try parent.group(name)
                return try sparse(g)
            case .missing:
                throw LatentError.badInput(parent.file, parent.handle.childPath(name), "missing")
            }
        }

        /// An all-zero CSR of the shape of matrix `name` (see `ReadOptions.readMatrices`).
        mutating func placeholder(_ parent: H5Group, _ name: String) throws -> MatrixData {
            var shape: [Int]
            switch parent.kind(of: name) {
            // Unread, but refused as `matrix` would refuse it: an element anndata cannot read
            // must not be carried into an output as if it were fine.
            case .dataset:
                let d = try parent.dataset(name)
                if let enc = try encoding(d), enc != "array" {
                    throw d.error("encoding-type '\(enc)' where a matrix was expected (array, csr_matrix or csc_matrix)")
                }
                shape = d.shape
            case .group:
                let g = try parent.group(name)
                var enc = try encoding(g)
                if enc == nil, let legacy = try g.stringAttribute("h5sparse_format") { enc = legacy + "_matrix" }
                guard let kind = enc, kind == "csr_matrix" || kind == "csc_matrix" else {
                    throw g.error("unknown encoding-type '\(enc ?? "none")' for a matrix (expected csr_matrix, csc_matrix or a dense array)")
                }
                shape = (try g.int64sAttribute("shape") ?? g.int64sAttribute("h5sparse_shape") ?? []).map { Int($0) }
            case .missing:
                throw LatentError.badInput(parent.file, parent.handle.childPath(name), "missing")
            }
            guard shape.count == 2 else {
                throw LatentError.badInput(parent.file, parent.handle.childPath(name), "expected a 2-D matrix, found shape \(shape)")
            }
            return .sparse(SparseMatrix(rows: shape[0], cols: shape[1], indptr: [Int](repeating: 0, count: shape[0] + 1),
                                        indices: [], values: []))
        }

        mutating func sparse(_ g: H5Group) throws -> MatrixData {
            var enc = try encoding(g)
            if enc == nil, let legacy = try g.stringAttribute("h5sparse_format") { enc = legacy + "_matrix" }
            guard let kind = enc, kind == "csr_matrix" || kind == "csc_matrix" else {
                throw g.error("unknown encoding-type '\(enc ?? "none")' for a matrix (expected csr_matrix, csc_matrix or a dense array)")
            }
            guard let shape = try g.int64sAttribute("shape") ?? g.int64sAttribute("h5sparse_shape"), shape.count == 2 else {
                throw g.error("sparse matrix without a 2-element 'shape' attribute")
            }
            let rows = Int(shape[0]), cols = Int(shape[1])
            let dataDs = try g.dataset("data"), indDs = try g.dataset("indices"), ptrDs = try g.dataset("indptr")
            var profile = StepProfile()
            let values = try dataDs.readFloats()
            profile.step("data")
            let indices = try indDs.readInt32s()
            profile.step("indices")
            let ptr64 = try ptrDs.readInt64s()
            let indptr = ptr64.map { Int($0) }
            profile.step("indptr")
            defer { profile.step("validate"); profile.report() }
            let major = kind == "csr_matrix" ? rows : cols
            let minor = kind == "csr_matrix" ? cols : rows
            if indices.count != values.count {
                throw indDs.error("has \(indices.count) entries but data has \(values.count)")
            }
            let check = SparseMatrix(rows: major, cols: minor, indptr: indptr, indices: indices, values: values)
            if let problem = check.validationError() { throw g.error("inconsistent \(kind): \(problem)") }
            if kind == "csr_matrix" { return .sparse(check) }
            return .sparse(check.transposed())
        }

        /// A member of layers/obsm/varm; nil (with a warning) for kinds we do not keep.
        mutating func alignedMatrix(_ parent: H5Group, _ name: String) throws -> MatrixData? {
            let path = parent.handle.childPath(name)
            if parent.kind(of: name) == .group {
                let g = try parent.group(name)
                if let enc = try encoding(g), enc == "dataframe" || enc == "awkward-array" {
                    warnings.append("\(parent.file):\(path): \(enc == "dataframe" ? "data frame" : "awkward array") in \(parent.path) not read (latent keeps matrices only)")
                    return nil
                }
                return try sparse(g)
            }
            let d = try parent.dataset(name)
            let shape = d.shape
            if try encoding(d) == "rec-array" {
                warnings.append("\(parent.file):\(path): record array not read (latent keeps numeric matrices only)")
                return nil
            }
            if case .string = d.valueClass {
                warnings.append("\(parent.file):\(path): string array not read (latent keeps numeric matrices only)")
                return nil
            }
            if shape.count == 1 { return .dense(Matrix(rows: shape[0], cols: 1, values: try d.readFloats())) }
            guard shape.count == 2 else { throw d.error("expected a 1-D or 2-D array, found shape \(shape)") }
            return .dense(Matrix(rows: shape[0], cols: shape[1], values: try d.readFloats()))
        }

        mutating func dataFrame(_ g: H5Group) throws -> DataFrame {
            let enc = try encoding(g)
            guard enc == "dataframe" else {
                throw g.error("unknown encoding-type '\(enc ?? "none")' (expected 'dataframe')")
            }
            guard let indexName = try g.stringAttribute("_index") else { throw g.error("dataframe without an '_index' attribute") }
            let order = try g.stringsAttribute("column-order") ?? []
            guard g.kind(of: indexName) == .dataset else {
                throw LatentError.badInput(g.file, g.handle.childPath(indexName), "missing index dataset named by '_index'")
            }
            let indexDs = try g.dataset(indexName)
            let index: [String]
            if case .string = indexDs.valueClass { index = try indexDs.readStrings() } else {
                index = try indexDs.readInt64s().map { String($0) }
            }
            var df = DataFrame(index: index, indexName: indexName)
            for name in order {
                let col = try column(g, name)
                guard col.count == index.count else {
                    throw LatentError.badInput(g.file, g.handle.childPath(name), "has \(col.count) values but the index has \(index.count)")
                }
                df.set(name, col)
            }
            return df
        }

        mutating func column(_ g: H5Group, _ name: String) throws -> Column {
            switch g.kind(of: name) {
            case .missing:
                throw LatentError.badInput(g.file, g.handle.childPath(name), "column listed in 'column-order' is missing")
            case .dataset:
                let d = try g.dataset(name)
                let enc = try encoding(d) ?? "array"
                switch enc {
                case "string-array": return .string(try d.readStrings())
                case "array": return try numericColumn(d)
                default: throw d.error("unknown encoding-type '\(enc)' for a column")
                }
            case .group:
                let cg = try g.group(name)
                let enc = try encoding(cg) ?? "none"
                switch enc {
                case "categorical":
                    let catsDs = try cg.dataset("categories")
                    let cats: [String]
                    switch catsDs.valueClass {
                    case .string: cats = try catsDs.readStrings()
                    case .float: cats = try catsDs.readDoubles().map { formatNumber($0) }
                    default: cats = try catsDs.readInt64s().map { String($0) }
                    }
                    let codesDs = try cg.dataset("codes")
                    let codes = try codesDs.readInt32s()
                    if let bad = codes.firstIndex(where: { $0 < -1 || Int($0) >= cats.count }) {
                        throw codesDs.error("code \(codes[bad]) at row \(bad) is outside the \(cats.count) categories")
                    }
                    let ordered = try cg.boolAttribute("ordered") ?? false
                    return .categorical(codes: codes, categories: cats, ordered: ordered)
                case "nullable-integer", "nullable-boolean", "nullable-string-array":
                    return try nullableColumn(cg, enc)
                default:
                    throw cg.error("unknown encoding-type '\(enc)' for a column")
                }
            }
        }

        /// anndata's masked columns: `values` and `mask` (true = missing), kept as such.
        func nullableColumn(_ cg: H5Group, _ enc: String) throws -> Column {
            let valuesDs = try cg.dataset("values"), maskDs = try cg.dataset("mask")
            let missing = try maskDs.readBools()
            guard maskDs.shape.count == 1, valuesDs.shape == maskDs.shape else {
                throw cg.error("values \(valuesDs.shape) and mask \(maskDs.shape) should be 1-D of one length")
            }
            switch enc {
            case "nullable-boolean":
                return .nullableBool(values: try valuesDs.readBools(), missing: missing)
            case "nullable-string-array":
                return .nullableString(values: try valuesDs.readStrings(), missing: missing)
            default:
                guard case .integer(let signed, let size) = valuesDs.valueClass else {
                    throw valuesDs.error("nullable-integer values should be integers")
                }
                let type = Column.IntegerType(byteWidth: size, signed: signed) ?? .int64
                return .nullableInteger(values: try valuesDs.readInt64s(), missing: missing, type: type)
            }
        }

        func numericColumn(_ d: H5Dataset) throws -> Column {
            guard d.shape.count == 1 else { throw d.error("a column must be 1-D, found shape \(d.shape)") }
            switch d.valueClass {
            case .bool: return .bool(try d.readBools())
            case .float(let size): return size <= 4 ? .float32(try d.readFloats()) : .float64(try d.readDoubles())
            case .integer(let signed, let size):
                return (size < 4 || (size == 4 && signed)) ? .int32(try d.readInt32s()) : .int64(try d.readInt64s())
            case .string: return .string(try d.readStrings())
            case .other(let s): throw d.error("unsupported column type: \(s)")
            }
        }

        mutating func dict(_ g: H5Group) throws -> OrderedDict {
            var out = OrderedDict()
            for key in try g.memberNames() {
                if let v = try unsValue(g, key) { out[key] = v }
            }
            return out
        }

        mutating func unsValue(_ g: H5Group, _ key: String) throws -> UnsValue? {
            let path = g.handle.childPath(key)
            if g.kind(of: key) == .group {
                let sub = try g.group(key)
                let enc = try encoding(sub) ?? "dict"
                switch enc {
                case "dict": return .dict(try dict(sub))
                default:
                    warnings.append("\(g.file):\(path): uns element with encoding '\(enc)' not read")
                    return nil
                }
            }
            let d = try g.dataset(key)
            // None has no value to keep; a reader asking for the key gets nil, as anndata's None.
            if d.isNull { return nil }
            let enc = try encoding(d)
            let shape = d.shape
            switch d.valueClass {
            case .string:
                if shape.isEmpty { return .string(try d.readStrings().first ?? "") }
                return .strings(try d.readStrings())
            case .bool:
                let v = try d.readBools()
                if shape.isEmpty { return .bool(v.first ?? false) }
                return .numbers(NumericArray(shape: shape, storage: .bool(v)))
            case .integer(let signed, let size):
                if shape.isEmpty { return .int(try d.readInt64s()[0]) }
                if size < 4 || (size == 4 && signed) {
                    return .numbers(NumericArray(shape: shape, storage: .int32(try d.readInt32s())))
                }
                return .numbers(NumericArray(shape: shape, storage: .int64(try d.readInt64s())))
            case .float(let size):
                if shape.isEmpty { return .double(try d.readDoubles()[0]) }
                if size <= 4 { return .numbers(NumericArray(shape: shape, storage: .float32(try d.readFloats()))) }
                return .numbers(NumericArray(shape: shape, storage: .float64(try d.readDoubles())))
            case .other(let s):
                warnings.append("\(g.file):\(path): uns element of \(s) (encoding '\(enc ?? "none")') not read")
                return nil
            }
        }
    }
}

/// Numbers as pandas prints float categories: "1.0" stays "1.0", integers without a fraction lose nothing.
func formatNumber(_ x: Double) -> String {
    if x.rounded() == x && abs(x) < 1e15 { return String(Int64(x)) + ".0" }
    return "\(x)"
}
