import Foundation

extension Metrics {
    /// numpy's `digitize(x, histogram(x, bins)[1][:-1])`, as disentanglement_lib discretises:
    /// `bins` equal-width bins from min to max, labels 1...bins (the maximum falls in the last).
    /// The edges are computed as numpy's linspace computes them (start + i·step), so values on a
    /// boundary land in the same bin; a constant vector is widened by ±0.5 as numpy does.
    public static func histogramDiscretize(_ x: [Double], bins: Int) -> [Int] {
        guard var lo = x.min(), var hi = x.max() else { return [] }
        if lo == hi { lo -= 0.5; hi += 0.5 }
        let step = (hi - lo) / Double(bins)
        let edges = (0..<bins).map { Double($0) * step + lo }
        return x.map { v in
            // number of left edges ≤ v (binary search: edges are increasing)
            var a = 0, b = bins
            while a < b {
                let m = (a + b) / 2
                if edges[m] <= v { a = m + 1 } else { b = m }
            }
            return a
        }
    }

    /// sklearn's `mutual_info_score` of two label vectors, in nats: Σ p_xy log(p_xy / (p_x p_y)).
    public static func mutualInformation(_ x: [Int], _ y: [Int]) -> Double {
        let n = x.count
        guard n > 0 else { return 0 }
        let nx = (x.max() ?? 0) + 1, ny = (y.max() ?? 0) + 1
        var joint = [Int](repeating: 0, count: nx * ny)
        var px = [Int](repeating: 0, count: nx), py = [Int](repeating: 0, count: ny)
        for i in 0..<n {
            joint[x[i] * ny + y[i]] += 1
            px[x[i]] += 1
            py[y[i]] += 1
        }
        let total = Double(n)
        var mi = 0.0
        for a in 0..<nx where px[a] > 0 {
            for b in 0..<ny {
                let c = joint[a * ny + b]
                guard c > 0 else { continue }
                let pxy = Double(c) / total
                mi += pxy * (log(Double(c)) + log(total) - log(Double(px[a])) - log(Double(py[b])))
            }
        }
        return max(0, mi)
    }

    public struct MIG: Sendable {
        /// latents × factors, nats
        public var mutualInformation: [[Double]]
        public var entropy: [Double]
        /// (largest − second largest MI) / H(factor); NaN for a constant factor
        public var perFactor: [Double]
        /// mean over factors with non-zero entropy
        public var score: Double
    }

    /// The mutual information gap (Chen et al. 2018) as disentanglement_lib computes it: codes
    /// discretised into `bins` histogram bins, MI with each factor's labels, the gap between the
    /// two most informative latents normalised by the factor's entropy, averaged over factors.
    public static func mutualInformationGap(codes: [[Double]], factors: [Factor], bins: Int) -> MIG {
        let discrete = codes.map { histogramDiscretize($0, bins: bins) }
        let labels = factors.map { $0.labels(bins: bins) }
        var m = [[Double]](repeating: [Double](repeating: 0, count: factors.count), count: codes.count)
        for k in codes.indices {
            for j in factors.indices { m[k][j] = mutualInformation(labels[j], discrete[k]) }
        }
        let h = labels.map { mutualInformation($0, $0) }
        var per = [Double](repeating: .nan, count: factors.count)
        for j in factors.indices where h[j] > 0 && codes.count >= 2 {
            let col = m.map { $0[j] }.sorted(by: >)
            per[j] = (col[0] - col[1]) / h[j]
        }
        let valid = per.filter { !$0.isNaN }
        return MIG(mutualInformation: m, entropy: h, perFactor: per, score: valid.isEmpty ? .nan : mean(valid))
    }
}
