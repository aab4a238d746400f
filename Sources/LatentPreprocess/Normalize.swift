import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Library-size normalisations. Each works on dense or CSR input and keeps sparse data sparse
/// (except Pearson residuals, which are dense by definition: zeros get non-zero residuals).
public enum Normalize {
    /// scanpy's `normalize_total`: every cell scaled to `targetSum` total counts; nil means the
    /// median total over cells with non-zero totals. Cells with zero total stay zero.
    /// Returns the scaled matrix and the target used.
    public static func total(_ X: MatrixData, targetSum: Double?, threads: Int = 1) -> (MatrixData, Double) {
        let (totals, _) = rowTotals(X)
        let target = targetSum ?? median(totals.filter { $0 > 0 }) ?? 1
        // Divide by (total / target) in Float32, as scanpy does, so values agree to the last bit or so.
        let factor = totals.map { $0 > 0 ? Float($0 / target) : 1 }
        return (scaleRows(X, by: factor, divide: true, threads: threads), target)
    }

    /// normalize_total followed by log1p in one pass into a fresh array: x ← log(1 + x / (total/target)).
    /// One allocation and one sweep, instead of copying X for the scaling and again for the log.
    /// `rowTotals`, when given, must be X's row sums as `rowTotals(_:)` computes them (saves a pass).
    public static func totalLog1p(_ X: MatrixData, targetSum: Double?, rowTotals known: [Double]? = nil,
                                  threads: Int = 1) -> (MatrixData, Double) {
        let totals = known ?? rowTotals(X, threads: threads).total
        let target = totalTarget(totals, targetSum: targetSum)
        let factor = totals.map { $0 > 0 ? Float($0 / target) : 1 }
        let src = X.storedValues
        let rowStarts: [Int]
        let perRow: Int
        switch X {
        case .sparse(let s): rowStarts = s.indptr; perRow = 0
        case .dense(let m): rowStarts = []; perRow = m.cols
        }
        let values = [Float](unsafeUninitializedCapacity: src.count) { out, n in
            let nBlocks = max(1, min(64, X.rows / 256))
            src.withUnsafeBufferPointer { v in
                Runtime.parallelFor(nBlocks, threads: threads) { b in
                    let lo = X.rows * b / nBlocks, hi = X.rows * (b + 1) / nBlocks
                    for i in lo..<hi {
                        let a = factor[i]
                        let range = perRow == 0 ? rowStarts[i]..<rowStarts[i + 1] : (i * perRow)..<((i + 1) * perRow)
                        for p in range { out[p] = v[p] / a }
                    }
                    let start = perRow == 0 ? rowStarts[lo] : lo * perRow
                    let end = perRow == 0 ? rowStarts[hi] : hi * perRow
                    if end > start { ElementwiseMath.log1p(UnsafeMutableBufferPointer(rebasing: out[start..<end])) }
                }
            }
            n = src.count
        }
        switch X {
        case .sparse(let s):
            return (.sparse(SparseMatrix(rows: s.rows, cols: s.cols, indptr: s.indptr, indices: s.indices, values: values)), target)
        case .dense(let m):
            return (.dense(Matrix(rows: m.rows, cols: m.cols, values: values)), target)
        }
    }

    /// normalize_total's target: the one given, else the median of the non-zero cell totals.
    public static func totalTarget(_ totals: [Double], targetSum: Double?) -> Double {
        targetSum ?? median(totals.filter { $0 > 0 }) ?? 1
    }

    /// X with row i multiplied (or divided) by `f[i]`.
    public static func scaleRows(_ X: MatrixData, by f: [Float], divide: Bool, threads: Int = 1) -> MatrixData {
        switch X {
        case .sparse(var s):
            let indptr = s.indptr
            s.values.withUnsafeMutableBufferPointer { v in
                let nBlocks = max(1, min(64, s.rows / 256))
                Runtime.parallelFor(nBlocks, threads: threads) { b in
                    for i in (s.rows * b / nBlocks)..<(s.rows * (b + 1) / nBlocks) {
                        let a = f[i]
                        for p in indptr[i]..<indptr[i + 1] { v[p] = divide ? v[p] / a : v[p] * a }
                    }
                }
            }
            return .sparse(s)
        case .dense(var m):
            let c = m.cols
            m.values.withUnsafeMutableBufferPointer { v in
                for i in 0..<m.rows {
                    let a = f[i]
                    for j in (i * c)..<((i + 1) * c) { v[j] = divide ? v[j] / a : v[j] * a }
                }
            }
            return .dense(m)
        }
    }

    /// Applies `transform` (e.g. `ElementwiseMath.log1p`) to the stored values; f(0) must be 0.
    public static func mapStored(_ X: MatrixData, _ transform: (inout [Float]) -> Void) -> MatrixData {
        switch X {
        case .sparse(var s): transform(&s.values); return .sparse(s)
        case .dense(var m): transform(&m.values); return .dense(m)
        }
    }

    /// DESeq2's median-of-ratios size factors (Anders & Huber 2010): for sample j,
    /// s_j = exp(median_i(log k_ij − mean_j' log k_ij')) over the genes with no zero count.
    /// Throws when no gene is expressed in every sample (typical of single-cell data).
    public static func medianOfRatiosSizeFactors(_ X: MatrixData, file: String?) throws -> [Double] {
        let n = X.rows, g = X.cols
        var logSum = [Double](repeating: 0, count: g)
        var positive = [Int](repeating: 0, count: g)
        func forEachStored(_ body: (Int, Int, Float) -> Void) {
            switch X {
            case .sparse(let s):
                for i in 0..<n { for p in s.indptr[i]..<s.indptr[i + 1] { body(i, Int(s.indices[p]), s.values[p]) } }
            case .dense(let m):
                for i in 0..<n { for j in 0..<g { body(i, j, m.values[i * g + j]) } }
            }
        }
        forEachStored { _, j, v in
            if v > 0 { logSum[j] += log(Double(v)); positive[j] += 1 }
        }
        let usable = (0..<g).filter { positive[$0] == n }
        guard !usable.isEmpty else {
            throw LatentError.badInput(file, nil, "median-of-ratios needs genes with a non-zero count in every sample, and there are none",
                                       hint: "it is meant for bulk samples; use --method total for single-cell data")
        }
        let logGeoMean = logSum.map { $0 / Double(n) }
        var isUsable = [Bool](repeating: false, count: g)
        for j in usable { isUsable[j] = true }
        var ratios = [[Double]](repeating: [], count: n)
        for i in 0..<n { ratios[i].reserveCapacity(usable.count) }
        forEachStored { i, j, v in
            if isUsable[j] { ratios[i].append(log(Double(v)) - logGeoMean[j]) }
        }
        return ratios.map { exp(median($0) ?? 0) }
    }

    /// Analytic Pearson residuals (Lause, Berens & Kobak 2021) under a negative binomial with
    /// overdispersion `theta`: μ_ij = s_i·g_j / T, r_ij = (x_ij − μ_ij)/√(μ_ij + μ_ij²/θ), clipped to
    /// ±`clip` (default √n, as scanpy). Genes or cells with zero total have μ = 0: their residual is 0.
    public static func pearsonResiduals(_ X: MatrixData, theta: Double, clip: Double?) -> Matrix {
        let n = X.rows, g = X.cols
        let (cellSums, _) = rowTotals(X)
        let geneSums = GeneStats(X).total
        let total = cellSums.reduce(0, +)
        let c = clip ?? Double(n).squareRoot()
        var out = Matrix(rows: n, cols: g)
        let dense: Matrix
        switch X {
        case .dense(let m): dense = m
        case .sparse(let s): dense = s.densified()   // the output is dense anyway; same size
        }
        out.values.withUnsafeMutableBufferPointer { o in
            dense.values.withUnsafeBufferPointer { x in
                for i in 0..<n {
                    let si = cellSums[i] / max(total, .leastNormalMagnitude)
                    for j in 0..<g {
                        let mu = si * geneSums[j]
                        if mu <= 0 { o[i * g + j] = 0; continue }
                        var r = (Double(x[i * g + j]) - mu) / (mu + mu * mu / theta).squareRoot()
                        if r > c { r = c } else if r < -c { r = -c }
                        o[i * g + j] = Float(r)
                    }
                }
            }
        }
        return out
    }
}

/// The median (mean of the two middle values for an even count); nil when empty. By selection
/// in linear time: a streamed normalize takes it of every cell's total (1.3 M) for each chunk.
public func median(_ values: [Double]) -> Double? {
    if values.isEmpty { return nil }
    var a = values
    let n = a.count, m = n / 2
    return a.withUnsafeMutableBufferPointer { b -> Double in
        // The n − m largest first: the smallest of them is the m-th smallest value, and the
        // largest of the rest the (m − 1)-th.
        selectLargest(b, n - m)
        var upper = b[0]
        for i in 1..<(n - m) { upper = Swift.min(upper, b[i]) }
        if n % 2 == 1 { return upper }
        var lower = b[n - m]
        for i in (n - m)..<n { lower = Swift.max(lower, b[i]) }
        return (lower + upper) / 2
    }
}
