import Foundation
import LatentCore

extension Metrics {
    /// How a cell's distance to other groups is summarised in the silhouette: the nearest other
    /// group (Rousseeuw's silhouette, scikit-learn's), or the mean over all cells of other groups
    /// (BRAS, Rautenstrauch & Ohler 2025, as scib-metrics' `between_cluster_distances="mean_other"`).
    public enum BetweenGroups: Sendable { case nearest, meanOther }
    public enum Distance: Sendable { case euclidean, cosine }

    /// Silhouette width of every cell for groups `labels` (0..<C): b = distance to the other
    /// groups (see `BetweenGroups`), a = mean distance to the cell's own group without itself,
    /// s = (b − a)/max(a, b); a cell alone in its group (a = 0/0) scores 0, as in scikit-learn
    /// and scib-metrics (which replace the NaN by 0).
    public static func silhouetteSamples(_ x: Points, labels: [Int], distance: Distance = .euclidean,
                                         between: BetweenGroups = .nearest) -> [Double] {
        let c = (labels.max() ?? -1) + 1
        var freq = [Int](repeating: 0, count: c)
        for l in labels { freq[l] += 1 }
        var pts = x
        if distance == .cosine {
            // cosine distance = Euclidean distance of unit vectors squared / 2
            for i in 0..<x.n {
                var s = 0.0
                for k in 0..<x.d { s += x.values[i * x.d + k] * x.values[i * x.d + k] }
                let inv = s > 0 ? 1 / s.squareRoot() : 0
                for k in 0..<x.d { pts.values[i * x.d + k] *= inv }
            }
        }
        var out = [Double](repeating: 0, count: x.n)
        var sums = [Double](repeating: 0, count: c)
        forEachDistanceBlock(pts) { start, d, rows in
            for r in 0..<rows {
                let i = start + r
                for g in 0..<c { sums[g] = 0 }
                for j in 0..<x.n {
                    var v = d[r * x.n + j]
                    if distance == .cosine { v = min(2, max(0, v * v / 2)) }
                    sums[labels[j]] += v
                }
                let own = labels[i]
                let a = sums[own] / Double(freq[own] - 1)
                var b: Double
                switch between {
                case .nearest:
                    b = .infinity
                    for g in 0..<c where g != own && freq[g] > 0 { b = min(b, sums[g] / Double(freq[g])) }
                case .meanOther:
                    var t = 0.0
                    for g in 0..<c where g != own { t += sums[g] }
                    b = t / Double(x.n - freq[own])
                }
                let s = (b - a) / max(a, b)
                out[i] = s.isFinite ? s : 0
            }
        }
        return out
    }

    /// Labels as 0..<C in order of first sorted appearance, the missing (-1) as a label of its own.
    static func dense(_ labels: [Int]) -> (codes: [Int], count: Int) {
        let uniq = Array(Set(labels)).sorted()
        let index = Dictionary(uniqueKeysWithValues: uniq.enumerated().map { ($1, $0) })
        return (labels.map { index[$0]! }, uniq.count)
    }

    /// scib's label ASW: the mean silhouette of the cell-type labels, rescaled to (s + 1)/2.
    public static func silhouetteLabel(_ x: Points, labels: [Int]) -> Double {
        silhouetteLabel(samples: silhouetteSamples(x, labels: dense(labels).codes))
    }

    static func silhouetteLabel(samples: [Double]) -> Double { (mean(samples) + 1) / 2 }

    /// scib's batch ASW: within each label with more than one batch (and fewer batches than
    /// cells), the silhouette of the batches, taken as 1 − |s| per cell, averaged per label and
    /// then over labels. With `bras` the BRAS variant (cosine distance, mean over other batches):
    /// what scib-metrics' Benchmarker now uses for its batch-correction score.
    public static func silhouetteBatch(_ x: Points, labels: [Int], batch: [Int], bras: Bool = false) -> Double {
        var perLabel: [Double] = []
        for l in Array(Set(labels)).sorted() {
            let rows = labels.indices.filter { labels[$0] == l }
            let b = dense(rows.map { batch[$0] })
            if b.count == 1 || b.count == rows.count { continue }
            let s = silhouetteSamples(x.subset(rows), labels: b.codes, distance: bras ? .cosine : .euclidean,
                                      between: bras ? .meanOther : .nearest)
            perLabel.append(mean(s.map { 1 - abs($0) }))
        }
        return perLabel.isEmpty ? .nan : mean(perLabel)
    }

    /// scib-metrics' isolated-label score: the labels present in the fewest batches, each scored
    /// by the mean rescaled silhouette (of all labels) of its cells; the mean over those labels.
    public static func isolatedLabels(_ x: Points, labels: [Int], batch: [Int]) -> Double {
        isolatedLabels(samples: silhouetteSamples(x, labels: dense(labels).codes), labels: labels, batch: batch)
    }

    /// The same from the label silhouettes already computed (the label ASW needs them too).
    static func isolatedLabels(samples: [Double], labels: [Int], batch: [Int]) -> Double {
        var batchesOf: [Int: Set<Int>] = [:]
        for (l, b) in zip(labels, batch) { batchesOf[l, default: []].insert(b) }
        let least = batchesOf.values.map(\.count).min() ?? 0
        let isolated = batchesOf.filter { $0.value.count <= least }.keys.sorted()
        let s = samples.map { ($0 + 1) / 2 }
        let perLabel = isolated.map { l in mean(labels.indices.filter { labels[$0] == l }.map { s[$0] }) }
        return perLabel.isEmpty ? .nan : mean(perLabel)
    }
}
