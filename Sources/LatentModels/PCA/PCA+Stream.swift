import CBLAS
import LatentCore

/// PCA over a `MatrixSource`: the one code path for in-memory, streamed and sharded runs.
///
/// Pass 1 sums `PCAStatistics` (row count, gene sums, sums of squares, Gram) per canonical row
/// block into exact sums while the next chunk is read on another thread; the eigensolver then
/// works on the g × g covariance formed from them (LAPACK, or block Krylov on the explicit
/// matrix); pass 2 forms the scores block by block. A matrix in memory is one source read as
/// one chunk; a file larger than `--memory` is read in budget-sized chunks; a shard contributes
/// its statistics to a merge and its scores from the merged fit. Every path forms the same
/// per-block partials and the same per-block score products, so all three give the same bytes.
extension PCA {
    /// The fit without scores: what the statistics alone decide.
    public struct Fitted: Sendable {
        public var rows: Int
        /// g × k loadings, signs fixed (sklearn's svd_flip).
        public var loadings: Matrix
        public var eigenvalues: [Double]
        public var variance: [Double]
        public var varianceRatio: [Double]
        public var totalVariance: Double
        public var mean: [Double]
        public var center: Bool
        public var solver: Solver
        public var method: String
        public var blocks: Int
        public var residual: Double
        public var converged: Bool

        /// Scores and fit together, as `fit` reports them.
        public func result(scores: Matrix) -> Result {
            Result(scores: scores, loadings: loadings, variance: variance, varianceRatio: varianceRatio,
                   totalVariance: totalVariance, mean: mean.map { Float($0) }, solver: solver, center: center,
                   method: method, blocks: blocks, residual: residual, converged: converged)
        }
    }

    /// Whether a source of this shape is fitted from Gram statistics (one pass, additive over
    /// rows, so streamable and shardable) under `solver`; otherwise the whole matrix is needed.
    public static func usesStatistics(rows n: Int, cols g: Int, k: Int, solver: Solver, isSparse: Bool, density: Double,
                                      options: Options = Options()) -> Bool {
        guard let plan = try? Plan.choose(n: n, g: g, k: k, solver: solver, isSparse: isSparse, density: density,
                                          options: options, file: nil) else { return false }
        switch plan {
        case .exact(.genes), .krylovGram(.genes): return true
        default: return false
        }
    }

    /// Fits k components of the rows `source` yields, reading chunks of at most `maxStored`
    /// stored entries (the whole matrix in one chunk when it fits) with the next chunk read while
    /// this one is summed. With `keepChunks`, the chunks of pass 1 stay in memory for the scores
    /// instead of being read again (the caller's budget allows the whole matrix). Data without
    /// Gram statistics (many genes, or wide) are read whole when `keepChunks` says they fit, else
    /// fitted by randomized passes over the rows (`streamedKrylov`; not with `.exact`).
    public static func fit(source: some MatrixSource, k: Int, solver: Solver = .auto, center: Bool = true,
                           options: Options = Options(), rng: inout SeededRNG, threads: Int = 1,
                           maxStored: Int = .max, keepChunks: Bool = true, file: String? = nil,
                           place: ((Int, Int) -> String)? = nil) throws -> Result {
        let n = source.rows, g = source.cols
        try checkShape(n: n, g: g, k: k, center: center, file: file)
        let density = Double(source.storedCount(0..<n)) / max(1, Double(n) * Double(g))
        guard usesStatistics(rows: n, cols: g, k: k, solver: solver, isSparse: source.isSparse, density: density, options: options) else {
            // Wide data (the cell Gram) or many sparse genes (direct Krylov passes): the whole
            // matrix in memory when it fits, else randomized passes over the rows.
            if !keepChunks && solver != .exact {
                return try streamedKrylov(source: source, k: k, center: center, options: options, rng: &rng, threads: threads,
                                          maxStored: maxStored, file: file)
            }
            return try fitInMemory(try source.read(0..<n), k: k, solver: solver, center: center, options: options,
                                   rng: &rng, threads: threads, file: file)
        }
        var profile = StepProfile()
        let plan = RowChunking.plan(source, maxStored: maxStored)
        var stats = PCAStatistics(cols: g)
        var kept: [MatrixData] = []
        try RowChunking.forEach(source, plan) { range, block in
            try stats.add(block, firstRow: range.lowerBound, threads: threads, file: file, place: place)
            if keepChunks { kept.append(block) }
        }
        profile.step("statistics")
        let fitted = try fit(statistics: stats, k: k, solver: solver, center: center, options: options, rng: &rng,
                             isSparse: source.isSparse, density: density, file: file)
        profile.step("eigen")
        var scores = Matrix(rows: n, cols: k)
        if keepChunks {
            for (r, block) in zip(plan, kept) { fitted.scores(block, into: &scores, at: r.lowerBound) }
        } else {
            try RowChunking.forEach(source, plan) { r, block in fitted.scores(block, into: &scores, at: r.lowerBound) }
        }
        profile.step("scores")
        profile.report()
        return fitted.result(scores: scores)
    }

    static func checkShape(n: Int, g: Int, k: Int, center: Bool, file: String?) throws {
        guard n >= 2, g >= 1 else {
            throw LatentError.badInput(file, "X", "PCA needs at least 2 observations and 1 variable (got \(n) × \(g))")
        }
        let kMax = center ? min(n - 1, g) : min(n, g)
        guard k >= 1 else { throw LatentError.badInput(file, nil, "--k \(k): at least one component is needed") }
        guard k <= kMax else {
            throw LatentError.badInput(file, nil, "--k \(k) is more than the \(kMax) \(center ? "centred " : "")components \(n) observations × \(g) variables have",
                                       hint: "choose --k \(kMax) or fewer")
        }
    }

    /// The eigendecomposition of the covariance the statistics give (the whole matrix's, or the
    /// merged shards'): loadings, variances, no scores. `rng` drives the Krylov start, so every
    /// shard applying the same merged statistics with the same seed gets the same loadings.
    public static func fit(statistics stats: PCAStatistics, k: Int, solver: Solver = .auto, center: Bool = true,
                           options: Options = Options(), rng: inout SeededRNG, isSparse: Bool = false, density: Double = 1,
                           file: String? = nil) throws -> Fitted {
        let n = stats.rows, g = stats.cols
        try checkShape(n: n, g: g, k: k, center: center, file: file)
        let variances = stats.geneVariance
        let totalCentred = variances.reduce(0, +)
        guard totalCentred > 0 else {
            throw LatentError.badInput(file, "X", "the data are constant: every variable has variance 0", hint: "PCA needs variation")
        }
        let plan = try Plan.choose(n: n, g: g, k: k, solver: solver, isSparse: isSparse, density: density, options: options, file: file)
        let gram = stats.gramMatrix(center: center)
        let limit = center ? min(n - 1, g) : min(n, g)
        var e = try eigen(gram, k: k, plan: plan, lapackFallback: solver == .auto, options: options, rankLimit: limit, rng: &rng)
        flipLoadingSigns(&e.vectors)
        let loadings = e.vectors.rowMajor()
        var variance: [Double], total: Double
        let mean = stats.mean
        if center {
            variance = e.values.map { max($0, 0) / Double(n - 1) }
            total = totalCentred
        } else {
            // scanpy's zero_center=False is sklearn's TruncatedSVD: variances (ddof 0) of the
            // score columns Xv, i.e. (vᵀXᵀXv − (sᵀv)²/n)/n with vᵀXᵀXv = λ, and of the genes.
            let s = stats.sum.values
            variance = (0..<k).map { j in
                var sv = 0.0
                for i in 0..<g { sv += s[i] * Double(e.vectors[i, j]) }
                return max(0, e.values[j] - sv * sv / Double(n)) / Double(n)
            }
            total = totalCentred * Double(n - 1) / Double(n)
        }
        return Fitted(rows: n, loadings: loadings, eigenvalues: e.values, variance: variance,
                      varianceRatio: variance.map { $0 / total }, totalVariance: total, mean: mean, center: center,
                      solver: e.solver, method: e.method, blocks: e.blocks, residual: e.residual, converged: e.converged)
    }

    struct Eigen {
        var values: [Double]
        var vectors: ColumnMatrix
        var solver: Solver
        var method: String
        var blocks = 0
        var residual = 0.0
        var converged = true
    }

    /// Top-k eigenpairs of the explicit gene covariance by `plan` (its exact or Krylov variant).
    static func eigen(_ gram: ColumnMatrix, k: Int, plan: Plan, lapackFallback: Bool, options: Options, rankLimit: Int,
                      rng: inout SeededRNG) throws -> Eigen {
        let m = gram.rows
        let what = "\(m) × \(m) gene covariance"
        func lapack() throws -> Eigen {
            let (values, vectors) = try LAPACK.symmetricTopEigen(gram.values, n: m, k: k)
            return Eigen(values: values, vectors: ColumnMatrix(rows: m, cols: k, values: vectors), solver: .exact,
                         method: "LAPACK ssyevr on the \(what)")
        }
        switch plan {
        case .exact: return try lapack()
        default:
            let l = k + options.oversampling
            var krylov = BlockKrylov(k: k, blockSize: l, tolerance: options.tolerance ?? 1e-3,
                                     maxBlocks: options.maxBlocks, dimensionLimit: rankLimit)
            if lapackFallback { krylov.budget = lapackEquivalentBlocks(m: m, blockSize: l) }
            let out = try krylov.run(dimension: m, rng: &rng) { q, _ in ColumnMatrix.product(gram, q) }
            if out.abandoned {
                var e = try lapack()
                e.method = "LAPACK ssyevr on the \(what) (block Krylov stopped after \(out.blocks) blocks: the spectrum is too flat for it to be cheaper)"
                e.blocks = out.blocks
                return e
            }
            return Eigen(values: out.values, vectors: out.vectors, solver: .randomized, method: "block Krylov on the \(what)",
                         blocks: out.blocks, residual: out.residual, converged: out.converged)
        }
    }

    /// sklearn's `svd_flip(u, v, u_based_decision=False)` on the loadings alone (the scores are
    /// formed after, from the flipped loadings).
    static func flipLoadingSigns(_ v: inout ColumnMatrix) {
        for j in 0..<v.cols {
            var best = 0
            var bestAbs: Float = -1
            for i in 0..<v.rows where abs(v[i, j]) > bestAbs { bestAbs = abs(v[i, j]); best = i }
            guard v[best, j] < 0 else { continue }
            for i in 0..<v.rows { v[i, j] = -v[i, j] }
        }
    }
}

extension PCA.Fitted {
    /// Scores (X − 1μᵀ)·V of `chunk`'s rows into rows `at…` of `scores`, one canonical block at a
    /// time: each block's product has the same shape in every chunking, so the bytes do not
    /// depend on how rows were chunked or sharded.
    public func scores(_ chunk: MatrixData, into scores: inout Matrix, at first: Int) {
        let k = loadings.cols, g = loadings.rows
        precondition(chunk.cols == g && first + chunk.rows <= scores.rows && scores.cols == k)
        // μᵀV in Double, rounded once.
        var shiftRow = [Float](repeating: 0, count: k)
        if center {
            for c in 0..<k {
                var s = 0.0
                for j in 0..<g { s += mean[j] * Double(loadings[j, c]) }
                shiftRow[c] = Float(s)
            }
        }
        scores.values.withUnsafeMutableBufferPointer { ps in
            loadings.values.withUnsafeBufferPointer { pv in
                let out = ps.baseAddress! + first * k
                switch chunk {
                case .dense(let d):
                    d.values.withUnsafeBufferPointer { px in
                        var start = 0
                        while start < d.rows {
                            let nb = min(RowChunking.statBlock, d.rows - start)
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(nb), Int32(k), Int32(g), 1,
                                        px.baseAddress! + start * g, Int32(g), pv.baseAddress, Int32(k), 0,
                                        out + start * k, Int32(k))
                            start += nb
                        }
                    }
                case .sparse(let s):
                    // Row by row (row-local, so chunking cannot matter): v·V[j, :] per non-zero.
                    s.indices.withUnsafeBufferPointer { ind in
                        s.values.withUnsafeBufferPointer { val in
                            for i in 0..<s.rows {
                                let row = out + i * k
                                for c in 0..<k { row[c] = 0 }
                                for p in s.indptr[i]..<s.indptr[i + 1] {
                                    let v = val[p], l = pv.baseAddress! + Int(ind[p]) * k
                                    for c in 0..<k { row[c] += v * l[c] }
                                }
                            }
                        }
                    }
                }
                if center {
                    for i in 0..<chunk.rows {
                        let row = out + i * k
                        for c in 0..<k { row[c] -= shiftRow[c] }
                    }
                }
            }
        }
    }
}
