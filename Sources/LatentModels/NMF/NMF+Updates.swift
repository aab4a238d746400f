import CBLAS
import LatentCore

extension NMF {
    /// The iterate (W, Hᵀ) with what one iteration needs. Both factors are kept in Double, as
    /// sklearn keeps them for float64 input: the updates multiply or shift every entry each
    /// iteration, and Float32 rounding would then differ from sklearn's iterates after a few
    /// dozen iterations for no gain in speed (the passes over X run in Float32 sgemm anyway).
    struct State {
        let data: CenteredMatrix
        /// W, n × k row-major.
        var w: [Double]
        /// Hᵀ, g × k row-major.
        var ht: [Double]
        let n: Int, g: Int, k: Int
        let normX2: Double
        /// ½‖X − WH‖² after the last step.
        var objective = Double.nan

        init(data: CenteredMatrix, w: Matrix, ht: Matrix) {
            self.data = data
            n = data.n
            g = data.g
            k = w.cols
            self.w = w.values.map(Double.init)
            self.ht = ht.values.map(Double.init)
            normX2 = data.X.storedValues.reduce(0.0) { $0 + Double($1) * Double($1) }
        }

        var wMatrix: Matrix { Matrix(rows: n, cols: k, values: w.map { Float($0) }) }
        var htMatrix: Matrix { Matrix(rows: g, cols: k, values: ht.map { Float($0) }) }

        /// X·Hᵀ (n × k) in Double, from one Float32 pass.
        func xht() -> [Double] { data.times(ht.map { Float($0) }, cols: k).map(Double.init) }

        /// Xᵀ·W (g × k, row-major) in Double, from one Float32 pass.
        func xtw() -> [Double] {
            let c = data.transposeTimes(w.map { Float($0) }, cols: k)       // column-major g × k
            var out = [Double](repeating: 0, count: g * k)
            for j in 0..<g { for t in 0..<k { out[j * k + t] = Double(c.values[t * g + j]) } }
            return out
        }

        /// ½‖X − WH‖² = ½(‖X‖² − 2⟨XᵀW, Hᵀ⟩ + ⟨WᵀW, HHᵀ⟩), from products already computed. The
        /// cancellation in the sum is harmless in Double: the products' own Float32 errors
        /// (≈1e-7 relative) bound the error at ~1e-7·‖X‖².
        func loss(xtw: [Double], wtw: [Double]) -> Double {
            var cross = 0.0
            for i in 0..<(g * k) { cross += xtw[i] * ht[i] }
            let hht = NMF.gram(ht, rows: g, cols: k)
            var quad = 0.0
            for i in 0..<(k * k) { quad += wtw[i] * hht[i] }
            return max(0, 0.5 * (normX2 - 2 * cross + quad))
        }

        /// ‖X − WH‖_F at the starting point (one pass), sklearn's `error_at_init`.
        func initialError() -> Double {
            let a = xht()
            var cross = 0.0
            for i in 0..<(n * k) { cross += a[i] * w[i] }
            let wtw = NMF.gram(w, rows: n, cols: k), hht = NMF.gram(ht, rows: g, cols: k)
            var quad = 0.0
            for i in 0..<(k * k) { quad += wtw[i] * hht[i] }
            return (max(0, normX2 - 2 * cross + quad)).squareRoot()
        }

        /// One sweep of sklearn's `_update_cdnmf_fast` over W then over Hᵀ (HALS): for each
        /// component t in order, every row's coordinate moves to the minimiser of the loss along
        /// it, clipped at 0, using the row's already-updated coordinates. Rows are independent,
        /// so they run in parallel with the result unchanged. Returns the summed |projected
        /// gradient| (sklearn's `violation`).
        mutating func coordinateDescentStep() -> Double {
            let hht = NMF.gram(ht, rows: g, cols: k)
            var violation = NMF.descend(&w, rows: n, k: k, target: xht(), gram: hht, threads: data.threads)
            let xtw = xtw()
            let wtw = NMF.gram(w, rows: n, cols: k)
            violation += NMF.descend(&ht, rows: g, k: k, target: xtw, gram: wtw, threads: data.threads)
            objective = loss(xtw: xtw, wtw: wtw)
            return violation
        }

        /// One multiplicative update of W then of H (Lee & Seung; sklearn's `_fit_multiplicative_update`
        /// for β = 2): W ← W ∘ XHᵀ / (W·HHᵀ), Hᵀ ← Hᵀ ∘ XᵀW / (Hᵀ·WᵀW). A zero denominator becomes
        /// Float32's ε, sklearn's EPSILON, so a zero stays zero instead of turning into NaN.
        mutating func multiplicativeStep() {
            let eps = Double(Float.ulpOfOne)
            let hht = NMF.gram(ht, rows: g, cols: k)
            let num = xht()
            let den = NMF.product(w, rows: n, k: k, hht)
            for i in 0..<(n * k) { w[i] *= num[i] / (den[i] == 0 ? eps : den[i]) }
            let xtw = xtw()
            let wtw = NMF.gram(w, rows: n, cols: k)
            let denH = NMF.product(ht, rows: g, k: k, wtw)
            for i in 0..<(g * k) { ht[i] *= xtw[i] / (denH[i] == 0 ? eps : denH[i]) }
            objective = loss(xtw: xtw, wtw: wtw)
        }
    }

    /// MᵀM (k × k, full) for row-major M (rows × k), by dsyrk.
    static func gram(_ m: [Double], rows: Int, cols k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: k * k)
        m.withUnsafeBufferPointer { pm in
            c.withUnsafeMutableBufferPointer { pc in
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(k), Int32(rows), 1, pm.baseAddress, Int32(k),
                            0, pc.baseAddress, Int32(k))
            }
        }
        for i in 0..<k { for j in 0..<i { c[i * k + j] = c[j * k + i] } }
        return c
    }

    /// M·S for row-major M (rows × k) and S (k × k), by dgemm.
    static func product(_ m: [Double], rows: Int, k: Int, _ s: [Double]) -> [Double] {
        var c = [Double](repeating: 0, count: rows * k)
        m.withUnsafeBufferPointer { pm in
            s.withUnsafeBufferPointer { ps in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(k), Int32(k), 1,
                                pm.baseAddress, Int32(k), ps.baseAddress, Int32(k), 0, pc.baseAddress, Int32(k))
                }
            }
        }
        return c
    }

    /// Coordinate descent on each row fᵢ of F (rows × k) for the loss ½·fᵢGfᵢᵀ − Tᵢ·fᵢᵀ, which is
    /// ½‖Xᵢ − fᵢH‖² up to a constant when G = HHᵀ and T = XHᵀ (and likewise for Hᵀ with G = WᵀW,
    /// T = XᵀW): the gradient in coordinate s is (fᵢG − Tᵢ)ₛ, the exact minimiser along it is
    /// fᵢₛ − grad/Gₛₛ, clipped at 0.
    static func descend(_ f: inout [Double], rows: Int, k: Int, target: [Double], gram: [Double], threads: Int) -> Double {
        let t = max(1, min(threads, rows / 512))
        var partial = [Double](repeating: 0, count: t)
        f.withUnsafeMutableBufferPointer { pf in
            target.withUnsafeBufferPointer { pt in
                gram.withUnsafeBufferPointer { pg in
                    partial.withUnsafeMutableBufferPointer { pp in
                        Runtime.parallelFor(t, threads: t) { c in
                            var violation = 0.0
                            guard let base = pf.baseAddress else { return }
                            for i in (rows * c / t)..<(rows * (c + 1) / t) {
                                let row = base + i * k
                                for s in 0..<k {
                                    var grad = -pt[i * k + s]
                                    for r in 0..<k { grad += pg[s * k + r] * row[r] }
                                    let projected = row[s] == 0 ? min(0, grad) : grad
                                    violation += abs(projected)
                                    let hess = pg[s * k + s]
                                    if hess != 0 { row[s] = max(row[s] - grad / hess, 0) }
                                }
                            }
                            pp[c] = violation
                        }
                    }
                }
            }
        }
        return partial.reduce(0, +)
    }
}
