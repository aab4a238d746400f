import LatentCore

/// Per-gene scaling for the models. Both produce dense output (centring fills in the zeros),
/// so the stage applies them after HVG selection has made the matrix small.
///
/// Split into the per-gene statistics (`fit`: exact block sums, or minima and maxima, both
/// order-independent) and the per-row transform (`transform`), so that a streamed or sharded run
/// fits once over every chunk and transforms each chunk alone, to the in-memory bytes.
public enum Scale {
    public enum Method: String, Sendable, Codable, CaseIterable {
        case none
        /// (x − mean)/sd with the unbiased sd, as scanpy's `pp.scale`; constant genes get sd 1
        /// (so they become all zeros), and values are clipped to ±maxValue when given.
        case zscore
        /// (x − min)/(max − min) into [0, 1], as Tybalt scales for a Bernoulli decoder;
        /// constant genes become all zeros.
        case minmax
    }

    /// What the transform needs, per gene.
    public struct Fit: Sendable, Equatable {
        /// zscore: exact sums over the rows (scanpy's moments); minmax: nil.
        var sums: BlockStats.Sums?
        var rows: Int
        /// minmax: smallest and largest value per gene (zeros included).
        var lo: [Double] = [], hi: [Double] = []
    }

    public static func apply(_ X: MatrixData, method: Method, maxValue: Double?, origin: [Int]? = nil) -> MatrixData {
        if method == .none { return X }
        let m = dense(X)
        return .dense(transform(m, method: method, fit: fit(m, method: method, origin: origin), maxValue: maxValue))
    }

    static func dense(_ X: MatrixData) -> Matrix {
        switch X {
        case .dense(let d): return d
        case .sparse(let s): return s.densified()
        }
    }

    static func fit(_ m: Matrix, method: Method, origin: [Int]?) -> Fit {
        let g = m.cols, n = m.rows
        switch method {
        case .none: return Fit(sums: nil, rows: n)
        case .zscore:
            let blocks = BlockStats.blocks(rows: nil, origin: origin, n: n)
            return Fit(sums: BlockStats.columnSums(.dense(m), rows: nil, blocks: blocks, squares: .float32, threads: GeneStats.threads), rows: n)
        case .minmax:
            var lo = [Double](repeating: .infinity, count: g), hi = [Double](repeating: -.infinity, count: g)
            for i in 0..<n { for j in 0..<g { let x = Double(m.values[i * g + j]); lo[j] = min(lo[j], x); hi[j] = max(hi[j], x) } }
            return Fit(sums: nil, rows: n, lo: lo, hi: hi)
        }
    }

    static func transform(_ input: Matrix, method: Method, fit: Fit, maxValue: Double?) -> Matrix {
        var m = input
        let g = m.cols, n = m.rows
        switch method {
        case .none: break
        case .zscore:
            let stats = fit.sums!.geneStats(rows: fit.rows)
            let mean = stats.mean.map { Float($0) }
            let sd = stats.variance.map { v -> Float in
                let s = Float(v.squareRoot())
                return s == 0 ? 1 : s
            }
            let clip = maxValue.map(Float.init)
            m.values.withUnsafeMutableBufferPointer { v in
                for i in 0..<n {
                    for j in 0..<g {
                        var x = (v[i * g + j] - mean[j]) / sd[j]
                        if let c = clip { x = min(max(x, -c), c) }
                        v[i * g + j] = x
                    }
                }
            }
        case .minmax:
            let lo = fit.lo.map(Float.init), hi = fit.hi.map(Float.init)
            m.values.withUnsafeMutableBufferPointer { v in
                for i in 0..<n {
                    for j in 0..<g {
                        let range = hi[j] - lo[j]
                        v[i * g + j] = range > 0 ? (v[i * g + j] - lo[j]) / range : 0
                    }
                }
            }
        }
        return m
    }
}
