import LatentCore

/// β-TCVAE's decomposition of the KL term (Chen et al. 2018), estimated on a minibatch.
///
/// Goals in order: the estimator of the paper, exact gradients (checked by finite differences),
/// then speed without M×M×K memory: the batch is swept one sample z_i at a time with an M×K
/// workspace per thread (and the M×M joint densities).
///
/// With L_ijk = log q(z_ik | x_j) = −½(log 2π + lv_jk + (z_ik − μ_jk)² e^{−lv_jk}) and weights w_ij:
///   log q(z_i)      ≈ logsumexp_j (log w_ij + Σ_k L_ijk)
///   log Π_k q(z_ik) ≈ Σ_k logsumexp_j (log w_ij + L_ijk)
///   MI = E[log q(z|x) − log q(z)],  TC = E[log q(z) − Π q(z_k)],  dim-KL = E[log Π q(z_k) − log p(z)].
/// Minibatch-weighted sampling: w_ij = 1/(N·M). Minibatch-stratified sampling (M' = M − 1):
/// w_ii = 1/N, w_i,(i+1 mod M) = (N − M')/(N·M'), the rest 1/M' — each row sums to one, as in
/// the paper's appendix (the authors' code indexes the stratum weight differently).
/// Log-sum-exps subtract the maximum first; the joint one is taken in Double, the per-latent ones
/// in the network's scalar (Float in training: their terms lie in [0, 1] after the shift).
extension VAENetwork {
    struct TCEstimate {
        var tc = 0.0, mi = 0.0, dimKL = 0.0
        static func + (a: TCEstimate, b: TCEstimate) -> TCEstimate {
            TCEstimate(tc: a.tc + b.tc, mi: a.mi + b.mi, dimKL: a.dimKL + b.dimKL)
        }
    }

    /// The joint densities Σ_c L_ijc of all pairs are summed directly in Double (M²K, no
    /// expansion of the square: see below). The per-latent terms are swept per sample i with the latent index
    /// innermost (vectorised over c). The samples are split into contiguous ranges, one per
    /// thread, each accumulating its μ/log σ² gradients in its own buffer, added to dEnc in range
    /// order: the result depends on the thread count but not on scheduling.
    func totalCorrelation(rows m: Int, weights: (alpha: Double, beta: Double, gamma: Double)?, backward: Bool) -> TCEstimate {
        let k = latent
        let enc = encoder.output
        let n = Double(max(datasetSize, m))
        let log2pi = _log(2 * Double.pi)
        let mk = m * k
        let perPart = mk + 2 * m + 4 * k
        let parts = max(1, min(threads, m / max(1, tcRowsPerThread)))
        let privateGrad = backward ? 2 * mk : 0
        // Scratch kept by the network between steps: the M×M joint alone is 0.5 MB at M = 256,
        // which malloc would map and the kernel zero again on every call.
        let shared = tcScratch.buffer(3 * mk + parts * perPart + (parts - 1) * privateGrad, of: T.self)
        let work = shared + 3 * mk
        // μ, e^{−lv} and −½(log 2π + lv), contiguous M×K.
        let mu = shared, invVar = shared + mk, halfLogVar = shared + 2 * mk
        for j in 0..<m {
            for c in 0..<k {
                let lv = enc[j * 2 * k + k + c]
                mu[j * k + c] = enc[j * 2 * k + c]
                invVar[j * k + c] = T.exp(-lv)
                halfLogVar[j * k + c] = T(-0.5 * log2pi) - lv / 2
            }
        }
        // joint[i, j] = Σ_c L_ijc (M×M, Double), summed term by term: the expanded square
        // (z² − 2zμ + μ²)/σ² loses every digit once σ is small against |μ| (at log σ² = −40 and
        // |μ| = 10 the cancellation error is ~10³ nats), which sent β-TCVAE training to NaN.
        let dbl = tcScratchDouble.buffer(3 * mk + m + m * m, of: Double.self)
        let zD = dbl, muD = dbl + mk, ivD = dbl + 2 * mk, base = dbl + 3 * mk, joint = base + m
        for j in 0..<m {
            var b = 0.0
            for c in 0..<k {
                let e = j * k + c
                let lv = Double(enc[j * 2 * k + k + c])
                ivD[e] = _exp(-lv); muD[e] = Double(mu[e]); zD[e] = Double(z[e])
                b += -0.5 * (log2pi + lv)
            }
            base[j] = b
        }
        for i in 0..<m {
            let zi = zD + i * k, row = joint + i * m
            for j in 0..<m {
                let mj = muD + j * k, ij = ivD + j * k
                var q = 0.0
                for c in 0..<k { let d = zi[c] - mj[c]; q += d * d * ij[c] }
                row[j] = base[j] - 0.5 * q
            }
        }
        let mss = config.tcSampling == .mss && m > 2
        let mm = Double(m - 1)
        let logMWS = -_log(n * Double(m))
        let logDiag = -_log(n), logStrat = _log((n - mm) / (n * mm)), logOther = -_log(mm)
        let cq = T(weights.map { ($0.beta - $0.alpha) / Double(m) } ?? 0)
        let cp = T(weights.map { ($0.gamma - $0.beta) / Double(m) } ?? 0)
        let cx = T(weights.map { $0.alpha / Double(m) } ?? 0)
        let cz = T(weights.map { $0.gamma / Double(m) } ?? 0)
        var estimates = [TCEstimate](repeating: TCEstimate(), count: parts)
        // Per part: E (M×K), a, log w (M), four K-vectors; then the private dEnc (M×2K) of every
        // part after the first.
        if backward && parts > 1 { (work + parts * perPart).update(repeating: 0, count: (parts - 1) * privateGrad) }
        estimates.withUnsafeMutableBufferPointer { out in
            Runtime.parallelFor(parts, threads: parts) { part in
                let lo = m * part / parts, hi = m * (part + 1) / parts
                let E = work + part * perPart, a = E + mk, logw = a + m
                let maxK = logw + m, sumK = maxK + k, dzi = sumK + k, rK = dzi + k
                let grad = part == 0 ? dEnc : work + parts * perPart + (part - 1) * privateGrad
                var est = TCEstimate()
                for i in lo..<hi {
                    let zi = z + i * k, row = joint + i * m
                    for j in 0..<m {
                        logw[j] = T(!mss ? logMWS : (i == j ? logDiag : (j == (i + 1) % m ? logStrat : logOther)))
                    }
                    // log q(z_i): softmax weights a_j of the joint densities.
                    var mx = -Double.infinity
                    for j in 0..<m { mx = max(mx, row[j] + Double(logw[j])) }
                    for j in 0..<m { a[j] = T(row[j] + Double(logw[j]) - mx) }
                    T.expInPlace(a, m)
                    var se = 0.0
                    for j in 0..<m { se += Double(a[j]) }
                    let logqz = mx + _log(se)
                    let inv = T(1 / se)
                    for j in 0..<m { a[j] *= inv }
                    // log Π_c q(z_ic): one log-sum-exp per latent over L_ijc + log w_ij.
                    T.tcDensities(z: zi, mu: mu, iv: invVar, hl: halfLogVar, w: logw, m: m, k: k, e: E, maxK: maxK, sumK: sumK)
                    var logqzProd = 0.0, logpz = 0.0
                    for c in 0..<k {
                        logqzProd += Double(maxK[c]) + _log(Double(sumK[c]))
                        let v = Double(zi[c])
                        logpz -= 0.5 * (log2pi + v * v)
                    }
                    let logqzx = row[i]
                    est.mi += logqzx - logqz
                    est.tc += logqz - logqzProd
                    est.dimKL += logqzProd - logpz
                    guard backward else { continue }
                    // dLoss/dL_ijc = cq·a_j + cp·E_jc/Σ_j E_jc + [i = j]·cx, then through L to
                    // z_i, μ_j and lv_j.
                    for c in 0..<k { rK[c] = cp / sumK[c]; dzi[c] = 0 }
                    for j in 0..<m { a[j] = cq * a[j] + (i == j ? cx : 0) }
                    T.tcBackward(z: zi, mu: mu, iv: invVar, qa: a, rk: rK, e: E, m: m, k: k, grad: grad, dz: dzi)
                    // −γ·log p(z): d/dz = γ·z.
                    for c in 0..<k { dz[i * k + c] += dzi[c] + cz * zi[c] }
                }
                out[part] = est
            }
        }
        if backward {
            for part in 1..<max(parts, 1) {
                let g = work + parts * perPart + (part - 1) * privateGrad
                for e in 0..<(2 * mk) { dEnc[e] += g[e] }
            }
        }
        let fm = Double(m)
        let est = estimates.reduce(TCEstimate(), +)
        return TCEstimate(tc: est.tc / fm, mi: est.mi / fm, dimKL: est.dimKL / fm)
    }
}

/// Reusable scratch memory, grown on demand and freed with its owner.
final class Scratch {
    private var raw: UnsafeMutableRawPointer? = nil
    private var bytes = 0

    func buffer<T>(_ count: Int, of: T.Type) -> UnsafeMutablePointer<T> {
        let need = max(1, count) * MemoryLayout<T>.stride
        if need > bytes {
            raw?.deallocate()
            raw = .allocate(byteCount: need, alignment: 64)
            bytes = need
        }
        return raw!.bindMemory(to: T.self, capacity: max(1, count))
    }

    deinit { raw?.deallocate() }
}
