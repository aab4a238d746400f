import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO
@testable import LatentModels

final class PCATests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/hsmm_log_hvg.h5ad").path

    func reference() throws -> Dataset {
        var w: [String] = []
        return try H5AD.read(Self.fixture, warnings: &w)
    }

    func doubles(_ v: UnsValue?) -> [Double] {
        guard case .numbers(let a)? = v else { return [] }
        switch a.storage {
        case .float64(let x): return x
        case .float32(let x): return x.map(Double.init)
        default: return []
        }
    }

    func dense(_ m: MatrixData?) -> Matrix {
        switch m! { case .dense(let d): d; case .sparse(let s): s.densified() }
    }

    /// max over components of the largest |ours − theirs| after aligning the sign.
    func loadingDifference(_ a: Matrix, _ b: Matrix, k: Int) -> Float {
        var worst: Float = 0
        for j in 0..<k {
            var dot: Float = 0
            for i in 0..<a.rows { dot += a[i, j] * b[i, j] }
            let s: Float = dot < 0 ? -1 : 1
            for i in 0..<a.rows { worst = max(worst, abs(a[i, j] - s * b[i, j])) }
        }
        return worst
    }

    func testExactMatchesSklearn() throws {
        let ds = try reference()
        var rng = SeededRNG(seed: 0)
        let r = try PCA.fit(ds.X, k: 50, solver: .exact, rng: &rng)
        guard case .dict(let uns)? = ds.uns["pca"] else { return XCTFail("fixture lacks uns/pca") }
        let ratio = doubles(uns["variance_ratio"]), variance = doubles(uns["variance"])
        for j in 0..<50 {
            XCTAssertEqual(r.varianceRatio[j], ratio[j], accuracy: 1e-4 * ratio[j], "variance ratio \(j)")
            XCTAssertEqual(r.variance[j], variance[j], accuracy: 1e-4 * variance[j], "variance \(j)")
        }
        let theirs = dense(ds.varm["PCs"])
        XCTAssertLessThan(loadingDifference(r.loadings, theirs, k: 20), 1e-3, "loadings of the top 20 components, up to sign")
        // Scores: centred data times loadings, as sklearn's transform.
        let ts = dense(ds.obsm["X_pca"])
        for j in 0..<5 {
            let sign: Float = (0..<r.scores.rows).reduce(0) { $0 + r.scores[$1, j] * ts[$1, j] } < 0 ? -1 : 1
            for i in 0..<r.scores.rows { XCTAssertEqual(r.scores[i, j], sign * ts[i, j], accuracy: 1e-3 * max(1, abs(ts[i, j]))) }
        }
    }

    func testRandomizedAgreesWithExact() throws {
        let ds = try reference()
        var rng = SeededRNG(seed: 1)
        let exact = try PCA.fit(ds.X, k: 20, solver: .exact, rng: &rng)
        let fast = try PCA.fit(ds.X, k: 20, solver: .randomized, rng: &rng)
        for j in 0..<20 {
            XCTAssertEqual(fast.varianceRatio[j], exact.varianceRatio[j], accuracy: 1e-3 * exact.varianceRatio[j], "component \(j)")
        }
        // Largest principal angle between the two 20-dim subspaces: cos θ_min = smallest singular
        // value of Vᵀ_exact V_fast, i.e. the smallest eigenvalue of MᵀM.
        let m = Matrix.multiply(exact.loadings, transposeA: true, fast.loadings)
        let mtm = Matrix.multiply(m, transposeA: true, m)
        let (vals, _) = try LAPACK.symmetricTopEigen(mtm, k: 20)
        let cosMin = vals.last!.squareRoot()
        let degrees = acos(min(1, cosMin)) * 180 / .pi
        XCTAssertLessThan(degrees, 1, "largest principal angle \(degrees)°")
    }

    func testSparseInputGivesTheSameAsDense() throws {
        var r0 = SeededRNG(seed: 2)
        var dense = Matrix(rows: 300, cols: 40)
        for i in dense.values.indices where r0.uniform() < 0.2 { dense.values[i] = Float(r0.below(9)) }
        var a = SeededRNG(seed: 3), b = SeededRNG(seed: 3)
        for solver in [PCA.Solver.exact, .randomized] {
            let d = try PCA.fit(.dense(dense), k: 5, solver: solver, rng: &a)
            let s = try PCA.fit(.sparse(SparseMatrix(dense: dense)), k: 5, solver: solver, rng: &b)
            XCTAssertLessThan(loadingDifference(d.loadings, s.loadings, k: 5), 1e-4)
            for j in 0..<5 { XCTAssertEqual(d.variance[j], s.variance[j], accuracy: 1e-4 * d.variance[j]) }
        }
    }

    func testSignsFollowSklearnAndRunsRepeat() throws {
        let ds = try reference()
        var a = SeededRNG(seed: 5), b = SeededRNG(seed: 5)
        let r1 = try PCA.fit(ds.X, k: 10, solver: .randomized, rng: &a)
        let r2 = try PCA.fit(ds.X, k: 10, solver: .randomized, rng: &b)
        XCTAssertEqual(r1.loadings, r2.loadings)
        XCTAssertEqual(r1.scores, r2.scores)
        for j in 0..<10 {
            let col = (0..<r1.loadings.rows).map { r1.loadings[$0, j] }
            let top = col.max(by: { abs($0) < abs($1) })!
            XCTAssertGreaterThan(top, 0, "component \(j): the largest-magnitude loading is positive")
        }
    }

    func testErrors() {
        var rng = SeededRNG(seed: 0)
        let X = MatrixData.dense(Matrix(rows: 4, cols: 3, values: (0..<12).map(Float.init)))
        XCTAssertThrowsError(try PCA.fit(X, k: 4, rng: &rng)) { e in
            XCTAssertTrue("\(e)".contains("more than the 3 components"), "\(e)")
        }
        let constant = MatrixData.dense(Matrix(rows: 4, cols: 3, repeating: 2))
        XCTAssertThrowsError(try PCA.fit(constant, k: 1, rng: &rng)) { e in
            XCTAssertTrue("\(e)".contains("constant"), "\(e)")
        }
    }
}
