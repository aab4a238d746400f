import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension GSEA {
    /// Multilevel Monte-Carlo p-values (Korotkevich et al., fgsea's `fgseaMultilevel`) for sets
    /// whose permutation p-value is at its floor (no null score as extreme): only there does the
    /// permutation estimate say nothing beyond "below 1/permutations".
    ///
    /// P(ES_rand ≥ ES) is a product of conditional probabilities P(ES_rand > t_{i+1} | ES_rand > t_i),
    /// each ≈ ½, estimated on a sample of random sets kept uniform on {ES > t_i} by Metropolis moves
    /// (swap one member for a non-member, accept if the score stays above the threshold). Dividing
    /// by P(ES_rand ≥ 0) from the permutation null gives the same conditioning as the simple p-value.
    /// Negative scores are handled by mirroring: the ranked list reversed turns them positive.
    static func refineSmallPValues(_ ranked: RankedList, sets: [GeneSetIndex.Set_], results: inout [SetResult],
                                   permutations: Int, rng: inout SeededRNG) {
        let reversed = ReversedWeights(ranked)
        for (i, set) in sets.enumerated() {
            let r = results[i]
            guard r.pval.isFinite, r.nMoreExtreme == 0, r.es != 0 else { continue }
            let k = set.members.count
            let w = r.es > 0 ? ranked.weight : reversed.weight
            let target = abs(r.es)
            let (logP, _) = multilevelLogP(target: target, k: k, weight: w, n: ranked.n, rng: &rng)
            // Condition on the sign as the permutation p-value does: P(ES ≥ 0) ≈ the share of
            // non-negative scores among random sets, estimated on the spot.
            let pSign = signProbability(k: k, weight: w, n: ranked.n, samples: 1001, rng: &rng)
            let p = min(1, exp(logP) / max(pSign, 1e-12))
            if p < r.pval {
                results[i].pval = max(p, 1e-300)
                results[i].method = "multilevel"
            }
        }
    }

    struct ReversedWeights {
        let weight: [Double]
        init(_ r: RankedList) { weight = r.weight.reversed() }
    }

    /// Share of random size-k sets with ES ≥ 0 under these weights.
    static func signProbability(k: Int, weight: [Double], n: Int, samples: Int, rng: inout SeededRNG) -> Double {
        var nonNeg = 0
        var pos = [Int32](repeating: 0, count: k)
        weight.withUnsafeBufferPointer { w in
            for _ in 0..<samples {
                randomSortedSet(k: k, n: n, into: &pos, rng: &rng)
                if pos.withUnsafeBufferPointer({ score($0, w, n: n).es }) >= 0 { nonNeg += 1 }
            }
        }
        return Double(nonNeg + 1) / Double(samples + 1)
    }

    static func randomSortedSet(k: Int, n: Int, into pos: inout [Int32], rng: inout SeededRNG) {
        var chosen = Set<Int32>()
        var i = 0
        while i < k {
            let v = Int32(rng.below(n))
            if chosen.insert(v).inserted { pos[i] = v; i += 1 }
        }
        pos.sort()
    }

    /// log P(ES_rand ≥ target) for random sets of size k, by adaptive multilevel splitting.
    /// Returns the estimate and the number of levels used. Stops below p = 1e-300.
    static func multilevelLogP(target: Double, k: Int, weight: [Double], n: Int, sampleSize: Int = 101,
                               rng: inout SeededRNG) -> (Double, Int) {
        var sample = [[Int32]](repeating: [Int32](repeating: 0, count: k), count: sampleSize)
        var es = [Double](repeating: 0, count: sampleSize)
        weight.withUnsafeBufferPointer { w in
            for s in 0..<sampleSize {
                randomSortedSet(k: k, n: n, into: &sample[s], rng: &rng)
                es[s] = sample[s].withUnsafeBufferPointer { score($0, w, n: n).es }
            }
        }
        var logP = 0.0
        var levels = 0
        while levels < 1000 {
            let sortedES = es.sorted()
            let threshold = sortedES[sampleSize / 2]
            if threshold >= target || logP < log(1e-300) { break }
            let above = (0..<sampleSize).filter { es[$0] > threshold }
            if above.isEmpty { break }
            logP += log(Double(above.count) / Double(sampleSize))
            levels += 1
            // Refill the lower part with copies of survivors, then move every set within {ES > t}.
            for s in 0..<sampleSize where es[s] <= threshold {
                let src = above[rng.below(above.count)]
                sample[s] = sample[src]
                es[s] = es[src]
            }
            weight.withUnsafeBufferPointer { w in
                for s in 0..<sampleSize {
                    es[s] = metropolis(&sample[s], current: es[s], threshold: threshold, steps: max(20, k / 4), weight: w, n: n, rng: &rng)
                }
            }
        }
        let hits = es.filter { $0 >= target }.count
        logP += log(Double(hits + 1) / Double(sampleSize + 1))
        return (logP, levels)
    }

    /// `steps` proposals, each replacing a random member by a random non-member; a move is kept
    /// only when the score stays above `threshold`. Returns the final score.
    static func metropolis(_ set: inout [Int32], current: Double, threshold: Double, steps: Int,
                           weight: UnsafeBufferPointer<Double>, n: Int, rng: inout SeededRNG) -> Double {
        var es = current
        let k = set.count
        var candidate = set
        for _ in 0..<steps {
            let out = rng.below(k)
            var newPos: Int32
            repeat { newPos = Int32(rng.below(n)) } while binarySearch(set, newPos)
            candidate = set
            candidate.remove(at: out)
            let at = insertionIndex(candidate, newPos)
            candidate.insert(newPos, at: at)
            let newES = candidate.withUnsafeBufferPointer { score($0, weight, n: n).es }
            if newES > threshold {
                set = candidate
                es = newES
            }
        }
        return es
    }

    static func binarySearch(_ a: [Int32], _ v: Int32) -> Bool {
        let i = insertionIndex(a, v)
        return i < a.count && a[i] == v
    }

    static func insertionIndex(_ a: [Int32], _ v: Int32) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let m = (lo + hi) / 2; if a[m] < v { lo = m + 1 } else { hi = m } }
        return lo
    }
}
