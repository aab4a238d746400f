import Foundation
import LatentIO
import LatentModels

/// The page: one self-contained HTML file (inline CSS, SVG and a few lines of JavaScript; nothing
/// fetched), read top to bottom — runs, the comparison across models, the β sweep, then each model
/// and each of its latents.
extension Report {
    public func html(generator: String = "latent", tablesName: String = "report_tables") -> (html: String, tables: [ReportTable]) {
        let views = runs.map(latentViews)
        let tables = tables(views)
        let byName = Dictionary(uniqueKeysWithValues: tables.map { ($0.name, $0) })
        var b = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        b += "<title>\(SVG.escape(options.title))</title>\n<style>\(Self.css)</style>\n</head>\n<body>\n"
        b += "<header><h1>\(SVG.escape(options.title))</h1><p class=\"meta\">\(runs.count) model run\(runs.count == 1 ? "" : "s") from <code>\(SVG.escape(source))</code> · made by \(SVG.escape(generator)) · significant: FDR &lt; \(SVG.label(options.fdr))</p>"
        b += "<nav><a href=\"#overview\">Runs</a><a href=\"#comparison\">Comparison</a><a href=\"#sweep\">β sweep</a>"
        if byName["metrics_across_seeds"] != nil { b += "<a href=\"#seeds\">Across seeds</a>" }
        if byName["integration"] != nil || byName["subspaces"] != nil { b += "<a href=\"#integration\">Integration</a>" }
        if byName["consensus"] != nil { b += "<a href=\"#consensus\">Stability</a>" }
        b += "<a href=\"#models\">Models and latents</a><a href=\"#tables\">Tables</a></nav></header>\n<main>\n"

        b += "<section id=\"overview\"><h2>Runs</h2><p>Every model output found, with the files attached to it.</p>"
        b += tableHTML(byName["runs"]!)
        for n in notes { b += "<p class=\"note\">\(SVG.escape(n))</p>" }
        b += "</section>\n"

        b += comparisonSection(byName["comparison"]!, views: views)
        b += sweepSection()
        if let s = byName["metrics_across_seeds"] {
            b += "<section id=\"seeds\"><h2>Across seeds</h2><p>Mean and standard deviation of every score over runs that differ only in their seed. Locatello et al. (2019) found the seed matters as much as the model: read a difference between models against this spread.</p>"
            b += tableHTML(s) + "</section>\n"
        }
        b += integrationSection(byName)
        if let c = byName["consensus"] { b += consensusSection(c) }

        b += "<section id=\"models\"><h2>Models and latents</h2>"
        for (i, r) in runs.enumerated() { b += modelArticle(r, index: i, views: views[i], latents: byName["latents"]!) }
        b += "</section>\n"

        b += "<section id=\"tables\"><h2>Tables</h2><p>Every table on this page is also a tab-separated file beside it, in <code>\(SVG.escape(tablesName))/</code>:</p><ul>"
        for t in tables { b += "<li><code>\(SVG.escape(t.name)).tsv</code> — \(SVG.escape(t.title)) (\(t.rows.count) rows)</li>" }
        b += "</ul></section>\n</main>\n<script>\(Self.script)</script>\n</body>\n</html>\n"
        return (b, tables)
    }

    func comparisonSection(_ t: ReportTable, views: [[LatentView]]) -> String {
        var s = "<section id=\"comparison\"><h2>Comparison</h2>"
        s += "<p>How the models compare. <b>Latents with a significant set</b> and <b>distinct sets</b> are BioBombe's view of how much biology a model's latents capture together (FDR &lt; \(SVG.label(options.fdr))); on simulated data, <b>planted programs recovered</b> counts the programs that are some latent's top significant set. Disentanglement scores (MIG, DCI, SAP, FactorVAE) appear where known factors were given to <code>latent metrics</code>; the Gaussian total correlation (0 = uncorrelated latents) is computed from the codes.</p>"
        s += tableHTML(t)
        var charts = ""
        if runs.contains(where: { !$0.enrichment.isEmpty }) {
            let bars = runs.enumerated().compactMap { i, r in r.enrichment.isEmpty ? nil : (label: r.id, value: Double(views[i].filter { $0.significantSets > 0 }.count)) }
            charts += SVG.barChart(bars, title: "Latents with ≥ 1 significant gene set", valueLabel: "latents", symmetric: false)
            let d = runs.compactMap { r in r.enrichment.isEmpty ? nil : (label: r.id, value: Double(Set(r.enrichment.filter { $0.padj < options.fdr }.map(\.geneSet)).count)) }
            charts += SVG.barChart(d, title: "Distinct significant gene sets covered", valueLabel: "gene sets", symmetric: false)
        }
        let mig = runs.compactMap { r in r.metric("mig").map { (label: r.id, value: $0) } }
        if !mig.isEmpty { charts += SVG.barChart(mig, title: "Mutual information gap (MIG)", valueLabel: "MIG", symmetric: false) }
        let dci = runs.compactMap { r in r.metric("dci_disentanglement").map { (label: r.id, value: $0) } }
        if !dci.isEmpty { charts += SVG.barChart(dci, title: "DCI disentanglement", valueLabel: "D", symmetric: false) }
        if !charts.isEmpty { s += "<div class=\"charts\">\(charts)</div>" }
        return s + "</section>\n"
    }

    func sweepSection() -> String {
        var s = "<section id=\"sweep\"><h2>β sweep</h2>"
        let vae = runs.filter { $0.vae?.strength != nil }
        guard !vae.isEmpty else {
            return s + "<p class=\"note\">No VAE runs with a recorded β were found, so there is no reconstruction–β trade-off to show.</p></section>\n"
        }
        s += "<p>Reconstruction at the last epoch against β, one line per objective (mean over seeds; dots are single runs in the table below). A larger β buys independence of the latents with reconstruction quality; the knee of these curves is usually the useful range.</p>"
        let objectives = Array(Set(vae.map { $0.vae?.objective ?? "?" })).sorted()
        func series(_ value: (Run) -> Double?, _ suffix: String, dashed: Bool = false) -> [SVG.Series] {
            objectives.enumerated().compactMap { oi, o in
                let rs = vae.filter { ($0.vae?.objective ?? "?") == o }
                var byBeta: [Double: [Double]] = [:]
                for r in rs { if let b = r.vae?.strength, let v = value(r), v.isFinite { byBeta[b, default: []].append(v) } }
                guard !byBeta.isEmpty else { return nil }
                return SVG.Series(name: o + suffix, points: byBeta.keys.sorted().map { (x: $0, y: Metrics.mean(byBeta[$0]!)) }, dashed: dashed, color: oi)
            }
        }
        let logX = vae.allSatisfy { ($0.vae?.strength ?? 0) > 0 }
        let xLabel = vae.contains { $0.vae?.objective == "factor" } ? "β (γ for factor)" : "β"
        var charts = SVG.lineChart(series({ $0.history?.last("train_recon") }, "") + series({ $0.history?.last("val_recon") }, " validation", dashed: true),
                                   title: "Reconstruction vs β (dashed: validation)", xLabel: xLabel, yLabel: "reconstruction loss (last epoch)", markers: true, logX: logX)
        charts += SVG.lineChart(series({ Double($0.activeLatents.count) }, ""), title: "Active latents vs β", xLabel: xLabel, yLabel: "active latents", markers: true, logX: logX)
        let migSeries = series({ $0.metric("mig") }, "")
        if !migSeries.isEmpty { charts += SVG.lineChart(migSeries, title: "MIG vs β", xLabel: xLabel, yLabel: "MIG", markers: true, logX: logX) }
        s += "<div class=\"charts\">\(charts)</div>"
        s += tableHTML(sweepTable())
        return s + "</section>\n"
    }

    func modelArticle(_ r: Run, index i: Int, views: [LatentView], latents: ReportTable) -> String {
        var s = "<article class=\"model\" id=\"run-\(i)\"><h3>\(SVG.escape(r.id)) <span class=\"tag\">\(SVG.escape(r.model))</span></h3>"
        s += "<p class=\"meta\">\(r.nCells) cells × \(r.nGenes) genes · \(r.latentCount) latents, \(r.activeLatents.count) active"
        if !r.parameters.isEmpty { s += " · \(SVG.escape(r.parameters))" }
        if r.seed != "NA" { s += " · seed \(SVG.escape(r.seed))" }
        if let e = r.vae?.epochsRun { s += " · \(e) epochs" }
        s += " · <code>\(SVG.escape(r.source))</code></p>"
        var charts = ""
        if let h = r.history {
            let x = h.epochs
            func line(_ cols: [(String, Bool)]) -> [SVG.Series] {
                cols.compactMap { c, dashed in
                    guard let v = h.column(c), v.contains(where: \.isFinite) else { return nil }
                    return SVG.Series(name: c, points: zip(x, v).map { (x: $0, y: $1) }, dashed: dashed)
                }
            }
            // val_loss is the negative ELBO while train_loss is the objective (β·KL, TC terms …):
            // draw the training −ELBO too, so that the validation curve has its like to compare with
            var loss = line([("train_loss", false), ("val_loss", true)])
            for i in loss.indices { loss[i].color = i }
            if let r = h.column("train_recon"), let k = h.column("train_kl"), h.column("val_loss")?.contains(where: \.isFinite) == true {
                loss.insert(SVG.Series(name: "train −ELBO", points: zip(x, zip(r, k).map { $0 + $1 }).map { (x: $0, y: $1) }, color: 2), at: 1)
            }
            charts += SVG.lineChart(loss, title: "Loss", xLabel: "epoch", yLabel: "loss")
            charts += SVG.lineChart(line([("train_recon", false), ("val_recon", true)]), title: "Reconstruction", xLabel: "epoch", yLabel: "reconstruction loss")
            charts += SVG.lineChart(line([("train_kl", false), ("val_kl", true), ("train_tc", false)]), title: "KL and total correlation", xLabel: "epoch", yLabel: "nats")
            let klCols = h.columns.filter { $0.hasPrefix("kl_z") }
            if !klCols.isEmpty {
                let se = klCols.map { c in SVG.Series(name: String(c.dropFirst(3)), points: zip(x, h.column(c)!).map { (x: $0, y: $1) }) }
                charts += SVG.lineChart(se.count <= 8 ? se : Array(se.sorted { ($0.points.last?.y ?? 0) > ($1.points.last?.y ?? 0) }.prefix(8)),
                                        title: "KL per latent" + (se.count > 8 ? " (8 largest)" : ""), xLabel: "epoch", yLabel: "KL (nats)")
            }
        }
        if let kl = r.vae?.klPerLatent ?? views.compactMap(\.kl).nilIfEmpty {
            charts += SVG.barChart(kl.enumerated().map { (label: "z\($0)" + (r.activeLatents.contains($0) ? " ●" : ""), value: $1) },
                                   title: "KL per latent (● active)", valueLabel: "KL (nats)", symmetric: false)
        }
        if let v = r.varianceRatio {
            charts += SVG.barChart(v.enumerated().map { (label: "PC\($0)", value: $1) }, title: "Variance explained", valueLabel: "fraction of variance", symmetric: false)
        }
        let covs = Array(Set(views.flatMap { $0.correlations.map(\.covariate) })).sorted()
        if !covs.isEmpty {
            let vals = views.map { v in covs.map { c in v.correlations.first { $0.covariate == c }?.value ?? .nan } }
            charts += SVG.heatmap(rows: views.map { "latent \($0.index)" }, columns: covs, values: vals,
                                  title: "Latents × obs covariates (Spearman ρ; η for categories)", columnTitle: "obs column")
        }
        if !charts.isEmpty { s += "<div class=\"charts\">\(charts)</div>" }
        s += differentialHTML(r)
        var mine = latents
        mine.rows = latents.rows.filter { if case .text(let id) = $0[0] { id == r.id } else { false } }
        mine.name = "latents-\(i)"
        s += tableHTML(mine, hideFirst: true)
        let colour = Self.colorGroups(r.obs, preferred: options.colorBy)
        for v in views { s += latentDetails(r, v, run: i, colour: colour, open: i == 0 && v.index < 2) }
        return s + "</article>\n"
    }

    func latentDetails(_ r: Run, _ v: LatentView, run i: Int, colour: (column: String, names: [String], group: [Int])?, open: Bool) -> String {
        var head = "latent \(v.index)"
        if let t = v.sets.first, t.padj < options.fdr { head += " — \(t.geneSet) (\(t.direction))" }
        if !v.up.isEmpty { head += " · ↑ " + v.up.prefix(3).map(\.gene).joined(separator: ", ") }
        if !v.active { head += " · inactive" }
        var s = "<details id=\"run-\(i)-latent-\(v.index)\" class=\"latent\"\(open ? " open" : "")><summary>\(SVG.escape(head))</summary>"
        guard v.active || r.model != "vae" else {
            // a collapsed VAE latent carries no signal: its row in the table says enough
            return s + "<p class=\"meta\">Inactive: the variance of its posterior means across cells is \(SVG.label(v.variance)); it encodes nothing and is not drawn.</p></details>\n"
        }
        s += "<div class=\"charts\">"
        if !v.up.isEmpty || !v.down.isEmpty {
            s += SVG.barChart(v.up.map { (label: $0.gene, value: $0.loading) } + v.down.reversed().map { (label: $0.gene, value: $0.loading) },
                              title: "Top genes (loading)", valueLabel: "loading")
        }
        if !v.sets.isEmpty {
            let dots = v.sets.map { e in
                SVG.Dot(label: (e.geneSet.count > 48 ? e.geneSet.prefix(46) + "…" : e.geneSet) + (e.direction == "down" ? " ↓" : e.direction == "up" ? " ↑" : ""),
                        x: e.nes, size: Double(e.size), color: e.padj > 0 ? -log10(e.padj) : 10,
                        note: "\(e.geneSet) (\(e.direction)): NES \(SVG.label(e.nes)), FDR \(SVG.label(e.padj)), \(e.size) genes")
            }
            s += SVG.dotPlot(dots, title: "Top gene sets", xLabel: "NES")
        }
        if !v.correlations.isEmpty {
            s += SVG.barChart(v.correlations.map { (label: $0.covariate + ($0.measure == "eta" ? " (η)" : ""), value: $0.value) },
                              title: "Correlation with obs covariates", valueLabel: "Spearman ρ (η for categories)")
        }
        if let t = r.traversals.first(where: { $0.latent == v.index }), !t.genes.isEmpty {
            // the genes that change most along the traversal, centred per gene
            let rangeOf = t.values.map { ($0.max() ?? 0) - ($0.min() ?? 0) }
            let top = t.genes.indices.sorted { rangeOf[$0] > rangeOf[$1] }.prefix(25)
            let vals = top.map { g in let m = Metrics.mean(t.values[g]); return t.values[g].map { $0 - m } }
            s += SVG.heatmap(rows: top.map { t.genes[$0] }, columns: t.steps.map { SVG.label($0) }, values: vals,
                             title: "Traversal: decoded expression minus the gene's mean", columnTitle: "latent value (SD units)")
        }
        let scores = r.scores[v.index]
        if let c = colour {
            let groups = c.names.indices.map { g in (name: c.names[g], values: scores.indices.filter { c.group[$0] == g }.map { scores[$0] }) }.filter { !$0.values.isEmpty }
            s += SVG.histogram(groups, title: "Distribution by \(c.column)", xLabel: "latent \(v.index) score (coloured by \(c.column))")
        } else {
            s += SVG.histogram([(name: "", values: scores)], title: "Distribution", xLabel: "latent \(v.index) score")
        }
        return s + "</div></details>\n"
    }

    func tableHTML(_ t: ReportTable, hideFirst: Bool = false) -> String {
        var s = "<div class=\"table\"><input type=\"search\" class=\"filter\" placeholder=\"filter \(SVG.escape(t.title.lowercased()))…\" aria-label=\"filter\">"
        s += "<table class=\"sortable\" id=\"table-\(SVG.escape(t.name))\"><thead><tr>"
        let cols = t.columns.indices.filter { !(hideFirst && $0 == 0) }
        for j in cols { s += "<th>\(SVG.escape(t.columns[j].replacingOccurrences(of: "_", with: " ")))</th>" }
        s += "</tr></thead><tbody>"
        for r in t.rows {
            s += "<tr>"
            for j in cols {
                switch r[j] {
                case .text(let x): s += "<td>\(SVG.escape(x))</td>"
                case .number(let x):
                    let shown = x.isNaN ? "–" : (x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : SVG.label(x))
                    s += "<td class=\"num\" data-v=\"\(x.isFinite ? "\(x)" : "")\">\(shown)</td>"
                }
            }
            s += "</tr>"
        }
        return s + "</tbody></table></div>"
    }

    static let css = """
    body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;margin:0;background:#fafbfc}
    header{background:#1f3b57;color:#fff;padding:18px 28px 10px}header h1{margin:0 0 4px;font-size:24px}
    header .meta{color:#d5e2ee}header code{color:#fff}nav a{color:#fff;margin-right:18px;text-decoration:none;border-bottom:1px dotted #9bb}
    main{padding:8px 28px 40px;max-width:1500px}section{margin:22px 0 30px}h2{border-bottom:2px solid #1f3b57;padding-bottom:3px}
    .meta{color:#5a6b7b;margin:2px 0 10px}.note{color:#8a5a00;background:#fff7e0;padding:6px 10px;border-radius:4px}
    article.model{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:6px 18px 14px;margin:18px 0}
    .tag{font-size:12px;background:#e6eef6;color:#1f3b57;border-radius:3px;padding:1px 6px;vertical-align:middle}
    .charts{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start;margin:10px 0}
    svg.chart{background:#fff;border:1px solid #e6eaef;border-radius:4px;max-width:100%;height:auto}
    svg .grid{stroke:#edf0f3}svg .axis{stroke:#8795a1}svg .tick{font-size:10px;fill:#44515d}svg .label{font-size:11px;fill:#1d2733}
    details.latent{border-top:1px solid #e6eaef;padding:4px 0}details.latent summary{cursor:pointer;font-weight:600;padding:3px 0}
    .table{overflow-x:auto;margin:8px 0}input.filter{margin:4px 0;padding:3px 6px;width:260px;border:1px solid #c5ced8;border-radius:3px}
    table{border-collapse:collapse;font-size:12.5px}th,td{padding:3px 8px;border-bottom:1px solid #e6eaef;text-align:left;white-space:nowrap}
    th{background:#eef2f6;cursor:pointer;user-select:none;position:sticky;top:0}th.asc:after{content:" ▲"}th.desc:after{content:" ▼"}
    td.num{text-align:right;font-variant-numeric:tabular-nums}tbody tr:hover{background:#f3f7fb}
    @media print{nav,input.filter{display:none}details{display:block}}
    """

    /// Sorting (click a header: numbers by value, text alphabetically) and filtering (rows
    /// containing the typed text). The last line marks the page as scripted, which the
    /// headless-browser test reads back.
    static let script = """
    document.querySelectorAll('table.sortable').forEach(function (table) {
      var heads = table.tHead.rows[0].cells;
      Array.prototype.forEach.call(heads, function (th, col) {
        th.addEventListener('click', function () {
          var asc = !th.classList.contains('asc');
          Array.prototype.forEach.call(heads, function (h) { h.classList.remove('asc', 'desc'); });
          th.classList.add(asc ? 'asc' : 'desc');
          var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = a.cells[col], y = b.cells[col];
            var u = x.dataset.v, v = y.dataset.v, r;
            if (u !== undefined || v !== undefined) {
              var p = u === '' || u === undefined ? NaN : +u, q = v === '' || v === undefined ? NaN : +v;
              r = isNaN(p) ? (isNaN(q) ? 0 : 1) : isNaN(q) ? -1 : (asc ? p - q : q - p);
            } else {
              r = asc ? x.textContent.localeCompare(y.textContent) : y.textContent.localeCompare(x.textContent);
            }
            return r;
          });
          rows.forEach(function (row) { body.appendChild(row); });
        });
      });
      var filter = table.parentNode.querySelector('input.filter');
      if (filter) filter.addEventListener('input', function () {
        var t = filter.value.toLowerCase();
        Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
          row.style.display = row.textContent.toLowerCase().indexOf(t) >= 0 ? '' : 'none';
        });
      });
    });
    document.documentElement.setAttribute('data-ready', document.querySelectorAll('table.sortable').length);
    """
}

extension Report {
    /// Renders the page and writes it with its tables: the TSV directory first, then the HTML,
    /// each renamed into place only when complete.
    @discardableResult
    public func write(to path: String, generator: String = "latent") throws -> [ReportTable] {
        let dir = Self.tablesDirectory(for: path)
        let page = html(generator: generator, tablesName: URL(fileURLWithPath: dir).lastPathComponent)
        try Self.writeTables(page.tables, to: dir)
        try AtomicOutput.write(Data(page.html.utf8), to: path)
        return page.tables
    }
}

extension Array {
    var nilIfEmpty: [Element]? { isEmpty ? nil : self }
}
