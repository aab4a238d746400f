import LatentCore
import LatentIO

extension PCAStage {
    /// Chunks of at most this many stored entries when the whole matrix fits the budget (32 MiB
    /// of Float32): small enough that reading the first chunk, the one read nothing overlaps, is
    /// a small share of the pass; large enough that each chunk is several BLAS blocks.
    public static let overlapChunkEntries = 8 << 20

    /// `latent pca FILE`: X is read from the file in row chunks while the statistics of the
    /// previous chunk are summed (the read overlaps the compute), and is never held whole unless
    /// it fits `budget`; X and layers are carried into the output as stored (write it with
    /// `H5AD.writeCarryingMatrices`). The same bytes as `run` on the dataset read whole.
    ///
    /// With `statistics` (a merged stats file of all shards), the fit comes from those and only
    /// this file's scores are computed: the sharded apply step.
    public static func run(file: String, _ p: PCAParameters, seed: UInt64, threads: Int, budget: MemoryBudget,
                           statistics: String? = nil, warnings: inout [String]) throws -> Output {
        let clock = Stopwatch()
        var ds = try H5AD.read(file, options: .init(readMatrices: false), warnings: &warnings)
        let source = try H5ADMatrixSource(path: file)
        let readSeconds = clock.lap()
        let plan = chunking(source, budget: budget)
        var rng = SeededRNG(seed: seed)
        let options = PCA.Options(oversampling: p.oversampling, tolerance: p.tol)
        let stored = source.storedCount(0..<source.rows)
        let density = Double(stored) / max(1, Double(source.rows) * Double(source.cols))
        if statistics == nil && !plan.keep && p.solver == .exact
            && !PCA.usesStatistics(rows: source.rows, cols: source.cols, k: p.k, solver: p.solver, isSparse: source.isSparse,
                                   density: density, options: options) {
            // The exact solver on the cell Gram (wide data) needs X whole; the randomized one
            // streams its passes over the rows.
            let gib = Double(stored * (source.isSparse ? 8 : 4)) / Double(1 << 30)
            throw LatentError.badInput(file, "X", "PCA of \(source.rows) × \(source.cols) with these options needs X in memory (\((gib * 10).rounded() / 10) GiB), more than --memory \(budget.description) allows",
                                       hint: "use --solver randomized (or auto), or raise --memory")
        }
        let r: PCA.Result
        if let statistics {
            let merged = try PCAStatistics(try StatsFile.read(statistics), geneNames: ds.var.index, file: statistics)
            let fitted = try PCA.fit(statistics: merged, k: p.k, solver: p.solver, center: p.center, options: options, rng: &rng,
                                     file: statistics)
            var scores = Matrix(rows: source.rows, cols: p.k)
            try RowChunking.forEach(source, RowChunking.plan(source, maxStored: plan.maxStored)) { range, block in
                fitted.scores(block, into: &scores, at: range.lowerBound)
            }
            r = fitted.result(scores: scores)
        } else {
            r = try PCA.fit(source: source, k: p.k, solver: p.solver, center: p.center, options: options,
                            rng: &rng, threads: threads, maxStored: plan.maxStored, keepChunks: plan.keep, file: file,
                            place: { [obs = ds.obs.index, vars = ds.var.index] r, c in
                                "X[obs '\(obs[r])' (row \(r + 1)), var '\(vars[c])' (column \(c + 1))]"
                            })
        }
        r.store(into: &ds)
        return Output(dataset: ds, result: r, notes: notes(r, p, file: file), readSeconds: readSeconds)
    }

    /// The sharded map step: this shard's PCA statistics, for global rows from `rowOffset`.
    public static func mapStatistics(file: String, rowOffset: Int, threads: Int, budget: MemoryBudget) throws -> StatsFile {
        var warnings: [String] = []
        let annotations = try H5AD.readAnnotations(file, aligned: false, warnings: &warnings)
        let source = try H5ADMatrixSource(path: file)
        var stats = PCAStatistics(cols: source.cols)
        try RowChunking.forEach(source, RowChunking.plan(source, maxStored: chunking(source, budget: budget).maxStored)) { range, block in
            try stats.add(block, firstRow: rowOffset + range.lowerBound, threads: threads, file: file,
                          place: { [obs = annotations.obs.index, vars = annotations.var.index] r, c in
                              "X[obs '\(obs[r - rowOffset])' (row \(r - rowOffset + 1)), var '\(vars[c])' (column \(c + 1))]"
                          })
        }
        return stats.statsFile(firstRow: rowOffset, geneNames: annotations.var.index)
    }

    /// Chunk size and whether pass 1's chunks are kept for the scores: kept when the whole matrix
    /// takes at most half the budget, else the scores pass reads the file again.
    public static func chunking(_ source: some MatrixSource, budget: MemoryBudget) -> (maxStored: Int, keep: Bool) {
        let bytesPerEntry = source.isSparse ? 8 : 4
        let whole = source.storedCount(0..<source.rows) * bytesPerEntry
        let keep = whole <= budget.bytes / 2
        let fromBudget = budget.chunkEntries(bytesPerEntry: bytesPerEntry, share: 0.2)
        return (min(fromBudget, overlapChunkEntries), keep)
    }
}
