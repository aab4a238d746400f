import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// FastICA (Hyvärinen 1999), parallel (symmetric) form with the logcosh contrast, on PCA-whitened
/// data, as scikit-learn's `FastICA(whiten="unit-variance")` runs it; BioBombe's ICA baseline.
///
/// Sources are scaled to unit variance; `loadings` is the unmixing matrix in gene space
/// (sklearn's `components_`ᵀ, what BioBombe uses as gene weights). ICA fixes neither sign nor
/// order: we keep the PCA order and make each component's largest |loading| positive.
public enum ICA {
    public struct Result: Sendable {
        public var sources: Matrix      // n × k
        public var loadings: Matrix     // g × k
        public var iterations: Int
        public var converged: Bool
    }

    public static func fit(_ X: MatrixData, k: Int, maxIterations: Int = 200, tolerance: Double = 1e-4,
                           rng: inout SeededRNG, threads: Int = 1) throws -> Result {
        let pca = try PCA.fit(X, k: k, solver: .auto, rng: &rng, threads: threads)
        let n = X.rows
        // Whitened data Z (n × k): unit second moment per component (sklearn divides by n).
        var z = pca.scores
        let scale = pca.variance.map { $0 > 0 ? Float(1 / ($0 * Double(n - 1) / Double(n)).squareRoot()) : 0 }
        for i in 0..<n { for j in 0..<k { z.values[i * k + j] *= scale[j] } }
        var w = Matrix(rows: k, cols: k)
        for i in w.values.indices { w.values[i] = Float(rng.normal()) }
        w = try symmetricDecorrelation(w)
        var converged = false
        var iterations = 0
        for it in 1...maxIterations {
            iterations = it
            // wx = W Zᵀ (k × n); g = tanh(wx); g' = 1 − g².
            let wx = Matrix.multiply(w, z, transposeB: true)
            var g = wx
            var gPrimeMean = [Float](repeating: 0, count: k)
            for r in 0..<k {
                var acc: Float = 0
                for c in 0..<n {
                    let t = tanhf(wx.values[r * n + c])
                    g.values[r * n + c] = t
                    acc += 1 - t * t
                }
                gPrimeMean[r] = acc / Float(n)
            }
            var w1 = Matrix.multiply(g, z)                 // k × k
            for r in 0..<k { for c in 0..<k { w1.values[r * k + c] = w1.values[r * k + c] / Float(n) - gPrimeMean[r] * w.values[r * k + c] } }
            w1 = try symmetricDecorrelation(w1)
            // Convergence: max |(|diag(W₁ Wᵀ)| − 1)|.
            let m = Matrix.multiply(w1, w, transposeB: true)
            var lim: Float = 0
            for r in 0..<k { lim = max(lim, abs(abs(m.values[r * k + r]) - 1)) }
            w = w1
            if Double(lim) < tolerance { converged = true; break }
        }
        // Sources S = Z Wᵀ, scaled to unit variance; gene-space unmixing = W · diag(scale) · Vᵀ.
        var sources = Matrix.multiply(z, w, transposeB: true)
        var unmix = Matrix(rows: k, cols: k)
        for r in 0..<k { for c in 0..<k { unmix.values[r * k + c] = w.values[r * k + c] * scale[c] } }
        var loadings = Matrix.multiply(pca.loadings, unmix, transposeB: true)   // g × k
        for j in 0..<k {
            var mean = 0.0, sq = 0.0
            for i in 0..<n { mean += Double(sources[i, j]) }
            mean /= Double(n)
            for i in 0..<n { sq += (Double(sources[i, j]) - mean) * (Double(sources[i, j]) - mean) }
            let sd = Float((sq / Double(n)).squareRoot())
            guard sd > 0 else { continue }
            for i in 0..<n { sources[i, j] /= sd }
            for i in 0..<loadings.rows { loadings[i, j] /= sd }
        }
        // Deterministic signs: the largest |gene loading| of each component is positive.
        for j in 0..<k {
            var best = 0
            for i in 0..<loadings.rows where abs(loadings[i, j]) > abs(loadings[best, j]) { best = i }
            if loadings[best, j] < 0 {
                for i in 0..<loadings.rows { loadings[i, j] = -loadings[i, j] }
                for i in 0..<n { sources[i, j] = -sources[i, j] }
            }
        }
        return Result(sources: sources, loadings: loadings, iterations: iterations, converged: converged)
    }

    /// (W Wᵀ)^{-1/2} W, through the eigendecomposition of the small symmetric W Wᵀ.
    static func symmetricDecorrelation(_ w: Matrix) throws -> Matrix {
        let k = w.rows
        let (vals, e) = try LAPACK.symmetricTopEigen(Matrix.multiply(w, w, transposeB: true), k: k)
        var scaled = e
        for j in 0..<k {
            let s = vals[j] > 0 ? Float(1 / vals[j].squareRoot()) : 0
            for i in 0..<k { scaled[i, j] *= s }
        }
        return Matrix.multiply(Matrix.multiply(scaled, e, transposeB: true), w)
    }
}
