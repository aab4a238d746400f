import LatentCore
import LatentIO

/// The `enrich` stage: every latent's loadings tested against every gene set, in both directions.
public struct EnrichParameters: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable { case gsea, ora, projection }
    public var method: Method = .gsea
    public var permutations = 1000
    public var minSize = 15
    public var maxSize = 500
    public var ignoreCase = false
    public var multilevel = true
    /// ORA: the top N genes per side, or nil for Tybalt's 2.5 SD rule.
    public var oraTop: Int? = nil
    public var oraSD = 2.5
    public var top: Int? = nil
    public init() {}
}

public struct EnrichRow: Sendable, Codable, Equatable {
    public var latent: String
    public var method: String
    public var geneSet: String
    public var direction: String
    public var size: Int
    public var es: Double?
    public var nes: Double?
    public var pval: Double
    public var padj: Double
    public var leadingEdge: [String]
    public var overlap: Int?
    public var oddsRatio: Double?
    public var null: String
}

public enum EnrichStage {
    public struct Output: Sendable {
        public var rows: [EnrichRow]
        public var notes: [String]
        public var null: String
    }

    public static func run(_ loadings: Loadings, sets gmt: [GeneSet], _ p: EnrichParameters, seed: UInt64, threads: Int) throws -> Output {
        var options = GeneSetIndex.Options()
        options.minSize = p.minSize
        options.maxSize = p.maxSize
        options.ignoreCase = p.ignoreCase
        let index = GeneSetIndex(sets: gmt, modelGenes: loadings.genes, options: options)
        var notes = index.report
        guard !index.sets.isEmpty else {
            throw LatentError.badInput(nil, nil, "no gene set passed the filters: " + index.report.joined(separator: "; "),
                                       hint: "check that the gene names match the GMT (Ensembl vs symbols: --gene-names), or relax --min-size/--max-size")
        }
        let nl = loadings.values.cols
        let base = SeededRNG(seed: seed)
        let scores = (0..<nl).map { j in index.geneScores { loadings.values[$0, j] } }
        let null: String
        var perLatent = [[EnrichRow]](repeating: [], count: nl)
        switch p.method {
        case .gsea:
            null = "gene-permutation:\(p.permutations)" + (p.multilevel ? "+multilevel" : "")
            let results = UnsafeMutableBufferPointer<[GSEA.SetResult]>.allocate(capacity: nl)
            results.initialize(repeating: [])
            defer { results.deallocate() }
            Runtime.parallelFor(nl, threads: threads) { j in
                var rng = base.stream(UInt64(j))
                let ranked = GSEA.RankedList(scores: scores[j])
                results[j] = GSEA.run(ranked, sets: index.sets, permutations: p.permutations, multilevel: p.multilevel, rng: &rng)
            }
            for j in 0..<nl {
                let padj = benjaminiHochberg(results[j].map(\.pval))
                perLatent[j] = zip(index.sets, results[j]).enumerated().map { k, pair in
                    let (set, r) = pair
                    return EnrichRow(latent: loadings.latents[j], method: "gsea", geneSet: set.name, direction: r.es >= 0 ? "up" : "down",
                                     size: set.members.count, es: r.es, nes: r.nes, pval: r.pval, padj: padj[k],
                                     leadingEdge: r.leadingEdge.map { index.genes[Int($0)] }, overlap: nil, oddsRatio: nil,
                                     null: r.method == "multilevel" ? "multilevel" : null)
                }
            }
        case .ora:
            let rule: ORA.Selection = p.oraTop.map { .top($0) } ?? .standardDeviations(p.oraSD)
            null = "hypergeometric"
            let universe = index.genes.count
            for j in 0..<nl {
                let (pos, neg) = ORA.select(scores[j], rule)
                var rows: [EnrichRow] = []
                for (dir, sel) in [("up", pos), ("down", neg)] {
                    var mask = [Bool](repeating: false, count: universe)
                    for g in sel { mask[g] = true }
                    for set in index.sets {
                        let r = ORA.test(selected: sel, selectedMask: mask, set: set.members, universe: universe)
                        rows.append(EnrichRow(latent: loadings.latents[j], method: "ora", geneSet: set.name, direction: dir,
                                              size: set.members.count, es: nil, nes: nil, pval: r.pval, padj: .nan,
                                              leadingEdge: r.genes.map { index.genes[Int($0)] }, overlap: r.overlap,
                                              oddsRatio: r.oddsRatio, null: null))
                    }
                }
                let padj = benjaminiHochberg(rows.map(\.pval))
                for k in rows.indices { rows[k].padj = padj[k] }
                perLatent[j] = rows
            }
        case .projection:
            null = "degree-preserving-network-permutation:\(p.permutations)"
            var rng = base.stream(UInt64.max)
            let (z, pv) = Projection.run(scores: scores, sets: index.sets, permutations: p.permutations, rng: &rng)
            for j in 0..<nl {
                let padj = benjaminiHochberg(pv[j])
                perLatent[j] = index.sets.enumerated().map { s, set in
                    EnrichRow(latent: loadings.latents[j], method: "projection", geneSet: set.name, direction: z[j][s] >= 0 ? "up" : "down",
                              size: set.members.count, es: set.members.reduce(0.0) { $0 + Double(scores[j][Int($1)]) }, nes: z[j][s],
                              pval: pv[j][s], padj: padj[s], leadingEdge: [], overlap: nil, oddsRatio: nil, null: null)
                }
            }
        }
        var rows: [EnrichRow] = []
        for j in 0..<nl {
            var r = perLatent[j].sorted { a, b in
                if a.pval != b.pval { return a.pval < b.pval }
                // Empirical p-values tie often; the stronger effect goes first.
                let (x, y) = (abs(a.nes ?? a.oddsRatio ?? 0), abs(b.nes ?? b.oddsRatio ?? 0))
                if x != y && !x.isNaN && !y.isNaN { return x > y }
                if a.geneSet != b.geneSet { return a.geneSet < b.geneSet }
                return a.direction < b.direction
            }
            if let t = p.top { r = Array(r.prefix(t)) }
            rows += r
        }
        notes.append("null: \(null); \(nl) latents × \(index.sets.count) sets")
        return Output(rows: rows, notes: notes, null: null)
    }

    /// The tidy TSV: one row per latent × set × direction, sorted by latent then p-value.
    public static func tsv(_ rows: [EnrichRow], method: EnrichParameters.Method) -> String {
        func num(_ x: Double?) -> String {
            guard let x else { return "NA" }
            if x.isNaN { return "NA" }
            if x.isInfinite { return x > 0 ? "inf" : "-inf" }
            return "\(x)"
        }
        var cols = ["latent", "method", "gene_set", "direction", "size", "es", "nes", "pval", "padj", "leading_edge"]
        if method == .ora { cols += ["overlap", "odds_ratio"] }
        cols.append("null")
        var out = cols.joined(separator: "\t") + "\n"
        for r in rows {
            var f = [r.latent, r.method, r.geneSet, r.direction, String(r.size), num(r.es), num(r.nes), num(r.pval), num(r.padj),
                     r.leadingEdge.joined(separator: ";")]
            if method == .ora { f += [String(r.overlap ?? 0), num(r.oddsRatio)] }
            f.append(r.null)
            out += f.joined(separator: "\t") + "\n"
        }
        return out
    }
}
