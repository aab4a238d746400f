import LatentCore

/// Principal component analysis, the baseline every latent model is compared with.
///
/// Goals in order: (1) scikit-learn's and scanpy's answer — the same variances, variance ratios,
/// loadings (signs by sklearn's `svd_flip`: each component's largest-magnitude loading is
/// positive) and scores, with `--no-center` meaning what scanpy's `zero_center=False` means;
/// (2) input handled as it comes — CSR is never densified as a whole (centring is implicit),
/// NaN/Inf and constant data are one-line errors; (3) speed: every pass over X is BLAS level 3,
/// and the work is whichever of three plans is cheapest for the shape (see `Plan`).
///
/// Variances follow sklearn: variance = λ/(n − 1) for the eigenvalues λ of XcᵀXc, and
/// variance_ratio = variance / Σ_genes var(gene), the total computed exactly (in Double, from
/// every gene) rather than from the k components found.
public enum PCA {
    public enum Solver: String, Sendable, Codable, CaseIterable {
        /// Exact for small or nearly-full problems, randomized otherwise.
        case auto
        /// LAPACK eigendecomposition (ssyevr, top k only) of the smaller Gram matrix.
        case exact
        /// Randomized block Krylov (Halko–Martinsson–Tropp with every power-iteration block kept),
        /// stopped by a residual test.
        case randomized
    }

    public struct Options: Sendable, Equatable {
        /// Columns added to k in each Krylov block (HMT's oversampling p).
        public var oversampling: Int
        /// Krylov stopping rule: every wanted Ritz pair has ‖A v − θ v‖ ≤ tolerance·θ. Nil means
        /// 1e-3, which leaves the variances within ~1e-6 (relative) of LAPACK's and the top-20
        /// subspace within ~0.01° on log-normalised single-cell data.
        public var tolerance: Double?
        /// At most this many Krylov blocks (a warning-worthy `converged == false` after).
        public var maxBlocks: Int
        /// Set by `fit` for `.auto`: a Krylov run on an explicit Gram matrix whose residuals
        /// predict more work than LAPACK hands over to LAPACK (an explicit `.randomized` does not).
        var lapackFallback = false

        public init(oversampling: Int = 10, tolerance: Double? = nil, maxBlocks: Int = 40) {
            self.oversampling = oversampling
            self.tolerance = tolerance
            self.maxBlocks = maxBlocks
        }
    }

    public struct Result: Sendable {
        /// n × k scores: the centred data times the loadings (sklearn's `transform`).
        public var scores: Matrix
        /// g × k loadings, orthonormal columns (sklearn's `components_.T`, scanpy's varm["PCs"]).
        public var loadings: Matrix
        /// Variance of each component: λ/(n − 1) (centred); without centring, the variance of
        /// each score column (ddof 0), as scanpy's TruncatedSVD path reports it.
        public var variance: [Double]
        /// variance / total variance of the data.
        public var varianceRatio: [Double]
        /// Σ over genes of the variance (ddof 1 centred, ddof 0 without centring, as sklearn).
        public var totalVariance: Double
        /// Gene means (the centring vector; computed even with `--no-center`).
        public var mean: [Float]
        /// The solver that ran (never `.auto`).
        public var solver: Solver
        public var center: Bool
        /// What ran, for logs and uns: e.g. "block Krylov on the 2000×2000 gene covariance".
        public var method: String
        /// Krylov blocks used (0 for LAPACK).
        public var blocks: Int
        /// The largest relative Ritz residual at the end (0 for LAPACK).
        public var residual: Double
        /// False only when the randomized solver hit `maxBlocks` before its tolerance.
        public var converged: Bool
    }

    /// Fits k principal components of X (observations × variables).
    ///
    /// - Throws: `LatentError.badInput` for k outside 1…min(n − 1, g) (no silent clamping: the
    ///   user asked for components that do not exist), fewer than 2 observations, non-finite
    ///   values (naming the first), constant data, or an exact solve too large to hold.
    ///
    /// The matrix is one in-memory source read as one chunk: the same code (and bytes) as a
    /// streamed or sharded run of the same rows (see PCA+Stream.swift).
    public static func fit(_ X: MatrixData, k: Int, solver: Solver = .auto, center: Bool = true,
                           options: Options = Options(), rng: inout SeededRNG, threads: Int = 1,
                           file: String? = nil) throws -> Result {
        try fit(source: InMemorySource(X), k: k, solver: solver, center: center, options: options, rng: &rng,
                threads: threads, file: file)
    }

    /// Shapes whose plan needs the whole matrix: the cell Gram of wide data, or direct Krylov passes.
    static func fitInMemory(_ X: MatrixData, k: Int, solver: Solver, center: Bool, options: Options,
                            rng: inout SeededRNG, threads: Int, file: String?) throws -> Result {
        let n = X.rows, g = X.cols
        try checkShape(n: n, g: g, k: k, center: center, file: file)
        var profile = StepProfile()
        let data = try CenteredMatrix(X, center: center, threads: threads, file: file)
        profile.step("moments")
        guard data.totalVariance > 0 else {
            throw LatentError.badInput(file, "X", "the data are constant: every variable has variance 0", hint: "PCA needs variation")
        }
        let plan = try Plan.choose(n: n, g: g, k: k, solver: solver, X: X, options: options, file: file)
        var opts = options
        opts.lapackFallback = solver == .auto
        var d = try decompose(data, k: k, plan: plan, options: opts, rng: &rng, profile: &profile)
        flipSigns(&d)
        profile.step("signs")
        profile.report()
        return result(d, data: data, plan: plan)
    }

    /// What `fit` reports, from the eigenpairs of XcᵀXc.
    static func result(_ d: Decomposition, data: CenteredMatrix, plan: Plan) -> Result {
        result(d, n: data.n, center: data.center, mean: data.mean, totalVariance: data.totalVariance, solver: d.solver ?? plan.solver)
    }

    /// `totalVariance`: Σ of the genes' variances about their means (ddof 1).
    static func result(_ d: Decomposition, n: Int, center: Bool, mean: [Double], totalVariance: Double, solver: Solver) -> Result {
        var variance: [Double], total: Double
        if center {
            variance = d.eigenvalues.map { max($0, 0) / Double(n - 1) }
            total = totalVariance
        } else {
            // scanpy's zero_center=False is sklearn's TruncatedSVD: variances of the score
            // columns and of the genes, both with ddof 0.
            variance = (0..<d.scores.cols).map { j in
                var s = 0.0, q = 0.0
                for i in 0..<n { let v = Double(d.scores[i, j]); s += v; q += v * v }
                return max(0, q - s * s / Double(n)) / Double(n)
            }
            total = totalVariance * Double(n - 1) / Double(n)
        }
        return Result(scores: d.scores, loadings: d.loadings, variance: variance,
                      varianceRatio: variance.map { $0 / total }, totalVariance: total,
                      mean: mean.map { Float($0) }, solver: solver, center: center,
                      method: d.method, blocks: d.blocks, residual: d.residual, converged: d.converged)
    }
}

/// Eigenpairs of XcᵀXc with both sides of the factorisation, before signs are fixed.
struct Decomposition {
    /// Eigenvalues of XcᵀXc, descending.
    var eigenvalues: [Double]
    /// g × k, row-major Float32.
    var loadings: Matrix
    /// n × k, row-major Float32.
    var scores: Matrix
    var method: String
    /// Set when the solver that ran differs from the plan's (a Krylov run handed to LAPACK).
    var solver: PCA.Solver? = nil
    var blocks: Int = 0
    var residual: Double = 0
    var converged: Bool = true
}
