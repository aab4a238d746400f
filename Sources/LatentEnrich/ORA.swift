#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Over-representation of a latent's high-weight genes in each set: the hypergeometric upper tail
/// P(X ≥ overlap) with the model's genes as background (what a one-sided Fisher test gives).
public enum ORA {
    public enum Selection: Sendable, Equatable {
        /// The N genes with the largest (positive side) or smallest (negative side) loadings.
        case top(Int)
        /// Tybalt's rule: loadings beyond `sd` standard deviations from the mean on each side.
        case standardDeviations(Double)
    }

    /// Selected gene indices for the positive and the negative side.
    public static func select(_ scores: [Float], _ rule: Selection) -> (pos: [Int], neg: [Int]) {
        switch rule {
        case .top(let n):
            let order = (0..<scores.count).sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
            let pos = Array(order.prefix(n)).filter { scores[$0] > 0 }
            let neg = Array(order.reversed().prefix(n)).filter { scores[$0] < 0 }
            return (pos.sorted(), neg.sorted())
        case .standardDeviations(let k):
            let n = Double(scores.count)
            let mean = scores.reduce(0.0) { $0 + Double($1) } / n
            let sd = (scores.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / max(n - 1, 1)).squareRoot()
            let pos = scores.indices.filter { Double(scores[$0]) > mean + k * sd }
            let neg = scores.indices.filter { Double(scores[$0]) < mean - k * sd }
            return (pos, neg)
        }
    }

    public struct Result: Sendable {
        public var overlap: Int
        public var pval: Double
        public var oddsRatio: Double
        public var genes: [Int32]
    }

    /// Tests `selected` (sorted gene indices) against one set among `universe` genes.
    public static func test(selected: [Int], selectedMask: [Bool], set: [Int32], universe: Int) -> Result {
        var overlapGenes: [Int32] = []
        for g in set where selectedMask[Int(g)] { overlapGenes.append(g) }
        let a = overlapGenes.count, n = selected.count, K = set.count, N = universe
        let b = n - a, c = K - a, d = N - n - c
        let odds = (b == 0 || c == 0) ? (a == 0 ? 0 : Double.infinity) : Double(a) * Double(d) / (Double(b) * Double(c))
        return Result(overlap: a, pval: hypergeometricUpperTail(a, N: N, K: K, n: n), oddsRatio: odds, genes: overlapGenes)
    }

    /// P(X ≥ x) for X ~ Hypergeometric(N population, K successes, n draws), summed in log space
    /// from the mode outwards so tiny tails keep their digits.
    public static func hypergeometricUpperTail(_ x: Int, N: Int, K: Int, n: Int) -> Double {
        let hi = min(K, n)
        let lo = max(0, n - (N - K))
        if x <= lo { return 1 }
        if x > hi { return 0 }
        func logPMF(_ k: Int) -> Double {
            logChoose(K, k) + logChoose(N - K, n - k) - logChoose(N, n)
        }
        var terms: [Double] = []
        for k in x...hi { terms.append(logPMF(k)) }
        let m = terms.max()!
        let s = terms.reduce(0) { $0 + exp($1 - m) }
        return min(1, exp(m + log(s)))
    }

    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }
}
