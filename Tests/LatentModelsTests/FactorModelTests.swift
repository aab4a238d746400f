import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO
@testable import LatentModels

final class FactorModelTests: XCTestCase {
    func correlation(_ a: [Float], _ b: [Float]) -> Double {
        let n = Double(a.count)
        let ma = a.reduce(0.0) { $0 + Double($1) } / n, mb = b.reduce(0.0) { $0 + Double($1) } / n
        var sab = 0.0, saa = 0.0, sbb = 0.0
        for i in a.indices {
            let x = Double(a[i]) - ma, y = Double(b[i]) - mb
            sab += x * y; saa += x * x; sbb += y * y
        }
        return sab / (saa * sbb).squareRoot()
    }

    /// Three independent non-Gaussian sources mixed into 12 variables: FastICA recovers each one
    /// (up to sign and order) with |correlation| > 0.97.
    func testICARecoversIndependentSources() throws {
        var rng = SeededRNG(seed: 7)
        let n = 3000, g = 12, k = 3
        var sources = [[Float]](repeating: [], count: k)
        for _ in 0..<n {
            sources[0].append(Float(rng.uniform() * 2 - 1))                                   // uniform
            let u = rng.uniform() - 0.5
            sources[1].append(Float((u < 0 ? 1 : -1) * log(1 - 2 * abs(u))))                  // Laplace
            sources[2].append(Float(pow(rng.uniform(), 3) * 4 - 1))                            // skewed
        }
        var mixing = Matrix(rows: k, cols: g)
        for i in mixing.values.indices { mixing.values[i] = Float(rng.normal()) }
        var X = Matrix(rows: n, cols: g)
        for i in 0..<n { for j in 0..<g {
            var v: Float = 0
            for s in 0..<k { v += sources[s][i] * mixing[s, j] }
            X[i, j] = v + Float(rng.normal() * 0.01)
        } }
        var r2 = SeededRNG(seed: 1)
        let r = try ICA.fit(.dense(X), k: k, rng: &r2)
        XCTAssertTrue(r.converged)
        for s in 0..<k {
            let best = (0..<k).map { j in abs(correlation(sources[s], (0..<n).map { r.sources[$0, j] })) }.max()!
            XCTAssertGreaterThan(best, 0.97, "source \(s)")
        }
        // Sources have unit variance, loadings have deterministic signs.
        for j in 0..<k {
            let col = (0..<n).map { Double(r.sources[$0, j]) }
            let m = col.reduce(0, +) / Double(n)
            XCTAssertEqual(col.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n), 1, accuracy: 1e-3)
        }
    }

    func testNMFObjectiveDecreasesAndMatchesSklearn() throws {
        var w: [String] = []
        let ds = try H5AD.read(PCATests.fixture, warnings: &w)
        var rng = SeededRNG(seed: 0)
        let r = try NMF.fit(ds.X, k: 10, rng: &rng)
        for i in 1..<r.objective.count {
            XCTAssertLessThanOrEqual(r.objective[i], r.objective[i - 1] * (1 + 1e-6), "iteration \(i)")
        }
        guard case .dict(let nmf)? = ds.uns["nmf"], case .double(let theirs)? = nmf["reconstruction_err"] else {
            return XCTFail("fixture lacks uns/nmf")
        }
        let ours = (2 * r.objective.last!).squareRoot()
        // Different random starts reach different local minima; ours must be as good within 3%.
        XCTAssertLessThan(ours, theirs * 1.03, "ours \(ours) vs sklearn \(theirs)")
        XCTAssertTrue(r.scores.values.allSatisfy { $0 >= 0 } && r.loadings.values.allSatisfy { $0 >= 0 })
    }

    func testNMFRejectsNegativeInput() {
        var rng = SeededRNG(seed: 0)
        let X = MatrixData.dense(Matrix(rows: 3, cols: 2, values: [1, 2, 3, -4, 5, 6]))
        XCTAssertThrowsError(try NMF.fit(X, k: 1, rng: &rng, file: "z.h5ad")) { e in
            XCTAssertEqual("\(e)".components(separatedBy: " (").first, "z.h5ad:X[row 2, column 2]: negative value -4.0: NMF needs non-negative data")
        }
    }
}
