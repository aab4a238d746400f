import Foundation
import LatentCore
import LatentIO
import LatentModels
import XCTest
@testable import LatentReport

/// The report on files written in the documented formats: VAE runs (embedding.h5ad with uns["vae"],
/// history.tsv, traverse.tsv) in a directory and in a pipeline cache (manifest.json entries).
final class ReportTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-report-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    static let genes = ["CD3E", "MS4A1", "LYZ", "GENE<&>", "NKG7", "HBB"]

    /// n cells, K latents; latent 0 follows obs "group" so correlations and colours have something to show.
    static func vaeDataset(beta: Double, seed: Int64, K: Int = 3, n: Int = 40) -> Dataset {
        var rng = SeededRNG(seed: UInt64(seed) + 1)
        let g = genes.count
        let X = Matrix(rows: n, cols: g, values: (0..<(n * g)).map { _ in Float(rng.uniform() * 5) })
        var obs = DataFrame(index: (0..<n).map { "c\($0)" })
        let group = (0..<n).map { Int32($0 % 2) }
        obs.set("group", .categorical(codes: group, categories: ["A", "B"], ordered: false))
        obs.set("depth", .float64((0..<n).map { _ in rng.uniform() }))
        var z = [Float](repeating: 0, count: n * K)
        for i in 0..<n { for k in 0..<K { z[i * K + k] = Float(k == 0 ? Double(group[i]) * 2 + 0.1 * rng.normal() : (k == K - 1 ? 0.01 : 1) * rng.normal()) } }
        var ds = Dataset(X: .dense(X), obs: obs, var: DataFrame(index: genes))
        ds.obsm["X_vae"] = .dense(Matrix(rows: n, cols: K, values: z))
        ds.obsm["X_vae_logvar"] = .dense(Matrix(rows: n, cols: K, repeating: -1))
        ds.varm["vae_loadings"] = .dense(Matrix(rows: g, cols: K, values: (0..<(g * K)).map { Float($0 % 7) - 3 }))
        ds.uns["vae"] = .dict(OrderedDict([
            ("objective", .string("tc")), ("beta", .double(beta)), ("latent", .int(Int64(K))), ("likelihood", .string("nb")),
            ("decoder", .string("linear")), ("seed", .int(seed)), ("epochs_run", .int(5)),
            ("kl_per_latent", .numbers(NumericArray(shape: [K], storage: .float64((0..<K).map { k in k == K - 1 ? 0.001 : 2.0 / Double(k + 1) })))),
            ("active_latents", .numbers(NumericArray(shape: [K - 1], storage: .int64((0..<Int64(K - 1)).map { $0 })))),
            ("active_threshold", .double(0.01)),
        ]))
        return ds
    }

    static func history(K: Int = 3, recon: Double) -> String {
        var s = (["epoch", "train_loss", "train_recon", "train_kl", "train_tc", "val_loss", "val_recon", "val_kl", "beta", "capacity", "lr"]
                 + (0..<K).map { "kl_z\($0)" }).joined(separator: "\t") + "\n"
        for e in 1...5 {
            let r = recon + 10 / Double(e)
            s += (["\(e)", "\(r + 3)", "\(r)", "3", "0.5", "\(r + 4)", "\(r + 1)", "3.2", "4", "NA", "0.001"] + (0..<K).map { "\(1.0 / Double($0 + 1))" }).joined(separator: "\t") + "\n"
        }
        return s
    }

    static let traversal = "gene\t-2\t0\t2\nCD3E\t0.1\t0.5\t2.0\nLYZ\t1.0\t1.0\t1.0\n"

    func write(_ text: String, _ path: String) throws {
        try FileManager.default.createDirectory(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func vaeRun(_ sub: String, beta: Double, seed: Int64, recon: Double) throws {
        let d = dir + "/" + sub
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try H5AD.write(Self.vaeDataset(beta: beta, seed: seed), to: d + "/embedding.h5ad")
        try write(Self.history(recon: recon), d + "/history.tsv")
        try write(Self.traversal, d + "/traverse_z0.tsv")
    }

    func testVAERunDirectoryAndSweep() throws {
        try vaeRun("b1", beta: 1, seed: 0, recon: 100)
        try vaeRun("b4", beta: 4, seed: 0, recon: 110)
        try vaeRun("b4s1", beta: 4, seed: 1, recon: 112)
        let report = try Report.discover(dir)
        XCTAssertEqual(report.runs.map(\.id), ["b1", "b4", "b4s1"])
        let r = report.runs[1]
        XCTAssertEqual(r.model, "vae")
        XCTAssertEqual(r.vae?.beta, 4)
        XCTAssertEqual(r.activeLatents, [0, 1])
        XCTAssertEqual(r.history?.last("train_recon"), 112)  // 110 + 10/5
        XCTAssertEqual(r.history?.column("train_tc")?.count, 5)
        XCTAssertEqual(r.traversals.map(\.latent), [0])
        XCTAssertEqual(r.traversals[0].steps, [-2, 0, 2])

        let out = dir + "/out/report.html"
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        let tables = try report.write(to: out)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        for id in ["overview", "comparison", "sweep", "models", "tables", "run-0", "run-1-latent-0"] { XCTAssertTrue(html.contains("id=\"\(id)\""), id) }
        for chart in ["Reconstruction vs β", "KL per latent", "KL and total correlation", "Traversal:", "Distribution by group", "Top genes (loading)"] {
            XCTAssertTrue(html.contains(chart), chart)
        }
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "the page must not reference the network")
        XCTAssertFalse(html.contains("id=\"integration\""), "no batch/label metrics, no integration section")
        XCTAssertTrue(html.contains("GENE&lt;&amp;&gt;") && !html.contains("GENE<&>"))
        // the sweep table: one row per run with the last epoch's reconstruction and β
        let sweep = tables.first { $0.name == "sweep" }!
        let tsv = try String(contentsOfFile: dir + "/out/report_tables/sweep.tsv", encoding: .utf8)
        XCTAssertEqual(tsv, sweep.tsv)
        let lines = tsv.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines[0], ["run", "objective", "beta", "gamma", "seed", "epochs", "train_recon", "val_recon", "train_kl", "active_latents", "mig"])
        XCTAssertEqual(lines[1], ["b1", "tc", "1", "NA", "0", "5", "102", "103", "3", "2", "NA"])
        // a latent following the categorical obs column correlates with it
        let cov = try String(contentsOfFile: dir + "/out/report_tables/covariates.tsv", encoding: .utf8)
        let groupRow = cov.split(separator: "\n").first { $0.hasPrefix("b1\t0\tgroup\tspearman") }!
        XCTAssertGreaterThan(Double(groupRow.split(separator: "\t")[4])!, 0.8)
        // no temporary files left next to the outputs
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted(), ["report.html", "report_tables"])
        // same input, same bytes
        try report.write(to: dir + "/out/again.html")
        XCTAssertEqual(try String(contentsOfFile: dir + "/out/again.html", encoding: .utf8), html.replacingOccurrences(of: "report_tables/", with: "again_tables/"))
    }

    func testPipelineCacheAttachesDownstreamEntries() throws {
        let entries = dir + "/cache/entries"
        func entry(_ key: String, stage: String, name: String, instance: String = "", inputs: [String: String] = [:], parameters: String = "{}") throws {
            let ins = inputs.map { "\"\($0.key)\": {\"key\": \"\($0.value)\", \"stage\": \"x\"}" }.joined(separator: ", ")
            try write("{\"stage\": \"\(stage)\", \"name\": \"\(name)\", \"instance\": \"\(instance)\", \"key\": \"\(key)\", \"version\": 1, \"parameters\": \(parameters), \"inputs\": {\(ins)}, \"outputs\": []}",
                      "\(entries)/\(key)/manifest.json")
        }
        try entry("k_vae", stage: "vae", name: "tcvae", instance: "beta=4,seed=0", inputs: ["input": "k_norm"], parameters: "{\"beta\": 4}")
        try H5AD.write(Self.vaeDataset(beta: 4, seed: 0), to: "\(entries)/k_vae/embedding.h5ad")
        try write(Self.history(recon: 50), "\(entries)/k_vae/history.tsv")
        try entry("k_norm", stage: "normalize", name: "normalize")
        try entry("k_enrich", stage: "enrich", name: "enrich", inputs: ["embedding": "k_vae"])
        try write("latent\tmethod\tgene_set\tdirection\tsize\tes\tnes\tpval\tpadj\tleading_edge\tnull\n1\tgsea\tT_CELL\tup\t20\t0.6\t2.1\t0.001\t0.01\tCD3E\tx\n1\tgsea\tB_CELL\tdown\t25\t-0.2\t-0.9\t0.5\t0.6\t\tx\n",
                  "\(entries)/k_enrich/enrich.tsv")
        try entry("k_trav", stage: "traverse", name: "traverse", inputs: ["model": "k_vae"], parameters: "{\"latent\": 1}")
        try write(Self.traversal, "\(entries)/k_trav/traverse.tsv")
        try entry("k_metrics", stage: "metrics", name: "metrics", inputs: ["embedding": "k_vae"])
        let rows = [Metrics.Row("mig", 0.7), Metrics.Row("dci_disentanglement", 0.5)]
        try write(Metrics.tsv(rows, run: .init(model: "vae", parameters: "objective=tc,beta=4", seed: "0")), "\(entries)/k_metrics/metrics.tsv")

        let report = try Report.discover(dir + "/cache")
        XCTAssertEqual(report.runs.count, 1)
        let r = report.runs[0]
        XCTAssertEqual(r.id, "tcvae [beta=4,seed=0]")
        XCTAssertEqual(r.enrichment.count, 2)
        XCTAssertEqual(r.traversals.map(\.latent), [1])
        XCTAssertEqual(r.metric("mig"), 0.7)
        XCTAssertNotNil(r.history)
        let views = report.latentViews(r)
        XCTAssertEqual(views[1].sets.first?.geneSet, "T_CELL")
        XCTAssertEqual(views[1].significantSets, 1)
        let comparison = report.comparisonTable(report.runs.map(report.latentViews))
        let row = comparison.rows[0]
        let col = { (name: String) -> ReportTable.Cell in row[comparison.columns.firstIndex(of: name)!] }
        if case .number(let v) = col("latents_with_significant_set") { XCTAssertEqual(v, 1) } else { XCTFail() }
        if case .number(let v) = col("mig") { XCTAssertEqual(v, 0.7) } else { XCTFail() }
        // a report stage handed only the downstream entries finds their model beside them
        let gathered = try Report.discover(["\(entries)/k_enrich", "\(entries)/k_metrics"])
        XCTAssertEqual(gathered.runs.map(\.id), ["tcvae [beta=4,seed=0]"])
        XCTAssertEqual(gathered.runs[0].enrichment.count, 2)
        XCTAssertEqual(gathered.runs[0].metric("mig"), 0.7)
    }

    /// A covariate-aware run (batch and label metrics, a subspace recorded in uns["vae"]) gets an
    /// integration section with the metrics table, scatters by batch and by label, and the
    /// subspace table; the numbers on the page are the metrics table's.
    func testIntegrationSectionForCovariateAwareRun() throws {
        var ds = Self.vaeDataset(beta: 1, seed: 0, K: 3, n: 60)
        ds.obs.set("sample", .string((0..<60).map { "s\($0 % 3)" }))
        if case .dict(var u)? = ds.uns["vae"] {
            u["subspaces"] = .dict(OrderedDict([("group", .numbers(NumericArray(shape: [1], storage: .int64([0]))))]))
            ds.uns["vae"] = .dict(u)
        }
        let d = dir + "/cov"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        try H5AD.write(ds, to: d + "/embedding.h5ad")
        let rows = try Metrics.integration(ds, key: "obsm/X_vae", request: .init(batch: "obs/sample", labels: "obs/group"), file: d + "/embedding.h5ad")
        try write(Metrics.tsv(rows, run: Metrics.runLabel(ds, key: "obsm/X_vae")), d + "/metrics.tsv")
        let report = try Report.discover(dir)
        XCTAssertEqual(report.runs[0].subspaces, [Metrics.Subspace(name: "group", start: 0, count: 1)])
        let out = dir + "/out/report.html"
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        let tables = try report.write(to: out)
        let html = try String(contentsOfFile: out, encoding: .utf8)
        for needle in ["id=\"integration\"", "href=\"#integration\"", "Cells coloured by batch (sample)", "Cells coloured by label (group)", "Latent subspaces"] {
            XCTAssertTrue(html.contains(needle), needle)
        }
        let integration = tables.first { $0.name == "integration" }!
        XCTAssertEqual(integration.rows.count, 1)
        let total = integration.rows[0][integration.columns.firstIndex(of: "scib_total")!]
        if case .number(let v) = total { XCTAssertEqual(v, rows.first { $0.metric == "scib_total" }!.value) } else { XCTFail() }
        if case .text(let b) = integration.rows[0][1] { XCTAssertEqual(b, "sample") } else { XCTFail() }
        let spaces = tables.first { $0.name == "subspaces" }!
        XCTAssertEqual(spaces.rows.count, 1)
        if case .text(let l) = spaces.rows[0][2] { XCTAssertEqual(l, "0–0") } else { XCTFail() }
        // latent 0 follows "group": its own subspace predicts it perfectly
        if case .number(let v) = spaces.rows[0][4] { XCTAssertEqual(v, 1) } else { XCTFail() }
    }

    func testNoModelIsBadInput() throws {
        var ds = Self.vaeDataset(beta: 1, seed: 0)
        ds.obsm = MatrixDict()
        try H5AD.write(ds, to: dir + "/dataset.h5ad")
        XCTAssertThrowsError(try Report.discover(dir)) { e in XCTAssertEqual((e as? LatentError)?.kind, .badInput) }
    }

    func testChartsAreWellFormedAndEscaped() {
        let svg = SVG.barChart([(label: "a<b", value: 1), (label: "c", value: -2)], title: "t & u", valueLabel: "v")
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>"))
        XCTAssertTrue(svg.contains("a&lt;b") && svg.contains("t &amp; u"))
        let t = SVG.ticks(0, 1, count: 5)
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.first, 0)
        XCTAssertEqual(t.last!, 1, accuracy: 1e-12)
        XCTAssertEqual(SVG.ticks(-3, 7, count: 5), [-2, 0, 2, 4, 6])
        XCTAssertEqual(SVG.diverging(0), "#ffffff")
        XCTAssertEqual(SVG.lineChart([], title: "", xLabel: "", yLabel: ""), "")
        // scatter: one circle per cell up to the cap, the legend without empty groups, the 8th and
        // later groups (by size) grey as "other"
        let n = 40
        let sc = SVG.scatter(x: (0..<n).map(Double.init), y: (0..<n).map { Double($0 % 7) }, group: (0..<n).map { $0 % 10 },
                             names: (0..<11).map { "g\($0)" }, title: "s", xLabel: "x", yLabel: "y")
        XCTAssertEqual(sc.components(separatedBy: "<circle").count - 1, n)
        XCTAssertTrue(sc.contains(">other<") && !sc.contains("g10"))
        XCTAssertEqual(SVG.scatter(x: (0..<n).map(Double.init), y: (0..<n).map(Double.init), group: [Int](repeating: 0, count: n), names: ["a"],
                                   title: "s", xLabel: "x", yLabel: "y", maxPoints: 10).components(separatedBy: "<circle").count - 1, 10)
    }
}
