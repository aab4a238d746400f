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
    public init(_ X: MatrixData, rows: [Int]? = nil, method: Method = .twoPass, transform: ((Float) -> Float)? = nil) {
        switch method {
        case .scanpy: self.init(scanpy: X, rows: rows)
        case .twoPass: self.init(twoPass: X, rows: rows, transform: transform)
        }
    }

    init(twoPass X: MatrixData, rows: [Int]?, transform: ((Float) -> Float)?) {
        let g = X.cols
        let n = rows?.count ?? X.rows
        var sum = [Double](repeating: 0, count: g)
        var nnz = [Int](repeating: 0, count: g)
        var ss = [Double](repeating: 0, count: g)
        let rowList = rows ?? Array(0..<X.rows)
        switch X {
        case .sparse(let s):
            s.indices.withUnsafeBufferPointer { ind in
                s.values.withUnsafeBufferPointer { val in
                    for r in rowList {
                        for p in s.indptr[r]..<s.indptr[r + 1] {
                            let v = transform.map { $0(val[p]) } ?? val[p]
                            let j = Int(ind[p])
                            sum[j] += Double(v)
                            if v != 0 { nnz[j] += 1 }
                        }
                    }
                    let mean = sum.map { $0 / Double(max(n, 1)) }
                    for r in rowList {
                        for p in s.indptr[r]..<s.indptr[r + 1] {
                            let v = transform.map { $0(val[p]) } ?? val[p]
                            let d = Double(v) - mean[Int(ind[p])]
                            ss[Int(ind[p])] += d * d
                        }
                    }
                    // Implicit zeros each contribute mean².
                    var stored = [Int](repeating: 0, count: g)
                    for r in rowList { for p in s.indptr[r]..<s.indptr[r + 1] { stored[Int(ind[p])] += 1 } }
                    for j in 0..<g { ss[j] += Double(n - stored[j]) * mean[j] * mean[j] }
                }
            }
        case .dense(let m):
            m.values.withUnsafeBufferPointer { v in
                for r in rowList {
                    let base = r * g
                    for j in 0..<g {
                        let x = transform.map { $0(v[base + j]) } ?? v[base + j]
                        sum[j] += Double(x)
                        if x != 0 { nnz[j] += 1 }
                    }
                }
                let mean = sum.map { $0 / Double(max(n, 1)) }
                for r in rowList {
                    let base = r * g
                    for j in 0..<g {
                        let x = transform.map { $0(v[base + j]) } ?? v[base + j]
                        let d = Double(x) - mean[j]
                        ss[j] += d * d
                    }
                }
            }
        }
        total = sum
        mean = sum.map { $0 / Double(max(n, 1)) }
        variance = ss.map { n > 1 ? $0 / Double(n - 1) : 0 }
        nonzero = nnz
    }
}

extension GeneStats {
    init(scanpy X: MatrixData, rows: [Int]?) {
        let g = X.cols
        let rowList = rows ?? Array(0..<X.rows)
        let n = Double(rowList.count)
        var sum = [Double](repeating: 0, count: g), sq = [Double](repeating: 0, count: g)
        var nnz = [Int](repeating: 0, count: g)
        switch X {
        case .sparse(let s):
            for r in rowList {
                for p in s.indptr[r]..<s.indptr[r + 1] {
                    let v = s.values[p], j = Int(s.indices[p])
                    sum[j] += Double(v)
                    sq[j] += Double(v * v)
                    if v != 0 { nnz[j] += 1 }
                }
            }
        case .dense(let m):
            for r in rowList {
                for j in 0..<g {
                    let v = m.values[r * g + j]
                    sum[j] += Double(v)
                    sq[j] += Double(v * v)
                    if v != 0 { nnz[j] += 1 }
                }
            }
        }
        let mean = sum.map { $0 / max(n, 1) }
        let correction = n > 1 ? n / (n - 1) : 1
        self.mean = mean
        self.variance = (0..<g).map { (sq[$0] / max(n, 1) - mean[$0] * mean[$0]) * correction }
        self.nonzero = nnz
        self.total = sum
    }
}

/// Per-observation (row) sums and non-zero counts, in Double.
public func rowTotals(_ X: MatrixData, cols mask: [Bool]? = nil) -> (total: [Double], nonzero: [Int]) {
    var total = [Double](repeating: 0, count: X.rows)
    var nnz = [Int](repeating: 0, count: X.rows)
    switch X {
    case .sparse(let s):
        for i in 0..<s.rows {
            var t = 0.0, c = 0
            for p in s.indptr[i]..<s.indptr[i + 1] where mask?[Int(s.indices[p])] ?? true {
                t += Double(s.values[p])
                if s.values[p] != 0 { c += 1 }
            }
            total[i] = t
            nnz[i] = c
        }
    case .dense(let m):
        for i in 0..<m.rows {
            var t = 0.0, c = 0
            for j in 0..<m.cols where mask?[j] ?? true {
                let v = m.values[i * m.cols + j]
                t += Double(v)
                if v != 0 { c += 1 }
            }
            total[i] = t
            nnz[i] = c
        }
    }
    return (total, nnz)
}
