import LatentCore

extension VAENetwork {
    /// Posterior means and log-variances of every cell (evaluation mode), cells × K each.
    /// `side`: the cells' covariates (cells × sideInputs) when the model has them.
    public func encode(_ input: MatrixData, side: Matrix? = nil) -> (mean: Matrix, logvar: Matrix) {
        var mean = Matrix(rows: input.rows, cols: latent), logvar = Matrix(rows: input.rows, cols: latent)
        encode(chunk: input, at: 0, side: side, mean: &mean, logvar: &logvar)
        return (mean, logvar)
    }

    /// `encode` of a source read in chunks of at most `maxStored` stored entries (the next chunk
    /// read while this one is encoded): X is never held whole. The same bytes as `encode` of the
    /// whole matrix. `transform` checks a chunk (rows `range`) and returns what to encode.
    public func encode(source: some MatrixSource, maxStored: Int, side: Matrix? = nil,
                       transform: (Range<Int>, MatrixData) throws -> MatrixData = { $1 }) throws -> (mean: Matrix, logvar: Matrix) {
        var mean = Matrix(rows: source.rows, cols: latent), logvar = Matrix(rows: source.rows, cols: latent)
        try RowChunking.forEach(source, RowChunking.plan(source, maxStored: maxStored)) { range, block in
            encode(chunk: try transform(range, block), at: range.lowerBound, side: side, mean: &mean, logvar: &logvar)
        }
        return (mean, logvar)
    }

    /// Encodes rows `first ..< first + chunk.rows` (a chunk starting on a statistics block) into
    /// `mean`/`logvar`. Minibatches never cross a 1,024-row block, so that every row goes through
    /// the same BLAS calls (same M) whatever the chunk size: streamed and in-memory encodings agree
    /// to the bit.
    func encode(chunk input: MatrixData, at first: Int, side: Matrix?, mean: inout Matrix, logvar: inout Matrix) {
        let sideBuffers = evaluationBuffers(side)
        let k = latent
        let buf = UnsafeMutablePointer<T>.allocate(capacity: maxRows * genes)
        defer { buf.deallocate() }
        var rng = SeededRNG(seed: 0)      // evaluation draws nothing
        let block = RowChunking.statBlock
        var i = 0
        while i < input.rows {
            let blockEnd = min(input.rows, ((first + i) / block + 1) * block - first)
            let j = min(i + maxRows, blockEnd)
            for r in i..<j { RowCopy.copy(input, row: r, into: buf + (r - i) * genes) }
            encoder.forward(buf, rows: j - i, parameters: parameters, training: false, rng: &rng,
                            side: sideRows(sideBuffers, from: first + i, rows: j - i))
            clampLogVariance(rows: j - i)            // the log σ² training used
            let e = encoder.output
            for r in 0..<(j - i) {
                for c in 0..<k {
                    mean[first + i + r, c] = Float(e[r * 2 * k + c])
                    logvar[first + i + r, c] = Float(e[r * 2 * k + k + c])
                }
            }
            i = j
        }
    }

    /// Decoded mean expression (rows × genes) at the codes `z` (rows × K), evaluation mode.
    public func decode(_ z: Matrix, scaleFactor: Double, side: Matrix? = nil) -> Matrix {
        decode(z, rows: 0..<z.rows, scaleFactor: scaleFactor, side: side)
    }

    /// Rows `rows` (starting on a 1,024-row block) of the decoding of `z`: minibatches never
    /// cross a block, so the chunked decoding gives the bytes of the whole one.
    public func decode(_ z: Matrix, rows range: Range<Int>, scaleFactor: Double, side: Matrix? = nil) -> Matrix {
        precondition(z.cols == latent)
        let sideBuffers = evaluationBuffers(side)
        var out = Matrix(rows: range.count, cols: genes)
        let zb = UnsafeMutablePointer<T>.allocate(capacity: maxRows * latent)
        let ob = UnsafeMutablePointer<T>.allocate(capacity: maxRows * genes)
        defer { zb.deallocate(); ob.deallocate() }
        var rng = SeededRNG(seed: 0)
        let block = RowChunking.statBlock
        var i = range.lowerBound
        while i < range.upperBound {
            let j = min(i + maxRows, range.upperBound, (i / block + 1) * block), rows = j - i
            for r in 0..<rows { for c in 0..<latent { zb[r * latent + c] = T(z[i + r, c]) } }
            decoder.forward(zb, rows: rows, parameters: parameters, training: false, rng: &rng, side: sideRows(sideBuffers, from: i, rows: rows))
            decodedMean(rows: rows, scaleFactor: scaleFactor, into: ob)
            let o = i - range.lowerBound
            for r in 0..<rows { for c in 0..<genes { out[o + r, c] = Float(ob[r * genes + c]) } }
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
        loadings(at: mean, scaleFactor: scaleFactor, side: side, pairwise: true)
    }

    /// `pairwise` false forces the K tangent passes even where the slope products would do
    /// (the tests compare the two).
    func loadings(at mean: Matrix, scaleFactor: Double, side: Matrix?, pairwise: Bool) -> Matrix {
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
        // The slope products know nothing of side inputs: a decoder with covariates takes the tangent passes.
        if factored && pairwise && last <= 2 && decoder.specs[0].inputs == k && decoder.specs.allSatisfy({ $0.sideInputs == 0 }) {
            return projected(summedHiddenJacobian(at: mean, hiddenLayers: last), cells: mean.rows)
        }
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
        if factored { return projected(sum, cells: mean.rows) }
        let n = Double(max(mean.rows, 1))
        for gi in 0..<g { for c in 0..<k { out[gi, c] = Float(sum[gi * k + c] / n) } }
        return out
    }

    /// Loadings from the summed Jacobian of the last hidden layer (H × K, [q·K + c]): times the
    /// Gaussian head's weights (H × G), over the cells. The H-long sums run with q outermost, so
    /// the weights are read along their rows and the K sums vectorise; each sum still adds its
    /// terms in the order of q.
    private func projected(_ sum: [Double], cells: Int) -> Matrix {
        let k = latent, g = genes, last = decoder.specs.count - 1
        let h = decoder.specs[last].inputs
        let w = parameters.values + decoder.w[last]               // H × G, row-major
        var acc = [Double](repeating: 0, count: g * k)
        for q in 0..<h {
            let wq = w + q * g
            for gi in 0..<g {
                let x = Double(wq[gi])
                for c in 0..<k { acc[gi * k + c] += x * sum[q * k + c] }
            }
        }
        var out = Matrix(rows: g, cols: k)
        let n = Double(max(cells, 1))
        for i in 0..<(g * k) { out.values[i] = Float(acc[i] / n) }
        return out
    }

    /// Σ over cells of ∂h/∂z at the posterior means, h the last hidden layer (H × K, [q·K + c]),
    /// for a decoder of one or two hidden layers, without tangent passes. Every hidden layer
    /// multiplies a tangent by its weights and then by a per-unit slope s = f'(a) (times γ/σ
    /// under batch norm), so with W₁ (K × H₁), W₂ (H₁ × H₂) and the cells' slopes S₁, S₂:
    ///   one layer:  Σ_r ∂h_q/∂z_c = W₁[c, q]·Σ_r S₁[r, q]
    ///   two layers: Σ_r ∂h_q/∂z_c = Σ_p W₁[c, p]·W₂[p, q]·(S₁ᵀS₂)[p, q]
    /// One H₁ × H₂ product per batch of cells replaces K tangent passes through both layers.
    private func summedHiddenJacobian(at mean: Matrix, hiddenLayers last: Int) -> [Double] {
        let k = latent, specs = decoder.specs, p = parameters
        let h1 = specs[0].outputs, hl = specs[last - 1].outputs
        let zb = UnsafeMutablePointer<T>.allocate(capacity: maxRows * k)
        let a1 = UnsafeMutablePointer<T>.allocate(capacity: maxRows * h1)
        let a2 = UnsafeMutablePointer<T>.allocate(capacity: last == 2 ? maxRows * hl : 1)
        let pairs = UnsafeMutablePointer<T>.allocate(capacity: last == 2 ? h1 * hl : 1)
        defer { zb.deallocate(); a1.deallocate(); a2.deallocate(); pairs.deallocate() }
        pairs.initialize(repeating: 0, count: last == 2 ? h1 * hl : 1)
        var slopeSum = [Double](repeating: 0, count: h1)
        // Layer l in evaluation mode (as DenseStack.forward), then its output turned into slopes
        // once the next layer has read it.
        func forward(_ l: Int, _ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, rows: Int) {
            let s = specs[l], o = s.outputs
            let bias = UnsafePointer(p.values + decoder.b[l])
            T.gemm(false, false, rows, o, s.inputs, 1, x, s.inputs, p.values + decoder.w[l], o, 0, y, o)
            if s.batchNorm {
                Activation.identity.forward(y, bias: bias, rows: rows, outputs: o)
                let g = p.values + decoder.gamma[l], bt = p.values + decoder.beta[l]
                let rm = decoder.runningMean[l], rv = decoder.runningVar[l]
                let inv = (0..<o).map { 1 / (rv[$0] + decoder.bnEpsilon).squareRoot() }
                for r in 0..<rows { for j in 0..<o { y[r * o + j] = g[j] * ((y[r * o + j] - rm[j]) * inv[j]) + bt[j] } }
                s.activation.forward(y, bias: nil, rows: rows, outputs: o)
            } else {
                s.activation.forward(y, bias: bias, rows: rows, outputs: o)
            }
        }
        func slopes(_ l: Int, _ y: UnsafeMutablePointer<T>, rows: Int) {
            let s = specs[l], o = s.outputs
            let scale: [T] = s.batchNorm
                ? (0..<o).map { p.values[decoder.gamma[l] + $0] / (decoder.runningVar[l][$0] + decoder.bnEpsilon).squareRoot() }
                : [T](repeating: 1, count: o)
            for r in 0..<rows { for j in 0..<o { y[r * o + j] = scale[j] * s.activation.derivative(output: y[r * o + j]) } }
        }
        var i = 0
        while i < mean.rows {
            let j = min(i + maxRows, mean.rows), rows = j - i
            for r in 0..<rows { for c in 0..<k { zb[r * k + c] = T(mean[i + r, c]) } }
            forward(0, zb, a1, rows: rows)
            if last == 2 { forward(1, a1, a2, rows: rows) }
            slopes(0, a1, rows: rows)
            if last == 2 {
                slopes(1, a2, rows: rows)
                T.gemm(true, false, h1, hl, rows, 1, a1, h1, a2, hl, 1, pairs, hl)
            } else {
                for r in 0..<rows { for q in 0..<h1 { slopeSum[q] += Double(a1[r * h1 + q]) } }
            }
            i = j
        }
        var sum = [Double](repeating: 0, count: hl * k)
        let w1 = p.values + decoder.w[0]                              // K × H₁
        if last == 1 {
            for q in 0..<h1 { for c in 0..<k { sum[q * k + c] = Double(w1[c * h1 + q]) * slopeSum[q] } }
            return sum
        }
        let w2 = p.values + decoder.w[1]                              // H₁ × H₂
        for pi in 0..<h1 {
            for q in 0..<hl {
                let x = Double(w2[pi * hl + q]) * Double(pairs[pi * hl + q])
                for c in 0..<k { sum[q * k + c] += Double(w1[c * h1 + pi]) * x }
            }
        }
        return sum
    }
}
