import LatentCore

extension CenteredMatrix {
    /// Per-gene mean and variance (ddof 1) in Double, exactly enough to be the reference the
    /// variance ratios are divided by.
    ///
    /// Dense: one pass over shifted values d = x − s with s = the gene's value in the first row,
    /// var = (Σd² − (Σd)²/n)/(n − 1). Shifting by a value of the data keeps Σd/n of the order of
    /// the spread, which removes the catastrophic cancellation of the textbook Σx² − (Σx)²/n.
    /// Sparse: two passes over the stored values (mean, then Σ(v − μ)²), the implicit zeros added
    /// analytically as (n − stored)·μ².
    ///
    /// Non-finite input is found here, where every value is read anyway: a NaN or ±Inf makes its
    /// gene's sum non-finite, and only then is the matrix searched for the first bad entry.
    static func moments(_ X: MatrixData, threads: Int, file: String?) throws -> (mean: [Double], variance: [Double]) {
        let n = X.rows, g = X.cols
        let t = max(1, min(threads, n / 256))
        let chunks = (0..<t).map { (n * $0 / t)..<(n * ($0 + 1) / t) }
        var partial = [[Double]](repeating: [], count: t)
        var mean = [Double](repeating: 0, count: g), variance = [Double](repeating: 0, count: g)
        switch X {
        case .dense(let d):
            var first = [Double](repeating: 0, count: g)
            if n > 0 { for j in 0..<g { first[j] = Double(d.values[j]) } }
            d.values.withUnsafeBufferPointer { v in
                partial.withUnsafeMutableBufferPointer { parts in
                    Runtime.parallelFor(t, threads: t) { c in
                        var acc = [Double](repeating: 0, count: 2 * g)   // Σd then Σd²
                        acc.withUnsafeMutableBufferPointer { a in
                            first.withUnsafeBufferPointer { s in
                                guard let base = v.baseAddress else { return }
                                for i in chunks[c] {
                                    let row = base + i * g
                                    for j in 0..<g {
                                        let x = Double(row[j]) - s[j]
                                        a[j] += x
                                        a[g + j] += x * x
                                    }
                                }
                            }
                        }
                        parts[c] = acc
                    }
                }
            }
            for j in 0..<g {
                var s = 0.0, q = 0.0
                for c in 0..<t { s += partial[c][j]; q += partial[c][g + j] }
                mean[j] = first[j] + s / Double(n)
                variance[j] = n > 1 ? max(0, q - s * s / Double(n)) / Double(n - 1) : 0
            }
        case .sparse(let sp):
            // pass 1: Σv and the stored count per gene; pass 2: Σ(v − μ)².
            for pass in 0..<2 {
                let mu = mean
                sp.indices.withUnsafeBufferPointer { ind in
                    sp.values.withUnsafeBufferPointer { val in
                        partial.withUnsafeMutableBufferPointer { parts in
                            Runtime.parallelFor(t, threads: t) { c in
                                var acc = [Double](repeating: 0, count: 2 * g)
                                acc.withUnsafeMutableBufferPointer { a in
                                    let lo = sp.indptr[chunks[c].lowerBound], hi = sp.indptr[chunks[c].upperBound]
                                    if pass == 0 {
                                        for p in lo..<hi { let j = Int(ind[p]); a[j] += Double(val[p]); a[g + j] += 1 }
                                    } else {
                                        for p in lo..<hi { let j = Int(ind[p]); let x = Double(val[p]) - mu[j]; a[j] += x * x }
                                    }
                                }
                                parts[c] = acc
                            }
                        }
                    }
                }
                var total = [Double](repeating: 0, count: 2 * g)
                for c in 0..<t { for j in 0..<(2 * g) { total[j] += partial[c][j] } }
                for j in 0..<g {
                    if pass == 0 {
                        mean[j] = n > 0 ? total[j] / Double(n) : 0
                        variance[j] = total[g + j]            // stored count, until pass 2
                    } else {
                        let zeros = Double(n) - variance[j]
                        variance[j] = n > 1 ? (total[j] + zeros * mu[j] * mu[j]) / Double(n - 1) : 0
                    }
                }
            }
        }
        if !(mean.allSatisfy { $0.isFinite } && variance.allSatisfy { $0.isFinite }) {
            throw nonFinite(X, file: file)
        }
        return (mean, variance)
    }

    /// The error for the first non-finite stored value (row and column 1-based, as users count).
    static func nonFinite(_ X: MatrixData, file: String?) -> LatentError {
        let values = X.storedValues
        guard let p = values.firstIndex(where: { !$0.isFinite }) else {
            return LatentError.badInput(file, "X", "values too large to sum (overflow)", hint: "rescale or log-transform the data")
        }
        let (r, c) = Validate.position(ofStored: p, in: X)
        let v = values[p]
        return LatentError.badInput(file, "X[row \(r + 1), column \(c + 1)]", "non-finite value \(v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf"))",
                                    hint: "remove or impute missing values before PCA")
    }
}
