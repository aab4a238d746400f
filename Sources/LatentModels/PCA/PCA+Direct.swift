import CBLAS
import LatentCore

extension PCA {
    /// Keep the blocks Xc·Q_b for the scores while they fit in this many bytes (else one more pass).
    static let directScoreBudget = 1 << 30

    /// Block Krylov on XcᵀXc with every product two passes over X: Z = Xc·Q, then Xcᵀ·Z
    /// (implicit centring: CSR stays sparse). For data whose smaller side is too large for a
    /// Gram matrix, or sparse enough that passes are cheaper than one.
    ///
    /// The scores come free: each pass's Z_b = Xc·Q_b is kept, and with V = Q·U the scores
    /// Xc·V are Σ_b Z_b·U_b, an n × w × k product instead of another pass over X.
    static func directKrylov(_ data: CenteredMatrix, k: Int, options: Options, rng: inout SeededRNG,
                             profile: inout StepProfile) throws -> Decomposition {
        let krylov = BlockKrylov(k: k, blockSize: max(k + options.oversampling, 32), tolerance: options.tolerance ?? 1e-3,
                                 maxBlocks: options.maxBlocks, dimensionLimit: rankLimit(data))
        var kept: [(z: [Float], cols: Int)] = []
        var keptBytes = 0
        var keeping = true
        let out = try krylov.run(dimension: data.g, rng: &rng) { q, inBasis in
            let z = data.times(q)
            if keeping && inBasis {
                keptBytes += z.count * 4
                if keptBytes <= directScoreBudget { kept.append((z, q.cols)) } else { keeping = false; kept = [] }
            }
            return data.transposeTimes(z, cols: q.cols)
        }
        profile.step("krylov")
        let v = out.vectors
        var scores: Matrix
        if keeping {
            scores = Matrix(rows: data.n, cols: k)
            var offset = 0
            for (z, cols) in kept {
                let ub = out.rotation.rows(offset..<(offset + cols)).rowMajor()     // cols × k
                z.withUnsafeBufferPointer { pz in
                    ub.values.withUnsafeBufferPointer { pu in
                        scores.values.withUnsafeMutableBufferPointer { ps in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(data.n), Int32(k), Int32(cols), 1,
                                        pz.baseAddress, Int32(cols), pu.baseAddress, Int32(k), 1, ps.baseAddress, Int32(k))
                        }
                    }
                }
                offset += cols
            }
        } else {
            scores = data.scores(v)
        }
        profile.step("scores")
        return Decomposition(eigenvalues: out.values, loadings: v.rowMajor(), scores: scores,
                             method: "block Krylov with passes over the \(data.n) × \(data.g) data",
                             blocks: out.blocks, residual: out.residual, converged: out.converged)
    }
}
