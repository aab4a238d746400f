import LatentCore

extension VAENetwork {
    /// Mean over the batch of −log p(x | z), summed over genes; with `backward`, writes
    /// dLoss/dOutput (already divided by the batch size) into the decoder's output gradient and
    /// adds the dispersions' gradient to `parameters.grads`.
    ///
    /// NB (scVI's parameterisation): μ = ℓ·ρ with ρ = softmax(decoder logits) and ℓ the cell's
    /// observed total count; log p = lgamma(x+θ) − lgamma(θ) − lgamma(x+1) + θ·log(θ/(θ+μ)) +
    /// x·log(μ/(θ+μ)). log μ is taken as log ℓ + log-softmax, so a vanishing ρ never gives log 0.
    /// Zero counts skip the lgamma/digamma terms (they cancel exactly), which is most entries of
    /// single-cell data. ZINB adds dropout logits π: log p(0) = softplus(c − π) − softplus(−π)
    /// with c = θ·log(θ/(θ+μ)), and log p(x > 0) = −softplus(π) + log NB(x).
    /// `groups` (per row, nil: all 0) picks each cell's row of a [groups × genes] dispersion
    /// table (`--dispersion gene-batch`).
    /// Rows per block of the NB/ZINB loss: the unit its threads share out (fixed, so the sums
    /// do not depend on the thread count).
    static var lossBlockRows: Int { 16 }

    func reconstruction(target: UnsafePointer<T>, library: UnsafePointer<T>?, rows: Int, scale: T, backward: Bool,
                        groups: UnsafePointer<Int>? = nil) -> Double {
        let g = genes
        let y = decoder.output
        let dy = decoder.outputGradient
        switch config.likelihood {
        case .gaussian:
            return T.gaussianLoss(y, target, dy, rows * g, scale) / Double(rows)
        case .bernoulli:
            return T.bernoulliLoss(y, target, dy, rows * g, scale) / Double(rows)
        case .nb, .zinb:
            if T.self == Float.self && useNBKernel {
                return nbReconstructionKernel(target: target, library: library!, rows: rows, scale: scale, backward: backward, groups: groups)
            }
            let zi = config.likelihood == .zinb
            let width = zi ? 2 * g : g
            let t0 = parameters.values + logTheta
            let dt0 = parameters.grads + logTheta
            let s = Double(scale)
            // Rows in fixed blocks of `lossBlockRows`, the blocks spread over the threads: each
            // block sums its loss and its dispersion gradient (per group and gene, in Double) in
            // row order, and the blocks' partials are added in block order — the same numbers for
            // any thread count. (One thread took 40 % of an NB epoch here while the other spun.)
            let nGroups = groups.map { gp in (0..<rows).reduce(0) { max($0, gp[$1]) } + 1 } ?? 1
            let nBlocks = (rows + Self.lossBlockRows - 1) / Self.lossBlockRows
            let partial = UnsafeMutableBufferPointer<Double>.allocate(capacity: nBlocks)
            let dtPart = UnsafeMutableBufferPointer<Double>.allocate(capacity: backward ? nBlocks * nGroups * g : 0)
            let aAll = UnsafeMutableBufferPointer<Double>.allocate(capacity: nBlocks * g)
            defer { partial.deallocate(); dtPart.deallocate(); aAll.deallocate() }
            if backward { dtPart.initialize(repeating: 0) }
            Runtime.parallelFor(nBlocks, threads: threads) { blk in
                let a = aAll.baseAddress! + blk * g
                var total = 0.0
                for r in (blk * Self.lossBlockRows)..<min(rows, (blk + 1) * Self.lossBlockRows) {
                    let row = y + r * width, x = target + r * g, drow = dy + r * width
                    let group = groups.map { $0[r] * g } ?? 0
                    let t = t0 + group
                    let dt = backward ? dtPart.baseAddress! + (blk * nGroups * g + group) : nil
                    let lib = Double(library![r]), logLib = _log(lib)
                    let lse = logSumExp(row, g)
                    var sumA = 0.0
                    for j in 0..<g {
                        let logRho = Double(row[j]) - lse
                        let logMu = logLib + logRho, mu = _exp(logMu)
                        let theta = _exp(Double(t[j]))
                        let xv = Double(x[j])
                        let logThetaMu = _log(theta + mu)
                        let c = theta * (Double(t[j]) - logThetaMu)           // θ·log(θ/(θ+μ))
                        var ll: Double, dMu: Double, dTheta: Double            // dLoss/dμ, dLoss/dθ
                        var nbLL = 0.0, nbDMu = 0.0, nbDTheta = 0.0
                        if xv > 0 {
                            nbLL = SpecialFunctions.lgamma(xv + theta) - SpecialFunctions.lgamma(theta) - SpecialFunctions.lgamma(xv + 1)
                                + c + xv * (logMu - logThetaMu)
                            nbDMu = (xv + theta) / (theta + mu) - xv / mu
                            if backward {
                                nbDTheta = -(SpecialFunctions.digamma(xv + theta) - SpecialFunctions.digamma(theta)
                                             + Double(t[j]) - logThetaMu + (mu - xv) / (theta + mu))
                            }
                        }
                        if !zi {
                            if xv > 0 { ll = nbLL; dMu = nbDMu; dTheta = nbDTheta } else {
                                ll = c
                                dMu = theta / (theta + mu)
                                dTheta = -(Double(t[j]) - logThetaMu + mu / (theta + mu))
                            }
                        } else {
                            let pi = Double(row[g + j])
                            var dPi: Double
                            if xv > 0 {
                                ll = -softplus(pi) + nbLL
                                dMu = nbDMu; dTheta = nbDTheta
                                dPi = sigmoid(pi)
                            } else {
                                ll = softplus(c - pi) - softplus(-pi)
                                let w = sigmoid(c - pi)
                                dMu = w * theta / (theta + mu)
                                dTheta = -w * (Double(t[j]) - logThetaMu + mu / (theta + mu))
                                dPi = w - sigmoid(-pi)
                            }
                            if backward { drow[g + j] = T(s * dPi) }
                        }
                        total -= ll
                        if backward {
                            // dLoss/d log μ. For x > 0 it is μ(x + θ)/(θ + μ) − x, taken in that form:
                            // μ·dMu with dMu ∋ −x/μ is 0·(−∞) = NaN once μ underflows (a linear NB
                            // decoder with 372 latents on GEUVADIS diverged at step 3 that way).
                            a[j] = xv > 0 ? mu * (xv + theta) / (theta + mu) - xv : mu * dMu
                            sumA += a[j]
                            dt![j] += s * theta * dTheta
                        }
                    }
                    if backward {
                        for j in 0..<g {
                            let rho = _exp(Double(row[j]) - lse)
                            drow[j] = T(s * (a[j] - rho * sumA))
                        }
                    }
                }
                partial[blk] = total
            }
            var total = 0.0
            for blk in 0..<nBlocks { total += partial[blk] }
            if backward {
                for blk in 0..<nBlocks {
                    let part = dtPart.baseAddress! + blk * nGroups * g
                    for k in 0..<(nGroups * g) where part[k] != 0 { dt0[k] += T(part[k]) }
                }
            }
            return total / Double(rows)
        }
    }


    /// The decoded mean expression of the last forward pass's rows into `out` (rows × genes):
    /// the Gaussian mean, the Bernoulli probability, or ρ·`scaleFactor` (NB; ZINB times 1 − π).
    func decodedMean(rows: Int, scaleFactor: Double, into out: UnsafeMutablePointer<T>) {
        let g = genes, y = decoder.output
        switch config.likelihood {
        case .gaussian: out.update(from: y, count: rows * g)
        case .bernoulli: T.sigmoid(y, out, rows * g)
        case .nb, .zinb:
            let width = config.likelihood == .zinb ? 2 * g : g
            for r in 0..<rows {
                let row = y + r * width
                let lse = logSumExp(row, g)
                for j in 0..<g {
                    var v = _exp(Double(row[j]) - lse) * scaleFactor
                    if width > g { v *= 1 - sigmoid(Double(row[g + j])) }
                    out[r * g + j] = T(v)
                }
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log1p(_ x: Double) -> Double { Glibc.log1p(x) }
#else
import Darwin
@usableFromInline func _log1p(_ x: Double) -> Double { Darwin.log1p(x) }
#endif

/// log Σ_j e^{x_j} over n values, the maximum subtracted first (no overflow), in Double: the
/// normaliser of the NB expression proportions ρ = softmax(decoder logits).
@inline(__always) func logSumExp<T: NetScalar>(_ x: UnsafePointer<T>, _ n: Int) -> Double {
    var mx = -Double.infinity
    for j in 0..<n { mx = max(mx, Double(x[j])) }
    var se = 0.0
    for j in 0..<n { se += _exp(Double(x[j]) - mx) }
    return mx + _log(se)
}
