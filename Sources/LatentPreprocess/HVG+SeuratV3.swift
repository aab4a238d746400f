import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension HVG {
    /// Seurat v3's variance-stabilising selection on counts (Stuart et al. 2019; scanpy flavor
    /// "seurat_v3"): per batch, a LOESS fit (span 0.3, degree 2) of log10 variance on log10 mean
    /// gives each gene an expected standard deviation σ̂; counts are clipped at mean + σ̂·√n and
    /// the variance of (x − mean)/σ̂ is the normalised variance. Genes are ranked within each
    /// batch; the median rank over the batches where a gene is in the top n decides, ties broken
    /// by the number of such batches.
    static func seuratV3(_ X: MatrixData, nTop: Int, batches: (codes: [Int32], count: Int)?, span: Double,
                         stats: GeneStats? = nil, origin: [Int]? = nil, rowCount: Int? = nil,
                         givenSums: BlockStats.Sums? = nil, mapOnly: ((BlockStats.Sums) -> Void)? = nil) throws -> Result {
        let g = X.cols
        let all = stats ?? GeneStats(scanpy: X, rows: nil, origin: origin)
        let groups = batchRows(batches, n: X.rows)
        var normVars: [[Double]] = []
        for rows in groups {
            let s = batches == nil ? all : GeneStats(scanpy: X, rows: rows, origin: origin)
            let n = Double(rowCount ?? rows.count)
            let nonConst = (0..<g).filter { s.variance[$0] > 0 }
            var fitted = [Double](repeating: 0, count: g)
            if nonConst.count >= 2 {
                let fit = try Loess.fit(x: nonConst.map { log10(s.mean[$0]) }, y: nonConst.map { log10(s.variance[$0]) },
                                        span: span, degree: 2)
                for (k, j) in nonConst.enumerated() { fitted[j] = fit[k] }
            }
            let regStd = fitted.map { pow(10, $0).squareRoot() }
            let clip = (0..<g).map { regStd[$0] * n.squareRoot() + s.mean[$0] }
            // Clipped sums per canonical block, added exactly (BlockStats): the same bits streamed.
            let cs = givenSums ?? BlockStats.columnSums(X, rows: batches == nil ? nil : rows,
                                           blocks: BlockStats.blocks(rows: batches == nil ? nil : rows, origin: origin, n: X.rows),
                                           squares: .clipped(clip), threads: GeneStats.threads)
            if let mapOnly { mapOnly(cs); return Result(flavor: .seuratV3, highlyVariable: [], columns: []) }
            let sum = cs.sum.values, sq = cs.squares!.values
            normVars.append((0..<g).map { j in
                let mu = s.mean[j]
                return 1 / ((n - 1) * regStd[j] * regStd[j]) * (n * mu * mu + sq[j] - 2 * sum[j] * mu)
            })
        }
        // Rank within each batch (0 = most variable); ranks at or beyond nTop do not count.
        var inTop = [Int](repeating: 0, count: g)
        var ranksPerGene = [[Double]](repeating: [], count: g)
        for nv in normVars {
            let order = (0..<g).sorted { nv[$0] != nv[$1] ? nv[$0] > nv[$1] : $0 < $1 }
            for (rank, j) in order.enumerated() where rank < nTop {
                inTop[j] += 1
                ranksPerGene[j].append(Double(rank))
            }
        }
        let medianRank = ranksPerGene.map { median($0) ?? .nan }
        let ranked = (0..<g).sorted { i, j in
            let (a, b) = (medianRank[i], medianRank[j])
            if a.isNaN != b.isNaN { return !a.isNaN }
            if !a.isNaN && a != b { return a < b }
            if inTop[i] != inTop[j] { return inTop[i] > inTop[j] }
            return i < j
        }
        var hv = [Bool](repeating: false, count: g)
        for j in ranked.prefix(nTop) { hv[j] = true }
        let meanNorm = (0..<g).map { j in normVars.reduce(0) { $0 + $1[j] } / Double(normVars.count) }
        var columns: [(String, Column)] = [
            ("highly_variable_rank", .float32(medianRank.map(Float.init))),
            ("means", .float64(all.mean)), ("variances", .float64(all.variance)),
            ("variances_norm", .float64(meanNorm)),
        ]
        if batches != nil { columns.append(("highly_variable_nbatches", .int64(inTop.map(Int64.init)))) }
        return Result(flavor: .seuratV3, highlyVariable: hv, columns: columns)
    }
}
