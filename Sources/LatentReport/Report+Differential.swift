import Foundation
import LatentModels

/// Differential activity of latents (gene programs) between groups of cells, from the
/// `differential*.tsv` tables `latent differential` writes beside a model: a heatmap of the log
/// Bayes factors (latents × groups) in the model's article and one table over all runs.
extension Report {
    public func differentialTable() -> ReportTable? {
        let rows: [[ReportTable.Cell]] = runs.flatMap { r in
            r.differential.map { t -> [ReportTable.Cell] in
                let d = t.row
                return [.text(r.id), .text(t.groupby), .text(d.group), .text(d.reference), .number(Double(d.latent)), .text(d.name),
                        .number(d.meanGroup), .number(d.meanReference), .number(d.meanGroup - d.meanReference),
                        .number(d.probability), .number(d.logBayesFactor), .text(d.direction)]
            }
        }
        guard !rows.isEmpty else { return nil }
        return ReportTable(name: "differential", title: "Differential activity",
                           columns: ["run", "groupby", "group", "reference", "latent", "name", "mean_group", "mean_reference", "difference",
                                     "probability", "log_bayes_factor", "direction"], rows: rows)
    }

    /// The part of a model's article: one heatmap per obs column tested, and the strongest
    /// changes in words.
    func differentialHTML(_ r: Run) -> String {
        guard !r.differential.isEmpty else { return "" }
        var s = "<h4>Differential activity</h4><p>From <code>latent differential</code>: for each group against its reference, p = P(z<sub>group</sub> &gt; z<sub>reference</sub>) over pairs of cells drawn from their posteriors, and the log Bayes factor log p − log(1 − p); |log BF| &gt; 2.3 is odds above 10 : 1. Red: more active in the group.</p>"
        var charts = ""
        let byColumn = Dictionary(grouping: r.differential, by: \.groupby)
        for column in byColumn.keys.sorted() {
            let rows = byColumn[column]!
            var latents: [(Int, String)] = []
            var groups: [String] = []
            for t in rows {
                if !latents.contains(where: { $0.0 == t.row.latent }) { latents.append((t.row.latent, t.row.name)) }
                let g = t.row.reference == "rest" ? t.row.group : "\(t.row.group) vs \(t.row.reference)"
                if !groups.contains(g) { groups.append(g) }
            }
            latents.sort { $0.0 < $1.0 }
            var values = [[Double]](repeating: [Double](repeating: .nan, count: groups.count), count: latents.count)
            for t in rows {
                let g = t.row.reference == "rest" ? t.row.group : "\(t.row.group) vs \(t.row.reference)"
                if let i = latents.firstIndex(where: { $0.0 == t.row.latent }), let j = groups.firstIndex(of: g) {
                    // ±27.6 is log(1/ε): clip so that one certain call does not wash out the colour scale;
            // the scale reaches at least ±4.6 (twice the 2.3 of odds 10 : 1), so that weak evidence stays pale
                    values[i][j] = max(-10, min(10, t.row.logBayesFactor))
                }
            }
            let shown = Array(latents.prefix(40))
            charts += SVG.heatmap(rows: shown.map { $0.1 == "z\($0.0)" ? "latent \($0.0)" : "\($0.0) · \($0.1)" }, columns: groups,
                                  values: Array(values.prefix(shown.count)),
                                  title: "log Bayes factor by \(column)" + (latents.count > 40 ? " (first 40 latents)" : "") + ", clipped at ±10",
                                  columnTitle: column, minimumScale: 4.6)
        }
        s += "<div class=\"charts\">\(charts)</div>"
        let top = r.differential.filter { $0.row.direction != "none" }
            .sorted { abs($0.row.logBayesFactor) != abs($1.row.logBayesFactor) ? abs($0.row.logBayesFactor) > abs($1.row.logBayesFactor) : $0.row.latent < $1.row.latent }
            .prefix(8)
        if !top.isEmpty {
            s += "<ul class=\"note\">"
            for t in top {
                let d = t.row
                s += "<li>\(SVG.escape(d.name)) is \(d.direction == "up" ? "higher" : "lower") in \(SVG.escape(t.groupby))=\(SVG.escape(d.group)) than in \(SVG.escape(d.reference == "rest" ? "the other cells" : d.reference)) (p = \(SVG.label(d.probability)), log BF \(SVG.label(d.logBayesFactor)))</li>"
            }
            s += "</ul>"
        } else {
            s += "<p class=\"note\">No latent changes with |log BF| above the table's threshold.</p>"
        }
        return s
    }
}
