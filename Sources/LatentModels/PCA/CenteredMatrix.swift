import LatentCore

/// X (dense, or CSR never densified as a whole) together with the per-gene shift μ that PCA
/// subtracts, giving products with the centred matrix Xc = X − 1μᵀ without forming it:
///
///     Xc·Q  = X·Q  − 1(μᵀQ)          Xcᵀ·Z = XᵀZ − μ(1ᵀZ)
///     XcᵀXc = XᵀX − n·μμᵀ             XcXcᵀ = XXᵀ − (Xμ)1ᵀ − 1(Xμ)ᵀ + (μᵀμ)11ᵀ
///
/// The corrections are rank one or two and computed in Double. Their trap is cancellation when a
/// gene's mean is large against its spread; for log-normalised expression (mean/sd ≈ 0.3–3) the
/// Float32 Gram loses under 4e-7 of the top eigenvalues (measured against a Float64 Gram of
/// explicitly centred data), below the accuracy PCA is compared at (1e-4).
struct CenteredMatrix {
    let X: MatrixData
    let n: Int
    let g: Int
    /// Whether μ is the column mean (PCA) or zero (`--no-center`, scanpy's zero_center=False).
    let center: Bool
    /// Column means, whatever `center` says (scanpy's no-centre variance ratio needs them).
    let mean: [Double]
    /// What is subtracted: `mean` when centring, else zeros.
    let shift: [Double]
    /// Per-gene variance about the mean, ddof 1, in Double.
    let geneVariance: [Double]
    /// Threads for our own loops (BLAS has its own setting).
    let threads: Int

    /// One pass for the moments; throws on non-finite values, naming the first one.
    init(_ X: MatrixData, center: Bool, threads: Int, file: String? = nil) throws {
        self.X = X
        n = X.rows
        g = X.cols
        self.center = center
        self.threads = max(1, threads)
        let m = try Self.moments(X, threads: self.threads, file: file)
        mean = m.mean
        geneVariance = m.variance
        shift = center ? m.mean : [Double](repeating: 0, count: X.cols)
    }

    /// Σ_g var_g (ddof 1): the denominator of sklearn's explained_variance_ratio_.
    var totalVariance: Double { geneVariance.reduce(0, +) }

    /// Contiguous row ranges, one per worker, fixed by (n, threads) so sums never depend on scheduling.
    func rowChunks(minimumRows: Int = 256) -> [Range<Int>] {
        let t = max(1, min(threads, n / max(minimumRows, 1)))
        return (0..<t).map { (n * $0 / t)..<(n * ($0 + 1) / t) }
    }
}
