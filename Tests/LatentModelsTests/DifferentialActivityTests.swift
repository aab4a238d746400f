import Foundation
import LatentCore
import XCTest
@testable import LatentModels

/// The Bayes-factor test of differential latent activity against a direct numpy/scipy
/// computation over every pair (Fixtures/differential/make_fixture.py), the closed form for
/// Gaussian posteriors, and the sampled mode's agreement with it.
final class DifferentialActivityTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/differential")

    static func table(_ name: String) throws -> [[String]] {
        let text = try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
    }

    /// The fixture's 12 cells: posterior means and variances, group A (7) and B (5).
    static func fixturePosterior() throws -> (DifferentialActivity.Posterior, DifferentialActivity.Grouping) {
        let rows = try table("posterior.tsv")
        let k = 3
        var mean = Matrix(rows: rows.count, cols: k), variance = Matrix(rows: rows.count, cols: k)
        for (i, r) in rows.enumerated() {
            for j in 0..<k {
                mean[i, j] = Float(r[2 + j])!
                variance[i, j] = Float(exp(Double(Float(r[2 + k + j])!)))
            }
        }
        let grouping = DifferentialActivity.Grouping(column: "group", categories: ["A", "B"], labels: rows.map { $0[1] == "A" ? 0 : 1 })
        return (DifferentialActivity.Posterior(mean: mean, variance: variance), grouping)
    }

    func testExactModeMatchesNumpyOverEveryPair() throws {
        let (post, grouping) = try Self.fixturePosterior()
        let expected = try Self.table("expected.tsv")
        for (group, reference) in [("A", "B"), ("B", "A")] {
            let rows = try DifferentialActivity.test(post, grouping: grouping, groups: [group], reference: reference)
            XCTAssertEqual(rows.count, 3)
            for r in rows {
                let e = expected.first { $0[0] == group && $0[1] == reference && Int($0[2]) == r.latent }!
                XCTAssertEqual(r.pairs, 35, "7 × 5 pairs are fewer than the budget: every pair is used")
                XCTAssertEqual(r.meanGroup, Double(e[3])!, accuracy: 1e-6)
                XCTAssertEqual(r.meanReference, Double(e[4])!, accuracy: 1e-6)
                XCTAssertEqual(r.probability, Double(e[5])!, accuracy: 1e-6)
                XCTAssertEqual(r.logBayesFactor, Double(e[6])!, accuracy: 1e-5)
            }
        }
        // "rest" is the other group here
        let rest = try DifferentialActivity.test(post, grouping: grouping, groups: ["A"])
        XCTAssertEqual(rest.map(\.reference), ["rest", "rest", "rest"])
        XCTAssertEqual(rest[0].probability, Double(expected[0][5])!, accuracy: 1e-6)
        XCTAssertEqual(try DifferentialActivity.test(post, grouping: grouping, groups: ["A", "A"]), rest, "a group named twice is tested once")
    }

    /// Every cell of A ~ N(1, 0.5), of B ~ N(0, 0.25): P(z_a > z_b) = Φ(1 / √0.75) for any pairs.
    func testGaussianClosedFormAndSampledMode() throws {
        let n = 400
        var mean = Matrix(rows: n, cols: 1), variance = Matrix(rows: n, cols: 1)
        for i in 0..<n { mean[i, 0] = i < n / 2 ? 1 : 0; variance[i, 0] = i < n / 2 ? 0.5 : 0.25 }
        let post = DifferentialActivity.Posterior(mean: mean, variance: variance)
        let grouping = DifferentialActivity.Grouping(column: "g", categories: ["a", "b"], labels: (0..<n).map { $0 < n / 2 ? 0 : 1 })
        let truth = 0.5 * erfc(-(1 / 0.75.squareRoot()) / 2.0.squareRoot())
        XCTAssertEqual(truth, 0.8759, accuracy: 1e-4)   // Φ(1.1547), from a normal table
        var p = DifferentialActivity.Parameters()
        p.pairs = 20000
        let exact = try DifferentialActivity.test(post, grouping: grouping, groups: ["a"], reference: "b", parameters: p)[0]
        XCTAssertEqual(exact.pairs, 20000, "40,000 pairs exceed the budget: sampled pairs")
        XCTAssertEqual(exact.probability, truth, accuracy: 1e-12)
        XCTAssertEqual(exact.logBayesFactor, log(truth) - log(1 - truth), accuracy: 1e-9)
        XCTAssertEqual(exact.direction, "none", "log BF 1.95 is below 2.3")
        p.mode = .sampled
        let sampled = try DifferentialActivity.test(post, grouping: grouping, groups: ["a"], reference: "b", parameters: p)[0]
        // binomial standard error √(p(1−p)/20000) ≈ 0.0023: 4 of them
        XCTAssertEqual(sampled.probability, truth, accuracy: 0.01)
        // the other way round is the complement
        let back = try DifferentialActivity.test(post, grouping: grouping, groups: ["b"], reference: "a")[0]
        XCTAssertEqual(back.probability, 1 - truth, accuracy: 1e-12)
    }

    func testDeterministicForASeedAndIndependentOfOtherGroups() throws {
        var rng = SeededRNG(seed: 3)
        let n = 300, k = 4
        let mean = Matrix(rows: n, cols: k, values: (0..<(n * k)).map { i in Float(rng.normal() + (i / k % 3 == 0 && i % k == 1 ? 1 : 0)) })
        let variance = Matrix(rows: n, cols: k, values: (0..<(n * k)).map { _ in Float(0.1 + rng.uniform()) })
        let post = DifferentialActivity.Posterior(mean: mean, variance: variance)
        let grouping = DifferentialActivity.Grouping(column: "g", categories: ["x", "y", "z"], labels: (0..<n).map { $0 % 3 })
        var p = DifferentialActivity.Parameters()
        p.pairs = 500
        p.mode = .sampled
        p.seed = 11
        let a = try DifferentialActivity.test(post, grouping: grouping, parameters: p)
        let b = try DifferentialActivity.test(post, grouping: grouping, parameters: p)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, 3 * k)
        // group y alone gives the rows it gave among all groups
        XCTAssertEqual(try DifferentialActivity.test(post, grouping: grouping, groups: ["y"], parameters: p), a.filter { $0.group == "y" })
        p.seed = 12
        XCTAssertNotEqual(try DifferentialActivity.test(post, grouping: grouping, parameters: p), a)
        // latent 1 is raised in group x (cells 0, 3, 6, …)
        let x1 = a.first { $0.group == "x" && $0.latent == 1 }!
        XCTAssertGreaterThan(x1.logBayesFactor, 0)
    }

    /// expiMap's directions: the sign of the loadings' sum (or majority); a negated latent with a
    /// negated sign gives the same answer; sign 0 (no loadings) gives p = ½, log BF 0.
    func testDirections() throws {
        let loadings = Matrix(rows: 4, cols: 3, values: [1, -1, 0,
                                                         2, -1, 0,
                                                         -0.5, -1, 0,
                                                         0, 5, 0])
        XCTAssertEqual(DifferentialActivity.directions(loadings: loadings, method: .sum), [1, 1, 0])
        XCTAssertEqual(DifferentialActivity.directions(loadings: loadings, method: .counts), [1, -1, 0])
        XCTAssertEqual(DifferentialActivity.directions(loadings: loadings, method: .none), [1, 1, 1])

        let (post, grouping) = try Self.fixturePosterior()
        var flipped = post
        for i in 0..<flipped.mean.rows { flipped.mean[i, 0] = -flipped.mean[i, 0] }
        flipped.signs = [-1, 1, 0]
        let a = try DifferentialActivity.test(post, grouping: grouping, groups: ["A"], reference: "B")
        let b = try DifferentialActivity.test(flipped, grouping: grouping, groups: ["A"], reference: "B")
        XCTAssertEqual(b[0].probability, a[0].probability, accuracy: 1e-12)
        XCTAssertEqual(b[0].meanGroup, a[0].meanGroup, accuracy: 1e-9)
        XCTAssertEqual(b[2].probability, 0.5)
        XCTAssertEqual(b[2].logBayesFactor, 0)
        XCTAssertEqual(b[2].direction, "none")
    }

    func testPointEstimatesAndTableRoundTrip() throws {
        // no variances: p is the fraction of pairs with z_a > z_b, ties ½
        let mean = Matrix(rows: 4, cols: 1, values: [3, 1, 2, 1])
        let post = DifferentialActivity.Posterior(mean: mean, variance: nil, names: ["PROGRAM_X"])
        let grouping = DifferentialActivity.Grouping(column: "g", categories: ["a", "b"], labels: [0, 0, 1, 1])
        let rows = try DifferentialActivity.test(post, grouping: grouping, groups: ["a"], reference: "b")
        // pairs (3,2) (3,1) (1,2) (1,1): 1 + 1 + 0 + ½
        XCTAssertEqual(rows[0].probability, 2.5 / 4)
        XCTAssertEqual(rows[0].name, "PROGRAM_X")
        let text = DifferentialActivity.tsv(rows, groupby: "g")
        XCTAssertEqual(text.split(separator: "\n").first.map(String.init), DifferentialActivity.columns.joined(separator: "\t"))
        let back = try DifferentialActivity.parse(text, file: "t.tsv")
        XCTAssertEqual(back.map(\.row), rows)
        XCTAssertEqual(back.first?.groupby, "g")
        XCTAssertThrowsError(try DifferentialActivity.test(post, grouping: grouping, groups: ["c"])) { e in
            XCTAssertTrue("\(e)".contains("no category 'c'"), "\(e)")
        }
    }
}
