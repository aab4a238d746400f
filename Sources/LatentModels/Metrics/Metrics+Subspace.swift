import Foundation
import LatentCore

extension Metrics {
    /// Latent coordinates reserved for one obs covariate: `start ..< start + count`.
    public struct Subspace: Sendable, Equatable {
        public var name: String
        public var start: Int
        public var count: Int
        public init(name: String, start: Int, count: Int) {
            self.name = name
            self.start = start
            self.count = count
        }
        public var range: Range<Int> { start..<(start + count) }
    }

    /// Every cell's fold (0..<folds): a seeded permutation dealt round-robin, so fold sizes differ by ≤ 1.
    public static func folds(_ n: Int, folds: Int, seed: UInt64) -> [Int] {
        var rng = SeededRNG(seed: seed).stream(0xf01d)
        var out = [Int](repeating: 0, count: n)
        for (pos, i) in rng.permutation(n).enumerated() { out[i] = pos % folds }
        return out
    }

    /// Cross-validated k-nearest-neighbour predictions: each cell is predicted by the training
    /// cells of the other folds (exact Euclidean neighbours, ties in distance to the lower index).
    /// Categorical `labels` (0..<C): the majority label, a tie to the lowest label (as
    /// scikit-learn's KNeighborsClassifier); continuous `values`: the neighbours' mean.
    static func crossValidatedNeighbours(_ x: Points, fold: [Int], k: Int, _ predict: ([Int]) -> Void) {
        let nf = (fold.max() ?? 0) + 1
        for f in 0..<nf {
            let test = fold.indices.filter { fold[$0] == f }, train = fold.indices.filter { fold[$0] != f }
            guard !test.isEmpty, !train.isEmpty else { continue }
            let kk = min(k, train.count)
            let trainPts = x.subset(train)
            var candD = [Double](repeating: 0, count: kk), candI = [Int](repeating: 0, count: kk)
            forEachDistanceBlock(x.subset(test), from: trainPts) { start, d, rows in
                for r in 0..<rows {
                    var filled = 0
                    for j in 0..<train.count {
                        let v = d[r * train.count + j]
                        if filled == kk { if v >= candD[kk - 1] { continue }; filled -= 1 }
                        var p = filled
                        while p > 0 && candD[p - 1] > v { candD[p] = candD[p - 1]; candI[p] = candI[p - 1]; p -= 1 }
                        candD[p] = v; candI[p] = j
                        filled += 1
                    }
                    predict([test[start + r]] + candI.map { train[$0] })
                }
            }
        }
    }

    /// Balanced accuracy (mean recall over the labels present) of a cross-validated k-NN
    /// classifier predicting `labels` from the coordinates `x`.
    public static func knnBalancedAccuracy(_ x: Points, labels: [Int], fold: [Int], k: Int = 15) -> Double {
        let l = dense(labels)
        var predicted = [Int](repeating: 0, count: x.n)
        var votes = [Int](repeating: 0, count: l.count)
        crossValidatedNeighbours(x, fold: fold, k: k) { cellAndNeighbours in
            for c in 0..<l.count { votes[c] = 0 }
            for j in cellAndNeighbours.dropFirst() { votes[l.codes[j]] += 1 }
            predicted[cellAndNeighbours[0]] = votes.indices.max { votes[$0] < votes[$1] || (votes[$0] == votes[$1] && $0 > $1) }!
        }
        var hit = [Int](repeating: 0, count: l.count), total = [Int](repeating: 0, count: l.count)
        for i in 0..<x.n { total[l.codes[i]] += 1; if predicted[i] == l.codes[i] { hit[l.codes[i]] += 1 } }
        let recalls = (0..<l.count).filter { total[$0] > 0 }.map { Double(hit[$0]) / Double(total[$0]) }
        return mean(recalls)
    }

    /// R² of a cross-validated k-NN regression (neighbours' mean) of continuous `values`.
    public static func knnR2(_ x: Points, values: [Double], fold: [Int], k: Int = 15) -> Double {
        var predicted = [Double](repeating: 0, count: x.n)
        crossValidatedNeighbours(x, fold: fold, k: k) { c in
            predicted[c[0]] = c.dropFirst().reduce(0.0) { $0 + values[$1] } / Double(c.count - 1)
        }
        let m = mean(values)
        var ssr = 0.0, sst = 0.0
        for i in 0..<x.n { ssr += (values[i] - predicted[i]) * (values[i] - predicted[i]); sst += (values[i] - m) * (values[i] - m) }
        return sst > 0 ? 1 - ssr / sst : .nan
    }

    /// Subspace predictability: how well each covariate is predicted from its own coordinates and
    /// from all the others (cross-validated k-NN, `folds` seeded folds). A supervised subspace
    /// should predict its covariate well and the rest should not: balanced accuracy for
    /// categorical covariates (next to the majority label's share, what a constant guess scores
    /// in plain accuracy), R² for continuous ones.
    public static func subspacePredictability(_ x: Points, subspaces: [(Subspace, Factor)], folds nf: Int = 5,
                                              k: Int = 15, seed: UInt64) throws -> [Row] {
        var rows: [Row] = []
        let fold = folds(x.n, folds: nf, seed: seed)
        for (s, f) in subspaces {
            guard s.count >= 1, s.start >= 0, s.start + s.count <= x.d else {
                throw LatentError.badInput(nil, f.name, "subspace \(s.start)..<\(s.start + s.count) outside the \(x.d) latents")
            }
            let own = x.columns(Array(s.range)), rest = x.columns((0..<x.d).filter { !s.range.contains($0) })
            let label = "\(s.start)-\(s.start + s.count - 1)"
            switch f.values {
            case .categorical:
                let l = f.labels(bins: 2)
                var counts = [Int: Int]()
                for v in l { counts[v, default: 0] += 1 }
                rows.append(Row("subspace_balanced_accuracy", latent: label, factor: f.name, knnBalancedAccuracy(own, labels: l, fold: fold, k: k)))
                rows.append(Row("subspace_balanced_accuracy", latent: "rest", factor: f.name,
                                rest.d > 0 ? knnBalancedAccuracy(rest, labels: l, fold: fold, k: k) : .nan))
                rows.append(Row("majority_share", factor: f.name, Double(counts.values.max() ?? 0) / Double(x.n)))
                rows.append(Row("chance_balanced_accuracy", factor: f.name, 1 / Double(counts.count)))
            case .continuous(let v):
                rows.append(Row("subspace_r2", latent: label, factor: f.name, knnR2(own, values: v, fold: fold, k: k)))
                rows.append(Row("subspace_r2", latent: "rest", factor: f.name, rest.d > 0 ? knnR2(rest, values: v, fold: fold, k: k) : .nan))
            }
        }
        return rows
    }
}
