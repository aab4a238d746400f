import CBLAS
import LatentCore

/// FastICA (Hyvärinen 1999), parallel (symmetric) form with the logcosh contrast G(u) = log cosh u
/// (g = tanh), on PCA-whitened data, as scikit-learn's `FastICA(whiten="unit-variance")` runs it:
/// BioBombe's ICA baseline.
///
/// Whitening is our PCA: Z = Xc·V·diag(√n/σ) has identity covariance (ddof 0), sklearn's
/// `X1 = K·Xcᵀ·√n`. The iteration W ← sym(E[g(WZᵀ)Z] − E[g'(WZᵀ)]W), sym(W) = (WWᵀ)^(−1/2)W,
/// stops when max|(|diag(W₁Wᵀ)| − 1)| < tol, sklearn's rule.
///
/// Outputs, with the convention that makes them one key pattern with PCA and NMF: sources
/// S = Z·Wᵀ scaled to unit variance (obsm["X_ica"]), and `loadings` = the gene-space unmixing
/// matrix, sklearn's `components_ᵀ` (g × k, varm["ICs"], BioBombe's gene weights), so that
/// S = Xc·loadings exactly. ICA fixes neither sign nor order; we make each component's
/// largest-magnitude loading positive and order components by the variance of X each one
/// explains (the squared norm of its mixing column), so the output does not depend on the
/// random start's arbitrary order.
public enum ICA {
    public struct Result: Sendable {
        /// S, n × k, unit variance (ddof 0) per column.
        public var sources: Matrix
        /// The unmixing matrix in gene space, g × k: sources = (X − mean)·loadings.
        public var loadings: Matrix
        public var iterations: Int
        public var converged: Bool
    }

    /// - Parameter initialUnmixing: sklearn's `w_init` (k × k); by default a Gaussian matrix from `rng`.
    public static func fit(_ X: MatrixData, k: Int, maxIterations: Int = 200, tolerance: Double = 1e-4,
                           initialUnmixing: Matrix? = nil, rng: inout SeededRNG, threads: Int = 1,
                           file: String? = nil) throws -> Result {
        guard maxIterations >= 1 else { throw LatentError.badInput(file, nil, "--max-iter must be at least 1") }
        let pca = try PCA.fit(X, k: k, solver: .auto, rng: &rng, threads: threads, file: file)
        let n = X.rows
        // Whitened Z (n × k): unit variance with ddof 0, as sklearn.
        var z = pca.scores
        let scale = pca.variance.map { $0 > 0 ? 1 / ($0 * Double(n - 1) / Double(n)).squareRoot() : 0 }
        for i in 0..<n { for j in 0..<k { z.values[i * k + j] = Float(Double(z.values[i * k + j]) * scale[j]) } }
        var w = Matrix(rows: k, cols: k)
        if let w0 = initialUnmixing {
            guard w0.rows == k, w0.cols == k else {
                throw LatentError.badInput(file, nil, "initial unmixing matrix is \(w0.rows)×\(w0.cols), expected \(k)×\(k)")
            }
            w = w0
        } else {
            for i in w.values.indices { w.values[i] = Float(rng.normal()) }
        }
        w = try symmetricDecorrelation(w)
        var converged = false
        var iterations = 0
        for it in 1...maxIterations {
            iterations = it
            let (gz, gPrimeMean) = contrast(Matrix.multiply(w, z, transposeB: true), threads: threads)   // k × n
            var w1 = Matrix.multiply(gz, z)                                                           // k × k
            for r in 0..<k {
                for c in 0..<k { w1.values[r * k + c] = w1.values[r * k + c] / Float(n) - gPrimeMean[r] * w.values[r * k + c] }
            }
            w1 = try symmetricDecorrelation(w1)
            let m = Matrix.multiply(w1, w, transposeB: true)
            var lim: Float = 0
            for r in 0..<k { lim = max(lim, abs(abs(m.values[r * k + r]) - 1)) }
            w = w1
            if Double(lim) < tolerance { converged = true; break }
        }
        var result = finish(z: z, w: w, pcaLoadings: pca.loadings, scale: scale)
        result.iterations = iterations
        result.converged = converged
        return result
    }

    /// g(u) = tanh(u) for u = WZᵀ (k × n), and the row means of g'(u) = 1 − tanh²(u).
    ///
    /// tanh u = expm1(2u)/(expm1(2u) + 2) through the vectorised expm1 (scalar tanhf costs ~10×
    /// more, and this is the inner loop); 2u is clipped to ±40, beyond which tanh is ±1 in Float32
    /// and expm1 would overflow to ∞/∞.
    static func contrast(_ u: Matrix, threads: Int) -> (Matrix, [Float]) {
        let k = u.rows, n = u.cols
        let doubled = u.values.map { min(max(2 * $0, -40), 40) }
        let e = ElementwiseMath.expm1(doubled, threads: threads)
        var g = Matrix(rows: k, cols: n)
        var gPrime = [Float](repeating: 0, count: k)
        for r in 0..<k {
            var acc = 0.0
            for c in 0..<n {
                let x = e[r * n + c]
                let t = x / (x + 2)
                g.values[r * n + c] = t
                acc += Double(1 - t * t)
            }
            gPrime[r] = Float(acc / Double(n))
        }
        return (g, gPrime)
    }

    /// (WWᵀ)^(−1/2)·W, through the eigendecomposition of the small symmetric WWᵀ (in Double).
    static func symmetricDecorrelation(_ w: Matrix) throws -> Matrix {
        let k = w.rows
        let wwt = Matrix.multiply(w, w, transposeB: true)
        let (vals, e) = try LAPACK.symmetricTopEigen(wwt.values.map(Double.init), n: k, k: k)   // symmetric: layout-free
        var m = [Double](repeating: 0, count: k * k)    // E·diag(λ^(−1/2))·Eᵀ, row-major
        for i in 0..<k {
            for j in 0..<k {
                var s = 0.0
                for c in 0..<k where vals[c] > 0 { s += e[c * k + i] * e[c * k + j] / vals[c].squareRoot() }
                m[i * k + j] = s
            }
        }
        return Matrix.multiply(Matrix(rows: k, cols: k, values: m.map { Float($0) }), w)
    }

    /// Sources, gene-space unmixing, unit variance, signs and order.
    static func finish(z: Matrix, w: Matrix, pcaLoadings: Matrix, scale: [Double]) -> Result {
        let n = z.rows, k = w.rows, g = pcaLoadings.rows
        var sources = Matrix.multiply(z, w, transposeB: true)                  // n × k
        var unmix = Matrix(rows: k, cols: k)                                     // W·diag(scale)
        for r in 0..<k { for c in 0..<k { unmix.values[r * k + c] = Float(Double(w.values[r * k + c]) * scale[c]) } }
        var loadings = Matrix.multiply(pcaLoadings, unmix, transposeB: true)   // V·diag(scale)·Wᵀ, g × k
        var explained = [Double](repeating: 0, count: k)
        for j in 0..<k {
            var mean = 0.0, sq = 0.0
            for i in 0..<n { mean += Double(sources[i, j]) }
            mean /= Double(n)
            for i in 0..<n { let d = Double(sources[i, j]) - mean; sq += d * d }
            let sd = (sq / Double(n)).squareRoot()
            // Mixing column j = V·diag(1/scale)·Wᵀ[:, j]·sd: its squared norm is the variance of X it explains.
            var norm2 = 0.0
            for c in 0..<k where scale[c] > 0 { let x = Double(w.values[j * k + c]) / scale[c]; norm2 += x * x }
            explained[j] = norm2 * sd * sd
            guard sd > 0 else { continue }
            for i in 0..<n { sources[i, j] = Float(Double(sources[i, j]) / sd) }
            for i in 0..<g { loadings[i, j] = Float(Double(loadings[i, j]) / sd) }
        }
        for j in 0..<k {
            var best = 0
            for i in 0..<g where abs(loadings[i, j]) > abs(loadings[best, j]) { best = i }
            guard loadings[best, j] < 0 else { continue }
            for i in 0..<g { loadings[i, j] = -loadings[i, j] }
            for i in 0..<n { sources[i, j] = -sources[i, j] }
        }
        let order = (0..<k).sorted { explained[$0] != explained[$1] ? explained[$0] > explained[$1] : $0 < $1 }
        var s2 = Matrix(rows: n, cols: k), l2 = Matrix(rows: g, cols: k)
        for (to, from) in order.enumerated() {
            for i in 0..<n { s2[i, to] = sources[i, from] }
            for i in 0..<g { l2[i, to] = loadings[i, from] }
        }
        return Result(sources: s2, loadings: l2, iterations: 0, converged: false)
    }
}
