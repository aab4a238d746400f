import Foundation
import LatentCore
import LatentModels

/// The integration section: for every run that `latent metrics --batch/--labels/--subspace`
/// scored, the scIB metrics and aggregates, its cells in the plane of the embedding's first two
/// principal components coloured by batch and by label, and which latents belong to which
/// covariate with how well each covariate is predicted from them and from the rest.
extension Report {
    static let integrationColumns = ["scib_total", "scib_batch_correction", "scib_bio_conservation"]
        + Metrics.batchMetrics + ["silhouette_batch"] + Metrics.bioMetrics

    /// The obs column a metric row named: batch from the batch metrics, labels from the bio ones.
    func integrationColumns(_ r: Run) -> (batch: String?, labels: String?) {
        func col(_ metrics: [String]) -> String? {
            r.metrics.first { metrics.contains($0.row.metric) && $0.row.latent == "all" && $0.row.factor != "all" }?.row.factor
        }
        return (col(["ilisi", "kbet", "bras", "pcr_comparison"]), col(["clisi", "silhouette_label", "nmi_kmeans"]))
    }

    func integrationValue(_ r: Run, _ metric: String) -> Double? {
        r.metrics.first { $0.row.metric == metric && $0.row.latent == "all" }?.row.value
    }

    var integrationRuns: [Int] {
        runs.indices.filter { i in
            runs[i].metrics.contains { Self.integrationColumns.contains($0.row.metric) || $0.row.metric.hasPrefix("subspace_") }
                || !runs[i].subspaces.isEmpty
        }
    }

    public func integrationTable() -> ReportTable? {
        let idx = integrationRuns.filter { i in runs[i].metrics.contains { Self.integrationColumns.contains($0.row.metric) } }
        guard !idx.isEmpty else { return nil }
        let rows: [[ReportTable.Cell]] = idx.map { i in
            let r = runs[i], c = integrationColumns(r)
            return [.text(r.id), .text(c.batch ?? "–"), .text(c.labels ?? "–")] + Self.integrationColumns.map { Self.num(integrationValue(r, $0)) }
        }
        return ReportTable(name: "integration", title: "Integration metrics (scIB)", columns: ["run", "batch", "labels"] + Self.integrationColumns, rows: rows)
    }

    /// Which latents are whose: the model's record (uns), else what `--subspace` named, with the
    /// predictability scores where they were computed.
    public func subspaceTable() -> ReportTable? {
        var rows: [[ReportTable.Cell]] = []
        for i in integrationRuns {
            let r = runs[i]
            var spaces = r.subspaces
            for m in r.metrics where m.row.metric.hasPrefix("subspace_") && m.row.latent != "rest" && !spaces.contains(where: { $0.name == m.row.factor }) {
                let ends = m.row.latent.split(separator: "-").compactMap { Int($0) }
                if ends.count == 2 { spaces.append(Metrics.Subspace(name: m.row.factor, start: ends[0], count: ends[1] - ends[0] + 1)) }
            }
            for s in spaces {
                func score(_ latent: String) -> Double? {
                    r.metrics.first { $0.row.metric.hasPrefix("subspace_") && $0.row.factor == s.name && $0.row.latent == latent }?.row.value
                }
                let measure = r.metrics.first { $0.row.metric.hasPrefix("subspace_") && $0.row.factor == s.name }?.row.metric
                rows.append([.text(r.id), .text(s.name), .text("\(s.start)–\(s.start + s.count - 1)"),
                             .text(measure == "subspace_r2" ? "R²" : measure == nil ? "–" : "balanced accuracy"),
                             Self.num(score("\(s.start)-\(s.start + s.count - 1)")), Self.num(score("rest")),
                             Self.num(r.metric("majority_share", factor: s.name)), Self.num(r.metric("chance_balanced_accuracy", factor: s.name))])
            }
        }
        guard !rows.isEmpty else { return nil }
        return ReportTable(name: "subspaces", title: "Latent subspaces", columns: ["run", "covariate", "latents", "measure", "own_subspace",
                                                                                 "other_latents", "majority_share", "chance"], rows: rows)
    }

    /// The cells' coordinates on the first two principal components of the embedding (the
    /// latents themselves when there are at most two).
    static func plane(_ scores: [[Double]]) -> (x: [Double], y: [Double], labels: (String, String))? {
        guard let n = scores.first?.count, n >= 2 else { return nil }
        if scores.count == 1 { return (scores[0], [Double](repeating: 0, count: n), ("latent 0", "")) }
        if scores.count == 2 { return (scores[0], scores[1], ("latent 0", "latent 1")) }
        let d = scores.count
        let means = scores.map { Metrics.mean($0) }
        var cov = [Double](repeating: 0, count: d * d)
        for a in 0..<d { for b in 0...a {
            var s = 0.0
            for i in 0..<n { s += (scores[a][i] - means[a]) * (scores[b][i] - means[b]) }
            cov[a * d + b] = s; cov[b * d + a] = s
        } }
        guard let e = try? LAPACK.symmetricTopEigen(cov, n: d, k: 2) else { return nil }
        func project(_ c: Int) -> [Double] {
            (0..<n).map { i in (0..<d).reduce(0.0) { $0 + (scores[$1][i] - means[$1]) * e.vectors[c * d + $1] } }
        }
        return (project(0), project(1), ("PC 1 of the latents", "PC 2 of the latents"))
    }

    static func groups(_ obs: DataFrame, _ column: String) -> (names: [String], group: [Int])? {
        guard let col = obs[column] else { return nil }
        switch col {
        case .categorical(let codes, let cats, _): return (cats + ["NA"], codes.map { $0 < 0 ? cats.count : Int($0) })
        case .string(let s):
            let cats = Array(Set(s)).sorted()
            let idx = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return (cats, s.map { idx[$0]! })
        case .bool(let b): return (["False", "True"], b.map { $0 ? 1 : 0 })
        default: return nil
        }
    }

    func integrationSection(_ byName: [String: ReportTable]) -> String {
        let table = byName["integration"], spaces = byName["subspaces"]
        guard table != nil || spaces != nil else { return "" }
        var s = "<section id=\"integration\"><h2>Integration</h2>"
        s += "<p>How well each embedding mixes batches while keeping cell types apart: the scIB metrics as scib-metrics defines them (exact neighbours). Batch correction: BRAS, iLISI, kBET, graph connectivity, PCR comparison; bio conservation: isolated labels, k-means NMI and ARI, label silhouette, cLISI; all in [0, 1], higher is better. The aggregates are the means of each group and total = 0.4·batch + 0.6·bio, unscaled (scib-metrics min–max scales across methods only when asked). The classic batch silhouette is shown beside BRAS but not aggregated.</p>"
        if let table { s += tableHTML(table) }
        if let spaces {
            s += "<p>Latent subspaces: the latents reserved for a covariate, and how well a cross-validated 15-nearest-neighbour classifier predicts the covariate from them and from all other latents (balanced accuracy; R² for a numeric covariate). A supervised subspace should predict its covariate and the other latents should not (near chance).</p>"
            s += tableHTML(spaces)
        }
        for i in integrationRuns {
            let r = runs[i], c = integrationColumns(r)
            var charts = ""
            let bars = Self.integrationColumns.compactMap { m in integrationValue(r, m).map { (label: m, value: $0) } }
            if !bars.isEmpty { charts += SVG.barChart(bars, title: "scIB metrics", valueLabel: "score (higher is better)", symmetric: false) }
            if let p = Self.plane(r.scores) {
                for (role, column) in [("batch", c.batch), ("label", c.labels)] {
                    guard let column, let g = Self.groups(r.obs, column) else { continue }
                    charts += SVG.scatter(x: p.x, y: p.y, group: g.group, names: g.names, title: "Cells coloured by \(role) (\(column))",
                                          xLabel: p.labels.0, yLabel: p.labels.1)
                }
            }
            var mine = spaces
            mine?.rows = spaces?.rows.filter { if case .text(let id) = $0[0] { id == r.id } else { false } } ?? []
            mine?.name = "subspaces-\(i)"
            s += "<article class=\"model\" id=\"integration-\(i)\"><h3>\(SVG.escape(r.id)) <span class=\"tag\">\(SVG.escape(r.model))</span></h3>"
            s += "<p class=\"meta\">batch: \(SVG.escape(c.batch ?? "–")) · labels: \(SVG.escape(c.labels ?? "–")) · \(r.latentCount) latents"
            if let t = integrationValue(r, "scib_total") { s += " · total \(SVG.label(t))" }
            s += "</p>"
            if !charts.isEmpty { s += "<div class=\"charts\">\(charts)</div>" }
            if let mine, !mine.rows.isEmpty { s += tableHTML(mine, hideFirst: true) }
            s += "</article>"
        }
        return s + "</section>\n"
    }
}
