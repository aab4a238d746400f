import Foundation
import LatentCore
import XCTest
@testable import LatentModels

/// Disentanglement metrics on hand-made codes with known values (perfect, permuted, rotated) and
/// against scikit-learn/scipy/numpy (fixture from Fixtures/make_metrics_fixture.py).
final class MetricsTests: XCTestCase {
    /// A full factorial design: every combination of three categorical factors equally often,
    /// so distinct factors are exactly independent and a perfect code has MIG exactly 1.
    static func factorial() -> [Metrics.Factor] {
        var a: [Int] = [], b: [Int] = [], c: [Int] = []
        for _ in 0..<5 { for x in 0..<3 { for y in 0..<4 { for z in 0..<2 { a.append(x); b.append(y); c.append(z) } } } }
        return [("a", a, 3), ("b", b, 4), ("c", c, 2)].map { name, l, k in
            Metrics.Factor(name: name, values: .categorical(labels: l, categories: (0..<k).map { "\($0)" }))
        }
    }

    static func value(_ rows: [Metrics.Row], _ metric: String, latent: String = "all", factor: String = "all") -> Double {
        rows.first { $0.metric == metric && $0.latent == latent && $0.factor == factor }!.value
    }

    /// DCI's importances come from a model fitted on 80% of the cells, which are no longer an exact
    /// factorial design; the leak onto the other latents costs ~0.002.
    func testPerfectCodeScoresOne() throws {
        let f = Self.factorial()
        let codes = f.map { $0.labels(bins: 20).map(Double.init) }
        let rows = try Metrics.compute(codes: codes, factors: f)
        XCTAssertEqual(Self.value(rows, "mig"), 1, accuracy: 1e-12)
        XCTAssertEqual(Self.value(rows, "dci_disentanglement"), 1, accuracy: 5e-3)
        XCTAssertEqual(Self.value(rows, "dci_completeness"), 1, accuracy: 5e-3)
        XCTAssertEqual(Self.value(rows, "dci_informativeness"), 1, accuracy: 1e-12)
        XCTAssertEqual(Self.value(rows, "factorvae_score"), 1, accuracy: 1e-12)
        XCTAssertGreaterThan(Self.value(rows, "sap"), 0.4)
    }

    func testPermutedScaledCodeScoresTheSame() throws {
        let f = Self.factorial()
        let l = f.map { $0.labels(bins: 20).map(Double.init) }
        let codes = [l[2].map { -3 * $0 + 1 }, l[0].map { 0.5 * $0 }, l[1].map { 7 - $0 }]
        let rows = try Metrics.compute(codes: codes, factors: f)
        XCTAssertEqual(Self.value(rows, "mig"), 1, accuracy: 1e-12)
        XCTAssertEqual(Self.value(rows, "dci_disentanglement"), 1, accuracy: 5e-3)
        XCTAssertEqual(Self.value(rows, "dci_completeness"), 1, accuracy: 5e-3)
        XCTAssertEqual(Self.value(rows, "factorvae_score"), 1, accuracy: 1e-12)
        // the largest importance of factor a sits on latent 1, where it was moved
        let imp = (0..<3).map { Self.value(rows, "dci_importance", latent: "\($0)", factor: "a") }
        XCTAssertEqual(imp.firstIndex(of: imp.max()!), 1)
    }

    /// Four continuous factors mixed by a Hadamard rotation: every latent carries every factor
    /// equally, so MIG and DCI are near 0 while informativeness stays perfect.
    func testFullyEntangledRotationScoresNearZero() throws {
        var rng = SeededRNG(seed: 3)
        let n = 4000
        let f = (0..<4).map { _ in (0..<n).map { _ in rng.normal() } }
        let h: [[Double]] = [[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]
        let codes = h.map { row in (0..<n).map { i in (0..<4).reduce(0.0) { $0 + row[$1] * f[$1][i] } / 2 } }
        let factors = f.enumerated().map { Metrics.Factor(name: "f\($0)", values: .continuous($1)) }
        let rows = try Metrics.compute(codes: codes, factors: factors)
        XCTAssertLessThan(Self.value(rows, "mig"), 0.05)
        XCTAssertLessThan(Self.value(rows, "dci_disentanglement"), 0.01)
        XCTAssertLessThan(Self.value(rows, "dci_completeness"), 0.01)
        XCTAssertGreaterThan(Self.value(rows, "dci_informativeness"), 0.999)
        XCTAssertLessThan(Self.value(rows, "sap"), 0.05)
        XCTAssertLessThan(Self.value(rows, "factorvae_score"), 0.5)
        // and the unrotated code is close to perfect on the same continuous factors
        let perfect = try Metrics.compute(codes: f, factors: factors)
        XCTAssertGreaterThan(Self.value(perfect, "mig"), 0.9)
        XCTAssertGreaterThan(Self.value(perfect, "dci_disentanglement"), 0.98)
        XCTAssertGreaterThan(Self.value(perfect, "sap"), 0.95)
        XCTAssertGreaterThan(Self.value(perfect, "factorvae_score"), 0.95)
    }

    func testAgainstScikitLearnAndScipy() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/metrics_reference.json")
        let ref = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let codes = ref["codes"] as! [[Double]]
        let fcat = ref["factor_categorical"] as! [Int]
        let fcon = ref["factor_continuous"] as! [Double]
        XCTAssertEqual(codes.map { Metrics.histogramDiscretize($0, bins: 20) }, ref["discretized_codes"] as! [[Int]])
        let factors = [Metrics.Factor(name: "cat", values: .categorical(labels: fcat, categories: ["x", "y", "z"])),
                       Metrics.Factor(name: "con", values: .continuous(fcon))]
        let mig = Metrics.mutualInformationGap(codes: codes, factors: factors, bins: 20)
        let m = ref["mutual_info"] as! [[Double]]
        for k in 0..<3 { for j in 0..<2 { XCTAssertEqual(mig.mutualInformation[k][j], m[k][j], accuracy: 1e-12) } }
        for (a, b) in zip(mig.entropy, ref["entropy"] as! [Double]) { XCTAssertEqual(a, b, accuracy: 1e-12) }
        XCTAssertEqual(mig.score, ref["mig"] as! Double, accuracy: 1e-12)
        let (d, c) = Metrics.DCI.aggregate(ref["importance"] as! [[Double]])
        XCTAssertEqual(d, ref["dci_disentanglement"] as! Double, accuracy: 1e-10)
        XCTAssertEqual(c, ref["dci_completeness"] as! Double, accuracy: 1e-10)
        for (k, r) in (ref["pearson"] as! [Double]).enumerated() { XCTAssertEqual(Metrics.pearson(codes[k], fcon), r, accuracy: 1e-12) }
        for (k, r) in (ref["spearman"] as! [Double]).enumerated() {
            XCTAssertEqual(Metrics.pearson(Metrics.ranks(codes[k]), Metrics.ranks(fcon)), r, accuracy: 1e-12)
        }
        XCTAssertEqual(Metrics.gaussianTotalCorrelation(codes), ref["gaussian_tc"] as! Double, accuracy: 1e-10)
    }

    func testActiveUnitsAndDeterminism() throws {
        var rng = SeededRNG(seed: 1)
        let n = 300
        let codes = [(0..<n).map { _ in rng.normal() }, (0..<n).map { _ in 0.01 * rng.normal() }, (0..<n).map { _ in 2 * rng.normal() }]
        let f = [Metrics.Factor(name: "f", values: .continuous(codes[0].map { $0 + 0.1 * rng.normal() }))]
        let a = try Metrics.compute(codes: codes, factors: f)
        XCTAssertEqual(Self.value(a, "active_units"), 2)
        XCTAssertEqual(a, try Metrics.compute(codes: codes, factors: f))
    }

    func testSummaryAcrossSeeds() throws {
        let run = { (seed: String, mig: Double) in
            Metrics.tsv([Metrics.Row("mig", mig), Metrics.Row("variance", latent: "0", 1)],
                        run: Metrics.RunLabel(model: "vae", parameters: "objective=tc,beta=4", seed: seed))
        }
        let tables = try [run("0", 0.2), run("1", 0.4), run("2", 0.6)].map { try Metrics.parse($0, file: "x") }
        let lines = Metrics.summary(tables).split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(lines.count, 2)  // header + mig; per-latent rows are not summarised
        XCTAssertEqual(lines[1][2], "mig")
        XCTAssertEqual(Double(lines[1][5])!, 0.4, accuracy: 1e-12)
        XCTAssertEqual(Double(lines[1][6])!, 0.2, accuracy: 1e-12)
        XCTAssertEqual(lines[1][9], "0;1;2")
    }

    func testFactorsAndRunLabelFromADataset() throws {
        var obs = DataFrame(index: ["a", "b", "c", "d"])
        obs.set("kind", .string(["x", "y", "x", "z"]))
        obs.set("ok", .bool([true, false, true, true]))
        obs.set("state", .categorical(codes: [0, -1, 1, 1], categories: ["s0", "s1"], ordered: false))
        obs.set("time", .int64([0, 2, 4, 6]))
        var ds = Dataset(X: .dense(Matrix(rows: 4, cols: 1)), obs: obs, var: DataFrame(index: ["g"]))
        ds.obsm["X_vae"] = .dense(Matrix(rows: 4, cols: 2, values: [0, 1, 2, 3, 4, 5, 6, 7]))
        ds.uns["vae"] = .dict(OrderedDict([("objective", .string("tc")), ("beta", .double(4)), ("latent", .int(2)), ("seed", .int(3))]))
        let f = try Metrics.factors(ds, columns: ["obs/kind", "ok", "state", "time"], file: "x.h5ad")
        XCTAssertEqual(f[0].values, .categorical(labels: [0, 1, 0, 2], categories: ["x", "y", "z"]))
        XCTAssertEqual(f[1].labels(bins: 20), [1, 0, 1, 1])
        XCTAssertEqual(f[2].labels(bins: 20), [0, 2, 1, 1])  // missing is a label of its own
        XCTAssertEqual(f[3].values, .continuous([0, 2, 4, 6]))
        XCTAssertThrowsError(try Metrics.factors(ds, columns: ["nope"], file: "x.h5ad")) { e in
            XCTAssertEqual((e as? LatentError)?.place, "obs/nope")
        }
        XCTAssertEqual(try Metrics.codes(ds, key: "obsm/X_vae", file: "x.h5ad"), [[0, 2, 4, 6], [1, 3, 5, 7]])
        XCTAssertThrowsError(try Metrics.codes(ds, key: "varm/X_vae", file: "x.h5ad"))
        XCTAssertEqual(Metrics.runLabel(ds, key: "obsm/X_vae"), Metrics.RunLabel(model: "vae", parameters: "objective=tc,beta=4,latent=2", seed: "3"))
    }
}
