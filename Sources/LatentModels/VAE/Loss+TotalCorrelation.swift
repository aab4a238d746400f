import LatentCore

/// β-TCVAE's decomposition of the KL term (Chen et al. 2018), estimated on a minibatch.
///
/// Goals in order: the estimator of the paper, exact gradients (checked by finite differences),
/// then no M×M×K memory: the batch is swept one sample z_i at a time with an M×K workspace.
///
/// With L_ijk = log q(z_ik | x_j) = −½(log 2π + lv_jk + (z_ik − μ_jk)² e^{−lv_jk}) and weights w_ij:
///   log q(z_i)      ≈ logsumexp_j (log w_ij + Σ_k L_ijk)
///   log Π_k q(z_ik) ≈ Σ_k logsumexp_j (log w_ij + L_ijk)
///   MI = E[log q(z|x) − log q(z)],  TC = E[log q(z) − Π q(z_k)],  dim-KL = E[log Π q(z_k) − log p(z)].
/// Minibatch-weighted sampling: w_ij = 1/(N·M). Minibatch-stratified sampling (M' = M − 1):
/// w_ii = 1/N, w_i,(i+1 mod M) = (N − M')/(N·M'), the rest 1/M' — each row sums to one, as in
/// the paper's appendix (the authors' code indexes the stratum weight differently).
/// Log-sum-exps are taken in Double, after subtracting the maximum.
extension VAENetwork {
    struct TCEstimate { var tc = 0.0, mi = 0.0, dimKL = 0.0 }

    func totalCorrelation(rows m: Int, weights: (alpha: Double, beta: Double, gamma: Double)?, backward: Bool) -> TCEstimate {
        let k = latent
        let enc = encoder.output
        let n = Double(max(datasetSize, m))
        let log2pi = _log(2 * Double.pi)
        // Per sample i: L (M×K) = log q(z_ik | x_j); E = exp(L + log w_ij − max_j), exponentiated
        // in one vectorised pass and reused for the backward softmax weights.
        let L = UnsafeMutablePointer<T>.allocate(capacity: m * k), E = UnsafeMutablePointer<T>.allocate(capacity: m * k)
        let invVar = UnsafeMutablePointer<T>.allocate(capacity: m * k), halfLogVar = UnsafeMutablePointer<T>.allocate(capacity: m * k)
        defer { L.deallocate(); E.deallocate(); invVar.deallocate(); halfLogVar.deallocate() }
        for j in 0..<m {
            for c in 0..<k {
                let lv = enc[j * 2 * k + k + c]
                invVar[j * k + c] = T.exp(-lv)
                halfLogVar[j * k + c] = T(-0.5 * log2pi) - lv / 2
            }
        }
        let mss = config.tcSampling == .mss && m > 2
        let mm = Double(m - 1)
        let logMWS = -_log(n * Double(m))
        let logDiag = -_log(n), logStrat = _log((n - mm) / (n * mm)), logOther = -_log(mm)
        @inline(__always) func logW(_ i: Int, _ j: Int) -> Double {
            if !mss { return logMWS }
            if i == j { return logDiag }
            return j == (i + 1) % m ? logStrat : logOther
        }
        var est = TCEstimate()
        let cq = weights.map { ($0.beta - $0.alpha) / Double(m) } ?? 0
        let cp = weights.map { ($0.gamma - $0.beta) / Double(m) } ?? 0
        let cx = weights.map { $0.alpha / Double(m) } ?? 0
        let cz = weights.map { $0.gamma / Double(m) } ?? 0
        var s = [Double](repeating: 0, count: m), a = [Double](repeating: 0, count: m)
        var maxK = [Double](repeating: 0, count: k), sumK = [Double](repeating: 0, count: k)
        for i in 0..<m {
            let zi = z + i * k
            for j in 0..<m {
                let mu = enc + j * 2 * k, iv = invVar + j * k, hl = halfLogVar + j * k, lj = L + j * k
                var sj = 0.0
                for c in 0..<k {
                    let d = zi[c] - mu[c]
                    let v = hl[c] - d * d * iv[c] / 2
                    lj[c] = v
                    sj += Double(v)
                }
                s[j] = sj + logW(i, j)
            }
            var logpz = 0.0
            for c in 0..<k { let v = Double(zi[c]); logpz -= 0.5 * (log2pi + v * v) }
            // log q(z_i): softmax weights a_j over the batch.
            var mx = -Double.infinity
            for j in 0..<m { mx = max(mx, s[j]) }
            var se = 0.0
            for j in 0..<m { a[j] = _exp(s[j] - mx); se += a[j] }
            let logqz = mx + _log(se)
            for j in 0..<m { a[j] /= se }
            // log Π_k q(z_ik): one log-sum-exp per latent.
            for c in 0..<k { maxK[c] = -Double.infinity; sumK[c] = 0 }
            for j in 0..<m {
                let w = logW(i, j)
                for c in 0..<k { maxK[c] = max(maxK[c], Double(L[j * k + c]) + w) }
            }
            for j in 0..<m {
                let w = logW(i, j)
                for c in 0..<k { E[j * k + c] = T(Double(L[j * k + c]) + w - maxK[c]) }
            }
            T.expInPlace(E, m * k)
            for j in 0..<m { for c in 0..<k { sumK[c] += Double(E[j * k + c]) } }
            var logqzProd = 0.0
            for c in 0..<k { logqzProd += maxK[c] + _log(sumK[c]) }
            var logqzx = 0.0
            for c in 0..<k { logqzx += Double(L[i * k + c]) }
            est.mi += logqzx - logqz
            est.tc += logqz - logqzProd
            est.dimKL += logqzProd - logpz
            guard backward else { continue }
            // dLoss/dL_ijk = cq·a_ij + cp·b_ijk + [i = j]·cx with b_ijk = E_jk / Σ_j E_jk, then
            // through L to z_i, μ_j and lv_j.
            for c in 0..<k { sumK[c] = cp / sumK[c] }
            var dzi = [Double](repeating: 0, count: k)
            for j in 0..<m {
                let qa = cq * a[j] + (i == j ? cx : 0)
                let mu = enc + j * 2 * k, iv = invVar + j * k, ej = E + j * k
                let dmu = dEnc + j * 2 * k, dlv = dmu + k
                for c in 0..<k {
                    let coef = T(qa + sumK[c] * Double(ej[c]))
                    let d = zi[c] - mu[c]
                    let u = d * iv[c]
                    let cu = coef * u
                    dzi[c] -= Double(cu)
                    dmu[c] += cu
                    dlv[c] += coef * (u * d - 1) / 2
                }
            }
            // −γ·log p(z): d/dz = γ·z.
            for c in 0..<k { dz[i * k + c] += T(dzi[c] + cz * Double(zi[c])) }
        }
        let fm = Double(m)
        est.mi /= fm; est.tc /= fm; est.dimKL /= fm
        return est
    }
}
