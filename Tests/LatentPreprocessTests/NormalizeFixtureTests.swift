import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO
@testable import LatentPreprocess

/// `latent normalize` against scanpy on the bundled real data (fixtures and the script that made
/// them in Fixtures/): same HVG genes, normalised values to 1e-5, same QC metrics. The geuvadislog
/// scenarios start from log-normalised data with `--method none` (the input type detected).
final class NormalizeFixtureTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func input(_ name: String) throws -> Dataset {
        switch name {
        case "geuvadis":
            var o = Import.Options()
            o.obsTable = root.appendingPathComponent("Examples/geuvadis/geuvadis_sex_counts_obs.csv").path
            return try Import.read(root.appendingPathComponent("Examples/geuvadis/geuvadis_sex_counts.csv.gz").path, options: o).dataset
        case "geuvadis_log":
            // Already log-normalised (made by the fixture script); read as latent reads any h5ad.
            var w: [String] = []
            return try H5AD.read(fixtures.appendingPathComponent("geuvadis_log_input.h5ad").path, warnings: &w)
        default:
            var w: [String] = []
            return try H5AD.read(root.appendingPathComponent("Examples/hsmm/hsmm_trapnell2014.h5ad").path, warnings: &w)
        }
    }

    static func parameters(_ j: [String: Any]) -> NormalizeParameters {
        var p = NormalizeParameters()
        p.method = NormalizeParameters.Method(rawValue: j["method"] as! String)!
        p.hvg = j["hvg"] as? Int
        if let f = j["hvg_flavor"] as? String { p.hvgFlavor = HVG.Flavor(rawValue: f)! }
        p.batchKey = j["batch_key"] as? String
        p.minGenes = j["min_genes"] as? Int
        p.minCells = j["min_cells"] as? Int
        p.minCounts = (j["min_counts"] as? Int).map(Double.init)
        if let s = j["scale"] as? String { p.scale = Scale.Method(rawValue: s)! }
        p.maxValue = (j["max_value"] as? Int).map(Double.init) ?? j["max_value"] as? Double
        return p
    }

    func dense(_ m: MatrixData) -> Matrix {
        switch m { case .dense(let d): d; case .sparse(let s): s.densified() }
    }

    func assertClose(_ a: [Double], _ b: [Double], rel: Double, abs absTol: Double = 1e-12, _ what: String) {
        XCTAssertEqual(a.count, b.count, what)
        var worst = 0.0, at = -1
        for i in 0..<min(a.count, b.count) {
            if a[i].isNaN && b[i].isNaN { continue }
            let err = Swift.abs(a[i] - b[i]) / max(Swift.abs(b[i]), absTol / rel)
            if !(err <= worst) { worst = err; at = i }
        }
        XCTAssertLessThanOrEqual(worst, rel, "\(what): worst relative difference \(worst) at \(at): \(at >= 0 ? "\(a[at]) vs \(b[at])" : "")")
    }

    func testScenariosMatchScanpy() throws {
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.fixtures.appendingPathComponent("scenarios.json"))) as! [String: [String: Any]]
        XCTAssertGreaterThanOrEqual(manifest.count, 7)
        var inputs: [String: Dataset] = [:]
        // LATENT_SCENARIO=prefix runs only matching scenarios (for debugging one).
        let only = ProcessInfo.processInfo.environment["LATENT_SCENARIO"] ?? ""
        for name in manifest.keys.sorted() where name.hasPrefix(only) {
            let spec = manifest[name]!
            let source = spec["input"] as! String
            if inputs[source] == nil { inputs[source] = try Self.input(source) }
            let out = try NormalizeStage.run(inputs[source]!, Self.parameters(spec), file: source, threads: 2).dataset
            var w: [String] = []
            let expected = try H5AD.read(Self.fixtures.appendingPathComponent("\(name).h5ad").path, warnings: &w)

            // Same genes selected, same cells kept.
            XCTAssertEqual(out.obs.index, expected.obs.index, "\(name): cells")
            let ours = Set(out.var.index), theirs = Set(expected.var.index)
            XCTAssertEqual(ours.subtracting(theirs).sorted(), [], "\(name): genes selected by latent only")
            XCTAssertEqual(theirs.subtracting(ours).sorted(), [], "\(name): genes selected by scanpy only")
            guard out.var.index == expected.var.index else { continue }

            // Values: relative 1e-5 (absolute 1e-5 near zero, where relative error is meaningless).
            let a = dense(out.X).values.map(Double.init), b = dense(expected.X).values.map(Double.init)
            assertClose(a, b, rel: 1e-5, abs: 1e-5, "\(name): X")

            // QC metrics as calculate_qc_metrics names them. scanpy sums counts per cell in Float32
            // (a 2·10⁷-count sample comes out 47 short); we sum in Double, so totals and the shares
            // built on them agree to Float32 precision (1e-5), gene counts exactly.
            XCTAssertEqual(out.obs["n_genes_by_counts"]!.doubles!, expected.obs["n_genes_by_counts"]!.doubles!, "\(name): n_genes_by_counts")
            for col in ["total_counts", "pct_counts_mt", "log1p_total_counts",
                        "pct_counts_in_top_50_genes", "pct_counts_in_top_100_genes", "pct_counts_in_top_500_genes"] {
                assertClose(out.obs[col]!.doubles!, expected.obs[col]!.doubles!, rel: 1e-5, "\(name): obs \(col)")
            }
            for col in ["n_cells_by_counts", "mean_counts", "pct_dropout_by_counts", "total_counts"] {
                assertClose(out.var[col]!.doubles!, expected.var[col]!.doubles!, rel: 1e-6, "\(name): var \(col)")
            }
            for col in ["means", "dispersions_norm", "variances_norm"] where expected.var[col] != nil {
                assertClose(out.var[col]!.doubles!, expected.var[col]!.doubles!, rel: 1e-4, abs: 1e-6, "\(name): var \(col)")
            }
        }
    }

    func testDESeq2SizeFactorsMatchPyDESeq2() throws {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("geuvadis_deseq2_size_factors.tsv"), encoding: .utf8)
        let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: "\t") }
        let ds = try Self.input("geuvadis")
        let sf = try Normalize.medianOfRatiosSizeFactors(ds.X, file: "geuvadis")
        XCTAssertEqual(rows.map { String($0[0]) }, ds.obs.index)
        assertClose(sf, rows.map { Double($0[1])! }, rel: 1e-9, "size factors")
    }
}
