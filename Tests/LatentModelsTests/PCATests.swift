import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO
@testable import LatentModels

/// PCA against scikit-learn/scanpy (fixtures from Fixtures/make_pca_fixtures.py), the solvers
/// against each other, sparse against dense, and the error contract.
final class PCATests: XCTestCase {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/hsmm_log_hvg.h5ad").path

    static func reference() throws -> Dataset {
        var w: [String] = []
        return try H5AD.read(fixture, warnings: &w)
    }

    // MARK: against sklearn and scanpy

    func testExactMatchesSklearn() throws {
        let ds = try Self.reference()
        var rng = SeededRNG(seed: 0)
        let r = try PCA.fit(ds.X, k: 50, solver: .exact, rng: &rng)
        XCTAssertEqual(r.solver, .exact)
        let uns = try XCTUnwrap(dict(ds.uns["pca"]))
        let ratio = doubles(uns["variance_ratio"]), variance = doubles(uns["variance"])
        for j in 0..<50 {
            XCTAssertEqual(r.varianceRatio[j], ratio[j], accuracy: 1e-4 * ratio[j], "variance ratio \(j)")
            XCTAssertEqual(r.variance[j], variance[j], accuracy: 1e-4 * variance[j], "variance \(j)")
        }
        XCTAssertLessThan(maxDifferenceUpToSign(r.loadings, dense(ds.varm["PCs"]), k: 20), 1e-3, "top-20 loadings")
        // Scores: centred data times loadings, as sklearn's transform (signs fixed the same way).
        let theirs = dense(ds.obsm["X_pca"])
        var worst: Float = 0
        for i in 0..<r.scores.rows { for j in 0..<20 { worst = max(worst, abs(r.scores[i, j] - theirs[i, j]) / max(1, abs(theirs[i, j]))) } }
        XCTAssertLessThan(worst, 1e-3, "top-20 scores, same signs as sklearn's svd_flip")
    }

    func testRandomizedMatchesSklearnAndExact() throws {
        let ds = try Self.reference()
        var a = SeededRNG(seed: 1), b = SeededRNG(seed: 1)
        let exact = try PCA.fit(ds.X, k: 50, solver: .exact, rng: &a)
        let fast = try PCA.fit(ds.X, k: 50, solver: .randomized, rng: &b)
        XCTAssertEqual(fast.solver, .randomized)
        XCTAssertTrue(fast.converged)
        for j in 0..<20 {
            XCTAssertEqual(fast.varianceRatio[j], exact.varianceRatio[j], accuracy: 1e-3 * exact.varianceRatio[j], "component \(j)")
        }
        XCTAssertLessThan(try largestPrincipalAngle(exact.loadings, fast.loadings, k: 20), 1, "top-20 subspace, degrees")
        // In fact the certified residual leaves it as close to sklearn as LAPACK is.
        let ratio = doubles(dict(ds.uns["pca"])?["variance_ratio"])
        for j in 0..<50 { XCTAssertEqual(fast.varianceRatio[j], ratio[j], accuracy: 1e-4 * ratio[j], "component \(j) vs sklearn") }
        XCTAssertLessThan(maxDifferenceUpToSign(fast.loadings, dense(ds.varm["PCs"]), k: 20), 1e-3)
    }

    func testNoCenterIsScanpysZeroCenterFalse() throws {
        let ds = try Self.reference()
        var rng = SeededRNG(seed: 0)
        for solver in [PCA.Solver.exact, .randomized] {
            let r = try PCA.fit(ds.X, k: 20, solver: solver, center: false, rng: &rng)
            let uns = try XCTUnwrap(dict(ds.uns["pca_nocenter"]))
            let ratio = doubles(uns["variance_ratio"]), variance = doubles(uns["variance"])
            for j in 0..<20 {
                XCTAssertEqual(r.variance[j], variance[j], accuracy: 1e-4 * variance[j], "\(solver) variance \(j)")
                XCTAssertEqual(r.varianceRatio[j], ratio[j], accuracy: 1e-4 * ratio[j], "\(solver) ratio \(j)")
            }
            XCTAssertLessThan(maxDifferenceUpToSign(r.loadings, dense(ds.varm["PCs_nocenter"]), k: 10), 1e-3)
            XCTAssertFalse(r.center)
        }
    }

    // MARK: the plans against each other

    /// Every way of computing the decomposition gives the same answer: LAPACK or Krylov, on the
    /// gene covariance or the observation Gram, or with direct passes; dense or CSR.
    func testEveryPlanAndStorageAgrees() throws {
        for (n, g) in [(300, 40), (40, 300)] {
            var r0 = SeededRNG(seed: 2)
            var x = Matrix(rows: n, cols: g)
            // Sparse counts-like data with a few programs, so the spectrum has structure.
            for i in 0..<n {
                let f = (0..<3).map { _ in r0.uniform() }
                for j in 0..<g where r0.uniform() < 0.3 { x[i, j] = Float(r0.below(4)) + Float(3 * f[j % 3]) }
            }
            let k = 5
            let side: GramSide = g <= n ? .genes : .cells
            let other: GramSide = side == .genes ? .cells : .genes
            var reference: Decomposition? = nil
            for storage in [MatrixData.dense(x), .sparse(SparseMatrix(dense: x))] {
                for center in [true, false] {
                    let data = try CenteredMatrix(storage, center: center, threads: 2)
                    for plan in [Plan.exact(side), .exact(other), .krylovGram(side), .krylovGram(other), .krylovDirect] {
                        var rng = SeededRNG(seed: 3)
                        var profile = StepProfile()
                        var d = try PCA.decompose(data, k: k, plan: plan, options: PCA.Options(tolerance: 1e-6), rng: &rng, profile: &profile)
                        PCA.flipSigns(&d)
                        guard center else { continue }
                        if let ref = reference {
                            let what = "\(n)×\(g) \(storage.isSparse ? "sparse" : "dense") \(plan)"
                            for j in 0..<k { XCTAssertEqual(d.eigenvalues[j], ref.eigenvalues[j], accuracy: 1e-4 * ref.eigenvalues[j], what) }
                            XCTAssertLessThan(maxDifference(d.loadings, ref.loadings), 1e-3, what)
                            XCTAssertLessThan(maxDifference(d.scores, ref.scores), 1e-3 * max(1, ref.scores.values.map(abs).max() ?? 1), what)
                        } else {
                            reference = d
                        }
                    }
                }
            }
        }
    }

    /// Sparse input is centred implicitly: the same PCA as its dense copy, with the sparse path's
    /// own products (not a densified copy) doing the work.
    func testSparseImplicitCentringEqualsDense() throws {
        var r0 = SeededRNG(seed: 4)
        var x = Matrix(rows: 500, cols: 60)
        for i in x.values.indices where r0.uniform() < 0.1 { x.values[i] = Float(1 + r0.below(20)) }
        let sparse = MatrixData.sparse(SparseMatrix(dense: x))
        let data = try CenteredMatrix(sparse, center: true, threads: 2)
        let dense = try CenteredMatrix(.dense(x), center: true, threads: 2)
        var q = ColumnMatrix(rows: 60, cols: 7)
        for i in q.values.indices { q.values[i] = Float(r0.normal()) }
        let zs = data.times(q), zd = dense.times(q)
        XCTAssertLessThan(zip(zs, zd).map { abs($0 - $1) }.max() ?? 0, 1e-3)
        let ws = data.transposeTimes(zs, cols: 7), wd = dense.transposeTimes(zd, cols: 7)
        let scale = wd.values.map(abs).max() ?? 1
        XCTAssertLessThan(zip(ws.values, wd.values).map { abs($0 - $1) }.max() ?? 0, 1e-5 * scale)
        let gs = data.gram(.genes), gd = dense.gram(.genes)
        XCTAssertLessThan(zip(gs.values, gd.values).map { abs($0 - $1) }.max() ?? 0, 1e-5 * (gd.values.map(abs).max() ?? 1))
        for j in 0..<60 {
            XCTAssertEqual(data.mean[j], dense.mean[j], accuracy: 1e-12 * max(1, dense.mean[j]))
            XCTAssertEqual(data.geneVariance[j], dense.geneVariance[j], accuracy: 1e-9 * max(1, dense.geneVariance[j]))
        }
    }

    // MARK: conventions

    func testSignsFollowSvdFlipAndScoresAreCentredProjections() throws {
        let ds = try Self.reference()
        var rng = SeededRNG(seed: 5)
        let r = try PCA.fit(ds.X, k: 10, solver: .randomized, rng: &rng)
        for j in 0..<10 {
            let col = (0..<r.loadings.rows).map { r.loadings[$0, j] }
            let top = col.max(by: { abs($0) < abs($1) }) ?? 0
            XCTAssertGreaterThan(top, 0, "component \(j): the largest-magnitude loading is positive")
        }
        let x = dense(ds.X)
        var worst: Float = 0
        for i in stride(from: 0, to: x.rows, by: 17) {
            for j in 0..<10 {
                var s = 0.0
                for c in 0..<x.cols { s += (Double(x[i, c]) - Double(r.mean[c])) * Double(r.loadings[c, j]) }
                worst = max(worst, abs(Float(s) - r.scores[i, j]))
            }
        }
        XCTAssertLessThan(worst, 1e-4 * (r.scores.values.map(abs).max() ?? 1), "Float32 accumulation over 2,000 genes")
    }

    /// Same seed, same thread count: identical bytes, for each solver.
    func testRunsRepeatExactly() throws {
        let ds = try Self.reference()
        for solver in [PCA.Solver.exact, .randomized] {
            var a = SeededRNG(seed: 5), b = SeededRNG(seed: 5)
            let r1 = try PCA.fit(ds.X, k: 10, solver: solver, rng: &a, threads: 2)
            let r2 = try PCA.fit(ds.X, k: 10, solver: solver, rng: &b, threads: 2)
            XCTAssertEqual(r1.loadings, r2.loadings, "\(solver)")
            XCTAssertEqual(r1.scores, r2.scores, "\(solver)")
            XCTAssertEqual(r1.varianceRatio, r2.varianceRatio, "\(solver)")
        }
        let sparse = MatrixData.sparse(SparseMatrix(dense: dense(ds.X)))
        let data = try CenteredMatrix(sparse, center: true, threads: 2)
        var outs: [Decomposition] = []
        for _ in 0..<2 {
            var rng = SeededRNG(seed: 9)
            var profile = StepProfile()
            outs.append(try PCA.decompose(data, k: 8, plan: .krylovDirect, options: PCA.Options(), rng: &rng, profile: &profile))
        }
        XCTAssertEqual(outs[0].loadings, outs[1].loadings)
        XCTAssertEqual(outs[0].scores, outs[1].scores)
    }

    func testAutoChoosesByShape() throws {
        let tiny = MatrixData.dense(Matrix(rows: 100, cols: 50))
        XCTAssertEqual(try Plan.choose(n: 100, g: 50, k: 5, solver: .auto, X: tiny, options: .init(), file: nil), .exact(.genes))
        let tall = MatrixData.dense(Matrix(rows: 1, cols: 1))
        XCTAssertEqual(try Plan.choose(n: 20_000, g: 2_000, k: 50, solver: .auto, X: tall, options: .init(), file: nil), .krylovGram(.genes))
        XCTAssertEqual(try Plan.choose(n: 300, g: 20_000, k: 50, solver: .auto, X: tall, options: .init(), file: nil), .exact(.cells))
        XCTAssertEqual(try Plan.choose(n: 3_000, g: 20_000, k: 50, solver: .auto, X: tall, options: .init(), file: nil), .krylovGram(.cells))
        XCTAssertEqual(try Plan.choose(n: 50_000, g: 20_000, k: 50, solver: .auto, X: tall, options: .init(), file: nil), .krylovDirect)
        XCTAssertEqual(try Plan.choose(n: 20_000, g: 2_000, k: 50, solver: .exact, X: tall, options: .init(), file: nil), .exact(.genes))
        XCTAssertThrowsError(try Plan.choose(n: 50_000, g: 20_000, k: 50, solver: .exact, X: tall, options: .init(), file: "a.h5ad")) { e in
            XCTAssertTrue("\(e)".contains("--solver randomized"), "\(e)")
        }
    }

    /// On a spectrum with no structure (Gaussian noise) Krylov would need more blocks than LAPACK
    /// costs; `auto` notices from the residuals and finishes with LAPACK on the same covariance.
    func testAutoHandsFlatSpectraToLAPACK() throws {
        var r0 = SeededRNG(seed: 8)
        var x = Matrix(rows: 1200, cols: 600)
        for i in x.values.indices { x.values[i] = Float(r0.normal()) }
        var a = SeededRNG(seed: 1), b = SeededRNG(seed: 1)
        let auto = try PCA.fit(.dense(x), k: 40, solver: .auto, rng: &a)
        let exact = try PCA.fit(.dense(x), k: 40, solver: .exact, rng: &b)
        XCTAssertEqual(auto.solver, .exact)
        XCTAssertTrue(auto.method.contains("block Krylov stopped after"), auto.method)
        XCTAssertEqual(auto.varianceRatio, exact.varianceRatio)
        XCTAssertEqual(auto.loadings, exact.loadings)
    }

    func testStoreWritesScanpysKeys() throws {
        let ds0 = try Self.reference()
        var ds = ds0
        var rng = SeededRNG(seed: 0)
        let r = try PCA.fit(ds.X, k: 7, rng: &rng)
        r.store(into: &ds)
        XCTAssertEqual(ds.obsm["X_pca"]?.rows, 271)
        XCTAssertEqual(ds.obsm["X_pca"]?.cols, 7)
        XCTAssertEqual(ds.varm["PCs"]?.rows, 2000)
        XCTAssertEqual(ds.varm["PCs"]?.cols, 7)
        let uns = try XCTUnwrap(dict(ds.uns["pca"]))
        XCTAssertEqual(doubles(uns["variance_ratio"]).count, 7)
        XCTAssertEqual(doubles(uns["variance"]).count, 7)
        let params = try XCTUnwrap(dict(uns["params"]))
        XCTAssertEqual(params["zero_center"], .bool(true))
        XCTAssertEqual(params["use_highly_variable"], .bool(false))
        XCTAssertEqual(params["svd_solver"], .string(r.solver.rawValue))
        XCTAssertNil(ds.shapeError())
    }

    // MARK: errors

    func testErrors() throws {
        var rng = SeededRNG(seed: 0)
        let x = MatrixData.dense(Matrix(rows: 4, cols: 3, values: (0..<12).map { Float($0 * $0 % 7) }))
        XCTAssertThrowsError(try PCA.fit(x, k: 4, rng: &rng, file: "a.h5ad")) { e in
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
            XCTAssertEqual("\(e)", "a.h5ad: --k 4 is more than the 3 centred components 4 observations × 3 variables have (choose --k 3 or fewer)")
        }
        XCTAssertThrowsError(try PCA.fit(x, k: 0, rng: &rng)) { e in XCTAssertTrue("\(e)".contains("--k 0"), "\(e)") }
        // Centring removes a dimension: 4 observations have 3 centred components, 4 uncentred.
        XCTAssertThrowsError(try PCA.fit(.dense(Matrix(rows: 4, cols: 9)), k: 4, rng: &rng))
        XCTAssertNoThrow(try PCA.fit(.dense(Matrix(rows: 4, cols: 9, values: (0..<36).map { Float($0 % 5) })), k: 4, center: false, rng: &rng))
        XCTAssertThrowsError(try PCA.fit(.dense(Matrix(rows: 1, cols: 3)), k: 1, rng: &rng)) { e in
            XCTAssertTrue("\(e)".contains("at least 2 observations"), "\(e)")
        }
        let constant = MatrixData.dense(Matrix(rows: 4, cols: 3, repeating: 2))
        XCTAssertThrowsError(try PCA.fit(constant, k: 1, rng: &rng, file: "c.h5ad")) { e in
            XCTAssertEqual("\(e)", "c.h5ad:X: the data are constant: every variable has variance 0 (PCA needs variation)")
        }
        var nan = Matrix(rows: 5, cols: 3, values: (0..<15).map(Float.init))
        nan[3, 1] = .nan
        XCTAssertThrowsError(try PCA.fit(.dense(nan), k: 1, rng: &rng, file: "n.h5ad")) { e in
            XCTAssertTrue("\(e)".hasPrefix("n.h5ad:X[row 4, column 2]: non-finite value NaN"), "\(e)")
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
        nan[3, 1] = -.infinity
        XCTAssertThrowsError(try PCA.fit(.sparse(SparseMatrix(dense: nan)), k: 1, rng: &rng, file: "n.h5ad")) { e in
            XCTAssertTrue("\(e)".hasPrefix("n.h5ad:X[row 4, column 2]: non-finite value -Inf"), "\(e)")
        }
    }

    // MARK: helpers

    func dict(_ v: UnsValue?) -> OrderedDict? {
        if case .dict(let d)? = v { return d }
        return nil
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
        switch m {
        case .dense(let d)?: return d
        case .sparse(let s)?: return s.densified()
        case nil: return Matrix(rows: 0, cols: 0)
        }
    }

    func maxDifference(_ a: Matrix, _ b: Matrix) -> Float {
        zip(a.values, b.values).map { abs($0 - $1) }.max() ?? .infinity
    }

    /// Largest |ours − theirs| over the first k columns after aligning each column's sign.
    func maxDifferenceUpToSign(_ a: Matrix, _ b: Matrix, k: Int) -> Float {
        var worst: Float = 0
        for j in 0..<k {
            var dot: Float = 0
            for i in 0..<a.rows { dot += a[i, j] * b[i, j] }
            let s: Float = dot < 0 ? -1 : 1
            for i in 0..<a.rows { worst = max(worst, abs(a[i, j] - s * b[i, j])) }
        }
        return worst
    }

    /// The largest principal angle (degrees) between the spans of the first k columns of two
    /// orthonormal bases, from its sine: ‖(I − AAᵀ)B‖₂ (the cosine form loses all digits near 0°).
    func largestPrincipalAngle(_ a: Matrix, _ b: Matrix, k: Int) throws -> Double {
        let g = a.rows
        var ad = [Double](repeating: 0, count: g * k), bd = ad
        for i in 0..<g { for j in 0..<k { ad[j * g + i] = Double(a[i, j]); bd[j * g + i] = Double(b[i, j]) } }
        var p = bd            // B − A(AᵀB)
        for j in 0..<k {
            for c in 0..<k {
                var dot = 0.0
                for i in 0..<g { dot += ad[c * g + i] * bd[j * g + i] }
                for i in 0..<g { p[j * g + i] -= dot * ad[c * g + i] }
            }
        }
        var ptp = [Double](repeating: 0, count: k * k)
        for x in 0..<k { for y in 0..<k { var s = 0.0; for i in 0..<g { s += p[x * g + i] * p[y * g + i] }; ptp[y * k + x] = s } }
        let top = try LAPACK.symmetricTopEigen(ptp, n: k, k: 1).values[0]
        return asin(min(1, max(0, top).squareRoot())) * 180 / .pi
    }
}
