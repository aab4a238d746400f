import LatentCore

/// Non-negative matrix factorisation X ≈ W·H (Frobenius loss) by Lee & Seung's multiplicative
/// updates, which never increase the loss; BioBombe's NMF baseline. W (n × k) are the cell
/// scores, Hᵀ (g × k) the gene loadings. Initialisation as scikit-learn's "random":
/// |N(0,1)|·√(mean(X)/k), from the seeded generator. Sparse X is used through blocked products.
public enum NMF {
    public struct Result: Sendable {
        public var scores: Matrix       // W, n × k
        public var loadings: Matrix     // Hᵀ, g × k
        /// ½‖X − WH‖²_F after each iteration (non-increasing).
        public var objective: [Double]
        public var converged: Bool
    }

    public static func fit(_ X: MatrixData, k: Int, maxIterations: Int = 200, tolerance: Double = 1e-4,
                           rng: inout SeededRNG, file: String? = nil) throws -> Result {
        let n = X.rows, g = X.cols
        guard k >= 1, k <= min(n, g) else { throw LatentError.badInput(file, nil, "--k must be between 1 and \(min(n, g))") }
        let values = X.storedValues
        if let bad = values.firstIndex(where: { $0 < 0 }) {
            let (r, c) = Validate.position(ofStored: bad, in: X)
            throw LatentError.badInput(file, "X[row \(r + 1), column \(c + 1)]", "negative value \(values[bad]): NMF needs non-negative data",
                                       hint: "use log-normalised data without z-scoring (--scale none or minmax)")
        }
        let data = BlockedData(X, center: false)
        let meanX = values.reduce(0.0) { $0 + Double($1) } / Double(n * g)
        let avg = (meanX / Double(k)).squareRoot()
        var h = Matrix(rows: k, cols: g), w = Matrix(rows: n, cols: k)
        for i in h.values.indices { h.values[i] = Float(abs(rng.normal()) * avg) }
        for i in w.values.indices { w.values[i] = Float(abs(rng.normal()) * avg) }
        let normX2 = values.reduce(0.0) { $0 + Double($1) * Double($1) }
        let eps: Float = 1e-10
        var objective: [Double] = []
        var converged = false
        for _ in 0..<maxIterations {
            // H ← H ∘ (WᵀX) / (WᵀW H)
            let wtx = data.transposeTimes(w)                          // g × k = (WᵀX)ᵀ
            let wtw = Matrix.multiply(w, transposeA: true, w)          // k × k
            let den = Matrix.multiply(wtw, h)                          // k × g
            for r in 0..<k { for c in 0..<g { h.values[r * g + c] *= wtx.values[c * k + r] / (den.values[r * g + c] + eps) } }
            // W ← W ∘ (X Hᵀ) / (W H Hᵀ)
            let xht = data.times(Matrix(rows: g, cols: k, values: h.transposed().values))   // n × k
            let hht = Matrix.multiply(h, h, transposeB: true)          // k × k
            let denW = Matrix.multiply(w, hht)                         // n × k
            for i in w.values.indices { w.values[i] *= xht.values[i] / (denW.values[i] + eps) }
            // ½‖X − WH‖² = ½(‖X‖² − 2⟨WᵀX, H⟩ + ⟨WᵀW, HHᵀ⟩), with the updated factors.
            let xhtNew = data.times(Matrix(rows: g, cols: k, values: h.transposed().values))
            var cross = 0.0
            for i in w.values.indices { cross += Double(w.values[i]) * Double(xhtNew.values[i]) }
            let wtwNew = Matrix.multiply(w, transposeA: true, w)
            let hhtNew = Matrix.multiply(h, h, transposeB: true)
            var quad = 0.0
            for i in wtwNew.values.indices { quad += Double(wtwNew.values[i]) * Double(hhtNew.values[i]) }
            objective.append(max(0, 0.5 * (normX2 - 2 * cross + quad)))
            if objective.count >= 2 {
                let prev = objective[objective.count - 2], cur = objective.last!
                if prev - cur <= tolerance * prev { converged = true; break }
            }
        }
        return Result(scores: w, loadings: h.transposed(), objective: objective, converged: converged)
    }
}
