import LatentCore

extension VAENetwork {
    /// Posterior means and log-variances of every cell (evaluation mode), cells × K each.
    /// `side`: the cells' covariates (cells × sideInputs) when the model has them.
    public func encode(_ input: MatrixData, side: Matrix? = nil) -> (mean: Matrix, logvar: Matrix) {
        let sideBuffers = evaluationBuffers(side)
        let n = input.rows, k = latent
        var mean = Matrix(rows: n, cols: k), logvar = Matrix(rows: n, cols: k)
        let source = BatchSource<T>(input: input, target: nil, library: nil)
        let buf = UnsafeMutablePointer<T>.allocate(capacity: maxRows * genes)
        defer { buf.deallocate() }
        var rng = SeededRNG(seed: 0)      // evaluation draws nothing
        let cells = Array(0..<n)
        var i = 0
        while i < n {
            let j = min(i + maxRows, n)
            source.gather(input, cells[i..<j], into: buf)
            encoder.forward(buf, rows: j - i, parameters: parameters, training: false, rng: &rng, side: sideRows(sideBuffers, from: i, rows: j - i))
            clampLogVariance(rows: j - i)            // the log σ² training used
            let e = encoder.output
            for r in 0..<(j - i) {
                for c in 0..<k {
                    mean[i + r, c] = Float(e[r * 2 * k + c])
                    logvar[i + r, c] = Float(e[r * 2 * k + k + c])
                }
            }
            i = j
        }
        return (mean, logvar)
    }

    /// Decoded mean expression (rows × genes) at the codes `z` (rows × K), evaluation mode.
    public func decode(_ z: Matrix, scaleFactor: Double, side: Matrix? = nil) -> Matrix {
        precondition(z.cols == latent)
        let sideBuffers = evaluationBuffers(side)
        var out = Matrix(rows: z.rows, cols: genes)
        let zb = UnsafeMutablePointer<T>.allocate(capacity: maxRows * latent)
        let ob = UnsafeMutablePointer<T>.allocate(capacity: maxRows * genes)
        defer { zb.deallocate(); ob.deallocate() }
        var rng = SeededRNG(seed: 0)
        var i = 0
        while i < z.rows {
            let j = min(i + maxRows, z.rows), rows = j - i
            for r in 0..<rows { for c in 0..<latent { zb[r * latent + c] = T(z[i + r, c]) } }
            decoder.forward(zb, rows: rows, parameters: parameters, training: false, rng: &rng, side: sideRows(sideBuffers, from: i, rows: rows))
            decodedMean(rows: rows, scaleFactor: scaleFactor, into: ob)
            for r in 0..<rows { for c in 0..<genes { out[i + r, c] = Float(ob[r * genes + c]) } }
            i = j
        }
        return out
    }

    /// Gene loadings, genes × K. A decoder without hidden layers (LDVAE's linear decoder,
    /// Tybalt's) is a generalised linear model of the latents: its weights are the loadings, the
    /// change of each gene's natural parameter per unit of each latent, as both papers read them.
    /// For a deep decoder, the mean over cells of the Jacobian ∂(decoded mean)/∂z at the cells'
    /// posterior means, by forward-mode differentiation (K tangent passes per batch of cells).
    public func loadings(at mean: Matrix, scaleFactor: Double, side: Matrix? = nil) -> Matrix {
        let k = latent, g = genes
        let sideBuffers = evaluationBuffers(side)
        var out = Matrix(rows: g, cols: k)
        if decoder.specs.count == 1 {
            let w = parameters.values + decoder.w[0]          // K × (heads·G), row-major
            let width = decoder.specs[0].outputs
            for c in 0..<k { for j in 0..<g { out[j, c] = Float(w[c * width + j]) } }
            return out
        }
        let zb = UnsafeMutablePointer<T>.allocate(capacity: maxRows * k)
        let tb = UnsafeMutablePointer<T>.allocate(capacity: maxRows * k)
        defer { zb.deallocate(); tb.deallocate() }
        // A Gaussian head's decoded mean is the last layer's linear output, so the mean Jacobian
        // is the last hidden layer's (H wide) times that layer's weights: the forward-mode passes
        // stop before the G-wide product, which then runs once instead of per cell and latent.
        let last = decoder.specs.count - 1
        let factored = config.likelihood == .gaussian && !decoder.specs[last].batchNorm && decoder.specs[last].activation == .identity
        let tangentWidth = factored ? decoder.specs[last].inputs : decoder.outputs
        var sum = [Double](repeating: 0, count: (factored ? tangentWidth : g) * k)
        var factor = [Double](repeating: 0, count: maxRows * g)
        var dropout = [Double](repeating: 0, count: config.likelihood == .zinb ? maxRows * g : 0)
        var rng = SeededRNG(seed: 0)
        let width = decoder.outputs
        var i = 0
        while i < mean.rows {
            let j = min(i + maxRows, mean.rows), rows = j - i
            for r in 0..<rows { for c in 0..<k { zb[r * k + c] = T(mean[i + r, c]) } }
            decoder.forward(zb, rows: rows, parameters: parameters, training: false, rng: &rng, side: sideRows(sideBuffers, from: i, rows: rows))
            let y = decoder.output
            // Per cell and gene, what the decoded mean's derivative needs from y (computed once,
            // not once per latent): p(1 − p) for Bernoulli, ρ and the dropout probability for NB.
            for r in 0..<rows {
                let yr = y + r * width
                switch config.likelihood {
                case .gaussian: break
                case .bernoulli:
                    for gi in 0..<g { let p = sigmoid(Double(yr[gi])); factor[r * g + gi] = p * (1 - p) }
                case .nb, .zinb:
                    let lse = logSumExp(yr, g)
                    for gi in 0..<g {
                        factor[r * g + gi] = _exp(Double(yr[gi]) - lse)
                        if config.likelihood == .zinb { dropout[r * g + gi] = sigmoid(Double(yr[g + gi])) }
                    }
                }
            }
            for c in 0..<k {
                tb.update(repeating: 0, count: rows * k)
                for r in 0..<rows { tb[r * k + c] = 1 }
                let dy = decoder.jvp(tb, rows: rows, parameters: parameters, layers: factored ? last : nil)
                for r in 0..<rows {
                    let dr = dy + r * tangentWidth, f = r * g
                    switch config.likelihood {
                    case .gaussian:
                        for q in 0..<(factored ? tangentWidth : g) { sum[q * k + c] += Double(dr[q]) }
                    case .bernoulli:
                        for gi in 0..<g { sum[gi * k + c] += factor[f + gi] * Double(dr[gi]) }
                    case .nb, .zinb:
                        var dot = 0.0
                        for gi in 0..<g { dot += factor[f + gi] * Double(dr[gi]) }
                        for gi in 0..<g {
                            let rho = factor[f + gi]
                            var d = rho * (Double(dr[gi]) - dot)
                            if config.likelihood == .zinb {
                                let s = dropout[f + gi]
                                d = (1 - s) * d - rho * s * (1 - s) * Double(dr[g + gi])
                            }
                            sum[gi * k + c] += d * scaleFactor
                        }
                    }
                }
            }
            i = j
        }
        let n = Double(max(mean.rows, 1))
        if factored {
            let w = parameters.values + decoder.w[last]           // H × G, row-major
            for gi in 0..<g {
                for c in 0..<k {
                    var s = 0.0
                    for q in 0..<tangentWidth { s += Double(w[q * g + gi]) * sum[q * k + c] }
                    out[gi, c] = Float(s / n)
                }
            }
            return out
        }
        for gi in 0..<g { for c in 0..<k { out[gi, c] = Float(sum[gi * k + c] / n) } }
        return out
    }
}
