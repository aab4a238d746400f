import CKernels
import LatentCore

/// One sweep over X that yields everything `normalize` needs before it filters: the per-cell QC
/// metrics, the per-gene sums and detection counts (and, for seurat_v3, the sums of squares), and
/// whether X holds non-negative integers.
///
/// Why one sweep: on a 20,000 × 20,000 matrix with 48.6 M non-zeros, reading the CSR arrays once
/// takes about 0.05 s; the separate passes this replaces (row totals, mitochondrial totals, a top-N
/// selection per row, then a two-pass gene mean/variance twice) took ten times that.
///
/// Every number is bit-identical to the separate passes: row sums run in stored order, gene sums
/// per canonical block added exactly (`BlockStats`), and the top-N shares are
/// summed largest first — except on rows of integers below 2²⁴, where Double sums are exact in any
/// order and a histogram of the small values replaces the selection and sort.
struct QCPass {
    var cells: QC.CellMetrics
    /// Column sums, in Double.
    var geneSum: [Double]
    /// Observations with a non-zero value, per column.
    var geneNonzero: [Int]
    /// Σ Double(Float32(x·x)) per column (scanpy's kernel), when asked for.
    var geneSquares: [Double]?
    /// Every stored value is a non-negative integer (as `Validate.counts` defines it).
    var isCounts: Bool
    var rows: Int

    /// The QC per-gene statistics (mean, total, detection); the variance is scanpy's when the
    /// squares were summed, otherwise empty (QC does not report it).
    var geneStats: GeneStats {
        GeneStats(rows: rows, sum: geneSum, squares: geneSquares, nonzero: geneNonzero)
    }

    /// Values 0 ..< histogramSize are counted per row, larger ones sorted (count data: few).
    static let histogramSize = 256
    /// Integers up to 2²⁴ sum exactly in Double in any order, whatever the row length.
    static let exactLimit: Float = 16_777_216

    /// The exact per-gene sums behind `geneSum`, `geneNonzero` and `geneSquares`, for a streamed
    /// or sharded run to add up (see `BlockStats`).
    var exact: BlockStats.Sums

    /// With `unloggedFor`: seurat's sums of x/total over the cells it keeps (given a cell's total,
    /// detected genes and mitochondrial total), as `HVG.Unlogged.sums` forms them over those rows:
    /// the same blocks and order, so the same bits, without a second sweep over the chunk.
    var unlogged: BlockStats.Sums?

    /// `offset`: the input row of X's row 0 (a multiple of `RowChunking.statBlock` when X is a chunk).
    /// `genes: false` leaves the per-gene sums empty (zeros): a streamed pass that has them from
    /// an earlier pass sweeps only the cells.
    init(_ X: MatrixData, mito: [Bool], top: [Int], squares: Bool, threads: Int, offset: Int = 0, genes: Bool = true,
         unloggedFor keep: ((_ total: Double, _ nGenes: Int, _ mito: Double) -> Bool)? = nil) {
        let n = X.rows, g = X.cols
        rows = n
        // N above the gene count is left out, as scanpy requires; N ≤ 0 means nothing.
        let tops = top.sorted().filter { $0 <= g && $0 > 0 }
        let nTop = tops.count
        // Canonical statistics blocks (see BlockStats), dealt round-robin to one accumulator per thread.
        let blocks = BlockStats.blocks(rows: nil, origin: nil, offset: offset, n: n)
        let nb = blocks.count
        let nt = max(1, min(threads, nb))

        let total = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
        let nnz = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
        let mt = UnsafeMutableBufferPointer<Double>.allocate(capacity: n)
        let pct = UnsafeMutableBufferPointer<Double>.allocate(capacity: n * max(nTop, 1))
        let sumPart = UnsafeMutableBufferPointer<Double>.allocate(capacity: nt * g)
        let nzPart = UnsafeMutableBufferPointer<Int32>.allocate(capacity: nt * g)
        let nzDouble = UnsafeMutableBufferPointer<Double>.allocate(capacity: nt * g)
        let sqPart = UnsafeMutableBufferPointer<Double>.allocate(capacity: squares ? nt * g : 0)
        let uSumPart = UnsafeMutableBufferPointer<Double>.allocate(capacity: keep != nil ? nt * g : 0)
        let uSqPart = UnsafeMutableBufferPointer<Double>.allocate(capacity: keep != nil ? nt * g : 0)
        var uAccs = [(sum: ExactSums, sq: ExactSums)](repeating: (ExactSums(count: keep != nil ? g : 0), ExactSums(count: keep != nil ? g : 0)), count: nt)
        let notCounts = UnsafeMutableBufferPointer<Bool>.allocate(capacity: nb)
        var accs = [(sum: ExactSums, sq: ExactSums, nz: ExactSums)](repeating: (ExactSums(count: g), ExactSums(count: squares ? g : 0), ExactSums(count: g)), count: nt)
        defer {
            total.deallocate(); nnz.deallocate(); mt.deallocate(); pct.deallocate()
            sumPart.deallocate(); nzPart.deallocate(); nzDouble.deallocate(); sqPart.deallocate(); notCounts.deallocate()
            uSumPart.deallocate(); uSqPart.deallocate()
        }
        notCounts.initialize(repeating: false)

        // A dense row is a CSR row whose indices are 0 ..< g.
        let indptr: [Int], indices: [Int32], values: [Float]
        switch X {
        case .sparse(let s): indptr = s.indptr; indices = s.indices; values = s.values
        case .dense(let m):
            indptr = (0...n).map { $0 * g }
            indices = (0..<g).map { Int32($0) }
            values = m.values
        }
        let dense = !X.isSparse
        var longest = 0
        for i in 0..<n { longest = max(longest, indptr[i + 1] - indptr[i]) }

        indptr.withUnsafeBufferPointer { ip in
        indices.withUnsafeBufferPointer { ind in
        values.withUnsafeBufferPointer { val in
        mito.withUnsafeBufferPointer { isMito in
        tops.withUnsafeBufferPointer { tops in
        accs.withUnsafeMutableBufferPointer { accs in
        uAccs.withUnsafeMutableBufferPointer { uAccs in
            Runtime.parallelFor(nt, threads: nt) { th in
                let gs = UnsafeMutableBufferPointer(rebasing: sumPart[(th * g)..<((th + 1) * g)])
                let gn = UnsafeMutableBufferPointer(rebasing: nzPart[(th * g)..<((th + 1) * g)])
                let gnd = UnsafeMutableBufferPointer(rebasing: nzDouble[(th * g)..<((th + 1) * g)])
                // Without squares nothing is written through gq (every write is under `if squares`).
                let gq = squares ? UnsafeMutableBufferPointer(rebasing: sqPart[(th * g)..<((th + 1) * g)]) : gs
                let us = keep != nil ? UnsafeMutableBufferPointer(rebasing: uSumPart[(th * g)..<((th + 1) * g)]) : gs
                let uq = keep != nil ? UnsafeMutableBufferPointer(rebasing: uSqPart[(th * g)..<((th + 1) * g)]) : gs
                let hist = UnsafeMutableBufferPointer<Int32>.allocate(capacity: QCPass.histogramSize)
                let scratch = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(longest, 1))
                defer { hist.deallocate(); scratch.deallocate() }
                for b in stride(from: th, to: nb, by: nt) {
                if genes { gs.initialize(repeating: 0); gn.initialize(repeating: 0) }
                if squares && genes { gq.initialize(repeating: 0) }
                if keep != nil { us.initialize(repeating: 0); uq.initialize(repeating: 0) }
                var anyNotCounts = false
                for i in blocks[b] {
                    let lo = ip[i], hi = ip[i + 1]
                    let rowBase = dense ? lo : 0
                    if nTop > 0 { hist.update(repeating: 0) }
                    // An empty row touches no buffer (which may then have no base address).
                    let r = lo == hi ? lk_qc_row_t() : lk_qc_row(val.baseAddress! + lo, ind.baseAddress! + (lo - rowBase), hi - lo,
                                            isMito.baseAddress!, genes ? gs.baseAddress! : nil, genes ? gn.baseAddress! : nil,
                                            squares && genes ? gq.baseAddress! : nil, nTop > 0 ? hist.baseAddress! : nil,
                                            scratch.baseAddress!)
                    let t = r.total, c = Int(r.nonzero), m = r.mito, nBig = Int(r.nbig)
                    let nonInteger = r.non_integer != 0, negative = r.negative != 0, huge = r.huge != 0
                    total[i] = t
                    nnz[i] = c
                    mt[i] = m
                    if let keep, lo < hi, keep(t, c, m) {
                        lk_scaled_row(val.baseAddress! + lo, ind.baseAddress! + (lo - rowBase), hi - lo, 1 / t,
                                      us.baseAddress!, uq.baseAddress!)
                    }
                    if nonInteger || negative { anyNotCounts = true }
                    guard nTop > 0 else { continue }
                    let out = UnsafeMutableBufferPointer(rebasing: pct[(i * nTop)..<((i + 1) * nTop)])
                    if nonInteger || huge {
                        QCPass.topSharesSorted(UnsafeBufferPointer(rebasing: val[lo..<hi]), scratch: scratch,
                                               tops: tops, total: t, out: out)
                    } else {
                        QCPass.topSharesCounted(hist: hist, big: UnsafeMutableBufferPointer(rebasing: scratch[0..<nBig]),
                                                tops: tops, total: t, out: out)
                    }
                }
                notCounts[b] = anyNotCounts
                if keep != nil { uAccs[th].sum.add(UnsafeBufferPointer(us)); uAccs[th].sq.add(UnsafeBufferPointer(uq)) }
                guard genes else { continue }
                accs[th].sum.add(UnsafeBufferPointer(gs))
                // Detection counts tallied as Int32 (half the scattered bytes), added as Doubles.
                for j in 0..<g { gnd[j] = Double(gn[j]) }
                accs[th].nz.add(UnsafeBufferPointer(gnd))
                if squares { accs[th].sq.add(UnsafeBufferPointer(gq)) }
                }
            }
        }}}}}}}

        // Exact sums: the same bits whatever the thread count, chunking or sharding.
        var acc = accs[0]
        for a in accs.dropFirst() { acc.sum.add(a.sum); acc.nz.add(a.nz); if squares { acc.sq.add(a.sq) } }
        exact = BlockStats.Sums(sum: acc.sum, squares: squares ? acc.sq : nil, nonzero: acc.nz)
        if keep != nil {
            var u = uAccs[0]
            for a in uAccs.dropFirst() { u.sum.add(a.sum); u.sq.add(a.sq) }
            unlogged = BlockStats.Sums(sum: u.sum, squares: u.sq, nonzero: ExactSums(count: 0))
        }
        var topPercent: [(n: Int, pct: [Double])] = []
        for (t, k) in tops.enumerated() { topPercent.append((k, (0..<n).map { pct[$0 * nTop + t] })) }
        cells = QC.CellMetrics(nGenes: Array(nnz), total: Array(total), totalMito: Array(mt), topPercent: topPercent)
        geneSum = acc.sum.values
        geneNonzero = acc.nz.values.map { Int($0) }
        geneSquares = squares ? acc.sq.values : nil
        isCounts = !notCounts.contains(true)
    }

    /// Top-N shares of a row of integers below 2²⁴: small values come from their histogram, the
    /// few larger (or negative) ones are sorted. Sums are exact, so equal to summing the sorted row.
    static func topSharesCounted(hist: UnsafeMutableBufferPointer<Int32>, big bigValues: UnsafeMutableBufferPointer<Float>,
                                 tops: UnsafeBufferPointer<Int>, total: Double, out: UnsafeMutableBufferPointer<Double>) {
        var big = bigValues
        big.sort(by: >)
        var acc = 0.0, taken = 0, t = 0
        @inline(__always) func take(_ v: Float, _ count: Int) {
            var left = count
            while left > 0 && t < tops.count {
                let k = min(left, tops[t] - taken)
                acc += Double(v) * Double(k)
                taken += k
                left -= k
                if taken == tops[t] { out[t] = total > 0 ? acc / total * 100 : 0; t += 1 }
            }
        }
        var k = 0
        while k < big.count && big[k] > 0 && t < tops.count { take(big[k], 1); k += 1 }
        var v = hist.count - 1
        while v >= 0 && t < tops.count {
            if hist[v] > 0 { take(Float(v), Int(hist[v])) }
            v -= 1
        }
        while k < big.count && t < tops.count { take(big[k], 1); k += 1 }
        // Rows with fewer stored values than N: the share of everything stored.
        while t < tops.count { out[t] = total > 0 ? acc / total * 100 : 0; t += 1 }
    }

    /// Top-N shares of any row: the largest values selected in linear time, sorted, summed largest first.
    static func topSharesSorted(_ row: UnsafeBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
                                tops: UnsafeBufferPointer<Int>, total: Double, out: UnsafeMutableBufferPointer<Double>) {
        let work = UnsafeMutableBufferPointer(rebasing: scratch[0..<row.count])
        _ = work.initialize(from: row)
        let keep = min(tops[tops.count - 1], row.count)
        selectLargest(work, keep)
        var front = UnsafeMutableBufferPointer(rebasing: work[0..<keep])
        front.sort(by: >)
        var acc = 0.0, k = 0
        for (t, n) in tops.enumerated() {
            while k < n && k < keep { acc += Double(front[k]); k += 1 }
            out[t] = total > 0 ? acc / total * 100 : 0
        }
    }
}

/// Detection counts per column over `rows` only (integers: exact whatever the order).
func columnNonzero(_ X: MatrixData, rows: [Int]) -> [Int] {
    var nz = [Int](repeating: 0, count: X.cols)
    nz.withUnsafeMutableBufferPointer { nz in
        switch X {
        case .sparse(let s):
            s.indices.withUnsafeBufferPointer { ind in
                s.values.withUnsafeBufferPointer { val in
                    for i in rows { for p in s.indptr[i]..<s.indptr[i + 1] where val[p] != 0 { nz[Int(ind[p])] += 1 } }
                }
            }
        case .dense(let m):
            m.values.withUnsafeBufferPointer { val in
                for i in rows { for j in 0..<m.cols where val[i * m.cols + j] != 0 { nz[j] += 1 } }
            }
        }
    }
    return nz
}
