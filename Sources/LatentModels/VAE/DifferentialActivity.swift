import Foundation
import LatentCore

/// Differential activity of latents (gene programs) between groups of cells: a Bayes-factor
/// test on the posterior, as scVI's differential expression and expiMap's latent test define it.
///
/// The hypothesis for latent k, group A against reference B is H₁: z_a > z_b for a cell a drawn
/// from A and a cell b from B, each z from its posterior q(z | x) = N(μ, σ²). Its probability
/// p = P(z_a > z_b) is averaged over pairs of cells; the log Bayes factor is
/// log(p + ε) − log(1 − p + ε) (ε = 1e-12 keeps p = 0 or 1 finite, as both tools do).
///
/// Goals, in priority order:
/// 1. The definitions as published: `exact` (expiMap's default) uses the closed form
///    P(z_a > z_b) = Φ((μ_a − μ_b) / √(σ²_a + σ²_b)) for each pair; `sampled` (scVI's "vanilla"
///    mode) draws one z per cell of each pair and counts z_a > z_b.
/// 2. Deterministic for a seed and independent of which other groups are tested: each
///    comparison draws its pairs from its own RNG stream, keyed by the group's index.
/// 3. Exact where it is cheap: when |A|·|B| ≤ `pairs`, every pair is used (no sampling at all),
///    so small designs (bulk cohorts) give the exact average.
///
/// Directions (expiMap's `latent_directions`): a program latent whose decoder weights are mostly
/// negative rises when its genes fall. Multiplying it by the sign of its loadings' sum (`sum`) or
/// of the majority of its non-zero loadings (`counts`) makes "up" mean "the program's genes go
/// up". A latent with sign 0 (no non-zero loading: a program the group lasso switched off) gets
/// p = ½ and log BF = 0, as expiMap zeroes such terms.
public enum DifferentialActivity {
    public enum Mode: String, Sendable, CaseIterable, Codable {
        case exact, sampled
    }

    public enum Directions: String, Sendable, CaseIterable, Codable {
        /// `sum` when the latents are named gene programs, `none` otherwise.
        case auto, sum, counts, none
    }

    public struct Parameters: Sendable, Equatable, Codable {
        /// Pairs of cells per comparison (expiMap's n_sample); every pair when fewer exist.
        public var pairs = 5000
        public var mode: Mode = .exact
        /// |log Bayes factor| above which a change is called: 2.3 = log 10, "strong" evidence on
        /// Kass & Raftery's scale (odds of 10 : 1).
        public var threshold = 2.3
        public var seed: UInt64 = 0
        public init() {}
    }

    /// The posterior of every cell: means and variances (cells × K), the latents' names and signs.
    public struct Posterior: Sendable {
        public var mean: Matrix
        /// σ² per cell and latent; nil for point estimates (PCA/ICA/NMF scores), where p becomes
        /// the fraction of pairs with z_a > z_b (ties count ½), a Mann–Whitney probability.
        public var variance: Matrix?
        public var names: [String]
        public var signs: [Double]

        public init(mean: Matrix, variance: Matrix?, names: [String]? = nil, signs: [Double]? = nil) {
            self.mean = mean
            self.variance = variance
            self.names = names ?? (0..<mean.cols).map { "z\($0)" }
            self.signs = signs ?? [Double](repeating: 1, count: mean.cols)
        }
    }

    /// Cell groups: a label per cell (−1 = missing, left out of every comparison).
    public struct Grouping: Sendable {
        public var column: String
        public var categories: [String]
        public var labels: [Int]
        public init(column: String, categories: [String], labels: [Int]) {
            self.column = column
            self.categories = categories
            self.labels = labels
        }
    }

    public struct Row: Sendable, Equatable {
        public var latent: Int
        public var name: String
        public var group: String
        public var reference: String
        public var nGroup: Int, nReference: Int
        /// Mean of the posterior means (times the latent's sign) over each side's cells.
        public var meanGroup: Double, meanReference: Double
        public var sign: Double
        public var pairs: Int
        /// P(z_group > z_reference)
        public var probability: Double
        public var logBayesFactor: Double
        /// "up" (log BF > threshold), "down" (< −threshold) or "none".
        public var direction: String
    }

    public static let epsilon = 1e-12

    /// Signs that make a positive latent mean "its genes go up" (expiMap's `latent_directions`),
    /// from the loadings (genes × K).
    public static func directions(loadings: Matrix, method: Directions) -> [Double] {
        let k = loadings.cols
        switch method {
        case .none, .auto: return [Double](repeating: 1, count: k)
        case .sum:
            var s = [Double](repeating: 0, count: k)
            for g in 0..<loadings.rows { for j in 0..<k { s[j] += Double(loadings[g, j]) } }
            return s.map { $0 > 0 ? 1 : $0 < 0 ? -1 : 0 }
        case .counts:
            var pos = [Int](repeating: 0, count: k), neg = [Int](repeating: 0, count: k)
            for g in 0..<loadings.rows {
                for j in 0..<k {
                    let v = loadings[g, j]
                    if v > 0 { pos[j] += 1 } else if v < 0 { neg[j] += 1 }
                }
            }
            return (0..<k).map { pos[$0] > neg[$0] ? 1 : pos[$0] < neg[$0] ? -1 : 0 }
        }
    }

    /// The test for every requested group (all when `groups` is nil) against `reference` (a
    /// category, or nil for "all other cells"), every latent: rows ordered by group, then latent.
    public static func test(_ posterior: Posterior, grouping: Grouping, groups: [String]? = nil, reference: String? = nil,
                            parameters p: Parameters = .init()) throws -> [Row] {
        let n = posterior.mean.rows, k = posterior.mean.cols
        guard grouping.labels.count == n else {
            throw LatentError.internalFailure("grouping has \(grouping.labels.count) labels for \(n) cells")
        }
        guard p.pairs >= 1 else { throw LatentError.badInput(nil, nil, "--pairs must be at least 1") }
        let refIndex: Int? = try reference.map { r in
            guard let i = grouping.categories.firstIndex(of: r) else {
                throw LatentError.badInput(nil, "obs/\(grouping.column)", "no category '\(r)' (categories: \(grouping.categories.joined(separator: ", ")))",
                                           hint: "give --reference one of them, or rest")
            }
            return i
        }
        var members = [[Int]](repeating: [], count: grouping.categories.count)
        for (cell, l) in grouping.labels.enumerated() where l >= 0 && l < members.count { members[l].append(cell) }
        var requested: [String] = []
        for g in groups ?? grouping.categories where !requested.contains(g) { requested.append(g) }
        let wanted: [Int] = try requested.map { g in
            guard let i = grouping.categories.firstIndex(of: g) else {
                throw LatentError.badInput(nil, "obs/\(grouping.column)", "no category '\(g)' (categories: \(grouping.categories.joined(separator: ", ")))")
            }
            return i
        }
        var rows: [Row] = []
        for g in wanted where g != refIndex {
            let a = members[g]
            let b: [Int] = refIndex.map { members[$0] } ?? grouping.labels.indices.filter { grouping.labels[$0] >= 0 && grouping.labels[$0] != g }
            if a.isEmpty || b.isEmpty {
                // a requested group (or its reference) without cells is a mistake worth stopping on;
                // an empty category of a full categorical is merely skipped
                if groups == nil { continue }
                throw LatentError.badInput(nil, "obs/\(grouping.column)", "group '\(grouping.categories[g])' or its reference has no cells")
            }
            var rng = SeededRNG(seed: p.seed).stream(UInt64(g))
            let pairs = pairList(a, b, budget: p.pairs, rng: &rng)
            let refName = refIndex.map { grouping.categories[$0] } ?? "rest"
            for j in 0..<k {
                let s = posterior.signs[j]
                let mA = a.reduce(0.0) { $0 + Double(posterior.mean[$1, j]) } / Double(a.count) * s
                let mB = b.reduce(0.0) { $0 + Double(posterior.mean[$1, j]) } / Double(b.count) * s
                var prob = 0.5
                if s != 0 {
                    prob = probability(posterior, latent: j, sign: s, pairs: pairs, mode: p.mode, rng: &rng)
                }
                let bf = s == 0 ? 0 : logBayesFactor(prob)
                rows.append(Row(latent: j, name: posterior.names[j], group: grouping.categories[g], reference: refName,
                                nGroup: a.count, nReference: b.count, meanGroup: mA, meanReference: mB, sign: s,
                                pairs: pairs.count, probability: prob, logBayesFactor: bf,
                                direction: bf > p.threshold ? "up" : bf < -p.threshold ? "down" : "none"))
            }
        }
        return rows
    }

    public static func logBayesFactor(_ p: Double) -> Double { log(p + epsilon) - log(1 - p + epsilon) }

    /// Standard normal CDF through erfc, accurate in both tails (1 − Φ would cancel for x ≫ 0).
    public static func normalCDF(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// Every pair when there are at most `budget`, else `budget` pairs drawn with replacement.
    static func pairList(_ a: [Int], _ b: [Int], budget: Int, rng: inout SeededRNG) -> [(Int, Int)] {
        let (all, overflow) = a.count.multipliedReportingOverflow(by: b.count)
        if !overflow && all <= budget {
            var out: [(Int, Int)] = []
            out.reserveCapacity(a.count * b.count)
            for x in a { for y in b { out.append((x, y)) } }
            return out
        }
        return (0..<budget).map { _ in (a[rng.below(a.count)], b[rng.below(b.count)]) }
    }

    static func probability(_ post: Posterior, latent j: Int, sign s: Double, pairs: [(Int, Int)], mode: Mode, rng: inout SeededRNG) -> Double {
        var total = 0.0
        for (x, y) in pairs {
            let mx = Double(post.mean[x, j]) * s, my = Double(post.mean[y, j]) * s
            let vx = post.variance.map { Double($0[x, j]) } ?? 0, vy = post.variance.map { Double($0[y, j]) } ?? 0
            switch mode {
            case .exact:
                let sd = (vx + vy).squareRoot()
                total += sd > 0 ? normalCDF((mx - my) / sd) : (mx > my ? 1 : mx < my ? 0 : 0.5)
            case .sampled:
                let zx = mx + vx.squareRoot() * rng.normal(), zy = my + vy.squareRoot() * rng.normal()
                total += zx > zy ? 1 : zx < zy ? 0 : 0.5
            }
        }
        return total / Double(pairs.count)
    }
}
