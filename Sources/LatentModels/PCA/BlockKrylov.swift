import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The top-k eigenpairs of a symmetric positive semi-definite operator A (m × m) known only
/// through block products A·Q, by randomized block Krylov iteration with Rayleigh–Ritz.
///
/// Halko, Martinsson & Tropp (2011) sketch the range with A·Ω for a Gaussian Ω of k + p columns
/// and sharpen it with power iterations, keeping only the last block. Keeping every block — the
/// Krylov space [Ω, AΩ, A²Ω, …] (Musco & Musco 2015) — converges far faster on the flat spectra
/// of expression data, where the top 50 eigenvalues differ by 1–2 % from one to the next: for
/// the same accuracy it needs about half the products of the power method. Each new block is
/// projected against all earlier ones twice (classical Gram–Schmidt, "twice is enough") and QR'd.
///
/// Stopping is certified rather than a fixed iteration count: the Ritz pairs (θⱼ, vⱼ) of the
/// space are computed now and then, and the iteration stops once every wanted pair has
/// ‖A vⱼ − θⱼ vⱼ‖ ≤ tol·θⱼ. For symmetric A this puts an eigenvalue within ‖r‖ of θⱼ, and in
/// practice within ‖r‖²/gap. A Rayleigh–Ritz step costs a w × w eigendecomposition (w the basis
/// width), so it is not done after every block: from the last two residuals the geometric rate
/// is estimated and the next check is placed where the tolerance should be met.
///
/// The basis and products are Float32 (BLAS level 3 throughout); the Rayleigh quotient QᵀAQ, its
/// eigendecomposition and the residual norms are Double. The Float32 floor on the residual is
/// about 1e-6·θ₁, well below the default tolerances.
struct BlockKrylov {
    var k: Int
    var blockSize: Int
    var tolerance: Double
    var maxBlocks: Int
    /// When set, give up (`abandoned`) as soon as the residuals predict more blocks than this:
    /// the caller has a cheaper exact alternative (LAPACK on the same explicit matrix).
    var budget: Int? = nil
    /// The largest useful basis: the dimension of the space, or the rank of A when known.
    var dimensionLimit: Int

    struct Outcome {
        /// The k largest Ritz values, descending.
        var values: [Double]
        /// The orthonormal basis Q (m × w) the Ritz vectors live in.
        var basis: ColumnMatrix
        /// Their coefficients U (w × k): the Ritz vectors are Q·U.
        var rotation: ColumnMatrix
        var blocks: Int
        /// max over the k pairs of ‖A v − θ v‖ / θ.
        var residual: Double
        var converged: Bool
        /// Stopped early because `budget` would be exceeded (flat spectrum); not converged.
        var abandoned = false

        var vectors: ColumnMatrix { ColumnMatrix.product(basis, rotation) }
    }

    /// - Parameter apply: A·Q for a block Q; its second argument says whether Q becomes part of
    ///   the basis (false only for the range-finding first product, see below).
    func run(dimension m: Int, rng: inout SeededRNG, apply: (ColumnMatrix, Bool) throws -> ColumnMatrix) throws -> Outcome {
        let limit = min(m, dimensionLimit)
        guard k >= 1, k <= limit else {
            throw LatentError.internalFailure("block Krylov: \(k) eigenpairs of a space of dimension \(limit)")
        }
        var l = min(max(blockSize, k), limit)
        var block = ColumnMatrix(rows: m, cols: l)
        for i in block.values.indices { block.values[i] = Float(rng.normal()) }
        try LAPACK.orthonormalizeColumns(&block.values, rows: m, cols: l)
        if limit < m {
            // A is rank-deficient (centring, or fewer observations than genes): a Gaussian start
            // lies mostly in its null space, where Krylov vectors are wasted and a basis capped
            // at the rank would miss part of the range. HMT's range finder starts from A·Ω.
            block = try apply(block, false)
            try LAPACK.orthonormalizeColumns(&block.values, rows: m, cols: l)
        }
        var q = block                              // Q, m × w
        var aq = ColumnMatrix(rows: m, cols: 0)    // A·Q, m × w
        var t = [Double]()                         // QᵀAQ, w × w column-major
        var blocks = 0
        var checks: [(blocks: Int, residual: Double)] = []
        var nextCheck = 2

        func rayleighRitz() throws -> Outcome {
            let w = q.cols, kk = min(k, w)
            let (theta, u) = try LAPACK.symmetricTopEigen(t, n: w, k: kk)
            let rot = ColumnMatrix(rows: w, cols: kk, values: u.map { Float($0) })
            let av = ColumnMatrix.product(aq, rot), v = ColumnMatrix.product(q, rot)
            var worst = 0.0
            let floor = 1e-12 * max(theta[0], .leastNormalMagnitude)
            for j in 0..<kk {
                var s = 0.0
                for i in 0..<m { let x = Double(av[i, j]) - theta[j] * Double(v[i, j]); s += x * x }
                worst = max(worst, s.squareRoot() / max(theta[j], floor))
            }
            return Outcome(values: theta, basis: q, rotation: rot, blocks: blocks, residual: worst,
                           converged: kk == k && worst <= tolerance)
        }

        while true {
            let ab = try apply(block, true)
            blocks += 1
            aq.appendColumns(ab)
            // Extend the Rayleigh quotient by the new block's column Qᵀ(A·Q_b) and its transpose.
            let c = ColumnMatrix.product(q, transposeA: true, ab)           // w × l
            let w = q.cols, w0 = w - l
            var tn = [Double](repeating: 0, count: w * w)
            tn.withUnsafeMutableBufferPointer { pt in
                t.withUnsafeBufferPointer { old in
                    for j in 0..<w0 { for i in 0..<w0 { pt[j * w + i] = old[j * w0 + i] } }
                }
                c.values.withUnsafeBufferPointer { pc in
                    for j in 0..<l {
                        for i in 0..<w {
                            let x = Double(pc[j * w + i])
                            let v = i >= w0 ? 0.5 * (x + Double(pc[(i - w0) * w + w0 + j])) : x
                            pt[(w0 + j) * w + i] = v
                            pt[i * w + w0 + j] = v
                        }
                    }
                }
            }
            t = tn
            let exhausted = blocks >= maxBlocks || w >= limit
            if blocks >= nextCheck || exhausted {
                let out = try rayleighRitz()
                if out.converged || exhausted { return out }
                checks.append((blocks, out.residual))
                if let budget, blocks >= budget || blocks + Self.blocksToTolerance(checks, tolerance: tolerance, cap: .max) > budget {
                    var abandoned = out
                    abandoned.abandoned = true
                    return abandoned
                }
                nextCheck = blocks + Self.blocksToTolerance(checks, tolerance: tolerance)
            }
            // Next block: A·Q_b with Q's span projected out twice (the first projection reuses
            // c = QᵀA·Q_b), then QR.
            l = min(l, limit - w)
            var y = ColumnMatrix(rows: m, cols: l, values: Array(ab.values[0..<(m * l)]))
            let before = (0..<l).map { y.columnNorm($0) }.max() ?? 0
            y.subtractProduct(q, ColumnMatrix(rows: w, cols: l, values: Array(c.values[0..<(w * l)])))
            y.subtractProduct(q, ColumnMatrix.product(q, transposeA: true, y))
            let after = (0..<l).map { y.columnNorm($0) }.max() ?? 0
            if after <= 1e-5 * max(before, .leastNormalMagnitude) {
                // A maps the space into itself (up to rounding): its Ritz pairs are exact.
                var out = try rayleighRitz()
                out.converged = out.values.count == k
                return out
            }
            let r = try LAPACK.orthonormalizeColumns(&y.values, rows: m, cols: l)
            if (r.min() ?? 0) < 1e-3 * (r.max() ?? 0) {
                // Nearly dependent columns come back from QR in arbitrary directions; one more
                // projection and QR makes them orthogonal to Q as well.
                y.subtractProduct(q, ColumnMatrix.product(q, transposeA: true, y))
                try LAPACK.orthonormalizeColumns(&y.values, rows: m, cols: l)
            }
            block = y
            q.appendColumns(y)
        }
    }

    /// Blocks until the next Rayleigh–Ritz check: from the last two residuals r₁ > r₂ (b₁ < b₂
    /// blocks), the geometric rate ρ = (r₂/r₁)^(1/(b₂−b₁)) predicts tol after log(tol/r₂)/log ρ
    /// more blocks; at most `cap` (2 by default, because convergence speeds up as the Ritz vectors
    /// settle, so a geometric guess overshoots, and a block costs about what a check does).
    /// A residual that did not fall predicts "never" (`cap`).
    static func blocksToTolerance(_ checks: [(blocks: Int, residual: Double)], tolerance: Double, cap: Int = 2) -> Int {
        guard checks.count >= 2 else { return min(cap, 2) }
        let (b1, r1) = checks[checks.count - 2], (b2, r2) = checks[checks.count - 1]
        guard r2 > tolerance else { return 1 }
        guard r2 < r1, r2 > 0 else { return cap }
        let rate = pow(r2 / r1, 1 / Double(b2 - b1))
        let need = (log(tolerance / r2) / log(rate)).rounded(.up)
        guard need.isFinite, need < 1e6 else { return cap }
        return min(cap, max(1, Int(need)))
    }
}
