import Foundation
import LatentCore

extension Metrics {
    /// Lloyd's k-means from seeded greedy k-means++ starts (2 + ⌊ln k⌋ candidates per centre,
    /// the one lowering the inertia most is kept — scikit-learn's and scib-metrics' scheme), each
    /// until no label changes or 300 iterations; the start with the least inertia wins (ties: the
    /// first). scib-metrics runs one start (n_init = 1), our default too. An emptied cluster
    /// keeps its centre. Returns the cluster of every cell.
    public static func kMeans(_ x: Points, clusters k: Int, seed: UInt64, starts: Int = 1, maxIterations: Int = 300) -> [Int] {
        var best: [Int] = [], bestInertia = Double.infinity
        for s in 0..<max(1, starts) {
            let l = kMeansRun(x, clusters: k, rng: SeededRNG(seed: seed).stream(0x4b4d + UInt64(s)), maxIterations: maxIterations)
            let w = inertia(x, l)
            if w < bestInertia { bestInertia = w; best = l }
        }
        return best
    }

    /// Σ over cells of the squared distance to their cluster's mean.
    public static func inertia(_ x: Points, _ labels: [Int]) -> Double {
        let k = (labels.max() ?? -1) + 1
        var sums = [Double](repeating: 0, count: k * x.d), counts = [Double](repeating: 0, count: k)
        for i in 0..<x.n { counts[labels[i]] += 1; for t in 0..<x.d { sums[labels[i] * x.d + t] += x.values[i * x.d + t] } }
        var w = 0.0
        for i in 0..<x.n { for t in 0..<x.d { let v = x.values[i * x.d + t] - sums[labels[i] * x.d + t] / counts[labels[i]]; w += v * v } }
        return w
    }

    static func kMeansRun(_ x: Points, clusters k: Int, rng: SeededRNG, maxIterations: Int) -> [Int] {
        precondition(k >= 1 && k <= x.n)
        var rng = rng
        let n = x.n, d = x.d
        func dist2(_ i: Int, _ c: [Double], _ ci: Int) -> Double {
            var s = 0.0
            for t in 0..<d { let v = x.values[i * d + t] - c[ci * d + t]; s += v * v }
            return s
        }
        var centres = [Double](repeating: 0, count: k * d)
        let first = rng.below(n)
        for t in 0..<d { centres[t] = x.values[first * d + t] }
        var minD = (0..<n).map { dist2($0, centres, 0) }
        let trials = 2 + Int(Foundation.log(Double(k)))
        for c in 1..<max(k, 1) {
            let total = minD.reduce(0, +)
            var best = -1, bestPot = Double.infinity, bestD: [Double] = []
            for _ in 0..<trials {
                // sample a cell with probability ∝ its squared distance to the nearest centre
                var u = rng.uniform() * total, cand = n - 1
                if total > 0 {
                    for i in 0..<n { u -= minD[i]; if u < 0 { cand = i; break } }
                } else { cand = rng.below(n) }
                var dd = minD
                var pot = 0.0
                for i in 0..<n {
                    var s = 0.0
                    for t in 0..<d { let v = x.values[i * d + t] - x.values[cand * d + t]; s += v * v }
                    dd[i] = min(dd[i], s); pot += dd[i]
                }
                if pot < bestPot { bestPot = pot; best = cand; bestD = dd }
            }
            for t in 0..<d { centres[c * d + t] = x.values[best * d + t] }
            minD = bestD
        }
        var labels = [Int](repeating: -1, count: n)
        for _ in 0..<maxIterations {
            var changed = false
            for i in 0..<n {
                var b = 0, bd = Double.infinity
                for c in 0..<k { let v = dist2(i, centres, c); if v < bd { bd = v; b = c } }
                if labels[i] != b { labels[i] = b; changed = true }
            }
            if !changed { break }
            var sums = [Double](repeating: 0, count: k * d), counts = [Int](repeating: 0, count: k)
            for i in 0..<n {
                counts[labels[i]] += 1
                for t in 0..<d { sums[labels[i] * d + t] += x.values[i * d + t] }
            }
            for c in 0..<k where counts[c] > 0 { for t in 0..<d { centres[c * d + t] = sums[c * d + t] / Double(counts[c]) } }
        }
        return labels
    }

    static func contingency(_ a: [Int], _ b: [Int]) -> (table: [[Int]], rows: [Int], cols: [Int]) {
        let da = dense(a), db = dense(b)
        var t = [[Int]](repeating: [Int](repeating: 0, count: db.count), count: da.count)
        for (x, y) in zip(da.codes, db.codes) { t[x][y] += 1 }
        return (t, t.map { $0.reduce(0, +) }, (0..<db.count).map { j in t.reduce(0) { $0 + $1[j] } })
    }

    /// Normalised mutual information with the arithmetic mean of the entropies (scikit-learn's
    /// default `average_method`); 1 when both labelings are a single cluster.
    public static func normalizedMutualInformation(_ a: [Int], _ b: [Int]) -> Double {
        let (t, r, c) = contingency(a, b)
        let n = Double(a.count)
        if r.count == 1 && c.count == 1 { return 1 }
        func h(_ m: [Int]) -> Double { m.reduce(0.0) { $1 == 0 ? $0 : $0 - Double($1) / n * Foundation.log(Double($1) / n) } }
        var mi = 0.0
        for i in t.indices { for j in t[i].indices where t[i][j] > 0 {
            let p = Double(t[i][j]) / n
            mi += p * Foundation.log(p * n * n / (Double(r[i]) * Double(c[j])))
        } }
        let denom = (h(r) + h(c)) / 2
        return denom > 0 ? max(0, mi) / denom : 0
    }

    /// Adjusted Rand index (Hubert & Arabie): pair counts against their expectation.
    public static func adjustedRandIndex(_ a: [Int], _ b: [Int]) -> Double {
        let (t, r, c) = contingency(a, b)
        func pairs(_ x: Int) -> Double { Double(x) * Double(x - 1) / 2 }
        let index = t.joined().reduce(0.0) { $0 + pairs($1) }
        let sr = r.reduce(0.0) { $0 + pairs($1) }, sc = c.reduce(0.0) { $0 + pairs($1) }
        let expected = sr * sc / pairs(a.count)
        let maxIndex = (sr + sc) / 2
        return maxIndex == expected ? 1 : (index - expected) / (maxIndex - expected)
    }

    /// scib-metrics' clustering scores: k-means with k = the number of labels, then NMI and ARI
    /// of the clusters against the labels. (scib-metrics' Benchmarker uses this k-means variant by
    /// default; its Leiden variant, scib's original, is off by default.)
    public static func kMeansNMIARI(_ x: Points, labels: [Int], seed: UInt64, starts: Int = 1) -> (nmi: Double, ari: Double) {
        let k = dense(labels).count
        let clusters = kMeans(x, clusters: k, seed: seed, starts: starts)
        return (normalizedMutualInformation(labels, clusters), adjustedRandIndex(labels, clusters))
    }

    /// Principal-component regression of a categorical covariate (Büttner et al. 2019) over all
    /// components: Σ_k R²_k·Var_k / Σ_k Var_k, where R²_k regresses PC k on the covariate's
    /// indicators. For a categorical covariate R²_k·Var_k is PC k's between-group sum of squares
    /// over n − 1, and the sum of those over all PCs is the between-group scatter's trace, which
    /// rotation does not change: so the score is trace(between)/trace(total) of the data
    /// themselves, with no eigendecomposition (scib-metrics uses all components by default).
    public static func principalComponentRegression(_ x: Points, covariate: [Int]) -> Double {
        let g = dense(covariate)
        var mean = [Double](repeating: 0, count: x.d)
        var gm = [Double](repeating: 0, count: g.count * x.d), cnt = [Double](repeating: 0, count: g.count)
        for i in 0..<x.n {
            cnt[g.codes[i]] += 1
            for t in 0..<x.d { mean[t] += x.values[i * x.d + t]; gm[g.codes[i] * x.d + t] += x.values[i * x.d + t] }
        }
        for t in 0..<x.d { mean[t] /= Double(x.n) }
        var total = 0.0, between = 0.0
        for i in 0..<x.n { for t in 0..<x.d { let v = x.values[i * x.d + t] - mean[t]; total += v * v } }
        for b in 0..<g.count where cnt[b] > 0 {
            for t in 0..<x.d { let v = gm[b * x.d + t] / cnt[b] - mean[t]; between += cnt[b] * v * v }
        }
        return total > 0 ? between / total : .nan
    }

    /// scib's PCR comparison: how much of the batch's share of variance integration removed,
    /// (pre − post)/pre, clipped at 0 when it grew.
    public static func pcrComparison(pre: Points, post: Points, batch: [Int]) -> Double {
        let a = principalComponentRegression(pre, covariate: batch)
        let b = principalComponentRegression(post, covariate: batch)
        guard a > 0 else { return .nan }
        return max(0, (a - b) / a)
    }
}
