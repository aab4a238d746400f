import Foundation
import LatentCore
import LatentModels

/// Stability across seeds, from the `consensus*.tsv` tables `latent consensus` (or the pipeline's
/// consensus stage) writes: a table of every latent's reproducibility and the recurrence of its
/// top gene set, and per model a bar chart of the first seed's latents, so that a stable latent
/// stands apart from a seed's accident.
extension Report {
    /// Every consensus table under the walked directories (`consensus*.tsv`), or in the cache
    /// entries of consensus stages (`consensus.tsv`); rows in file order, files in path order.
    static func consensusTables(_ dirs: [String], notes: inout [String]) throws -> [Consensus.Row] {
        var rows: [Consensus.Row] = []
        var seen = Set<String>()
        for dir in dirs {
            for n in files(in: dir) where n.hasPrefix("consensus") && n.hasSuffix(".tsv") {
                let path = dir + "/" + n
                guard seen.insert(URL(fileURLWithPath: path).resolvingSymlinksInPath().path).inserted else { continue }
                let text = try readText(path)
                guard text.hasPrefix(Consensus.columns.joined(separator: "\t")) else {
                    notes.append("\(path): not a consensus table, skipped")
                    continue
                }
                rows += try Consensus.parse(text, file: path)
            }
        }
        return rows
    }

    /// The consensus of the runs found, for when no table was given: every model and settings run
    /// with more than one seed, latents matched by their loadings, top sets from their enrichment.
    static func derivedConsensus(_ runs: [Run], fdr: Double) -> [Consensus.Row] {
        var counts: [String: Int] = [:]
        for r in runs where r.loadings != nil { counts[r.model + "\t" + r.parameters, default: 0] += 1 }
        let inputs: [Consensus.Run] = runs.compactMap { r in
            guard let l = r.loadings, !l.isEmpty, (counts[r.model + "\t" + r.parameters] ?? 0) > 1 else { return nil }
            var m = Matrix(rows: r.genes.count, cols: l.count)
            for (k, column) in l.enumerated() { for (g, v) in column.enumerated() { m[g, k] = Float(v) } }
            var top: [Consensus.TopSet?]? = nil
            if !r.enrichment.isEmpty {
                var best = [Consensus.TopSet?](repeating: nil, count: l.count)
                var bestNES = [Double](repeating: 0, count: l.count)
                for e in r.enrichment where e.padj < fdr {
                    guard let k = Int(e.latent), k >= 0, k < l.count else { continue }
                    if let b = best[k], !(e.padj < b.padj || (e.padj == b.padj && (abs(e.nes) > bestNES[k] || (abs(e.nes) == bestNES[k] && e.geneSet < b.name)))) { continue }
                    best[k] = Consensus.TopSet(name: e.geneSet, direction: e.direction, padj: e.padj)
                    bestNES[k] = abs(e.nes)
                }
                top = best
            }
            // positions stand for genes: runs of one model and settings share their var index
            return Consensus.Run(id: r.id, label: Metrics.RunLabel(model: r.model, parameters: r.parameters, seed: r.seed),
                                 genes: (0..<r.genes.count).map { "\($0)\t" + r.genes[$0] }, loadings: m, topSets: top)
        }
        guard inputs.count > 1 else { return [] }
        return (try? Consensus.compute(inputs, parameters: { var p = Consensus.Parameters(); p.fdr = fdr; return p }()).rows) ?? []
    }

    public func consensusTable() -> ReportTable? {
        guard !consensus.isEmpty else { return nil }
        let rows: [[ReportTable.Cell]] = consensus.map { c in
            [.text(c.model), .text(c.parameters), .text(c.seed), .text(c.run), .number(Double(c.latent)), .text(c.name),
             .number(c.consensus.map(Double.init) ?? .nan), .number(Double(c.seeds)), .number(c.reproducibility), .number(c.minMatch),
             .text(c.topSet?.name ?? ""), .text(c.topSet?.direction ?? ""), .number(c.recurrence ?? .nan), .text(c.stable ? "yes" : "no")]
        }
        return ReportTable(name: "consensus", title: "Stability across seeds",
                           columns: ["model", "parameters", "seed", "run", "latent", "name", "consensus", "other_seeds", "reproducibility",
                                     "min_match", "top_set", "top_set_direction", "recurrence", "stable"], rows: rows)
    }

    func consensusSection(_ t: ReportTable) -> String {
        var s = "<section id=\"consensus\"><h2>Stability across seeds</h2>"
        s += "<p>Latents of runs that differ only in their seed, matched one-to-one by the |Pearson r| of their gene loadings (Hungarian assignment; from <code>latent consensus</code> tables when given, else computed here from the runs found). <b>Reproducibility</b> is a latent's median matched |r| over the other seeds; <b>recurrence</b> the fraction of the other seeds whose matched latent has the same top significant gene set. A latent that only one seed finds is an accident of that seed (BioBombe); read its gene sets with care.</p>"
        var charts = ""
        var order: [String] = []
        var groups: [String: [Consensus.Row]] = [:]
        for c in consensus {
            let key = c.model + " " + c.parameters
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(c)
        }
        // name each model by the settings that differ between the groups (the table has them all)
        let settings = order.map { key in groups[key]![0].parameters.split(separator: ",").map(String.init) }
        let shared = settings.dropFirst().reduce(Set(settings.first ?? [])) { $0.intersection($1) }
        for (gi, key) in order.prefix(6).enumerated() {
            let rows = groups[key]!
            let varying = settings[gi].filter { !shared.contains($0) }.joined(separator: ", ")
            let name = rows[0].model + (varying.isEmpty ? "" : " " + (varying.count > 48 ? varying.prefix(47) + "…" : varying))
            // the first seed's latents stand for their consensus latent: median over all seeds' rows matched to it
            let firstSeed = rows[0].run
            let anchors = rows.filter { $0.run == firstSeed }
            let bars = anchors.map { a -> (label: String, value: Double) in
                let members = rows.filter { $0.consensus == a.latent }.map(\.reproducibility).filter(\.isFinite).sorted()
                let med = members.isEmpty ? a.reproducibility : members.count % 2 == 1 ? members[members.count / 2] : (members[members.count / 2 - 1] + members[members.count / 2]) / 2
                var label = a.name == "z\(a.latent)" ? "latent \(a.latent)" : a.name
                if let top = a.topSet { label += " · " + (top.name.count > 32 ? top.name.prefix(31) + "…" : top.name) }
                if a.stable { label += " ●" }
                return (label: label, value: med)
            }
            charts += SVG.barChart(bars, title: "Reproducibility across seeds: \(name)", valueLabel: "median matched |r| (● stable)",
                                   width: 520, symmetric: false, maximum: 1)
        }
        if !charts.isEmpty { s += "<div class=\"charts\">\(charts)</div>" }
        s += tableHTML(t)
        return s + "</section>\n"
    }
}
