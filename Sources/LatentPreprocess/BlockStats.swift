import CKernels
import LatentCore

/// Per-gene statistics formed per canonical row block and accumulated exactly.
///
/// Why: a streamed or sharded `normalize` sees the matrix in chunks, the in-memory run sees it
/// whole; both must select the same genes and write the same bytes (issue 16). Each block of
/// `RowChunking.statBlock` input rows (global numbering, so chunks and shards cut on block
/// boundaries contain whole blocks) gives Float64 partials summed in row order; partials are added
/// into `ExactSums`, whose addition is exact. The result does not depend on chunking, sharding or
/// the thread count. Rows removed by a filter simply contribute nothing to their block.
enum BlockStats {
    /// Ranges of `0 ..< count` (positions in a row list) whose global rows share a canonical block.
    /// `global(k)` is the input row of position k; it must increase with k.
    static func blocks(count: Int, global: (Int) -> Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        while start < count {
            let b = global(start) / RowChunking.statBlock
            var end = start + 1
            while end < count && global(end) / RowChunking.statBlock == b { end += 1 }
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// Blocks of a matrix whose row i is input row `origin[i]` (nil: row i is input row
    /// `offset + i`), restricted to the row list `rows` (nil: every row).
    static func blocks(rows: [Int]?, origin: [Int]?, offset: Int = 0, n: Int) -> [Range<Int>] {
        switch (rows, origin) {
        case (nil, nil): return blocks(count: n) { offset + $0 }
        case (nil, let o?): return blocks(count: n) { o[$0] }
        case (let r?, nil): return blocks(count: r.count) { offset + r[$0] }
        case (let r?, let o?): return blocks(count: r.count) { o[r[$0]] }
        }
    }

    /// Exact column sums, sums of squares and non-zero counts (not counted with clipped squares).
    struct Sums: Equatable, Sendable {
        var sum: ExactSums
        var squares: ExactSums?
        var nonzero: ExactSums

        /// scanpy's mean/variance (`GeneStats(scanpy:)`) over `n` rows.
        func geneStats(rows n: Int) -> GeneStats {
            GeneStats(rows: n, sum: sum.values, squares: squares?.values, nonzero: nonzero.values.map { Int($0) })
        }
    }

    /// What a value contributes to the squares: scanpy's Float32 square, a clipped Double, or
    /// (`.scaled(r)`) the square of the Double x·r[i], where i is the value's row in X — then the
    /// sums are of x·r[i] too (seurat's moments of normalised counts without the log round trip).
    enum Squares { case none, float32, clipped([Double]), scaled([Double]) }

    /// Column sums of `X` over the rows `rows` (positions into X's rows; nil = all), split into
    /// `blocks` (ranges of positions into that list). Squares as `squares` says; with
    /// `.clipped(c)`, each value is first min(x, c[j]) in Double and sums use the clipped value.
    static func columnSums(_ X: MatrixData, rows: [Int]?, blocks: [Range<Int>], squares: Squares,
                           threads: Int) -> Sums {
        let g = X.cols
        let nb = blocks.count
        let t = max(1, min(threads, nb))
        let wantSq: Bool
        if case .none = squares { wantSq = false } else { wantSq = true }
        var clip: [Double] = []
        if case .clipped(let c) = squares { clip = c }
        let clipped = !clip.isEmpty
        var rowScale: [Double] = []
        if case .scaled(let r) = squares { rowScale = r }
        let scaled = !rowScale.isEmpty
        // One accumulator per thread, blocks dealt round-robin: exact addition makes the split moot.
        var accs = [(sum: ExactSums, sq: ExactSums, nz: ExactSums)](repeating: (ExactSums(count: 0), ExactSums(count: 0), ExactSums(count: 0)), count: t)
        accs.withUnsafeMutableBufferPointer { accs in
            clip.withUnsafeBufferPointer { cl in
            rowScale.withUnsafeBufferPointer { rs in
            Runtime.parallelFor(t, threads: t) { k in
                var aSum = ExactSums(count: g), aSq = ExactSums(count: wantSq ? g : 0), aNz = ExactSums(count: g)
                let sum = UnsafeMutableBufferPointer<Double>.allocate(capacity: g)
                let sq = UnsafeMutableBufferPointer<Double>.allocate(capacity: wantSq ? g : 0)
                let nz = UnsafeMutableBufferPointer<Int32>.allocate(capacity: g)
                let nzd = UnsafeMutableBufferPointer<Double>.allocate(capacity: g)
                defer { sum.deallocate(); sq.deallocate(); nz.deallocate(); nzd.deallocate() }
                for b in stride(from: k, to: nb, by: t) {
                    sum.initialize(repeating: 0); nz.initialize(repeating: 0)
                    if wantSq { sq.initialize(repeating: 0) }
                    // One loop per mode: no per-value branch on what is summed.
                    switch X {
                    case .sparse(let s):
                        s.indices.withUnsafeBufferPointer { ind in
                        s.values.withUnsafeBufferPointer { val in
                        s.indptr.withUnsafeBufferPointer { ip in
                            for pos in blocks[b] {
                                let i = rows?[pos] ?? pos
                                let range = ip[i]..<ip[i + 1]
                                if clipped {
                                    for p in range {
                                        let j = Int(ind[p])
                                        let c = Swift.min(Double(val[p]), cl[j])
                                        sum[j] += c
                                        sq[j] += c * c
                                    }
                                } else if scaled {
                                    // The QC sweep's kernel, so the counts pass and this agree to the bit.
                                    if !range.isEmpty {
                                        lk_scaled_row(val.baseAddress! + range.lowerBound, ind.baseAddress! + range.lowerBound, range.count,
                                                      rs[i], sum.baseAddress!, sq.baseAddress!)
                                    }
                                    for p in range where val[p] != 0 { nz[Int(ind[p])] &+= 1 }
                                } else if wantSq {
                                    for p in range {
                                        let j = Int(ind[p]), v = val[p]
                                        sum[j] += Double(v)
                                        sq[j] += Double(v * v)
                                        nz[j] &+= v != 0 ? 1 : 0
                                    }
                                } else {
                                    for p in range {
                                        let j = Int(ind[p]), v = val[p]
                                        sum[j] += Double(v)
                                        nz[j] &+= v != 0 ? 1 : 0
                                    }
                                }
                            }
                        }}}
                    case .dense(let m):
                        m.values.withUnsafeBufferPointer { val in
                            for pos in blocks[b] {
                                let i = rows?[pos] ?? pos
                                let base = i * g
                                if clipped {
                                    for j in 0..<g {
                                        let c = Swift.min(Double(val[base + j]), cl[j])
                                        sum[j] += c
                                        sq[j] += c * c
                                    }
                                } else if scaled {
                                    let r = rs[i]
                                    for j in 0..<g {
                                        let v = val[base + j]
                                        let d = Double(v) * r
                                        sum[j] += d
                                        sq[j] += d * d
                                        nz[j] &+= v != 0 ? 1 : 0
                                    }
                                } else {
                                    for j in 0..<g {
                                        let v = val[base + j]
                                        sum[j] += Double(v)
                                        if wantSq { sq[j] += Double(v * v) }
                                        nz[j] &+= v != 0 ? 1 : 0
                                    }
                                }
                            }
                        }
                    }
                    aSum.add(UnsafeBufferPointer(sum))
                    if !clipped {
                        for j in 0..<g { nzd[j] = Double(nz[j]) }
                        aNz.add(UnsafeBufferPointer(nzd))
                    }
                    if wantSq { aSq.add(UnsafeBufferPointer(sq)) }
                }
                accs[k] = (aSum, aSq, aNz)
            }
            }
            }
        }
        var out = accs[0]
        for a in accs.dropFirst() { out.sum.add(a.sum); out.nz.add(a.nz); if wantSq { out.sq.add(a.sq) } }
        return Sums(sum: out.sum, squares: wantSq ? out.sq : nil, nonzero: out.nz)
    }
}

extension ExactSums {
    /// The sums at `cols`, in that order.
    func subset(_ cols: [Int]) -> ExactSums { ExactSums(cols.map { sums[$0] }) }
    /// These sums (of the columns `cols`) placed at `cols` in a vector of `count`, zeros elsewhere.
    func expanded(_ cols: [Int], to count: Int) -> ExactSums {
        var out = ExactSums(count: count)
        for (k, j) in cols.enumerated() { out.sums[j] = sums[k] }
        return out
    }
}
