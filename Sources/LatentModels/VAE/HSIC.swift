import LatentCore

/// The Hilbert–Schmidt independence criterion between two blocks of latents of a minibatch
/// (Gretton et al. 2005), as a penalty that keeps a program decoder's free latents from
/// re-encoding its programs (expiMap's use of it), and a supervised subspace's label out of the
/// free latents (`--subspace-hsic`).
///
/// Biased estimator with Gaussian kernels: HSIC = Σ_ij K_ij (HLH)_ij / (M − 1)², K on block A,
/// L on block B, H = I − 11ᵀ/M. Bandwidths are fixed, 2σ² = 2·(block width) (the mean squared
/// distance of two N(0, I) codes), not the median heuristic: a data-dependent bandwidth would
/// make the penalty a different function at every step and its gradient inexact.
///
/// A `LatentTerm` on the sampled codes z; computed in Double (M²·width per batch, small). Its
/// value is the batch's HSIC (a statistic of the batch, not a mean over cells).
public struct HSICTerm: LatentTerm {
    /// Latent indices of the two blocks.
    public var a: [Int]
    public var b: [Int]
    /// The history.tsv column: "hsic" for a program decoder, "hsic_COL" per supervised subspace.
    public var name: String

    public init(a: [Int], b: [Int], name: String = "hsic") {
        self.a = a
        self.b = b
        self.name = name
    }

    public func apply<T: NetScalar>(_ batch: LatentBatch<T>, weight: Double, grads: LatentGrads<T>?, rng: inout SeededRNG) -> Double {
        value(z: batch.z, rows: batch.rows, latents: batch.latent, weight: weight, dz: grads?.z)
    }

    /// HSIC of the codes z (rows × k); adds the gradient of weight·HSIC to `dz`.
    func value<T: NetScalar>(z: UnsafePointer<T>, rows m: Int, latents k: Int, weight: Double,
                             dz: UnsafeMutablePointer<T>?) -> Double {
        guard m >= 2, !a.isEmpty, !b.isEmpty else { return 0 }
        func gram(_ idx: [Int]) -> [Double] {
            let s2 = 2 * Double(idx.count)
            var g = [Double](repeating: 0, count: m * m)
            for i in 0..<m {
                for j in i..<m {
                    var d = 0.0
                    for c in idx { let t = Double(z[i * k + c]) - Double(z[j * k + c]); d += t * t }
                    let v = _exp(-d / s2)
                    g[i * m + j] = v; g[j * m + i] = v
                }
            }
            return g
        }
        func centred(_ g: [Double]) -> [Double] {
            var row = [Double](repeating: 0, count: m), all = 0.0
            for i in 0..<m { for j in 0..<m { row[i] += g[i * m + j] } ; all += row[i] }
            let fm = Double(m)
            var c = g
            for i in 0..<m { for j in 0..<m { c[i * m + j] = g[i * m + j] - row[i] / fm - row[j] / fm + all / (fm * fm) } }
            return c
        }
        let K = gram(a), L = gram(b)
        let Lc = centred(L)
        let norm = 1 / (Double(m - 1) * Double(m - 1))
        var h = 0.0
        for e in 0..<(m * m) { h += K[e] * Lc[e] }
        guard let dz, weight != 0 else { return norm * h }
        let Kc = centred(K)
        // ∂/∂z_ic of Σ_ij K_ij·C_ij with K_ij = exp(−‖z_i − z_j‖²/2σ²) and C symmetric:
        // 2·Σ_j C_ij·K_ij·(−(z_ic − z_jc)/σ²).
        for (idx, G, C) in [(a, K, Lc), (b, L, Kc)] {
            let s2 = Double(idx.count)
            for i in 0..<m {
                for c in idx {
                    var g = 0.0
                    let zi = Double(z[i * k + c])
                    for j in 0..<m where j != i { g -= C[i * m + j] * G[i * m + j] * (zi - Double(z[j * k + c])) }
                    dz[i * k + c] += T(weight * norm * 2 * g / s2)
                }
            }
        }
        return norm * h
    }
}
