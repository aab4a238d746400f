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
    /// summed, as scipy does when it converts the coordinates. `threads` parse the matrix.
    public static func readMatrixMarketDirectory(_ dir: String, varNames: TenXVarNames = .geneSymbols,
                                                 threads: Int = 1) throws -> (Dataset, [String]) {
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
        // v3 rows have a third field, the feature type; every row must then have one.
        let isV3 = features.first.map { $0.count >= 3 } ?? false
        for (k, f) in features.enumerated() where f.count < (isV3 ? 3 : 2) {
            throw LatentError.badInput(featPath, "line \(k + 1)", isV3
                ? "expected gene id, name and feature type separated by tabs, like the first line"
                : "expected gene id and name separated by a tab")
        }
        let X = try readMatrixMarket(mtx, genes: features.count, cells: barcodes.count, featurePath: featPath, barcodePath: barPath,
                                 threads: threads)
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

    /// The coordinate file as CSR cells × genes, after checking its size line against the
    /// feature and barcode counts (the usual mistake: files from two different runs).
    static func readMatrixMarket(_ path: String, genes: Int, cells: Int, featurePath: String, barcodePath: String,
                                 threads: Int) throws -> SparseMatrix {
        let bytes = try CompressedFile.readAll(path)
        let header = try MatrixMarket.readHeader(bytes, path: path)
        if header.rows != genes { throw LatentError.badInput(featurePath, nil, "\(genes) features, but \(path) has \(header.rows) rows") }
        if header.cols != cells { throw LatentError.badInput(barcodePath, nil, "\(cells) barcodes, but \(path) has \(header.cols) columns") }
        return try MatrixMarket.readEntries(bytes, header: header, path: path, threads: threads)
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
            // v2 names the group after the genome; it is the one holding the gene list.
            let candidates = try root.memberNames().filter { name in
                guard root.kind(of: name) == .group, let g = try? root.group(name) else { return false }
                return g.kind(of: "genes") == .dataset && g.kind(of: "barcodes") == .dataset
            }
            guard let genome = candidates.first else {
                throw LatentError.badInput(path, "/", "not a Cell Ranger file: no /matrix group (v3) and no genome group with genes and barcodes (v2)")
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
        for (name, column) in [("feature_type", types), ("genome", genomes)] {
            if let c = column, c.count != nGenes {
                throw LatentError.badInput(path, g.path + "/features/" + name, "\(c.count) values for \(nGenes) genes in shape")
            }
        }
        let values = try g.dataset("data").readFloats()
        let indices = try g.dataset("indices").readInt32s()
        let indptr = try g.dataset("indptr").readInt64s().map { Int($0) }
        let X = SparseMatrix(rows: nCells, cols: nGenes, indptr: indptr, indices: indices, values: values)
        if let problem = X.validationError() {
            // Name the dataset the problem is in when the message tells which.
            let culprit = problem.hasPrefix("indptr") ? "/indptr"
                : (problem.hasPrefix("column index") || problem.hasPrefix("indices") ? "/indices" : "")
            throw LatentError.badInput(path, g.path + culprit, "inconsistent matrix: \(problem)")
        }
        // Cell Ranger sorts genes within a cell, but be safe: CSR consumers expect sorted columns.
        var sorted = true
        indices.withUnsafeBufferPointer { ind in
            for c in 0..<nCells where sorted {
                var p = indptr[c] + 1
                while p < indptr[c + 1] { if ind[p - 1] >= ind[p] { sorted = false; break }; p += 1 }
            }
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
            warnings.append("\(path): \(dups.count) duplicated gene names (\(dups.prefix(5).joined(separator: ", "))\(dups.count > 5 ? ", …" : "")) made unique by appending -1, -2, … as anndata's var_names_make_unique does (scanpy's read_10x_h5 leaves them duplicated)")
        }
        return (Dataset(X: .sparse(matrix), obs: DataFrame(index: barcodes), var: vars), warnings)
    }
}
