import XCTest
@testable import LatentCore

final class DatasetTests: XCTestCase {
    /// Expected outputs are anndata 0.12's `utils.make_index_unique` on the same inputs.
    func testMakeUniqueFollowsAnndata() {
        XCTAssertEqual(DataFrame.uniqued(["a", "b", "a", "a"]).names, ["a", "b", "a-1", "a-2"])
        // "a-1" is already taken, so the repeat of "a" skips to "a-2".
        XCTAssertEqual(DataFrame.uniqued(["a", "a-1", "a"]).names, ["a", "a-1", "a-2"])
        XCTAssertEqual(DataFrame.uniqued(["x", "y"]).duplicated, [])
        XCTAssertEqual(DataFrame.uniqued(["b", "a", "b", "a"]).duplicated, ["b", "a"])
    }

    func dataset() -> Dataset {
        let X = MatrixData.sparse(SparseMatrix(rows: 2, cols: 3, indptr: [0, 2, 3], indices: [0, 2, 1], values: [1, 2.5, -3]))
        return Dataset(X: X, obs: DataFrame(index: ["c1", "c2"]), var: DataFrame(index: ["g1", "g2", "g3"]))
    }

    func testShapeErrors() {
        var ds = dataset()
        XCTAssertNil(ds.shapeError())
        ds.obsm["X_pca"] = .dense(Matrix(rows: 3, cols: 2))
        XCTAssertEqual(ds.shapeError()?.path, "obsm/X_pca")
        ds = dataset()
        ds.layers["counts"] = .dense(Matrix(rows: 2, cols: 2))
        XCTAssertEqual(ds.shapeError()?.path, "layers/counts")
    }

    func testValidateNamesThePlace() {
        let ds = dataset()
        XCTAssertThrowsError(try Validate.counts(ds, file: "f.h5ad")) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix("f.h5ad:X[obs 'c1' (row 1), var 'g3' (column 3)]: non-integer value 2.5"), s)
        }
        var ds2 = ds
        ds2.X = .dense(Matrix(rows: 2, cols: 3, values: [0, 1, 2, 3, .nan, 5]))
        XCTAssertThrowsError(try Validate.finite(ds2, file: "f.csv")) { e in
            XCTAssertTrue("\(e)".contains("obs 'c2' (row 2), var 'g2' (column 2)]: non-finite value NaN"), "\(e)")
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
        var ds3 = ds
        ds3.obs.index = ["c1", "c1"]
        XCTAssertThrowsError(try Validate.uniqueObsNames(ds3, file: "f")) { e in
            XCTAssertTrue("\(e)".contains("duplicate observation name (rows 1 and 2)"))
        }
    }

    func testSummaryValueTypes() {
        var ds = dataset()
        XCTAssertEqual(DatasetSummary(ds).valueType, .real)
        ds.X = .dense(Matrix(rows: 2, cols: 3, values: [0, 1, 2, 3, 0, 5]))
        let s = DatasetSummary(ds)
        XCTAssertEqual(s.valueType, .integerCounts)
        XCTAssertEqual(s.nonzero, 4)
        XCTAssertEqual(s.density, 4.0 / 6.0, accuracy: 1e-12)
    }

    func testColumnSubsetKeepsType() {
        let c = Column.categorical(codes: [0, 1, -1], categories: ["a", "b"], ordered: true)
        XCTAssertEqual(c.subset([2, 0]), .categorical(codes: [-1, 0], categories: ["a", "b"], ordered: true))
        XCTAssertEqual(c.strings, ["a", "b", ""])
    }
}
