import LatentCore

/// Highly variable gene selection, reproducing scanpy's `highly_variable_genes` choices of genes
/// for its three main flavors (Satija 2015, Zheng 2017, Stuart 2019).
public enum HVG {
    public enum Flavor: String, Sendable, Codable, CaseIterable {
        /// Dispersion of expm1(log data), normalised within 20 equal-width bins of log mean.
        case seurat
        /// Dispersion of the data as given, normalised by median and MAD within mean percentile bins.
        case cellRanger = "cell_ranger"
        /// Variance of counts standardised by a LOESS fit of log variance on log mean, clipped at √n.
        case seuratV3 = "seurat_v3"
    }

    /// The per-gene statistics scanpy writes to var, and the selection.
    public struct Result: Sendable {
        public var flavor: Flavor
        public var highlyVariable: [Bool]
        /// Named per-gene columns in scanpy's order and names.
        public var columns: [(String, Column)]
        public var nSelected: Int { highlyVariable.filter { $0 }.count }
    }

    /// Selects `nTop` genes. `batches` gives each cell's batch code (categories in order) when a
    /// batch key is used. Selecting more genes than exist returns every gene, as scanpy does.
    /// `countStats`: seurat_v3's statistics of X over all rows (`GeneStats(X, method: .scanpy)`),
    /// when the caller already has them. `origin[i]`: the input row of X's row i when cells were
    /// filtered (statistics are formed per block of input rows, see `BlockStats`).
    public static func select(_ X: MatrixData, geneNames: [String], flavor: Flavor, nTop: Int,
                              batches: (codes: [Int32], count: Int)? = nil,
                              logBase: Double? = nil, span: Double = 0.3, threads: Int = 1,
                              countStats: GeneStats? = nil, origin: [Int]? = nil) throws -> Result {
        try select(X, geneNames: geneNames, flavor: flavor, nTop: nTop, batches: batches, logBase: logBase, span: span,
                   threads: threads, countStats: countStats, origin: origin, rowCount: nil, givenSums: nil, mapOnly: nil)
    }

    /// The sharded form (no batches): `rowCount` cells in all shards; `givenSums` the merged sums
    /// of the pass-dependent statistic (the dispersion flavors' moments of the normalised data,
    /// or seurat_v3's clipped sums); with `mapOnly`, this shard's sums are handed to it instead
    /// and the result is empty.
    /// `unlogged`: for the seurat flavor after `normalize_total` (X then holds the counts): the
    /// moments are those of x·target/total, summed from the counts (see `Unlogged`).
    static func select(_ X: MatrixData, geneNames: [String], flavor: Flavor, nTop: Int,
                       batches: (codes: [Int32], count: Int)?, logBase: Double?, span: Double = 0.3, threads: Int,
                       countStats: GeneStats?, origin: [Int]?, rowCount: Int?, givenSums: BlockStats.Sums?,
                       mapOnly: ((BlockStats.Sums) -> Void)?, unlogged: Unlogged? = nil) throws -> Result {
        switch flavor {
        case .seurat, .cellRanger:
            return try dispersionBased(X, geneNames: geneNames, flavor: flavor, nTop: nTop, batches: batches,
                                       logBase: logBase, threads: threads, origin: origin,
                                       rowCount: rowCount, givenSums: givenSums, mapOnly: mapOnly, unlogged: unlogged)
        case .seuratV3:
            return try seuratV3(X, nTop: nTop, batches: batches, span: span, stats: countStats, origin: origin,
                                rowCount: rowCount, givenSums: givenSums, mapOnly: mapOnly)
        }
    }

    /// Rows of each batch, in category order; batches without cells are skipped.
    static func batchRows(_ b: (codes: [Int32], count: Int)?, n: Int) -> [[Int]] {
        guard let b else { return [Array(0..<n)] }
        var rows = [[Int]](repeating: [], count: b.count)
        for (i, c) in b.codes.enumerated() where c >= 0 { rows[Int(c)].append(i) }
        return rows.filter { !$0.isEmpty }
    }
}

/// Strict weak order on strings by Unicode code points (UTF-8 bytes), as Python sorts them.
@inline(__always) func codePointLess(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}
