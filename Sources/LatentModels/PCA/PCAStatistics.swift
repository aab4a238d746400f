import CBLAS
import CKernels
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
        let scratch = Scratch(cols: cols, threads: threads)
        var start = 0
        while start < chunk.rows {
            // Up to `slots` blocks' Grams, then one sweep adding them all: the exact sums (16
            // bytes an entry, beyond the caches) are read and written once per sweep.
            var blocks: [Range<Int>] = []
            while blocks.count < scratch.slots && start < chunk.rows {
                let end = min(chunk.rows, start + RowChunking.statBlock)
                blocks.append(start..<end)
                start = end
            }
            try blockGrams(chunk, blocks, firstRow: firstRow, scratch: scratch, threads: threads, file: file, place: place)
            try addGrams(scratch, blocks, threads: threads, file: file)
        }
    }

    /// Buffers reused across the blocks of one chunk, flat with one stride per slot so that
    /// threads fill their own slots through raw pointers: one block's rows (centred in place),
    /// its Float32 Gram, its Double sums and sums of squares, the mean it was centred by.
    final class Scratch {
        let slots: Int, cols: Int
        let block: UnsafeMutablePointer<Float>, gram: UnsafeMutablePointer<Float>
        let sums: UnsafeMutablePointer<Double>, squares: UnsafeMutablePointer<Double>, means: UnsafeMutablePointer<Double>

        init(cols g: Int, threads: Int) {
            // As many slots as fit 64 MiB of Grams (4 at 2,000 genes), and one per thread while
            // those fit 512 MiB: the blocks' products run side by side, one thread each.
            let gramBytes = max(1, g * g * 4)
            var s = max(1, min(4, (64 << 20) / gramBytes))
            if s < threads && gramBytes * threads <= 512 << 20 { s = threads }
            slots = min(32, s)    // lk_gram_fixed_row adds at most 32 blocks before a fold
            cols = g
            block = .allocate(capacity: s * RowChunking.statBlock * g)
            gram = .allocate(capacity: s * g * g)
            sums = .allocate(capacity: s * g)
            squares = .allocate(capacity: s * g)
            means = .allocate(capacity: s * g)
        }
        deinit {
            block.deallocate(); gram.deallocate(); sums.deallocate(); squares.deallocate(); means.deallocate()
        }
        func block(_ k: Int) -> UnsafeMutablePointer<Float> { block + k * RowChunking.statBlock * cols }
        func gram(_ k: Int) -> UnsafeMutablePointer<Float> { gram + k * cols * cols }
    }

    /// Steps 1–2 for each block, the blocks side by side (one thread and a one-thread BLAS call
    /// each, so the threads never wait on one another inside a product); their sums then go into
    /// the exact sums in block order.
    private mutating func blockGrams(_ chunk: MatrixData, _ blocks: [Range<Int>], firstRow: Int, scratch: Scratch, threads: Int,
                                     file: String?, place: ((Int, Int) -> String)?) throws {
        let g = cols
        var errors = [LatentError?](repeating: nil, count: blocks.count)
        let side = min(threads, blocks.count)
        // One BLAS thread per product whenever blocks can run side by side, however many this
        // sweep holds (a chunk's last sweep may hold one): the choice must not depend on where
        // the chunks were cut, or a block's Gram could round differently from one run to another.
        errors.withUnsafeMutableBufferPointer { pe in
            Runtime.withBLASThreads(scratch.slots > 1 ? 1 : threads) {
                Runtime.parallelFor(blocks.count, threads: side) { k in
                    pe[k] = Self.blockGram(chunk, blocks[k], globalFirst: firstRow + blocks[k].lowerBound, scratch: scratch, slot: k,
                                           file: file, place: place)
                }
            }
        }
        if let e = errors.lazy.compactMap({ $0 }).first { throw e }
        for (k, b) in blocks.enumerated() {
            let s = UnsafeBufferPointer(start: scratch.sums + k * g, count: g)
            let q = UnsafeBufferPointer(start: scratch.squares + k * g, count: g)
            if sum.add(Array(s)) != nil || sumSquares.add(Array(q)) != nil {
                throw LatentError.badInput(file, "X[rows \(firstRow + b.lowerBound + 1)–\(firstRow + b.upperBound)]",
                                           "values too large to sum (overflow)", hint: "rescale or log-transform the data")
            }
            rows += b.count
        }
    }

    /// One canonical block into `slot`: 1. its rows, dense and row-major, with per-gene Σx and Σx²
    /// in Double (fixed order: rows ascending within each gene); 2. centred by its own mean (the
    /// Float32 of the Double mean), and its Gram by one ssyrk.
    private static func blockGram(_ chunk: MatrixData, _ local: Range<Int>, globalFirst: Int, scratch: Scratch, slot: Int,
                                  file: String?, place: ((Int, Int) -> String)?) -> LatentError? {
        let g = scratch.cols, nb = local.count
        let base = scratch.block(slot)
        switch chunk {
        case .dense(let d):
            d.values.withUnsafeBufferPointer { pv in
                base.update(from: pv.baseAddress! + local.lowerBound * g, count: nb * g)
            }
        case .sparse(let s):
            base.update(repeating: 0, count: nb * g)
            for (r, i) in local.enumerated() {
                let row = base + r * g
                for p in s.indptr[i]..<s.indptr[i + 1] { row[Int(s.indices[p])] = s.values[p] }
            }
        }
        let ps = scratch.sums + slot * g, pq = scratch.squares + slot * g, pm = scratch.means + slot * g
        ps.update(repeating: 0, count: g)
        pq.update(repeating: 0, count: g)
        for r in 0..<nb {
            let row = base + r * g
            for j in 0..<g { let x = Double(row[j]); ps[j] += x; pq[j] += x * x }
        }
        if let j = (0..<g).first(where: { !ps[$0].isFinite || !pq[$0].isFinite }) {
            return nonFinite(UnsafeBufferPointer(start: base, count: nb * g), rows: nb, cols: g, column: j,
                             globalFirst: globalFirst, file: file, place: place)
        }
        for j in 0..<g { pm[j] = Double(Float(ps[j] / Double(nb))) }
        for r in 0..<nb {
            let row = base + r * g
            for j in 0..<g { row[j] -= Float(pm[j]) }
        }
        cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(nb), 1,
                    base, Int32(g), 0, scratch.gram(slot), Int32(g))
        return nil
    }

    /// 3. Each block's XᵀX = M + n_b·m mᵀ with the mean m actually subtracted (its Float32
    ///    rounding) plus the correction for that rounding: Σ(x − m)(x − m)ᵀ = M means
    ///    Σxxᵀ = M + m sᵀ + s mᵀ − n_b m mᵀ, formed in Double and rounded once per block and
    ///    entry into the fixed-point sums (integer additions: their order is free).
    private mutating func addGrams(_ scratch: Scratch, _ blocks: [Range<Int>], threads: Int, file: String?) throws {
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
                    // Row by row of the triangle, every block into it while it is in cache: the
                    // vector kernel sums the row's blocks into two Int64 parts per entry, folded
                    // once into the Int128s; a row it refuses (huge or non-finite) is redone
                    // entry by entry. Both give the same integers.
                    let hi = UnsafeMutablePointer<Int64>.allocate(capacity: g), lo = UnsafeMutablePointer<Int64>.allocate(capacity: g)
                    defer { hi.deallocate(); lo.deallocate() }
                    for i in bounds[c]..<bounds[c + 1] {
                        let o = i * (i + 1) / 2, n = i + 1
                        hi.update(repeating: 0, count: n)
                        lo.update(repeating: 0, count: n)
                        var ok = true
                        for k in blocks.indices {
                            let pc = scratch.gram(k), ps = scratch.sums + k * g, pm = scratch.means + k * g
                            let nbmi = Double(blocks[k].count) * pm[i]
                            ok = lk_gram_fixed_row(pc + i * g, ps, pm, pm[i], ps[i], nbmi, hi, lo, n) != 0 && ok
                        }
                        if ok {
                            for j in 0..<n { out[o + j] &+= (Int128(hi[j]) &<< 32) &+ Int128(lo[j]) }
                            continue
                        }
                        for k in blocks.indices {
                            let pc = scratch.gram(k), ps = scratch.sums + k * g, pm = scratch.means + k * g
                            let nbd = Double(blocks[k].count)
                            let mi = pm[i], si = ps[i]
                            for j in 0...i {
                                let v = Double(pc[i * g + j]) + mi * ps[j] + si * pm[j] - nbd * mi * pm[j]
                                if !Self.add(v, to: &out[o + j]) { pf[c] = true }
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

    static func nonFinite(_ block: UnsafeBufferPointer<Float>, rows: Int, cols g: Int, column j: Int, globalFirst: Int, file: String?,
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
