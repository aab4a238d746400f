import LatentCore
import LatentIO

/// Gene sets as the programs of a program decoder (`latent vae --programs`), matched to a
/// dataset's genes with exactly `latent enrich`'s rules: the same `GeneSetIndex` (identifier
/// de-duplication, `--ignore-case`), the same Ensembl → symbol mapping (`--id-map`), or a var
/// column of symbols (`--gene-names`). Only the size limits differ: programs count the genes
/// of the data in a set, `minGenes`…`maxGenes` (no upper limit by default).
public struct ProgramSets: Sendable {
    public struct Coverage: Sendable, Equatable {
        public var name: String
        /// Genes the GMT lists, and those found among the data's genes.
        public var listed: Int
        public var matched: Int
        /// kept | too_small | too_large | no_overlap
        public var status: String
    }

    /// The kept programs in GMT order, and for each the data's rows (var indices) in it, sorted.
    public var names: [String] = []
    public var rows: [[Int]] = []
    /// One entry per set of the GMT(s), kept or not.
    public var coverage: [Coverage] = []
    /// What a user needs to see: genes matched, unmapped, outside every program; sets dropped and why.
    public var notes: [String] = []

    /// `names` are the data's gene names as matching should see them (var index, or the
    /// `--gene-names` column); Ensembl IDs are mapped to symbols here unless `namesAreSymbols`.
    public static func match(names geneNames: [String], namesAreSymbols: Bool, sets: [GeneSet], idMap: String?, ignoreCase: Bool,
                             minGenes: Int, maxGenes: Int?, file: String) throws -> ProgramSets {
        var out = ProgramSets()
        var names = geneNames
        if !namesAreSymbols, let mapped = try EnrichStage.ensemblSymbols(names, idMap: idMap, file: file) {
            names = mapped.symbols
            out.notes.append(mapped.note)
        }
        var options = GeneSetIndex.Options()
        options.minSize = 1
        options.maxSize = Int.max
        options.ignoreCase = ignoreCase
        let index = GeneSetIndex(sets: sets, modelGenes: names, options: options)
        // The index's own lines about duplicated names and case-only matches apply as they are;
        // its set counts (at sizes 1…∞) are replaced by ours below.
        out.notes += index.report.filter { !$0.contains("gene sets kept") && !$0.contains("in at least one kept set") }
        var matched: [String: GeneSetIndex.Set_] = [:]
        for s in index.sets { matched[s.name] = s }
        var inProgram = [Bool](repeating: false, count: names.count)
        var counts = (kept: 0, small: 0, large: 0, none: 0)
        for s in sets {
            guard let m = matched[s.name] else {
                out.coverage.append(Coverage(name: s.name, listed: s.genes.count, matched: 0, status: "no_overlap"))
                counts.none += 1
                continue
            }
            let size = m.members.count
            let status = size < minGenes ? "too_small" : (maxGenes.map { size > $0 } ?? false) ? "too_large" : "kept"
            out.coverage.append(Coverage(name: s.name, listed: m.listed, matched: size, status: status))
            guard status == "kept" else { if status == "too_small" { counts.small += 1 } else { counts.large += 1 }; continue }
            counts.kept += 1
            var rows: [Int] = []
            for g in m.members { rows += index.rowsForGene[Int(g)] }
            rows.sort()
            for r in rows { inProgram[r] = true }
            out.names.append(s.name)
            out.rows.append(rows)
        }
        let unmapped = names.filter(\.isEmpty).count
        let covered = inProgram.filter { $0 }.count
        out.notes.append("\(covered) of \(names.count) genes are in at least one kept program"
                         + (unmapped > 0 ? "; \(unmapped) have no symbol (unmapped IDs)" : "")
                         + "; the other \(names.count - covered) are in no program (only free latents can load on them)")
        let limit = maxGenes.map { "\(minGenes)–\($0)" } ?? "≥ \(minGenes)"
        out.notes.append("\(counts.kept) of \(sets.count) gene sets kept as programs (\(limit) genes of the data): \(counts.none) share no gene with the data, \(counts.small) too small, \(counts.large) too large")
        return out
    }

    /// The coverage table: program, listed, matched, status (one row per GMT set, GMT order).
    public func coverageTSV() -> String {
        var s = "program\tlisted\tmatched\tstatus\n"
        for c in coverage { s += "\(c.name)\t\(c.listed)\t\(c.matched)\t\(c.status)\n" }
        return s
    }
}
