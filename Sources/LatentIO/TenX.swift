import Foundation
import LatentCore

/// Which 10x feature column becomes the gene names.
public enum TenXVarNames: String, Sendable, CaseIterable {
    /// scanpy's default (`var_names="gene_symbols"`), made unique.
    case geneSymbols = "gene_symbols"
    case geneIDs = "gene_ids"
}

/// 10x Genomics Cell Ranger outputs: the MatrixMarket directory and the HDF5 (.h5) file.
public enum TenX {
    // MARK: MatrixMarket directory

    /// `matrix.mtx[.gz]` (genes × cells, 1-based coordinates), `features.tsv[.gz]` (v3: id, name,
    /// type) or `genes.tsv[.gz]` (v2: id, name), `barcodes.tsv[.gz]`. Duplicate coordinates are
    /// summed, as scipy does when it converts the coordinates.
    public static func readMatrixMarketDirectory(_ dir: String, varNames: TenXVarNames = .geneSymbols) throws -> (Dataset, [String]) {
        func find(_ names: [String]) -> String? {
            for n in names {
                for ext in ["", ".gz"] where FileManager.default.fileExists(atPath: dir + "/" + n + ext) { return dir + "/" + n + ext }
            }
            return nil
        }
        guard let mtx = find(["matrix.mtx"]) else { throw LatentError.badInput(dir, nil, "no matrix.mtx or matrix.mtx.gz in the directory") }
        guard let featPath = find(["features.tsv", "genes.tsv"]) else {
            throw LatentError.badInput(dir, nil, "no features.tsv[.gz] (or genes.tsv) in the directory")
        }
        guard let barPath = find(["barcodes.tsv"]) else { throw LatentError.badInput(dir, nil, "no barcodes.tsv[.gz] in the directory") }
        let features = try AnnotationTable.splitRows(try CompressedFile.readAll(featPath), path: featPath)
        let barcodes = try AnnotationTable.splitRows(try CompressedFile.readAll(barPath), path: barPath).map { $0[0] }
        for (k, f) in features.enumerated() where f.count < 2 {
            throw LatentError.badInput(featPath, "line \(k + 1)", "expected gene id and name separated by a tab")
        }
        let X = try readMatrixMarket(mtx, genes: features.count, cells: barcodes.count, featurePath: featPath, barcodePath: barPath)
        let isV3 = features.first.map { $0.count >= 3 } ?? false
        let ids = features.map { $0[0] }, names = features.map { $0[1] }
        var vars = DataFrame(index: varNames == .geneSymbols ? names : ids)
        if varNames == .geneSymbols { vars.set("gene_ids", .string(ids)) } else { vars.set("gene_symbols", .string(names)) }
        if isV3 { vars.set("feature_types", categorical(features.map { $0[2] })) }
        var warnings: [String] = []
        let dups = vars.makeIndexUnique()
        if !dups.isEmpty {
            warnings.append("\(featPath): \(dups.count) duplicated gene names (\(dups.prefix(5).joined(separator: ", "))\(dups.count > 5 ? ", …" : "")) made unique by appending -1, -2, … as scanpy's read_10x_mtx does")
        }
        return (Dataset(X: .sparse(X), obs: DataFrame(index: barcodes), var: vars), warnings)
    }

    static func categorical(_ v: [String]) -> Column {
        let cats = Array(Set(v)).sorted()
        let code = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, Int32($0)) })
        return .categorical(codes: v.map { code[$0]! }, categories: cats, ordered: false)
    }

    /// The coordinate file as CSR cells × genes.
    static func readMatrixMarket(_ path: String, genes: Int, cells: Int, featurePath: String, barcodePath: String) throws -> SparseMatrix {
        let bytes = try CompressedFile.readAll(path)
        var line = 0
        var pos = 0
        func nextLine() -> Range<Int>? {
            guard pos < bytes.count else { return nil }
            let s = pos
            while pos < bytes.count && bytes[pos] != 10 { pos += 1 }
            var e = pos
            pos += 1
            line += 1
            if e > s && bytes[e - 1] == 13 { e -= 1 }
            return s..<e
        }
        guard let first = nextLine() else { throw LatentError.badInput(path, "line 1", "empty file") }
        let banner = String(decoding: bytes[first], as: UTF8.self).lowercased().split(separator: " ").map(String.init)
        guard banner.count >= 5, banner[0] == "%%matrixmarket", banner[1] == "matrix", banner[2] == "coordinate" else {
            throw LatentError.badInput(path, "line 1", "not a MatrixMarket coordinate file (expected '%%MatrixMarket matrix coordinate …')")
        }
        guard ["integer", "real"].contains(banner[3]), banner[4] == "general" else {
            throw LatentError.badInput(path, "line 1", "unsupported MatrixMarket field '\(banner[3]) \(banner[4])' (expected integer or real, general)")
        }
        var sizeLine: [Int]? = nil
        while let r = nextLine() {
            if r.isEmpty || bytes[r.lowerBound] == 37 { continue }   // '%'
            sizeLine = String(decoding: bytes[r], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { Int($0) }
            break
        }
        guard let dims = sizeLine, dims.count == 3 else { throw LatentError.badInput(path, "line \(line)", "expected 'genes cells entries'") }
        let (nGenes, nCells, nnz) = (dims[0], dims[1], dims[2])
        if nGenes != genes { throw LatentError.badInput(featurePath, nil, "\(genes) features, but \(path) has \(nGenes) rows") }
        if nCells != cells { throw LatentError.badInput(barcodePath, nil, "\(cells) barcodes, but \(path) has \(nCells) columns") }
        var gi = [Int32](), ci = [Int32](), vals = [Float]()
        gi.reserveCapacity(nnz); ci.reserveCapacity(nnz); vals.reserveCapacity(nnz)
        try bytes.withUnsafeBufferPointer { buf in
            let p = buf.baseAddress!
            while let r = nextLine() {
                if r.isEmpty { continue }
                var f: [Range<Int>] = []
                var i = r.lowerBound
                while i < r.upperBound {
                    while i < r.upperBound && (p[i] == 32 || p[i] == 9) { i += 1 }
                    let s = i
                    while i < r.upperBound && p[i] != 32 && p[i] != 9 { i += 1 }
                    if i > s { f.append(s..<i) }
                }
                guard f.count == 3 else { throw LatentError.badInput(path, "line \(line)", "expected 'gene cell value', found \(f.count) fields") }
                guard case .number(let g) = NumberParsing.parse(p, f[0].lowerBound, f[0].upperBound),
                      case .number(let c) = NumberParsing.parse(p, f[1].lowerBound, f[1].upperBound),
                      g == g.rounded(), c == c.rounded() else {
                    throw LatentError.badInput(path, "line \(line)", "coordinates must be whole numbers")
                }
                guard case .number(let v) = NumberParsing.parse(p, f[2].lowerBound, f[2].upperBound), v.isFinite else {
                    throw LatentError.badInput(path, "line \(line)", "value is not a finite number")
                }
                if g < 1 || Int(g) > nGenes { throw LatentError.badInput(path, "line \(line)", "gene index \(Int(g)) outside 1…\(nGenes)") }
                if c < 1 || Int(c) > nCells { throw LatentError.badInput(path, "line \(line)", "cell index \(Int(c)) outside 1…\(nCells)") }
                gi.append(Int32(g) - 1); ci.append(Int32(c) - 1); vals.append(Float(v))
            }
        }
        if vals.count != nnz { throw LatentError.badInput(path, nil, "header announces \(nnz) entries, the file has \(vals.count)") }
        // Counting sort by cell, then sort genes within each cell and sum duplicates.
        var indptr = [Int](repeating: 0, count: nCells + 1)
        for c in ci { indptr[Int(c) + 1] += 1 }
        for c in 0..<nCells { indptr[c + 1] += indptr[c] }
        var next = indptr
        var idx = [Int32](repeating: 0, count: nnz), val = [Float](repeating: 0, count: nnz)
        for k in 0..<nnz {
            let q = next[Int(ci[k])]
            idx[q] = gi[k]; val[q] = vals[k]
            next[Int(ci[k])] = q + 1
        }
        var outPtr = [0], outIdx = [Int32](), outVal = [Float]()
        outIdx.reserveCapacity(nnz); outVal.reserveCapacity(nnz)
        for c in 0..<nCells {
            let range = indptr[c]..<indptr[c + 1]
            let sortedAlready = zip(idx[range], idx[range].dropFirst()).allSatisfy { $0 < $1 }
            let order = sortedAlready ? Array(range) : range.sorted { idx[$0] != idx[$1] ? idx[$0] < idx[$1] : $0 < $1 }
            for q in order {
                if let last = outIdx.last, outIdx.count > outPtr[c], last == idx[q] {
                    outVal[outVal.count - 1] += val[q]
                } else {
                    outIdx.append(idx[q]); outVal.append(val[q])
                }
            }
            outPtr.append(outIdx.count)
        }
        return SparseMatrix(rows: nCells, cols: nGenes, indptr: outPtr, indices: outIdx, values: outVal)
    }

    // MARK: Cell Ranger .h5

    /// Cell Ranger v3 (`/matrix` with `features/`) or v2 (`/<genome>` with `genes`, `gene_names`).
    /// The stored CSC genes × cells arrays are exactly CSR cells × genes.
    public static func readCellRangerH5(_ path: String, varNames: TenXVarNames = .geneSymbols) throws -> (Dataset, [String]) {
        let file = try H5File.open(path)
        let root = file.root
        let g: H5Group
        var ids: [String], names: [String], types: [String]? = nil, genomes: [String]? = nil
        if root.kind(of: "matrix") == .group {
            g = try root.group("matrix")
            let f = try g.group("features")
            ids = try f.dataset("id").readStrings()
            names = try f.dataset("name").readStrings()
            if f.kind(of: "feature_type") == .dataset { types = try f.dataset("feature_type").readStrings() }
            if f.kind(of: "genome") == .dataset { genomes = try f.dataset("genome").readStrings() }
        } else {
            let members = try root.memberNames().filter { root.kind(of: $0) == .group }
            guard let genome = members.first else {
                throw LatentError.badInput(path, "/", "not a Cell Ranger file: no /matrix group (v3) and no genome group (v2)")
            }
            g = try root.group(genome)
            ids = try g.dataset("genes").readStrings()
            names = try g.dataset("gene_names").readStrings()
        }
        let shapeDs = try g.dataset("shape")
        let shape = try shapeDs.readInt64s()
        guard shape.count == 2 else { throw shapeDs.error("expected [genes, cells]") }
        let nGenes = Int(shape[0]), nCells = Int(shape[1])
        let barcodes = try g.dataset("barcodes").readStrings()
        if barcodes.count != nCells { throw LatentError.badInput(path, g.path + "/barcodes", "\(barcodes.count) barcodes for \(nCells) cells in shape") }
        if ids.count != nGenes || names.count != nGenes {
            throw LatentError.badInput(path, g.path, "\(ids.count) feature ids and \(names.count) names for \(nGenes) genes in shape")
        }
        let values = try g.dataset("data").readFloats()
        let indices = try g.dataset("indices").readInt32s()
        let indptr = try g.dataset("indptr").readInt64s().map { Int($0) }
        let X = SparseMatrix(rows: nCells, cols: nGenes, indptr: indptr, indices: indices, values: values)
        if let problem = X.validationError() { throw LatentError.badInput(path, g.path, "inconsistent matrix: \(problem)") }
        // Cell Ranger sorts genes within a cell, but be safe: CSR consumers expect sorted columns.
        let sorted = (0..<nCells).allSatisfy { c in
            let r = indptr[c]..<indptr[c + 1]
            return zip(indices[r], indices[r].dropFirst()).allSatisfy { $0 < $1 }
        }
        // Transposing twice sorts the column indices of every row, in O(nnz).
        let matrix = sorted ? X : X.transposed().transposed()
        var vars = DataFrame(index: varNames == .geneSymbols ? names : ids)
        if varNames == .geneSymbols { vars.set("gene_ids", .string(ids)) } else { vars.set("gene_symbols", .string(names)) }
        if let t = types { vars.set("feature_types", categorical(t)) }
        if let gn = genomes { vars.set("genome", categorical(gn)) }
        var warnings: [String] = []
        let dups = vars.makeIndexUnique()
        if !dups.isEmpty {
            warnings.append("\(path): \(dups.count) duplicated gene names (\(dups.prefix(5).joined(separator: ", "))\(dups.count > 5 ? ", …" : "")) made unique by appending -1, -2, … as scanpy's read_10x_h5 does")
        }
        return (Dataset(X: .sparse(matrix), obs: DataFrame(index: barcodes), var: vars), warnings)
    }
}
