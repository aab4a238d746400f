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
        // Double workspace: L (M×K) for the current i, and e^{−lv} (M×K).
        var L = [Double](repeating: 0, count: m * k)
        var invVar = [Double](repeating: 0, count: m * k)
        for j in 0..<m { for c in 0..<k { invVar[j * k + c] = _exp(-Double(enc[j * 2 * k + k + c])) } }
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
        var lseK = [Double](repeating: 0, count: k), maxK = [Double](repeating: 0, count: k)
        for i in 0..<m {
            var logpz = 0.0
            for j in 0..<m {
                var sj = 0.0
                for c in 0..<k {
                    let d = Double(z[i * k + c]) - Double(enc[j * 2 * k + c])
                    let v = -0.5 * (log2pi + Double(enc[j * 2 * k + k + c]) + d * d * invVar[j * k + c])
                    L[j * k + c] = v
                    sj += v
                }
                s[j] = sj + logW(i, j)
            }
            for c in 0..<k { let zi = Double(z[i * k + c]); logpz -= 0.5 * (log2pi + zi * zi) }
            // log q(z_i): softmax weights a_j over the batch.
            var mx = -Double.infinity
            for j in 0..<m { mx = max(mx, s[j]) }
            var se = 0.0
            for j in 0..<m { a[j] = _exp(s[j] - mx); se += a[j] }
            let logqz = mx + _log(se)
            for j in 0..<m { a[j] /= se }
            // log Π_k q(z_ik): one log-sum-exp per latent.
            var logqzProd = 0.0
            for c in 0..<k { maxK[c] = -Double.infinity }
            for j in 0..<m { let w = logW(i, j); for c in 0..<k { maxK[c] = max(maxK[c], L[j * k + c] + w) } }
            for c in 0..<k { lseK[c] = 0 }
            for j in 0..<m { let w = logW(i, j); for c in 0..<k { lseK[c] += _exp(L[j * k + c] + w - maxK[c]) } }
            for c in 0..<k { lseK[c] = maxK[c] + _log(lseK[c]); logqzProd += lseK[c] }
            var logqzx = 0.0
            for c in 0..<k { logqzx += L[i * k + c] }
            est.mi += logqzx - logqz
            est.tc += logqz - logqzProd
            est.dimKL += logqzProd - logpz
            guard backward else { continue }
            // dLoss/dL_ijk = cq·a_ij + cp·b_ijk + [i = j]·cx, then through L to z_i, μ_j, lv_j.
            for j in 0..<m {
                let w = logW(i, j)
                for c in 0..<k {
                    let b = _exp(L[j * k + c] + w - lseK[c])
                    var coef = cq * a[j] + cp * b
                    if i == j { coef += cx }
                    if coef == 0 { continue }
                    let d = Double(z[i * k + c]) - Double(enc[j * 2 * k + c])
                    let u = d * invVar[j * k + c]
                    dz[i * k + c] += T(-coef * u)
                    dEnc[j * 2 * k + c] += T(coef * u)
                    dEnc[j * 2 * k + k + c] += T(coef * (-0.5 + 0.5 * u * d))
                }
            }
            // −γ·log p(z): d/dz = γ·z.
            for c in 0..<k { dz[i * k + c] += T(cz * Double(z[i * k + c])) }
        }
        let fm = Double(m)
        est.mi /= fm; est.tc /= fm; est.dimKL /= fm
        return est
    }
}
