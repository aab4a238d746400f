import LatentCore

/// Preranked gene-set enrichment analysis (Subramanian et al. 2005), weighted running sum with
/// weight p = 1, and a gene-permutation null shared by all sets of the same size (fgsea's idea):
/// one stream of random gene draws per latent serves every size at once.
///
/// Goals in order: the same enrichment scores as GSEApy/fgsea to rounding; p-values whose
/// resolution is only limited by the number of permutations (smaller ones come from the
/// multilevel estimate); then speed — O(k) per score from sorted hit positions, never O(N).
public enum GSEA {
    /// A latent's genes in decreasing order of score, with |score|^p as weights.
    public struct RankedList: Sendable {
        public let n: Int
        /// gene index at each rank
        public let order: [Int32]
        /// rank of each gene
        public let position: [Int32]
        /// |score|^p at each rank
        public let weight: [Double]
        public let score: [Float]

        /// Ties in score are broken by gene index, so the ranking (and every statistic) is deterministic.
        public init(scores: [Float], p: Double = 1) {
            n = scores.count
            let ord = (0..<scores.count).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            order = ord.map { Int32($0) }
            var pos = [Int32](repeating: 0, count: scores.count)
            for (r, g) in ord.enumerated() { pos[g] = Int32(r) }
            position = pos
            weight = ord.map { p == 1 ? Double(abs(scores[$0])) : pow(Double(abs(scores[$0])), p) }
            score = scores
        }
    }

    /// Enrichment score of the genes at sorted ranks `pos`: the running sum's largest deviation from
    /// zero, with its rank. The sum steps up by w/ΣW at hits and down by 1/(N − k) at misses; its
    /// maximum follows a hit and its minimum precedes one, so only hits need visiting.
    @inline(__always)
    static func score(_ pos: UnsafeBufferPointer<Int32>, _ weight: UnsafeBufferPointer<Double>, n: Int) -> (es: Double, peak: Int) {
        let k = pos.count
        var total = 0.0
        for i in 0..<k { total += weight[Int(pos[i])] }
        let missStep = 1.0 / Double(n - k)
        if total == 0 || k == n { return (0, -1) }
        let inv = 1.0 / total
        var cum = 0.0
        var maxP = 0.0, maxAt = -1, minN = 0.0, minAt = -1
        for i in 0..<k {
            let misses = Double(Int(pos[i]) - i)
            let before = cum * inv - misses * missStep
            if before < minN { minN = before; minAt = i }
            cum += weight[Int(pos[i])]
            let after = cum * inv - misses * missStep
            if after > maxP { maxP = after; maxAt = i }
        }
        return maxP > -minN ? (maxP, maxAt) : (minN, minAt)
    }

    public struct SetResult: Sendable {
        public var es: Double
        public var nes: Double
        public var pval: Double
        /// log10 of the p-value's standard error when it came from the multilevel estimate.
        public var method: String
        public var leadingEdge: [Int32]
        /// Null scores at least as extreme as this one; few means the p-value is poorly resolved.
        public var nMoreExtreme: Int
    }

    /// Null enrichment scores for each distinct set size: `nulls[size]` is sorted ascending.
    static func nullScores(_ ranked: RankedList, sizes: [Int], permutations: Int, rng: inout SeededRNG) -> [Int: [Double]] {
        let sizes = Array(Set(sizes)).sorted()
        guard let maxK = sizes.last, maxK > 0 else { return [:] }
        let n = ranked.n
        var out = [[Double]](repeating: [], count: sizes.count)
        for s in out.indices { out[s].reserveCapacity(permutations) }
        var pool = (0..<n).map { Int32($0) }
        var sortedBuf = [Int32](repeating: 0, count: maxK)
        var mergedBuf = [Int32](repeating: 0, count: maxK)
        ranked.weight.withUnsafeBufferPointer { w in
            pool.withUnsafeMutableBufferPointer { pool in
                sortedBuf.withUnsafeMutableBufferPointer { sb in
                    mergedBuf.withUnsafeMutableBufferPointer { mb in
                        var sorted = sb, merged = mb
                        for _ in 0..<permutations {
                            // Partial Fisher–Yates: pool[0..<maxK] becomes a uniform random sample drawn
                            // in order, so every prefix is a uniform random set of its size.
                            for i in 0..<maxK {
                                let j = i + rng.below(n - i)
                                pool.swapAt(i, j)
                            }
                            var have = 0
                            for (s, k) in sizes.enumerated() {
                                // Sort the newly drawn positions in place and merge them into the sorted prefix.
                                var fresh = UnsafeMutableBufferPointer(rebasing: pool[have..<k])
                                fresh.sort()
                                var a = 0, b = have, c = 0
                                while a < have && b < k {
                                    if sorted[a] < pool[b] { merged[c] = sorted[a]; a += 1 } else { merged[c] = pool[b]; b += 1 }
                                    c += 1
                                }
                                while a < have { merged[c] = sorted[a]; a += 1; c += 1 }
                                while b < k { merged[c] = pool[b]; b += 1; c += 1 }
                                swap(&sorted, &merged)
                                have = k
                                out[s].append(score(UnsafeBufferPointer(rebasing: sorted[0..<k]), w, n: n).es)
                            }
                        }
                    }
                }
            }
        }
        var dict: [Int: [Double]] = [:]
        for (s, k) in sizes.enumerated() { dict[k] = out[s].sorted() }
        return dict
    }

    /// Runs every set against one ranked list.
    public static func run(_ ranked: RankedList, sets: [GeneSetIndex.Set_], permutations: Int,
                           multilevel: Bool = true, rng: inout SeededRNG) -> [SetResult] {
        let nulls = nullScores(ranked, sizes: sets.map { $0.members.count }, permutations: permutations, rng: &rng)
        var results: [SetResult] = []
        results.reserveCapacity(sets.count)
        var positions = [Int32]()
        for set in sets {
            positions = set.members.map { ranked.position[Int($0)] }.sorted()
            let (es, peak) = ranked.weight.withUnsafeBufferPointer { w in
                positions.withUnsafeBufferPointer { score($0, w, n: ranked.n) }
            }
            let null = nulls[set.members.count] ?? []
            let (nes, pval, extreme) = normalise(es, null)
            var edge: [Int32] = []
            if peak >= 0 {
                let hits = es >= 0 ? Array(positions[0...peak]) : Array(positions[peak...])
                edge = hits.map { ranked.order[Int($0)] }
            }
            results.append(SetResult(es: es, nes: nes, pval: pval, method: "permutation", leadingEdge: edge, nMoreExtreme: extreme))
        }
        if multilevel {
            refineSmallPValues(ranked, sets: sets, results: &results, permutations: permutations, rng: &rng)
        }
        return results
    }

    /// NES = ES / mean of the same-signed null scores; p = (#null at least as extreme + 1)/(#same-signed null + 1).
    static func normalise(_ es: Double, _ null: [Double]) -> (nes: Double, p: Double, extreme: Int) {
        // null is sorted ascending: the first index with value ≥ 0 splits the signs.
        let firstNonNeg = lowerBound(null, 0)
        if es >= 0 {
            let pos = null[firstNonNeg...]
            guard !pos.isEmpty else { return (.nan, .nan, 0) }
            let mean = pos.reduce(0, +) / Double(pos.count)
            let atLeast = null.count - lowerBound(null, es)
            return (mean > 0 ? es / mean : .nan, Double(atLeast + 1) / Double(pos.count + 1), atLeast)
        } else {
            let neg = null[..<firstNonNeg]
            guard !neg.isEmpty else { return (.nan, .nan, 0) }
            let mean = neg.reduce(0, +) / Double(neg.count)
            let atMost = upperBound(null, es)
            return (es / abs(mean), Double(atMost + 1) / Double(neg.count + 1), atMost)
        }
    }

    /// First index with a[i] ≥ v.
    static func lowerBound(_ a: [Double], _ v: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] < v { lo = m + 1 } else { hi = m } }
        return lo
    }

    /// First index with a[i] > v.
    static func upperBound(_ a: [Double], _ v: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] <= v { lo = m + 1 } else { hi = m } }
        return lo
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
