import Foundation
import LatentCore

/// Stability of latents across seeds (BioBombe's lesson: a latent found by one seed only is an
/// accident of that seed). Runs of the same model and settings that differ only in their seed are
/// compared pairwise by the similarity of their gene loadings.
///
/// - Similarity: |Pearson r| (default) or |cosine| between two latents' loadings over the genes
///   both runs share; absolute, because a latent and its negation are the same latent (the sign
///   of a VAE latent, an ICA component or a PC is arbitrary).
/// - Matching: for every pair of runs, the one-to-one assignment of latents that maximises the
///   summed |similarity| (Hungarian algorithm), so that two latents of one run never claim the
///   same partner; with unequal numbers of latents, the extra ones of the larger run stay
///   unmatched (similarity 0).
/// - Reproducibility of a latent: the median, over the other seeds, of its matched |similarity|
///   (with two seeds, the one value). `min_match` is the worst seed's.
/// - Consensus id: the latent of the group's first run (lowest seed) it is matched to, so that
///   rows of different seeds describing the same latent share an id.
/// - Recurrence of its enrichment (when enrichment tables are given): its top significant gene
///   set (lowest FDR, then largest |NES|, FDR < `fdr`) is looked up in the matched latent of every
///   other seed that has a table: the fraction where that latent's top set is the same set, in
///   the same direction once the sign of the match is accounted for.
public enum Consensus {
    public enum Similarity: String, Sendable, CaseIterable, Codable {
        case pearson, cosine
    }

    public struct Parameters: Sendable, Equatable, Codable {
        public var similarity: Similarity = .pearson
        /// FDR below which a gene set counts as a latent's top set.
        public var fdr = 0.05
        /// Reproducibility at or above which a latent is called stable: |r| ≥ 0.8 means the
        /// matched loadings share at least 64 % of their variance in every other seed (median).
        public var stable = 0.8
        public init() {}
    }

    /// A latent's best gene set, from an enrichment table.
    public struct TopSet: Sendable, Equatable {
        public var name: String
        /// "up", "down" (or whatever the method wrote)
        public var direction: String
        public var padj: Double
        public init(name: String, direction: String, padj: Double) {
            self.name = name
            self.direction = direction
            self.padj = padj
        }
    }

    /// One model run: its label (model, parameters, seed), its genes and loadings (genes × K).
    public struct Run: Sendable {
        public var id: String
        public var label: Metrics.RunLabel
        public var genes: [String]
        public var loadings: Matrix
        public var names: [String]
        /// One entry per latent (nil: no significant set); nil when the run has no enrichment table.
        public var topSets: [TopSet?]?

        public init(id: String, label: Metrics.RunLabel, genes: [String], loadings: Matrix, names: [String]? = nil, topSets: [TopSet?]? = nil) {
            self.id = id
            self.label = label
            self.genes = genes
            self.loadings = loadings
            self.names = names ?? (0..<loadings.cols).map { "z\($0)" }
            self.topSets = topSets
        }
    }

    public struct Row: Sendable, Equatable {
        public var model: String, parameters: String, seed: String, run: String
        public var latent: Int
        public var name: String
        /// The matched latent of the group's first run (nil when unmatched there).
        public var consensus: Int?
        /// Other seeds compared with.
        public var seeds: Int
        public var reproducibility: Double
        public var minMatch: Double
        public var topSet: TopSet?
        /// Fraction of the other seeds (with enrichment) whose matched latent has the same top set.
        public var recurrence: Double?
        public var stable: Bool
    }

    /// A matched pair of latents: `partner` in the other run, its signed similarity.
    public struct Match: Sendable, Equatable {
        public var partner: Int?
        public var similarity: Double
    }

    /// Rows for every run of every group with at least two seeds, in the order the groups first
    /// appear, runs by seed, latents by index; notes for what was left out.
    public static func compute(_ runs: [Run], parameters p: Parameters = .init()) throws -> (rows: [Row], notes: [String]) {
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for (i, r) in runs.enumerated() {
            let key = r.label.model + "\t" + r.label.parameters
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        var rows: [Row] = [], notes: [String] = []
        for key in order {
            let members = groups[key]!.sorted { seedLess(runs[$0].label.seed, runs[$1].label.seed) || (runs[$0].label.seed == runs[$1].label.seed && runs[$0].id < runs[$1].id) }
            let label = runs[members[0]].label
            guard members.count >= 2 else {
                notes.append("\(label.model) \(label.parameters): one run only (\(runs[members[0]].id)); nothing to compare it with")
                continue
            }
            let (r, n) = try group(members.map { runs[$0] }, parameters: p)
            rows += r
            notes += n
        }
        return (rows, notes)
    }

    /// Seeds in numeric order where they are numbers.
    static func seedLess(_ a: String, _ b: String) -> Bool {
        if let x = Int64(a), let y = Int64(b) { return x < y }
        return a < b
    }

    static func group(_ runs: [Run], parameters p: Parameters) throws -> (rows: [Row], notes: [String]) {
        var notes: [String] = []
        // genes shared by every run, in the first run's order
        var common = Set(runs[0].genes)
        for r in runs.dropFirst() { common.formIntersection(r.genes) }
        let genes = runs[0].genes.filter { common.contains($0) }
        guard genes.count >= 3 else {
            throw LatentError.badInput(runs[1].id, "var", "shares \(genes.count) genes with \(runs[0].id): its loadings cannot be compared",
                                       hint: "compare runs of the same data")
        }
        if runs.contains(where: { $0.genes.count != genes.count }) {
            notes.append("\(runs[0].label.model) \(runs[0].label.parameters): compared over the \(genes.count) genes every run has")
        }
        let unit = runs.map { standardized($0, genes: genes, similarity: p.similarity) }
        let s = runs.count
        // matches[a][b][i]: latent i of run a's partner in run b
        var matches = [[[Match]]](repeating: [[Match]](repeating: [], count: s), count: s)
        for a in 0..<s {
            for b in (a + 1)..<s {
                let sim = Matrix.multiply(unit[a], transposeA: true, unit[b])   // K_a × K_b
                let (ab, ba) = assign(sim)
                matches[a][b] = ab
                matches[b][a] = ba
            }
        }
        var rows: [Row] = []
        for a in 0..<s {
            let run = runs[a]
            for i in 0..<run.loadings.cols {
                var values: [Double] = []
                var same = 0, compared = 0
                let top = run.topSets.flatMap { i < $0.count ? $0[i] : nil }
                for b in 0..<s where b != a {
                    let m = matches[a][b][i]
                    values.append(abs(m.similarity))
                    guard let t = top, let partner = m.partner, let sets = runs[b].topSets else { continue }
                    compared += 1
                    if let other = partner < sets.count ? sets[partner] : nil, other.name == t.name,
                       sameDirection(t.direction, other.direction, flipped: m.similarity < 0) {
                        same += 1
                    }
                }
                let rep = median(values)
                let consensus: Int? = a == 0 ? i : matches[a][0][i].partner
                rows.append(Row(model: run.label.model, parameters: run.label.parameters, seed: run.label.seed, run: run.id,
                                latent: i, name: i < run.names.count ? run.names[i] : "z\(i)", consensus: consensus, seeds: s - 1,
                                reproducibility: rep, minMatch: values.min() ?? .nan, topSet: top,
                                recurrence: top != nil && compared > 0 ? Double(same) / Double(compared) : nil,
                                stable: rep >= p.stable))
            }
        }
        return (rows, notes)
    }

    static func sameDirection(_ a: String, _ b: String, flipped: Bool) -> Bool {
        let signed: Set<String> = ["up", "down"]
        guard signed.contains(a), signed.contains(b) else { return a == b }
        return flipped ? a != b : a == b
    }

    static func median(_ x: [Double]) -> Double {
        guard !x.isEmpty else { return .nan }
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// The run's loadings on `genes`, each column centred (Pearson) and scaled to unit length, so
    /// that one product of two such matrices holds every pairwise similarity. A constant column
    /// (a dead latent) stays zero: similar to nothing.
    static func standardized(_ run: Run, genes: [String], similarity: Similarity) -> Matrix {
        var position: [String: Int] = [:]
        for (g, name) in run.genes.enumerated() where position[name] == nil { position[name] = g }
        let rowsIdx = genes.map { position[$0]! }
        let k = run.loadings.cols
        var out = Matrix(rows: genes.count, cols: k)
        for j in 0..<k {
            var col = rowsIdx.map { Double(run.loadings[$0, j]) }
            if similarity == .pearson {
                let m = col.reduce(0, +) / Double(col.count)
                for g in col.indices { col[g] -= m }
            }
            let norm = col.reduce(0) { $0 + $1 * $1 }.squareRoot()
            guard norm > 0, norm.isFinite else { continue }
            for g in col.indices { out[g, j] = Float(col[g] / norm) }
        }
        return out
    }

    /// One-to-one matches maximising the summed |similarity| (K_a × K_b matrix): each side's
    /// partner in the other and the signed similarity of the pair.
    public static func assign(_ sim: Matrix) -> (rows: [Match], cols: [Match]) {
        let n = sim.rows, m = sim.cols
        var rowMatch = [Match](repeating: Match(partner: nil, similarity: 0), count: n)
        var colMatch = [Match](repeating: Match(partner: nil, similarity: 0), count: m)
        let transposed = n > m
        let (r, c) = transposed ? (m, n) : (n, m)
        var cost = [Double](repeating: 0, count: r * c)
        for i in 0..<r { for j in 0..<c { cost[i * c + j] = -abs(Double(transposed ? sim[j, i] : sim[i, j])) } }
        let assigned = Assignment.minimumCost(cost, rows: r, cols: c)
        for (i, j) in assigned.enumerated() {
            let (row, col) = transposed ? (j, i) : (i, j)
            let v = Double(sim[row, col])
            rowMatch[row] = Match(partner: col, similarity: v)
            colMatch[col] = Match(partner: row, similarity: v)
        }
        return (rowMatch, colMatch)
    }
}
