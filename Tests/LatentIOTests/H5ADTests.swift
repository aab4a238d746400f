import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

final class H5ADTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-h5ad-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A dataset using every column type, a sparse X, every aligned kind and nested uns.
    static func richDataset(rows: Int = 50, cols: Int = 30, seed: UInt64 = 1) -> Dataset {
        var r = SeededRNG(seed: seed)
        var dense = Matrix(rows: rows, cols: cols)
        for i in 0..<dense.values.count where r.uniform() < 0.2 { dense.values[i] = Float(r.below(100)) + 0.5 }
        var obs = DataFrame(index: (0..<rows).map { "cell\($0)" })
        obs.set("n_counts", .float64((0..<rows).map { Double($0) * 1.5 }))
        obs.set("score", .float32((0..<rows).map { Float($0) / 7 }))
        obs.set("batch", .categorical(codes: (0..<rows).map { Int32($0 % 3) }, categories: ["a", "b", "c"], ordered: false))
        obs.set("stage", .categorical(codes: (0..<rows).map { $0 == 0 ? -1 : Int32($0 % 2) }, categories: ["early", "late"], ordered: true))
        obs.set("is_doublet", .bool((0..<rows).map { $0 % 5 == 0 }))
        obs.set("hours", .int64((0..<rows).map { Int64($0 * 24) }))
        obs.set("well", .int32((0..<rows).map { Int32($0) }))
        obs.set("note", .string((0..<rows).map { "n\($0) é" }))
        var vars = DataFrame(index: (0..<cols).map { "G\($0)" })
        vars.set("symbol", .string((0..<cols).map { "SYM\($0)" }))
        var ds = Dataset(X: .sparse(SparseMatrix(dense: dense)), obs: obs, var: vars)
        ds.layers["counts"] = .dense(dense)
        ds.obsm["X_pca"] = .dense(Matrix(rows: rows, cols: 4, values: (0..<rows * 4).map { Float($0) * 0.25 }))
        ds.varm["PCs"] = .dense(Matrix(rows: cols, cols: 4, values: (0..<cols * 4).map { -Float($0) }))
        ds.uns["title"] = .string("rich")
        ds.uns["k"] = .int(7)
        ds.uns["pi"] = .double(3.25)
        ds.uns["flag"] = .bool(true)
        ds.uns["names"] = .strings(["x", "y"])
        ds.uns["ratio"] = .numbers(NumericArray(shape: [2, 2], storage: .float64([0.5, 0.25, 0.125, 1])))
        ds.uns["pca"] = .dict(OrderedDict([("variance_ratio", .numbers(NumericArray(shape: [3], storage: .float32([0.5, 0.3, 0.2])))),
                                           ("params", .dict(OrderedDict([("zero_center", .bool(true))])))]))
        return ds
    }

    func testRoundTripKeepsEverything() throws {
        let ds = Self.richDataset()
        for compression in [Compression(), Compression.none, Compression(level: 6, threads: 2)] {
            let path = dir + "/rt.h5ad"
            try H5AD.write(ds, to: path, compression: compression)
            var w: [String] = []
            let back = try H5AD.read(path, warnings: &w)
            XCTAssertEqual(w, [])
            XCTAssertEqual(back, ds)
        }
    }

    func testLargeArraysCrossChunkBoundaries() throws {
        // > 1 MiB per array so that several chunks, and a partial last one, are written in parallel.
        let n = 700_001
        var r = SeededRNG(seed: 2)
        let values = (0..<n).map { _ in Float(r.normal()) }
        let ds = Dataset(X: .dense(Matrix(rows: n, cols: 1, values: values)),
                         obs: DataFrame(index: (0..<n).map { String($0) }), var: DataFrame(index: ["g"]))
        let path = dir + "/big.h5ad"
        try H5AD.write(ds, to: path, compression: Compression(level: 1, threads: 2))
        var w: [String] = []
        XCTAssertEqual(try H5AD.read(path, warnings: &w).X, ds.X)
    }

    /// The parallel chunk reader (shuffle + deflate inflated on several threads) gives what
    /// HDF5's own reader gives, including the short last chunk.
    func testParallelChunkReadEqualsSerialRead() throws {
        let ds = Self.richDataset(rows: 5000, cols: 300)
        let path = dir + "/par.h5ad"
        try H5AD.write(ds, to: path, compression: Compression(level: 3, threads: 2))
        var w: [String] = []
        IOSettings.threads = 1
        let serial = try H5AD.read(path, warnings: &w)
        IOSettings.threads = 2
        defer { IOSettings.threads = 1 }
        let parallel = try H5AD.read(path, warnings: &w)
        XCTAssertEqual(parallel, serial)
        XCTAssertEqual(parallel, ds)
    }

    func testOutputIsByteIdenticalAcrossRunsAndThreads() throws {
        let ds = Self.richDataset(rows: 3000, cols: 200)
        let a = dir + "/a.h5ad", b = dir + "/b.h5ad"
        try H5AD.write(ds, to: a, compression: Compression(level: 4, threads: 1))
        try H5AD.write(ds, to: b, compression: Compression(level: 4, threads: 2))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testWriteLeavesNoTemporaryFiles() throws {
        try H5AD.write(Self.richDataset(), to: dir + "/x.h5ad")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["x.h5ad"])
    }

    // MARK: bad files

    func assertBadInput(_ path: String, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        var w: [String] = []
        XCTAssertThrowsError(try H5AD.read(path, warnings: &w), file: file, line: line) { e in
            guard let le = e as? LatentError else { return XCTFail("not a LatentError: \(e)", file: file, line: line) }
            XCTAssertEqual(le.exitCode, 2, file: file, line: line)
            XCTAssertTrue(le.description.hasPrefix(path + ":"), le.description, file: file, line: line)
            XCTAssertTrue(le.description.contains(fragment), le.description, file: file, line: line)
        }
    }

    func testNotHDF5() throws {
        let p = dir + "/text.h5ad"
        try "hello\n".write(toFile: p, atomically: true, encoding: .utf8)
        assertBadInput(p, contains: "not an HDF5 file")
    }

    func testTruncated() throws {
        let good = dir + "/good.h5ad"
        try H5AD.write(Self.richDataset(rows: 2000, cols: 100), to: good, compression: .none)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        let p = dir + "/trunc.h5ad"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: p))
        assertBadInput(p, contains: "truncated")
    }

    /// Writes a file through the HDF5 layer directly, so we can build broken layouts.
    func makeFile(_ name: String, _ build: (H5Group) throws -> Void) throws -> String {
        let p = dir + "/" + name
        let f = try H5File.create(p, displayName: p)
        try f.root.setEncoding("anndata", "0.1.0")
        try build(f.root)
        return p
    }

    func writeFrame(_ g: H5Group, _ name: String, _ index: [String]) throws {
        let w = H5AD.Writer(compression: .none)
        try w.dataFrame(g, name, DataFrame(index: index))
    }

    func testMissingX() throws {
        let p = try makeFile("nox.h5ad") { root in
            try writeFrame(root, "obs", ["a"])
            try writeFrame(root, "var", ["g"])
        }
        assertBadInput(p, contains: "/X: missing")
    }

    func testMissingObs() throws {
        let p = try makeFile("noobs.h5ad") { root in
            try H5AD.Writer(compression: .none).matrix(root, "X", .dense(Matrix(rows: 1, cols: 1, values: [1])))
            try writeFrame(root, "var", ["g"])
        }
        assertBadInput(p, contains: "/obs: missing group")
    }

    func testUnknownEncoding() throws {
        let p = try makeFile("enc.h5ad") { root in
            let g = try root.createGroup("X")
            try g.setEncoding("coo_matrix", "0.1.0")
            try writeFrame(root, "obs", ["a"])
            try writeFrame(root, "var", ["g"])
        }
        assertBadInput(p, contains: "/X: unknown encoding-type 'coo_matrix'")
    }

    func testMismatchedShapes() throws {
        let p = try makeFile("shape.h5ad") { root in
            try H5AD.Writer(compression: .none).matrix(root, "X", .dense(Matrix(rows: 2, cols: 1, values: [1, 2])))
            try writeFrame(root, "obs", ["a", "b", "c"])
            try writeFrame(root, "var", ["g"])
        }
        assertBadInput(p, contains: "/obs: has 3 rows but X has 2 rows")
    }

    func testInconsistentSparse() throws {
        let p = try makeFile("csr.h5ad") { root in
            let g = try root.createGroup("X")
            try g.setEncoding("csr_matrix", "0.1.0")
            try g.setAttribute("shape", int64s: [2, 3])
            try g.writeArray("data", [Float(1), 2], compression: .none)
            try g.writeArray("indices", [Int32(0), 7], compression: .none)
            try g.writeArray("indptr", [Int64(0), 1, 2], compression: .none)
            try writeFrame(root, "obs", ["a", "b"])
            try writeFrame(root, "var", ["g1", "g2", "g3"])
        }
        assertBadInput(p, contains: "/X: inconsistent csr_matrix: column index 7 out of range")
    }

    func testCategoricalCodeOutOfRange() throws {
        let p = try makeFile("cat.h5ad") { root in
            try H5AD.Writer(compression: .none).matrix(root, "X", .dense(Matrix(rows: 2, cols: 1, values: [1, 2])))
            let obs = try root.createGroup("obs")
            try obs.setEncoding("dataframe", "0.2.0")
            try obs.setAttribute("_index", string: "_index")
            try obs.setAttribute("column-order", strings: ["kind"])
            try obs.writeStrings("_index", ["a", "b"], compression: .none)
            let c = try obs.createGroup("kind")
            try c.setEncoding("categorical", "0.2.0")
            try c.writeStrings("categories", ["x"], compression: .none)
            try c.writeArray("codes", [Int8(0), 5], compression: .none)
            try writeFrame(root, "var", ["g"])
        }
        assertBadInput(p, contains: "/obs/kind/codes: code 5 at row 1 is outside the 1 categories")
    }
}
