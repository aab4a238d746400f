import LatentCore

/// Per-gene scaling for the models. Both produce dense output (centring fills in the zeros),
/// so the stage applies them after HVG selection has made the matrix small.
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

    public static func apply(_ X: MatrixData, method: Method, maxValue: Double?) -> MatrixData {
        if method == .none { return X }
        var m: Matrix
        switch X {
        case .dense(let d): m = d
        case .sparse(let s): m = s.densified()
        }
        let g = m.cols, n = m.rows
        switch method {
        case .none: break
        case .zscore:
            let stats = GeneStats(.dense(m), method: .scanpy)
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
            var lo = [Float](repeating: .infinity, count: g), hi = [Float](repeating: -.infinity, count: g)
            for i in 0..<n { for j in 0..<g { let x = m.values[i * g + j]; lo[j] = min(lo[j], x); hi[j] = max(hi[j], x) } }
            m.values.withUnsafeMutableBufferPointer { v in
                for i in 0..<n {
                    for j in 0..<g {
                        let range = hi[j] - lo[j]
                        v[i * g + j] = range > 0 ? (v[i * g + j] - lo[j]) / range : 0
                    }
                }
            }
        }
        return .dense(m)
    }
}
