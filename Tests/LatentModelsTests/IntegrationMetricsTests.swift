import Foundation
import LatentCore
import XCTest
@testable import LatentModels

/// The scIB integration metrics against scib-metrics itself (fixture from
/// Fixtures/make_scib_fixture.py: 300 cells, 3 batches, 4 cell types, one of them in two batches
/// only; exact neighbours on both sides), subspace predictability against scikit-learn's
/// KNeighborsClassifier, and the pieces against closed forms.
final class IntegrationMetricsTests: XCTestCase {
    struct Fixture: Decodable {
        var X: [[Double]]
        var X_pre: [[Double]]
        var batch: [String]
        var cell_type: [String]
        var kmeans_clusters: [Int]
        var reference: [String: Double]
        var aggregate: [String: Double]
        var subspace: [String: Double]
    }

    static let fixture: Fixture = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/scib_reference.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    static func factor(_ name: String, _ s: [String]) -> Metrics.Factor {
        let cats = Array(Set(s)).sorted()
        let idx = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
        return Metrics.Factor(name: name, values: .categorical(labels: s.map { idx[$0]! }, categories: cats))
    }

    static func points(_ rows: [[Double]]) -> Metrics.Points {
        Metrics.Points(n: rows.count, d: rows[0].count, values: rows.flatMap { $0 })
    }

    static func value(_ rows: [Metrics.Row], _ metric: String, latent: String = "all") -> Double {
        rows.first { $0.metric == metric && $0.latent == latent }!.value
    }

    /// Tolerances: scib-metrics computes in float32 (JAX), so values that average many distances
    /// agree to ~1e-5; LISI's bisection stops at an entropy tolerance of 1e-5; kBET's per-cell
    /// test is a threshold on a float32 p-value after a float32 diffusion map, so a cell on the
    /// edge may flip (1/300 per cell ≈ 0.003 on a label of that size).
    func testMatchesScibMetrics() throws {
        let f = Self.fixture
        let x = Self.points(f.X)
        let batch = Self.factor("batch", f.batch), labels = Self.factor("cell_type", f.cell_type)
        let rows = try Metrics.integration(x, batch: batch, labels: labels, unintegrated: Self.points(f.X_pre))
        let ref = f.reference
        let tolerance: [String: Double] = [
            "silhouette_label": 1e-5, "silhouette_batch": 1e-4, "bras": 1e-4, "isolated_labels": 1e-5,
            "ilisi": 1e-3, "clisi": 1e-3, "graph_connectivity": 1e-12, "kbet": 0.01,
            "pcr_comparison": 1e-4, "pcr_batch": 1e-5, "pcr_batch_unintegrated": 1e-5,
        ]
        for (m, tol) in tolerance.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(Self.value(rows, m), ref[m]!, accuracy: tol, m)
        }
        // the Benchmarker's own per-metric values are the functions' values
        XCTAssertEqual(ref["benchmarker_kbet_per_label"]!, ref["kbet"]!, accuracy: 1e-9)
        XCTAssertEqual(Self.value(rows, "scib_batch_correction"), f.aggregate["Batch correction"]!, accuracy: 3e-3)
        // k-means is one seeded start on both sides (their JAX key, our seed), so on overlapping
        // types the two may stop in different local optima: the bio aggregate is checked with
        // scib-metrics' NMI/ARI swapped for ours (the k-means itself in testKMeans…)
        let shift = (Self.value(rows, "nmi_kmeans") - ref["nmi_kmeans"]! + Self.value(rows, "ari_kmeans") - ref["ari_kmeans"]!) / 5
        XCTAssertEqual(Self.value(rows, "scib_bio_conservation"), f.aggregate["Bio conservation"]! + shift, accuracy: 1e-5)
        XCTAssertEqual(Self.value(rows, "scib_total"), f.aggregate["Total"]! + 0.6 * shift, accuracy: 2e-3)
    }

    /// Our k-means ends in a Lloyd fixed point at least as good as scib-metrics' partition: with
    /// ten starts its inertia is no larger, and a start that finds scib-metrics' partition
    /// reproduces its NMI and ARI exactly.
    func testKMeansIsAtLeastAsGoodAsScibMetrics() {
        let f = Self.fixture
        let x = Self.points(f.X)
        let l = Self.factor("t", f.cell_type).labels(bins: 2)
        let theirs = Metrics.inertia(x, f.kmeans_clusters)
        let ours = Metrics.kMeans(x, clusters: 4, seed: 0, starts: 10)
        XCTAssertLessThanOrEqual(Metrics.inertia(x, ours), theirs * (1 + 1e-12))
        let same = (0..<10).map { Metrics.kMeans(x, clusters: 4, seed: UInt64($0)) }.first { Metrics.adjustedRandIndex($0, f.kmeans_clusters) == 1 }
        XCTAssertNotNil(same, "no start found scib-metrics' partition")
        if let same {
            XCTAssertEqual(Metrics.normalizedMutualInformation(l, same), f.reference["nmi_kmeans"]!, accuracy: 1e-12)
            XCTAssertEqual(Metrics.adjustedRandIndex(l, same), f.reference["ari_kmeans"]!, accuracy: 1e-12)
        }
    }

    /// NMI and ARI of the same partitions scikit-learn scored (scib-metrics' own k-means clusters).
    func testNMIAndARIMatchScikitLearn() {
        let f = Self.fixture
        let l = Self.factor("t", f.cell_type).labels(bins: 2)
        XCTAssertEqual(Metrics.normalizedMutualInformation(l, f.kmeans_clusters), f.reference["nmi_kmeans"]!, accuracy: 1e-12)
        XCTAssertEqual(Metrics.adjustedRandIndex(l, f.kmeans_clusters), f.reference["ari_kmeans"]!, accuracy: 1e-12)
        XCTAssertEqual(Metrics.adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]), 1, accuracy: 1e-15)
        XCTAssertEqual(Metrics.normalizedMutualInformation([0, 0, 1, 1], [0, 1, 0, 1]), 0, accuracy: 1e-15)
    }

    /// scikit-learn's 15-NN classifier on the same folds (cell i in fold i mod 5).
    func testSubspacePredictabilityMatchesScikitLearn() {
        let f = Self.fixture
        let x = Self.points(f.X)
        let fold = (0..<x.n).map { $0 % 5 }
        let types = Self.factor("t", f.cell_type).labels(bins: 2), batches = Self.factor("b", f.batch).labels(bins: 2)
        let own = x.columns(Array(0..<4)), rest = x.columns(Array(4..<8))
        XCTAssertEqual(Metrics.knnBalancedAccuracy(own, labels: types, fold: fold), f.subspace["cell_type_own"]!, accuracy: 1e-12)
        XCTAssertEqual(Metrics.knnBalancedAccuracy(rest, labels: types, fold: fold), f.subspace["cell_type_rest"]!, accuracy: 1e-12)
        XCTAssertEqual(Metrics.knnBalancedAccuracy(rest, labels: batches, fold: fold), f.subspace["batch_own"]!, accuracy: 1e-12)
        XCTAssertEqual(Metrics.knnBalancedAccuracy(own, labels: batches, fold: fold), f.subspace["batch_rest"]!, accuracy: 1e-12)
    }

    /// A covariate written into two latents is predicted from them and not from the noise latents.
    func testSubspaceRowsSeparateOwnFromRest() throws {
        var rng = SeededRNG(seed: 5)
        let n = 240
        let label = (0..<n).map { $0 % 3 }
        var v = [Double]()
        for i in 0..<n { v += [Double(label[i]) * 3 + 0.3 * rng.normal(), -Double(label[i]) * 2 + 0.3 * rng.normal(), rng.normal(), rng.normal(), rng.normal()] }
        let x = Metrics.Points(n: n, d: 5, values: v)
        let f = Metrics.Factor(name: "kind", values: .categorical(labels: label, categories: ["a", "b", "c"]))
        let rows = try Metrics.subspacePredictability(x, subspaces: [(Metrics.Subspace(name: "kind", start: 0, count: 2), f)], seed: 1)
        XCTAssertGreaterThan(Self.value(rows, "subspace_balanced_accuracy", latent: "0-1"), 0.97)
        XCTAssertLessThan(Self.value(rows, "subspace_balanced_accuracy", latent: "rest"), 0.5)
        XCTAssertEqual(Self.value(rows, "chance_balanced_accuracy"), 1.0 / 3, accuracy: 1e-15)
        XCTAssertThrowsError(try Metrics.subspacePredictability(x, subspaces: [(Metrics.Subspace(name: "kind", start: 4, count: 2), f)], seed: 1))
    }

    /// The regularised incomplete gamma behind kBET's χ² p-values against closed forms.
    func testRegularizedGammaClosedForms() {
        for x in [0.01, 0.3, 1.0, 2.5, 7.0, 30.0] {
            XCTAssertEqual(Metrics.regularizedGammaP(1, x), 1 - exp(-x), accuracy: 1e-14)
            XCTAssertEqual(Metrics.regularizedGammaP(0.5, x), erf(x.squareRoot()), accuracy: 1e-14)
            XCTAssertEqual(Metrics.regularizedGammaP(2, x), 1 - exp(-x) * (1 + x), accuracy: 1e-14)
        }
    }

    func testStronglyConnectedComponents() {
        // 0 → 1 → 2 → 0 is a cycle; 3 points into it and 4 ↔ 5 form their own
        let c = Metrics.stronglyConnectedComponents([[1], [2], [0], [0], [5], [4]])
        XCTAssertEqual(c[0], c[1]); XCTAssertEqual(c[1], c[2])
        XCTAssertNotEqual(c[3], c[0]); XCTAssertEqual(c[4], c[5]); XCTAssertNotEqual(c[4], c[0])
        XCTAssertEqual(Set(c).count, 3)
    }

    /// PCR over all components equals the between-group share of the total scatter: a batch that
    /// sets one of two coordinates to ±1 while the other varies as much within batches explains 1/2.
    func testPCRIsBetweenOverTotalScatter() {
        var v = [Double](), b = [Int]()
        for i in 0..<4 { for s in [-1.0, 1.0] { v += [Double(i % 2 == 0 ? 1 : -1), s]; b.append(i % 2) } }
        let x = Metrics.Points(n: 8, d: 2, values: v)
        XCTAssertEqual(Metrics.principalComponentRegression(x, covariate: b), 0.5, accuracy: 1e-15)
        XCTAssertEqual(Metrics.pcrComparison(pre: x, post: x, batch: b), 0, accuracy: 1e-15)
    }

    func testDeterministicAndExactNeighbours() throws {
        let f = Self.fixture
        let x = Self.points(f.X)
        let batch = Self.factor("batch", f.batch), labels = Self.factor("cell_type", f.cell_type)
        var p = Metrics.IntegrationParameters()
        p.seed = 3
        let a = try Metrics.integration(x, batch: batch, labels: labels, unintegrated: nil, parameters: p)
        let b = try Metrics.integration(x, batch: batch, labels: labels, unintegrated: nil, parameters: p)
        // NaN ≠ NaN as Doubles: compare the written tables
        XCTAssertEqual(Metrics.tsv(a, run: .init(model: "m", parameters: "", seed: "3")), Metrics.tsv(b, run: .init(model: "m", parameters: "", seed: "3")))
        XCTAssertTrue(Self.value(a, "pcr_comparison").isNaN)
        // the neighbour lists against a brute-force sort
        let nn = Metrics.exactNeighbors(x, k: 10)
        for i in [0, 17, 299] {
            let d = (0..<x.n).map { j in (0..<x.d).reduce(0.0) { $0 + pow(x.values[i * x.d + $1] - x.values[j * x.d + $1], 2) }.squareRoot() }
            let order = (0..<x.n).sorted { j, k in j == i ? true : k == i ? false : d[j] != d[k] ? d[j] < d[k] : j < k }
            XCTAssertEqual(Array(nn.indices[(i * 10)..<(i * 10 + 10)]), Array(order.prefix(10)))
        }
    }

    /// `latent vae --subspace` records each covariate's coordinates as a list of indices.
    func testRecordedSubspacesAreReadFromUns() {
        var ds = Dataset(X: .dense(Matrix(rows: 2, cols: 1)), obs: DataFrame(index: ["a", "b"]), var: DataFrame(index: ["g"]))
        ds.obsm["X_vae"] = .dense(Matrix(rows: 2, cols: 6))
        ds.uns["vae"] = .dict(OrderedDict([("subspaces", .dict(OrderedDict([
            ("cell_type", .numbers(NumericArray(shape: [3], storage: .int64([0, 1, 2])))),
            ("time", .numbers(NumericArray(shape: [2], storage: .int64([3, 4])))),
            ("gappy", .numbers(NumericArray(shape: [2], storage: .int64([0, 5])))),
        ])))]))
        XCTAssertEqual(Metrics.recordedSubspaces(ds, key: "obsm/X_vae"),
                       [Metrics.Subspace(name: "cell_type", start: 0, count: 3), Metrics.Subspace(name: "time", start: 3, count: 2)])
        XCTAssertEqual(Metrics.recordedSubspaces(ds, key: "obsm/X_pca"), [])
    }

    func testBadInput() throws {
        let x = Metrics.Points(n: 4, d: 1, values: [0, 1, 2, 3])
        let cont = Metrics.Factor(name: "depth", values: .continuous([1, 2, 3, 4]))
        XCTAssertThrowsError(try Metrics.integration(x, batch: cont, labels: nil, unintegrated: nil))
        XCTAssertThrowsError(try Metrics.parseSubspace("obs/type", file: nil))
        XCTAssertThrowsError(try Metrics.parseSubspace("obs/type:3-1", file: nil))
        let s = try Metrics.parseSubspace("obs/type:2-4", file: nil)
        XCTAssertEqual(s.column, "type")
        XCTAssertEqual(s.subspace, Metrics.Subspace(name: "type", start: 2, count: 3))
    }
}
