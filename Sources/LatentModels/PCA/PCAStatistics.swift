import CBLAS
import LatentCore

/// The additive statistics a PCA over rows needs: the row count, per-gene sums and sums of
/// squares, and the gene Gram XᵀX — everything the gene covariance (XᵀX − ssᵀ/n)/(n − 1) and
/// the total variance are made of. Summing them over shards gives the statistics of the whole
/// matrix exactly (ExactSums), so a sharded PCA (map, merge, apply) equals the in-memory one.
///
/// Goals in order: (1) identical bytes for any split of the rows into chunks or shards cut on
/// `RowChunking.statBlock` boundaries, and for any thread count; (2) the accuracy of a centred
/// Gram although the global means are unknown while blocks arrive; (3) BLAS level 3 speed.
///
/// Each canonical block b (1,024 rows, global numbering) is centred by its *own* mean m_b and
/// its Gram M_b = (X_b − 1m_bᵀ)ᵀ(X_b − 1m_bᵀ) is one Float32 ssyrk of a fixed shape; the block's
/// contribution to XᵀX is M_b + s_b s_bᵀ/n_b (the parallel-axis identity), formed in Double and
/// rounded once into the fixed-point ExactSums. The final centring G − ssᵀ/n is then a
/// difference of Double-accurate terms, not of Float32 sums, so the mean-to-spread cancellation
/// that makes an uncentred Float32 Gram lose digits costs ~1e-16 relative instead.
public struct PCAStatistics: Sendable, Equatable {
    /// Genes (columns).
    public let cols: Int
    /// Rows accumulated so far.
    public private(set) var rows: Int
    /// Σx per gene.
    public private(set) var sum: ExactSums
    /// Σx² per gene (Double per block: the variance the ratios are divided by).
    public private(set) var sumSquares: ExactSums
    /// XᵀX, lower triangle packed by rows: entry (i, j ≤ i) at i(i+1)/2 + j, as the 2⁻⁵⁰
    /// fixed-point integers of `ExactSum.raw`: a plain array, since g(g+1)/2 of them are added
    /// per block and the loop should touch nothing else.
    var gram: [Int128]

    /// The Gram as exact sums (for a stats file).
    public var gramSums: ExactSums { ExactSums(gram.map { ExactSum(raw: $0) }) }

    public init(cols: Int) {
        self.cols = cols
        rows = 0
        sum = ExactSums(count: cols)
        sumSquares = ExactSums(count: cols)
        gram = [Int128](repeating: 0, count: cols * (cols + 1) / 2)
    }

    /// Statistics rebuilt from their stored parts (a stats file).
    public init(cols: Int, rows: Int, sum: ExactSums, sumSquares: ExactSums, gram: ExactSums) throws {
        guard sum.count == cols, sumSquares.count == cols, gram.count == cols * (cols + 1) / 2, rows >= 0 else {
            throw LatentError.badInput(nil, nil, "PCA statistics of inconsistent sizes (\(cols) genes, \(sum.count)/\(sumSquares.count)/\(gram.count) sums)")
        }
        self.cols = cols
        self.rows = rows
        self.sum = sum
        self.sumSquares = sumSquares
        self.gram = gram.sums.map(\.raw)
    }

    /// Adds the statistics of another row set (another shard): exact, in any order.
    public mutating func merge(_ other: PCAStatistics) {
        precondition(other.cols == cols)
        rows += other.rows
        sum.add(other.sum)
        sumSquares.add(other.sumSquares)
        for i in gram.indices { gram[i] &+= other.gram[i] }
    }

    /// Adds the rows of `chunk`, whose first row is row `firstRow` of the whole matrix (a multiple
    /// of `RowChunking.statBlock`). The chunk is cut into canonical blocks.
    ///
    /// - Throws: `LatentError.badInput` naming the first non-finite value (1-based row and column
    ///   of the whole matrix) or a value too large to sum.
    /// `place` names a value for errors from its global row and column (0-based), e.g. with the
    /// obs and var names; without it, "X[row r, column c]" (1-based).
    public mutating func add(_ chunk: MatrixData, firstRow: Int, threads: Int, file: String? = nil,
                             place: ((Int, Int) -> String)? = nil) throws {
        precondition(chunk.cols == cols)
        precondition(firstRow % RowChunking.statBlock == 0, "chunks start on a statBlock boundary")
        var scratch = Scratch(cols: cols)
        var start = 0
        while start < chunk.rows {
            // Up to `slots` blocks' Grams, then one sweep adding them all: the exact sums (16
            // bytes an entry, beyond the caches) are read and written once per sweep.
            var used = 0
            while used < scratch.slots && start < chunk.rows {
                let end = min(chunk.rows, start + RowChunking.statBlock)
                try blockGram(chunk, start..<end, globalFirst: firstRow + start, scratch: &scratch, slot: used, file: file, place: place)
                used += 1
                start = end
            }
            try addGrams(scratch, used, threads: threads, globalFirst: firstRow, file: file)
        }
    }

    /// Buffers reused across the blocks of one chunk: per slot, one block's Float32 Gram of its
    /// centred rows, its Double sums, the Float32 mean it was centred by, its row count.
    struct Scratch {
        let slots: Int
        var block: [Float]
        var grams: [[Float]]
        var sums: [[Double]]
        var means: [[Double]]
        var counts: [Int]
        init(cols g: Int) {
            // As many slots as fit 64 MiB of Grams (4 at 2,000 genes), at least one.
            slots = max(1, min(4, (64 << 20) / max(1, g * g * 4)))
            block = [Float](repeating: 0, count: RowChunking.statBlock * g)
            grams = [[Float]](repeating: [Float](repeating: 0, count: g * g), count: slots)
            sums = [[Double]](repeating: [Double](repeating: 0, count: g), count: slots)
            means = sums
            counts = [Int](repeating: 0, count: slots)
        }
    }

    /// Steps 1–2 for one canonical block into `slot`; its gene sums go into the exact sums here.
    private mutating func blockGram(_ chunk: MatrixData, _ local: Range<Int>, globalFirst: Int, scratch: inout Scratch, slot: Int,
                                    file: String?, place: ((Int, Int) -> String)?) throws {
        let g = cols, nb = local.count
        // 1. The block, dense and row-major, with its per-gene Σx and Σx² in Double (fixed order:
        //    rows ascending within each gene).
        scratch.block.withUnsafeMutableBufferPointer { pb in
            let base = pb.baseAddress!
            switch chunk {
            case .dense(let d):
                d.values.withUnsafeBufferPointer { pv in
                    (base).update(from: pv.baseAddress! + local.lowerBound * g, count: nb * g)
                }
            case .sparse(let s):
                (base).update(repeating: 0, count: nb * g)
                for (r, i) in local.enumerated() {
                    let row = base + r * g
                    for p in s.indptr[i]..<s.indptr[i + 1] { row[Int(s.indices[p])] = s.values[p] }
                }
            }
        }
        var sums = [Double](repeating: 0, count: g), squares = [Double](repeating: 0, count: g)
        scratch.block.withUnsafeBufferPointer { pb in
            sums.withUnsafeMutableBufferPointer { ps in
                squares.withUnsafeMutableBufferPointer { pq in
                    for r in 0..<nb {
                        let row = pb.baseAddress! + r * g
                        for j in 0..<g { let x = Double(row[j]); ps[j] += x; pq[j] += x * x }
                    }
                }
            }
        }
        if let j = (0..<g).first(where: { !sums[$0].isFinite || !squares[$0].isFinite }) {
            throw Self.nonFinite(scratch.block, rows: nb, cols: g, column: j, globalFirst: globalFirst, file: file, place: place)
        }
        if sum.add(sums) != nil || sumSquares.add(squares) != nil {
            throw LatentError.badInput(file, "X[rows \(globalFirst + 1)–\(globalFirst + nb)]", "values too large to sum (overflow)",
                                       hint: "rescale or log-transform the data")
        }
        // 2. Centre the block by its own mean (Float32 of the Double mean) and form its Gram.
        let mean = sums.map { Float($0 / Double(nb)) }
        scratch.block.withUnsafeMutableBufferPointer { pb in
            for r in 0..<nb {
                let row = pb.baseAddress! + r * g
                for j in 0..<g { row[j] -= mean[j] }
            }
        }
        scratch.block.withUnsafeBufferPointer { pb in
            scratch.grams[slot].withUnsafeMutableBufferPointer { pc in
                cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(nb), 1,
                            pb.baseAddress, Int32(g), 0, pc.baseAddress, Int32(g))
            }
        }
        scratch.sums[slot] = sums
        scratch.means[slot] = mean.map(Double.init)
        scratch.counts[slot] = nb
        rows += nb
    }

    /// 3. Each block's XᵀX = M + n_b·m mᵀ with the mean m actually subtracted (its Float32
    ///    rounding) plus the correction for that rounding: Σ(x − m)(x − m)ᵀ = M means
    ///    Σxxᵀ = M + m sᵀ + s mᵀ − n_b m mᵀ, formed in Double and rounded once per block and
    ///    entry into the fixed-point sums (integer additions: their order is free).
    private mutating func addGrams(_ scratch: Scratch, _ used: Int, threads: Int, globalFirst: Int, file: String?) throws {
        let g = cols
        var bad = false
        gram.withUnsafeMutableBufferPointer { out in
            // Rows of the triangle split over threads: each entry is formed and added on its
            // own, so the split changes nothing.
            let t = max(1, min(threads, g / 64))
            let bounds = (0...t).map { Self.triangleSplit(g, $0, t) }
            var failed = [Bool](repeating: false, count: t)
            failed.withUnsafeMutableBufferPointer { pf in
                Runtime.parallelFor(t, threads: t) { c in
                    // Row by row of the triangle, every block into it while it is in cache.
                    for i in bounds[c]..<bounds[c + 1] {
                        let o = i * (i + 1) / 2
                        for k in 0..<used {
                            scratch.grams[k].withUnsafeBufferPointer { pc in
                                scratch.sums[k].withUnsafeBufferPointer { ps in
                                    scratch.means[k].withUnsafeBufferPointer { pm in
                                        let nbd = Double(scratch.counts[k])
                                        let mi = pm[i], si = ps[i]
                                        for j in 0...i {
                                            let v = Double(pc[i * g + j]) + mi * ps[j] + si * pm[j] - nbd * mi * pm[j]
                                            if !Self.add(v, to: &out[o + j]) { pf[c] = true }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            bad = failed.contains(true)
        }
        if bad {
            throw LatentError.badInput(file, "X", "values too large to sum (overflow)", hint: "rescale or log-transform the data")
        }
    }

    /// Adds a Double partial to a 2⁻⁵⁰ fixed-point integer (`ExactSum.raw`'s grid), rounded to
    /// nearest, with the Double → Int128 conversion inline: this loop makes g(g+1)/2 of them per
    /// block. (The Gram's partials are Double combinations of Float32 products, so ExactSum's
    /// exact 2⁻¹⁴⁹ remainder would only keep rounding noise; the same refusals as its `add`.)
    @inline(__always)
    static func add(_ x: Double, to sum: inout Int128) -> Bool {
        guard abs(x) < ExactSum.maxMagnitude else { return false }      // also false for NaN
        let s = (x * 0x1p50).rounded(.toNearestOrEven)
        sum &+= ExactSum.int128(s)
        return true
    }

    /// `ExactSum.value` without the generic Int128 → Double conversion (about 2 µs each, and
    /// the covariance needs g(g+1)/2 of them): exact below 2⁶³ grid units, else within one ulp.
    @inline(__always)
    static func value(_ raw: Int128) -> Double {
        if raw >= Int128(Int64.min) && raw <= Int128(Int64.max) {
            return Double(Int64(truncatingIfNeeded: raw)) * 0x1p-50
        }
        let hi = Int64(truncatingIfNeeded: raw >> 64), lo = UInt64(truncatingIfNeeded: raw)
        return (Double(hi) * 0x1p64 + Double(lo)) * 0x1p-50
    }

    /// Row where worker c of t starts on the g-row lower triangle, balancing entries (i + 1 each).
    static func triangleSplit(_ g: Int, _ c: Int, _ t: Int) -> Int {
        if c == 0 { return 0 }
        if c == t { return g }
        let target = Double(g) * Double(g + 1) / 2 * Double(c) / Double(t)
        return min(g, Int((2 * target).squareRoot()))
    }

    static func nonFinite(_ block: [Float], rows: Int, cols g: Int, column j: Int, globalFirst: Int, file: String?,
                          place: ((Int, Int) -> String)?) -> LatentError {
        for r in 0..<rows {
            let v = block[r * g + j]
            if !v.isFinite {
                let at = place?(globalFirst + r, j) ?? "X[row \(globalFirst + r + 1), column \(j + 1)]"
                return LatentError.badInput(file, at, "non-finite value \(v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf"))",
                                            hint: "remove or impute missing values before PCA")
            }
        }
        return LatentError.badInput(file, "X", "values too large to sum (overflow)", hint: "rescale or log-transform the data")
    }

    // MARK: what the statistics give

    /// Gene means Σx/n.
    public var mean: [Double] {
        let n = Double(max(rows, 1))
        return sum.values.map { $0 / n }
    }

    /// Per-gene variance about the mean, ddof 1.
    public var geneVariance: [Double] {
        let n = Double(rows)
        guard rows > 1 else { return [Double](repeating: 0, count: cols) }
        let s = sum.values, q = sumSquares.values
        return (0..<cols).map { max(0, q[$0] - s[$0] * s[$0] / n) / (n - 1) }
    }

    /// The full symmetric g × g matrix XᵀX − ssᵀ/n (centred) or XᵀX, in Float32 for the
    /// eigensolvers, rounded once from Double.
    func gramMatrix(center: Bool) -> ColumnMatrix {
        let g = cols, n = Double(rows)
        let s = sum.values
        var c = ColumnMatrix(rows: g, cols: g)
        gram.withUnsafeBufferPointer { pg in
            c.values.withUnsafeMutableBufferPointer { pc in
                for i in 0..<g {
                    let o = i * (i + 1) / 2
                    for j in 0...i {
                        var v = Self.value(pg[o + j])
                        if center { v -= s[i] * s[j] / n }
                        let f = Float(v)
                        pc[i * g + j] = f
                        pc[j * g + i] = f
                    }
                }
            }
        }
        return c
    }
}
