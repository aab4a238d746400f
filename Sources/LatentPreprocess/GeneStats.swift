import LatentCore

/// Per-gene (column) statistics in Double, on dense or CSR data without densifying.
///
/// Two variance formulas:
/// - `.twoPass` (default): the mean first, then squared deviations, so large means do not
///   cancel the variance. Use it wherever the value itself matters.
/// - `.scanpy`: scanpy's `_get_mean_var`, E[x²] − E[x]² with x² rounded to Float32 and sums in
///   Double. Less accurate, but HVG selection and z-scoring must rank and scale genes exactly as
///   scanpy does: near-constant genes whose variance cancels to ≤ 0 there get NaN dispersions and
///   drop out of their bin's statistics, which moves the normalised dispersion of every gene in
///   that bin.
public struct GeneStats: Sendable, Equatable {
    public enum Method: Sendable { case twoPass, scanpy }

    public var mean: [Double]
    /// Unbiased (n − 1) variance, the R/scanpy convention.
    public var variance: [Double]
    /// Number of observations with a non-zero value.
    public var nonzero: [Int]
    /// Column sums.
    public var total: [Double]

    /// Statistics over all rows, or over `rows` only.
    public init(_ X: MatrixData, rows: [Int]? = nil, method: Method = .twoPass) {
        switch method {
        case .scanpy: self.init(scanpy: X, rows: rows)
        case .twoPass: self.init(twoPass: X, rows: rows)
        }
    }

    init(twoPass X: MatrixData, rows: [Int]?) {
        let g = X.cols
        let rowList = rows ?? Array(0..<X.rows)
        let n = rowList.count
        // Fixed blocks of rows, combined in order: the sums do not depend on the thread count.
        let blocks = GeneStats.blocks(n)
        var partial = [Partial](repeating: Partial(g: 0), count: blocks.count)
        partial.withUnsafeMutableBufferPointer { out in
            Runtime.parallelFor(blocks.count, threads: GeneStats.threads) { b in
                var acc = Partial(g: g)
                acc.addSums(X, rowList[blocks[b]])
                out[b] = acc
            }
        }
        var sum = [Double](repeating: 0, count: g), stored = [Int](repeating: 0, count: g), nnz = [Int](repeating: 0, count: g)
        for p in partial { for j in 0..<g { sum[j] += p.sum[j]; stored[j] += p.stored[j]; nnz[j] += p.nonzero[j] } }
        let mean = sum.map { $0 / Double(max(n, 1)) }
        partial.withUnsafeMutableBufferPointer { out in
            Runtime.parallelFor(blocks.count, threads: GeneStats.threads) { b in
                var acc = Partial(g: g)
                acc.addSquares(X, rowList[blocks[b]], mean: mean)
                out[b] = acc
            }
        }
        var ss = [Double](repeating: 0, count: g)
        for p in partial { for j in 0..<g { ss[j] += p.sum[j] } }
        // Implicit zeros of a sparse matrix each contribute mean².
        if X.isSparse { for j in 0..<g { ss[j] += Double(n - stored[j]) * mean[j] * mean[j] } }
        total = sum
        self.mean = mean
        variance = ss.map { n > 1 ? $0 / Double(n - 1) : 0 }
        nonzero = nnz
    }

    /// Threads for the per-gene passes (set by the stage from --threads).
    nonisolated(unsafe) public static var threads = 1

    static func blocks(_ n: Int) -> [Range<Int>] {
        let count = max(1, min(16, n / 512))
        return (0..<count).map { (n * $0 / count)..<(n * ($0 + 1) / count) }
    }

    /// Per-block accumulators.
    struct Partial {
        var sum: [Double], stored: [Int], nonzero: [Int]
        init(g: Int) {
            sum = [Double](repeating: 0, count: g)
            stored = [Int](repeating: 0, count: g)
            nonzero = [Int](repeating: 0, count: g)
        }

        mutating func addSums(_ X: MatrixData, _ rows: ArraySlice<Int>) {
            sum.withUnsafeMutableBufferPointer { sm in
                stored.withUnsafeMutableBufferPointer { st in
                    nonzero.withUnsafeMutableBufferPointer { nz in
                        switch X {
                        case .sparse(let s):
                            s.indices.withUnsafeBufferPointer { ind in
                                s.values.withUnsafeBufferPointer { val in
                                    for r in rows {
                                        for p in s.indptr[r]..<s.indptr[r + 1] {
                                            let j = Int(ind[p]), v = val[p]
                                            sm[j] += Double(v)
                                            st[j] += 1
                                            if v != 0 { nz[j] += 1 }
                                        }
                                    }
                                }
                            }
                        case .dense(let m):
                            let g = m.cols
                            m.values.withUnsafeBufferPointer { val in
                                for r in rows {
                                    let base = r * g
                                    for j in 0..<g {
                                        let v = val[base + j]
                                        sm[j] += Double(v)
                                        if v != 0 { nz[j] += 1 }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }

        mutating func addSquares(_ X: MatrixData, _ rows: ArraySlice<Int>, mean: [Double]) {
            sum.withUnsafeMutableBufferPointer { sm in
                mean.withUnsafeBufferPointer { mu in
                    switch X {
                    case .sparse(let s):
                        s.indices.withUnsafeBufferPointer { ind in
                            s.values.withUnsafeBufferPointer { val in
                                for r in rows {
                                    for p in s.indptr[r]..<s.indptr[r + 1] {
                                        let j = Int(ind[p])
                                        let d = Double(val[p]) - mu[j]
                                        sm[j] += d * d
                                    }
                                }
                            }
                        }
                    case .dense(let m):
                        let g = m.cols
                        m.values.withUnsafeBufferPointer { val in
                            for r in rows {
                                let base = r * g
                                for j in 0..<g {
                                    let d = Double(val[base + j]) - mu[j]
                                    sm[j] += d * d
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

extension GeneStats {
    /// scanpy's statistics, with sums per canonical block added exactly (`BlockStats`): row i of
    /// X is input row `origin[i]` (nil: row i), so a streamed or sharded run gets the same bits.
    init(scanpy X: MatrixData, rows: [Int]?, origin: [Int]? = nil) {
        let blocks = BlockStats.blocks(rows: rows, origin: origin, n: X.rows)
        let s = BlockStats.columnSums(X, rows: rows, blocks: blocks, squares: .float32, threads: GeneStats.threads)
        self = s.geneStats(rows: rows?.count ?? X.rows)
    }

    /// From column sums (and scanpy's sums of Float32 squares, when given) over `rows` observations:
    /// the one place the scanpy mean and variance formulas live, so a fused pass gives the same bits.
    init(rows: Int, sum: [Double], squares sq: [Double]?, nonzero: [Int]) {
        let n = Double(rows)
        let mean = sum.map { $0 / max(n, 1) }
        let correction = n > 1 ? n / (n - 1) : 1
        self.mean = mean
        self.variance = sq.map { sq in (0..<sum.count).map { (sq[$0] / max(n, 1) - mean[$0] * mean[$0]) * correction } } ?? []
        self.nonzero = nonzero
        self.total = sum
    }

    /// The statistics of the columns `cols`, in that order.
    func subset(_ cols: [Int]) -> GeneStats {
        var s = self
        s.mean = cols.map { mean[$0] }
        s.variance = variance.isEmpty ? [] : cols.map { variance[$0] }
        s.nonzero = cols.map { nonzero[$0] }
        s.total = cols.map { total[$0] }
        return s
    }
}

/// Per-observation (row) sums and non-zero counts, in Double; rows split over threads.
public func rowTotals(_ X: MatrixData, cols mask: [Bool]? = nil, threads: Int = GeneStats.threads) -> (total: [Double], nonzero: [Int]) {
    let total = UnsafeMutableBufferPointer<Double>.allocate(capacity: X.rows)
    let nnz = UnsafeMutableBufferPointer<Int>.allocate(capacity: X.rows)
    defer { total.deallocate(); nnz.deallocate() }
    let keep = mask ?? [Bool](repeating: true, count: X.cols)
    let nBlocks = max(1, min(64, X.rows / 256))
    keep.withUnsafeBufferPointer { k in
        Runtime.parallelFor(nBlocks, threads: threads) { b in
            let rows = (X.rows * b / nBlocks)..<(X.rows * (b + 1) / nBlocks)
            switch X {
            case .sparse(let s):
                s.indices.withUnsafeBufferPointer { ind in
                    s.values.withUnsafeBufferPointer { val in
                        for i in rows {
                            var t = 0.0, c = 0
                            for p in s.indptr[i]..<s.indptr[i + 1] where k[Int(ind[p])] {
                                t += Double(val[p])
                                if val[p] != 0 { c += 1 }
                            }
                            total[i] = t
                            nnz[i] = c
                        }
                    }
                }
            case .dense(let m):
                m.values.withUnsafeBufferPointer { val in
                    for i in rows {
                        var t = 0.0, c = 0
                        for j in 0..<m.cols where k[j] {
                            let v = val[i * m.cols + j]
                            t += Double(v)
                            if v != 0 { c += 1 }
                        }
                        total[i] = t
                        nnz[i] = c
                    }
                }
            }
        }
    }
    return (Array(total), Array(nnz))
}
