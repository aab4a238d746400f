import LatentCore
import LatentIO

/// Gene sets resolved against the genes of a model: each set becomes the indices of its genes in
/// the model's gene list, after identifier mapping, case folding (when asked) and size filtering.
/// Keeps the counts a user needs to see why sets were dropped.
public struct GeneSetIndex: Sendable {
    public struct Set_: Sendable {
        public var name: String
        /// Indices into the model's unique gene list, sorted ascending.
        public var members: [Int32]
        /// Genes the set lists in the GMT.
        public var listed: Int
    }

    public var sets: [Set_]
    /// The model's genes after mapping and de-duplication (the names sets are matched against).
    public var genes: [String]
    /// For each unique gene, the model rows (latent loadings) that map to it.
    public var rowsForGene: [[Int]]
    public var report: [String]

    public struct Options: Sendable {
        public var minSize = 15
        public var maxSize = 500
        public var ignoreCase = false
        public init() {}
    }

    /// `modelGenes` are the names of the loadings' rows, already mapped to the GMT's identifier
    /// type. Rows with an empty name (unmapped) are left out.
    public init(sets gmt: [GeneSet], modelGenes: [String], options: Options) {
        var report: [String] = []
        func key(_ s: String) -> String { options.ignoreCase ? s.uppercased() : s }
        var index: [String: Int] = [:]
        var genes: [String] = []
        var rows: [[Int]] = []
        for (r, g) in modelGenes.enumerated() where !g.isEmpty {
            let k = key(g)
            if let i = index[k] { rows[i].append(r) } else {
                index[k] = genes.count
                genes.append(g)
                rows.append([r])
            }
        }
        let duplicated = rows.filter { $0.count > 1 }.count
        if duplicated > 0 {
            report.append("\(duplicated) gene names occur on several rows; each is scored once, with its largest-magnitude loading per latent")
        }
        var kept: [Set_] = []
        var tooSmall = 0, tooLarge = 0, empty = 0
        var inAnySet = [Bool](repeating: false, count: genes.count)
        var caseOnlyMatches = 0
        var upperIndex: [String: Int]? = nil
        for s in gmt {
            var members: [Int32] = []
            for g in s.genes {
                if let i = index[key(g)] { members.append(Int32(i)) } else if !options.ignoreCase {
                    if upperIndex == nil {
                        var u: [String: Int] = [:]
                        for (i, g) in genes.enumerated() { u[g.uppercased()] = i }
                        upperIndex = u
                    }
                    if upperIndex?[g.uppercased()] != nil { caseOnlyMatches += 1 }
                }
            }
            members = Array(Swift.Set(members)).sorted()
            if members.isEmpty { empty += 1; continue }
            if members.count < options.minSize { tooSmall += 1; continue }
            if members.count > options.maxSize { tooLarge += 1; continue }
            for m in members { inAnySet[Int(m)] = true }
            kept.append(Set_(name: s.name, members: members, listed: s.genes.count))
        }
        let covered = inAnySet.filter { $0 }.count
        report.append("\(genes.count) model genes, \(covered) of them in at least one kept set")
        report.append("\(kept.count) of \(gmt.count) gene sets kept (size \(options.minSize)–\(options.maxSize) after matching): \(empty) share no gene with the model, \(tooSmall) too small, \(tooLarge) too large")
        if caseOnlyMatches > 0 {
            report.append("\(caseOnlyMatches) gene-set entries match model genes only when case is ignored (e.g. mouse vs human symbols?): rerun with --ignore-case to use them")
        }
        self.sets = kept
        self.genes = genes
        self.rowsForGene = rows
        self.report = report
    }

    /// One score per unique gene for a latent: the loading of its row, or for a gene on several
    /// rows the loading with the largest magnitude (the first such row on ties).
    public func geneScores(_ loadings: (Int) -> Float) -> [Float] {
        rowsForGene.map { rows in
            var best = loadings(rows[0])
            for r in rows.dropFirst() { let v = loadings(r); if abs(v) > abs(best) { best = v } }
            return best
        }
    }
}
