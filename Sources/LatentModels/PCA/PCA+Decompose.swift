import CBLAS
import LatentCore

extension PCA {
    /// Top-k eigenpairs of XcᵀXc by `plan`, with loadings and scores.
    static func decompose(_ data: CenteredMatrix, k: Int, plan: Plan, options: Options, rng: inout SeededRNG,
                          profile: inout StepProfile) throws -> Decomposition {
        switch plan {
        case .exact(let side):
            let gram = data.gram(side)
            profile.step("gram")
            let (values, vectors) = try LAPACK.symmetricTopEigen(gram.values, n: gram.rows, k: k)
            profile.step("ssyevr")
            var d = finish(data, side: side, values: values, vectors: ColumnMatrix(rows: gram.rows, cols: k, values: vectors))
            profile.step("scores")
            d.method = "LAPACK ssyevr on the \(gram.rows) × \(gram.rows) \(side == .genes ? "gene covariance" : "observation Gram matrix")"
            return d
        case .krylovGram(let side):
            let gram = data.gram(side)
            profile.step("gram")
            let l = k + options.oversampling
            var krylov = BlockKrylov(k: k, blockSize: l, tolerance: options.tolerance ?? 1e-3,
                                     maxBlocks: options.maxBlocks, dimensionLimit: rankLimit(data))
            if options.lapackFallback { krylov.budget = lapackEquivalentBlocks(m: gram.rows, blockSize: l) }
            let out = try krylov.run(dimension: gram.rows, rng: &rng) { q, _ in ColumnMatrix.product(gram, q) }
            profile.step("krylov")
            let what = side == .genes ? "gene covariance" : "observation Gram matrix"
            if out.abandoned {
                // A spectrum too flat for Krylov to pay off: LAPACK on the matrix we already have.
                let (values, vectors) = try LAPACK.symmetricTopEigen(gram.values, n: gram.rows, k: k)
                profile.step("ssyevr")
                var d = finish(data, side: side, values: values, vectors: ColumnMatrix(rows: gram.rows, cols: k, values: vectors))
                profile.step("scores")
                d.method = "LAPACK ssyevr on the \(gram.rows) × \(gram.rows) \(what) (block Krylov stopped after \(out.blocks) blocks: the spectrum is too flat for it to be cheaper)"
                d.blocks = out.blocks
                d.solver = .exact
                return d
            }
            var d = finish(data, side: side, values: out.values, vectors: out.vectors)
            profile.step("scores")
            d.method = "block Krylov on the \(gram.rows) × \(gram.rows) \(what)"
            d.blocks = out.blocks
            d.residual = out.residual
            d.converged = out.converged
            return d
        case .krylovDirect:
            return try directKrylov(data, k: k, options: options, rng: &rng, profile: &profile)
        }
    }

    /// How many Krylov blocks cost about as much as LAPACK's eigendecomposition of the same
    /// explicit m × m matrix: ssyevr is dominated by the (4/3)m³ tridiagonal reduction, a block by
    /// its 2m²l product and a share of the Rayleigh–Ritz steps; measured at m = 2,000, l = 60 the
    /// ratio is about 13 blocks, i.e. 0.4·m/l.
    static func lapackEquivalentBlocks(m: Int, blockSize l: Int) -> Int {
        max(4, Int(0.4 * Double(m) / Double(max(l, 1))))
    }

    /// The rank XcᵀXc can have: centring removes one dimension.
    static func rankLimit(_ data: CenteredMatrix) -> Int {
        data.center ? min(data.n - 1, data.g) : min(data.n, data.g)
    }

    /// Loadings and scores from eigenvectors of the Gram on `side` (m × k, column-major).
    ///
    /// Gene side: the eigenvectors are the loadings V; scores = Xc·V (one pass over X).
    /// Observation side: the eigenvectors U are the normalised scores; V = XcᵀU·Λ^(−1/2) (one pass)
    /// and scores = U·Λ^(1/2). An eigenvalue that is numerically zero gives a zero loading
    /// column rather than a division by it.
    static func finish(_ data: CenteredMatrix, side: GramSide, values: [Double], vectors: ColumnMatrix) -> Decomposition {
        let k = vectors.cols
        switch side {
        case .genes:
            let scores = data.scores(vectors)
            return Decomposition(eigenvalues: values, loadings: vectors.rowMajor(), scores: scores, method: "")
        case .cells:
            let u = vectors.rowMajor()                             // n × k
            var v = data.transposeTimes(u.values, cols: k)        // g × k
            var scores = u
            let floor = 1e-12 * max(values.first ?? 0, .leastNormalMagnitude)
            for j in 0..<k {
                let s = values[j] > floor ? values[j].squareRoot() : 0
                for i in 0..<v.rows { v[i, j] = s > 0 ? Float(Double(v[i, j]) / s) : 0 }
                for i in 0..<data.n { scores[i, j] = Float(Double(u[i, j]) * s) }
            }
            return Decomposition(eigenvalues: values, loadings: v.rowMajor(), scores: scores, method: "")
        }
    }

    /// sklearn's `svd_flip(u, v, u_based_decision=False)`: in each component the loading of
    /// largest magnitude (the first such, as numpy's argmax) is made positive; scores follow.
    static func flipSigns(_ d: inout Decomposition) {
        let g = d.loadings.rows, k = d.loadings.cols
        for j in 0..<k {
            var best = 0
            var bestAbs: Float = -1
            for i in 0..<g where abs(d.loadings[i, j]) > bestAbs { bestAbs = abs(d.loadings[i, j]); best = i }
            guard d.loadings[best, j] < 0 else { continue }
            for i in 0..<g { d.loadings[i, j] = -d.loadings[i, j] }
            for i in 0..<d.scores.rows { d.scores[i, j] = -d.scores[i, j] }
        }
    }
}

extension PCA {
    /// The top-k singular triplets of X itself (`data` built without centring): σ descending,
    /// U (n × k) and V (g × k), signs by `svd_flip`. NMF's NNDSVD initialisation starts here.
    static func truncatedSVD(_ data: CenteredMatrix, k: Int, rng: inout SeededRNG) throws -> (sigma: [Double], u: Matrix, v: Matrix) {
        var options = Options()
        options.lapackFallback = true
        let plan = try Plan.choose(n: data.n, g: data.g, k: k, solver: .auto, X: data.X, options: options, file: nil)
        var profile = StepProfile()
        var d = try decompose(data, k: k, plan: plan, options: options, rng: &rng, profile: &profile)
        flipSigns(&d)
        let sigma = d.eigenvalues.map { max($0, 0).squareRoot() }
        var u = d.scores
        for j in 0..<k {
            let s = sigma[j] > 0 ? 1 / sigma[j] : 0
            for i in 0..<u.rows { u[i, j] = Float(Double(u[i, j]) * s) }
        }
        return (sigma, u, d.loadings)
    }
}
