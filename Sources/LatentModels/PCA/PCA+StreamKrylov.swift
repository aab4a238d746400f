import LatentCore

extension PCA {
    /// Row groups of the streamed products: canonical blocks are dealt to this many accumulators
    /// by block number, each summed in row order and all of them added in group order, so the
    /// result depends neither on the chunking nor on the thread count.
    static let streamGroups = 8

    /// Block Krylov in gene space over a source too large to hold, for data that have no Gram
    /// statistics to stream (many genes: a g × g Gram would not fit either): every product
    /// XcᵀXc·Q is one pass over the rows, Σᵢ xᵢᵀ(xᵢQ) − n·μ(μᵀQ), and the scores one more pass.
    ///
    /// The column sums behind μ (and the variances) are summed in the same passes. Partial
    /// products are Double, per canonical block group (`streamGroups`); Q, Z = X·Q and the
    /// basis are Float32 as in memory, so the loadings agree with the in-memory solver to the
    /// Krylov tolerance, not to the bit.
    static func streamedKrylov(source: some MatrixSource, k: Int, center: Bool, options: Options, rng: inout SeededRNG,
                               threads: Int, maxStored: Int, file: String?) throws -> Result {
        let n = source.rows, g = source.cols
        let plan = RowChunking.plan(source, maxStored: maxStored)
        var profile = StepProfile()

        /// One pass: Σᵢ xᵢᵀ(xᵢ·Q) for the row-major g × l block `q` (l = 0: only the column sums).
        func pass(_ q: [Float], _ l: Int) throws -> (product: [Double], sum: [Double], squares: [Double]) {
            let groups = streamGroups
            let acc = UnsafeMutableBufferPointer<Double>.allocate(capacity: groups * g * l)
            let sums = UnsafeMutableBufferPointer<Double>.allocate(capacity: groups * g)
            let squares = UnsafeMutableBufferPointer<Double>.allocate(capacity: groups * g)
            let zs = UnsafeMutableBufferPointer<Float>.allocate(capacity: groups * max(l, 1))
            defer { acc.deallocate(); sums.deallocate(); squares.deallocate(); zs.deallocate() }
            acc.initialize(repeating: 0); sums.initialize(repeating: 0); squares.initialize(repeating: 0)
            try RowChunking.forEach(source, plan) { range, block in
                // Blocks of this chunk by their global number (chunks start on block boundaries).
                let first = range.lowerBound / RowChunking.statBlock
                let count = (range.count + RowChunking.statBlock - 1) / RowChunking.statBlock
                withCSR(block) { ptr, ind, val, dense in
                q.withUnsafeBufferPointer { q in
                    Runtime.parallelFor(groups, threads: min(threads, groups)) { t in
                        let y = acc.baseAddress! + t * g * l, s = sums.baseAddress! + t * g, sq = squares.baseAddress! + t * g
                        let z = zs.baseAddress! + t * max(l, 1)
                        for b in 0..<count where (first + b) % groups == t {
                            let lo = b * RowChunking.statBlock, hi = min(range.count, lo + RowChunking.statBlock)
                            for i in lo..<hi {
                                let start = dense ? i * g : ptr[i], end = dense ? (i + 1) * g : ptr[i + 1]
                                for p in start..<end {
                                    let x = Double(val[p]), j = dense ? p - start : Int(ind[p])
                                    s[j] += x
                                    sq[j] += x * x
                                }
                                guard l > 0 else { continue }
                                for c in 0..<l { z[c] = 0 }
                                for p in start..<end {
                                    let x = val[p], qr = q.baseAddress! + (dense ? p - start : Int(ind[p])) * l
                                    for c in 0..<l { z[c] += x * qr[c] }
                                }
                                for p in start..<end {
                                    let x = Double(val[p]), yr = y + (dense ? p - start : Int(ind[p])) * l
                                    for c in 0..<l { yr[c] += x * Double(z[c]) }
                                }
                            }
                        }
                    }
                }}
            }
            var product = [Double](repeating: 0, count: g * l), sum = [Double](repeating: 0, count: g), sq = sum
            for t in 0..<groups {
                for e in 0..<(g * l) { product[e] += acc[t * g * l + e] }
                for j in 0..<g { sum[j] += sums[t * g + j]; sq[j] += squares[t * g + j] }
            }
            return (product, sum, sq)
        }

        // Pass 0: the moments (what the first Krylov product needs to be centred).
        let m0 = try pass([], 0)
        if !(m0.sum.allSatisfy { $0.isFinite } && m0.squares.allSatisfy { $0.isFinite }) {
            // Only now is the file searched, chunk by chunk, for the first bad entry.
            var found: LatentError? = nil
            try RowChunking.forEach(source, plan) { range, block in
                guard found == nil else { return }
                let values = block.storedValues
                guard let p = values.firstIndex(where: { !$0.isFinite }) else { return }
                let (r, c) = Validate.position(ofStored: p, in: block)
                let v = values[p]
                found = LatentError.badInput(file, "X[row \(range.lowerBound + r + 1), column \(c + 1)]",
                                             "non-finite value \(v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf"))",
                                             hint: "remove or impute missing values before PCA")
            }
            throw found ?? LatentError.badInput(file, "X", "values too large to sum (overflow)", hint: "rescale or log-transform the data")
        }
        let mean = m0.sum.map { $0 / Double(n) }
        let geneVariance = (0..<g).map { j in max(0, m0.squares[j] - Double(n) * mean[j] * mean[j]) / Double(max(n - 1, 1)) }
        let totalVariance = geneVariance.reduce(0, +)
        guard totalVariance > 0 else {
            throw LatentError.badInput(file, "X", "the data are constant: every variable has variance 0", hint: "PCA needs variation")
        }
        profile.step("moments")
        let mu = center ? mean : [Double](repeating: 0, count: g)
        let krylov = BlockKrylov(k: k, blockSize: max(k + options.oversampling, 32), tolerance: options.tolerance ?? 1e-3,
                                 maxBlocks: options.maxBlocks, dimensionLimit: center ? min(n - 1, g) : min(n, g))
        let out = try krylov.run(dimension: g, rng: &rng) { qc, _ in
            let l = qc.cols
            let q = qc.rowMajor().values                      // g × l
            let r = try pass(q, l)
            // Xcᵀ·Xc·Q = XᵀX·Q − n·μ(μᵀQ)
            var muQ = [Double](repeating: 0, count: l)
            for j in 0..<g where mu[j] != 0 { for c in 0..<l { muQ[c] += mu[j] * Double(q[j * l + c]) } }
            var y = ColumnMatrix(rows: g, cols: l)
            for c in 0..<l {
                for j in 0..<g { y.values[c * g + j] = Float(r.product[j * l + c] - Double(n) * mu[j] * muQ[c]) }
            }
            return y
        }
        profile.step("krylov")
        // Scores: Xc·V = X·V − 1(μᵀV), one more pass, rows independent.
        let v = out.vectors.rowMajor()                         // g × k
        var muV = [Double](repeating: 0, count: k)
        for j in 0..<g where mu[j] != 0 { for c in 0..<k { muV[c] += mu[j] * Double(v[j, c]) } }
        var scores = Matrix(rows: n, cols: k)
        try RowChunking.forEach(source, plan) { range, block in
            withCSR(block) { ptr, ind, val, dense in
            scores.values.withUnsafeMutableBufferPointer { s in
            v.values.withUnsafeBufferPointer { vv in
                let rows = range.count
                let parts = max(1, min(threads, rows / 256))
                Runtime.parallelFor(parts, threads: parts) { t in
                    let acc = UnsafeMutableBufferPointer<Double>.allocate(capacity: k)
                    defer { acc.deallocate() }
                    for i in (rows * t / parts)..<(rows * (t + 1) / parts) {
                        acc.initialize(repeating: 0)
                        let start = dense ? i * g : ptr[i], end = dense ? (i + 1) * g : ptr[i + 1]
                        for p in start..<end {
                            let x = Double(val[p]), vr = vv.baseAddress! + (dense ? p - start : Int(ind[p])) * k
                            for c in 0..<k { acc[c] += x * Double(vr[c]) }
                        }
                        let out = (range.lowerBound + i) * k
                        for c in 0..<k { s[out + c] = Float(acc[c] - muV[c]) }
                    }
                }
            }}}
        }
        profile.step("scores")
        profile.report()
        var d = Decomposition(eigenvalues: out.values, loadings: v, scores: scores,
                              method: "block Krylov with streamed passes over the \(n) × \(g) data",
                              solver: .randomized, blocks: out.blocks, residual: out.residual, converged: out.converged)
        flipSigns(&d)
        return result(d, n: n, center: center, mean: mean, totalVariance: totalVariance, solver: .randomized)
    }

    /// A chunk's CSR arrays as pointers (a dense chunk: its values, rows of g, and no indices).
    private static func withCSR<R>(_ m: MatrixData, _ body: (UnsafePointer<Int>, UnsafePointer<Int32>, UnsafePointer<Float>, Bool) -> R) -> R {
        switch m {
        case .sparse(let s):
            return s.indptr.withUnsafeBufferPointer { p in s.indices.withUnsafeBufferPointer { i in s.values.withUnsafeBufferPointer { v in
                body(p.baseAddress!, i.baseAddress ?? UnsafePointer(bitPattern: 8)!, v.baseAddress ?? UnsafePointer(bitPattern: 8)!, false)
            }}}
        case .dense(let d):
            return d.values.withUnsafeBufferPointer { v in
                body(UnsafePointer(bitPattern: 8)!, UnsafePointer(bitPattern: 8)!, v.baseAddress ?? UnsafePointer(bitPattern: 8)!, true)
            }
        }
    }
}
