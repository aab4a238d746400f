import XCTest
@testable import LatentCore
@testable import LatentPreprocess

/// Hand-derived cases and the stated edge-case behaviours of the normalize stage.
final class NormalizeUnitTests: XCTestCase {
    func dataset(_ rows: [[Float]], sparse: Bool = true, genes: [String]? = nil) -> Dataset {
        let m = Matrix(rows: rows.count, cols: rows[0].count, values: rows.flatMap { $0 })
        let names = genes ?? (0..<m.cols).map { "g\($0)" }
        return Dataset(X: sparse ? .sparse(SparseMatrix(dense: m)) : .dense(m),
                       obs: DataFrame(index: (0..<m.rows).map { "c\($0)" }), var: DataFrame(index: names))
    }

    func values(_ x: MatrixData) -> [Float] {
        switch x { case .dense(let d): d.values; case .sparse(let s): s.densified().values }
    }

    func testMedianBySelectionEqualsTheSortedMiddle() {
        var rng = SplitMix64(seed: 11)
        for n in [1, 2, 3, 4, 5, 10, 101, 1000, 1001] {
            for distinct in [2, 7, 1_000_000] {
                let v = (0..<n).map { _ in Double(rng.next() % UInt64(distinct)) * 0.37 - 5 }
                let s = v.sorted()
                let want = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
                XCTAssertEqual(median(v), want, "n \(n), \(distinct) distinct values")
            }
        }
        XCTAssertNil(median([]))
    }

    func testTotalScalesToMedianThenLog1p() throws {
        // Totals 10, 20, 40: median 20, so row 0 doubles and row 2 halves before log1p.
        let ds = dataset([[4, 6, 0], [10, 0, 10], [0, 20, 20]])
        let out = try NormalizeStage.run(ds, NormalizeParameters(), file: "t").dataset
        let expected: [Float] = [8, 12, 0, 10, 0, 10, 0, 10, 10].map { log1p($0) }
        for (a, b) in zip(values(out.X), expected) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        XCTAssertTrue(out.X.isSparse, "log-normalised sparse data stays sparse")
        XCTAssertEqual(values(out.layers["counts"]!), values(ds.X))
    }

    func testMedianOfRatiosHandExample() throws {
        // Sample 2 is sample 1 doubled: geometric means are √2·x, ratios 1/√2 and √2.
        let X = MatrixData.dense(Matrix(rows: 2, cols: 3, values: [1, 4, 9, 2, 8, 18]))
        let sf = try Normalize.medianOfRatiosSizeFactors(X, file: nil)
        XCTAssertEqual(sf[0], 1 / 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(sf[1], 2.0.squareRoot(), accuracy: 1e-12)
    }

    func testMedianOfRatiosRefusesWhenNoGeneIsEverywhere() {
        let ds = dataset([[1, 0], [0, 3]])
        var p = NormalizeParameters()
        p.method = .medianOfRatios
        XCTAssertThrowsError(try NormalizeStage.run(ds, p, file: "sc.h5ad")) { e in
            XCTAssertTrue("\(e)".contains("non-zero count in every sample"), "\(e)")
        }
    }

    func testCountMethodsRejectNonIntegers() {
        let ds = dataset([[1.5, 2], [3, 4]])
        for m in [NormalizeParameters.Method.medianOfRatios, .pearsonResiduals] {
            var p = NormalizeParameters()
            p.method = m
            XCTAssertThrowsError(try NormalizeStage.run(ds, p, file: "f.h5ad")) { e in
                XCTAssertTrue("\(e)".contains("f.h5ad:X[obs 'c0' (row 1), var 'g0' (column 1)]: non-integer value 1.5"), "\(e)")
            }
        }
    }

    func testPearsonResidualsFormula() {
        let X = MatrixData.dense(Matrix(rows: 2, cols: 2, values: [1, 3, 2, 6]))
        let r = Normalize.pearsonResiduals(X, theta: 100, clip: nil)
        // totals: cells 4, 8; genes 3, 9; all 12 → μ00 = 4·3/12 = 1, residual (1 − 1)/… = 0.
        XCTAssertEqual(r[0, 0], 0, accuracy: 1e-7)
        let mu01 = 4.0 * 9 / 12
        XCTAssertEqual(Double(r[0, 1]), (3 - mu01) / (mu01 + mu01 * mu01 / 100).squareRoot(), accuracy: 1e-6)
        let clipped = Normalize.pearsonResiduals(.dense(Matrix(rows: 2, cols: 2, values: [100, 0, 0, 100])), theta: 100, clip: 0.5)
        XCTAssertTrue(clipped.values.allSatisfy { abs($0) <= 0.5 })
    }

    func testZeroCountCellsAndGenesAreRemovedNeverNaN() throws {
        let ds = dataset([[0, 0, 0], [1, 0, 2], [3, 0, 1]])
        let out = try NormalizeStage.run(ds, NormalizeParameters(), file: "t")
        XCTAssertEqual(out.dataset.obs.index, ["c1", "c2"])
        XCTAssertEqual(out.dataset.var.index, ["g0", "g2"])
        XCTAssertTrue(out.notes.contains { $0.contains("1 cells with zero total counts removed") })
        XCTAssertTrue(values(out.dataset.X).allSatisfy { $0.isFinite })
    }

    func testConstantGeneZScoresToZero() throws {
        let ds = dataset([[1, 5, 2], [3, 5, 4], [5, 5, 9]], sparse: false)
        var p = NormalizeParameters()
        p.method = .none
        p.scale = .zscore
        let out = try NormalizeStage.run(ds, p, file: "t").dataset
        let v = values(out.X)
        XCTAssertEqual([v[1], v[4], v[7]], [0, 0, 0])
        XCTAssertTrue(v.allSatisfy { $0.isFinite })
        // Unbiased sd, as scanpy.pp.scale: column 0 is (1,3,5) → z = (−1, 0, 1).
        XCTAssertEqual(v[0], -1, accuracy: 1e-6)
        XCTAssertEqual(v[6], 1, accuracy: 1e-6)
    }

    func testMinMaxIntoUnitInterval() throws {
        let ds = dataset([[1, 5, 2], [3, 5, 4], [5, 5, 9]], sparse: false)
        var p = NormalizeParameters()
        p.method = .none
        p.scale = .minmax
        let v = values(try NormalizeStage.run(ds, p, file: "t").dataset.X)
        XCTAssertEqual(v, [0, 0, 0, 0.5, 0, 2.0 / 7, 1, 0, 1])
    }

    func testMoreHVGsThanGenesKeepsEveryGene() throws {
        let ds = dataset([[1, 2, 3, 4], [4, 3, 2, 1], [2, 2, 5, 0]])
        var p = NormalizeParameters()
        p.hvg = 10
        let out = try NormalizeStage.run(ds, p, file: "t")
        XCTAssertEqual(out.dataset.nVars, 4)
        XCTAssertTrue(out.notes.contains { $0.contains("keeping every gene") })
    }

    func testClipMaxValue() throws {
        var rows = [[Float]](repeating: [1, 1], count: 20)
        rows[0] = [1000, 1]
        let ds = dataset(rows, sparse: false)
        var p = NormalizeParameters()
        p.method = .none
        p.scale = .zscore
        p.maxValue = 2
        let v = values(try NormalizeStage.run(ds, p, file: "t").dataset.X)
        XCTAssertEqual(v.max(), 2)
    }

    func testQCMetricsByHand() {
        let ds = dataset([[1, 0, 3], [0, 2, 0]], genes: ["MT-CO1", "ACTB", "MT-ND1"])
        let mito = QC.mitochondrialMask(ds.var.index)
        XCTAssertEqual(mito, [true, false, true])
        let m = QC.cellMetrics(ds.X, mito: mito, top: [1, 2, 50])
        XCTAssertEqual(m.total, [4, 2])
        XCTAssertEqual(m.nGenes, [2, 1])
        XCTAssertEqual(m.pctMito, [100, 0])
        XCTAssertEqual(m.topPercent.map(\.n), [1, 2], "tops larger than the gene count are left out, as scanpy requires")
        XCTAssertEqual(m.topPercent[0].pct, [75, 100])
    }

    func testBinningFollowsPandasCut() {
        // Equal-width bins with the lowest edge lowered by 0.1% of the range; right-closed.
        let bins = HVG.equalWidthBins([0, 1, 2, 3, 4], count: 4)
        XCTAssertEqual(bins, [0, 0, 1, 2, 3])
        XCTAssertEqual(HVG.percentile([1, 2, 3, 4], 50), 2.5)
        XCTAssertEqual(HVG.percentile([1, 2, 3, 4, 5], 10), 1.4, accuracy: 1e-15)
    }
}

#if canImport(Glibc)
import Glibc
#endif
