import CZlib
import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

final class TenXTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-10x-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// The matrix every fixture holds (cells × genes), as in Fixtures/make_tenx_h5.py.
    static let X: [[Float]] = [
        [0, 3, 0, 0, 1],
        [2, 0, 0, 5, 0],
        [0, 0, 0, 0, 0],
        [7, 1, 4, 0, 9],
    ]
    static let barcodes = ["AAACCTGAGAAACCAT-1", "AAACCTGAGAAACCGC-1", "AAACCTGAGAAACCTA-1", "AAACCTGAGAAACGAG-1"]
    static let ids = ["ENSG00000243485", "ENSG00000237613", "ENSG00000186092", "ENSG00000238009", "ENSG00000239945"]
    static let names = ["MIR1302-2HG", "FAM138A", "OR4F5", "FAM138A", "AL627309.3"]
    static let uniqueNames = ["MIR1302-2HG", "FAM138A", "OR4F5", "FAM138A-1", "AL627309.3"]

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/" + name).path
    }

    func put(_ text: String, _ name: String, in sub: String = "mtx", gzip: Bool = false) throws {
        let d = dir + "/" + sub
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        let p = d + "/" + name + (gzip ? ".gz" : "")
        if !gzip { return try text.write(toFile: p, atomically: true, encoding: .utf8) }
        let gz = try XCTUnwrap(gzopen(p, "wb"))
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        XCTAssertEqual(Int(n), bytes.count)
        XCTAssertEqual(gzclose(gz), Z_OK)
    }

    /// The coordinate lines of X (genes × cells, 1-based) in the order given by `order`.
    static func entries(_ order: (inout [(Int, Int, Float)]) -> Void = { _ in }) -> [String] {
        var e: [(Int, Int, Float)] = []
        for c in 0..<X.count { for g in 0..<X[c].count where X[c][g] != 0 { e.append((g + 1, c + 1, X[c][g])) } }
        order(&e)
        return e.map { "\($0.0) \($0.1) \(Int($0.2))" }
    }

    func writeDirectory(v3: Bool, gzip: Bool, sub: String = "mtx", lines: [String]? = nil, header: String? = nil) throws {
        let body = lines ?? Self.entries()
        let mtx = "%%MatrixMarket matrix coordinate integer general\n%metadata_json: {}\n"
            + (header ?? "5 4 \(body.count)") + "\n" + body.joined(separator: "\n") + "\n"
        try put(mtx, "matrix.mtx", in: sub, gzip: gzip)
        let feats = zip(Self.ids, Self.names).map { "\($0)\t\($1)" + (v3 ? "\tGene Expression" : "") }.joined(separator: "\n") + "\n"
        try put(feats, v3 ? "features.tsv" : "genes.tsv", in: sub, gzip: gzip)
        try put(Self.barcodes.joined(separator: "\n") + "\n", "barcodes.tsv", in: sub, gzip: gzip)
    }

    func dense(_ X: MatrixData) -> [[Float]] {
        guard case .sparse(let s) = X else { XCTFail("10x X must be sparse"); return [] }
        XCTAssertNil(s.validationError())
        let m = s.densified()
        return (0..<m.rows).map { i in Array(m.values[(i * m.cols)..<((i + 1) * m.cols)]) }
    }

    func assertThrows(_ body: @autoclosure () throws -> Any, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(expected), "«\(e)» lacks «\(expected)»", file: file, line: line)
        }
    }

    // MARK: MatrixMarket directory

    func testV3GzipDirectory() throws {
        try writeDirectory(v3: true, gzip: true)
        let (ds, warnings) = try TenX.readMatrixMarketDirectory(dir + "/mtx")
        XCTAssertEqual(dense(ds.X), Self.X)
        XCTAssertEqual(ds.obs.index, Self.barcodes)
        XCTAssertEqual(ds.var.index, Self.uniqueNames)
        XCTAssertEqual(ds.var["gene_ids"], .string(Self.ids))
        XCTAssertEqual(ds.var["feature_types"]?.strings, Array(repeating: "Gene Expression", count: 5))
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings[0].contains("FAM138A"), warnings[0])

        let (byID, w2) = try TenX.readMatrixMarketDirectory(dir + "/mtx", varNames: .geneIDs)
        XCTAssertEqual(byID.var.index, Self.ids)
        XCTAssertEqual(byID.var["gene_symbols"], .string(Self.names))
        XCTAssertEqual(w2, [])
    }

    func testV2PlainDirectory() throws {
        try writeDirectory(v3: false, gzip: false)
        let (ds, _) = try TenX.readMatrixMarketDirectory(dir + "/mtx")
        XCTAssertEqual(dense(ds.X), Self.X)
        XCTAssertEqual(ds.var.index, Self.uniqueNames)
        XCTAssertNil(ds.var["feature_types"])
        XCTAssertEqual(ds.var.columnNames, ["gene_ids"])
    }

    /// Entries in any order come out sorted by gene within each cell; repeated coordinates are summed.
    func testUnsortedEntriesAndDuplicatesSummed() throws {
        var lines = Self.entries { $0.reverse() }
        lines.append("1 4 3")           // cell 4, gene 1 again: 7 + 3
        lines.insert("   ", at: 2)      // blank lines are skipped
        let n = lines.count - 1
        try writeDirectory(v3: true, gzip: false, lines: lines, header: "5 4 \(n)")
        let (ds, _) = try TenX.readMatrixMarketDirectory(dir + "/mtx")
        var expected = Self.X
        expected[3][0] = 10
        XCTAssertEqual(dense(ds.X), expected)
    }

    /// Blocks parsed on several threads give the same matrix, and errors keep their file line.
    func testBlocksAndThreads() throws {
        var lines: [String] = []
        var expected = [[Float]](repeating: [Float](repeating: 0, count: 50), count: 40)
        var rng = SeededRNG(seed: 3)
        for c in 0..<40 { for g in 0..<50 where rng.uniform() < 0.3 {
            let v = Float(rng.below(20) + 1)
            expected[c][g] = v
            lines.append("\(g + 1) \(c + 1) \(Int(v))")
        } }
        let text = "%%MatrixMarket matrix coordinate real general\n50 40 \(lines.count)\n" + lines.joined(separator: "\n") + "\n"
        let bytes = Array(text.utf8)
        let h = try MatrixMarket.readHeader(bytes, path: "m.mtx")
        let one = try MatrixMarket.readEntries(bytes, header: h, path: "m.mtx", threads: 1)
        let many = try MatrixMarket.readEntries(bytes, header: h, path: "m.mtx", threads: 3, minBlockBytes: 50)
        XCTAssertEqual(one, many)
        XCTAssertEqual(dense(.sparse(one)), expected)
        var bad = lines
        bad[300] = "51 1 1"
        let badBytes = Array(("%%MatrixMarket matrix coordinate real general\n50 40 \(lines.count)\n" + bad.joined(separator: "\n")).utf8)
        assertThrows(try MatrixMarket.readEntries(badBytes, header: h, path: "m.mtx", threads: 3, minBlockBytes: 50),
                     "m.mtx:line 303: gene index 51 outside 1…50")
    }

    func testMatrixMarketErrors() throws {
        let lines = Self.entries()
        func check(_ sub: String, _ expected: String, lines l: [String]? = nil, header: String? = nil, banner: String? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws {
            try writeDirectory(v3: true, gzip: true, sub: sub, lines: l, header: header)
            if let banner {
                let body = (l ?? lines).joined(separator: "\n")
                try put(banner + "\n" + (header ?? "5 4 \(lines.count)") + "\n" + body + "\n", "matrix.mtx", in: sub, gzip: true)
            }
            assertThrows(try TenX.readMatrixMarketDirectory(dir + "/" + sub), expected, file: file, line: line)
        }
        let mtx = { (sub: String) in self.dir + "/" + sub + "/matrix.mtx.gz" }
        try check("banner", "\(mtx("banner")):line 1: not a MatrixMarket coordinate file", banner: "%%MatrixMarket matrix array real general")
        try check("pattern", "\(mtx("pattern")):line 1: unsupported MatrixMarket field 'pattern general'",
                  banner: "%%MatrixMarket matrix coordinate pattern general")
        try check("size", "\(mtx("size")):line 3: expected the size line 'genes cells entries'", header: "5 4")
        try check("genes", "features.tsv.gz: 5 features, but \(mtx("genes")) has 6 rows", header: "6 4 \(lines.count)")
        try check("cells", "barcodes.tsv.gz: 4 barcodes, but \(mtx("cells")) has 3 columns", header: "5 3 \(lines.count)")
        try check("count", "\(mtx("count")): header announces 99 entries, the file has \(lines.count)", header: "5 4 99")
        var l = lines
        l[2] = "40000 1 1"
        try check("gene", "\(mtx("gene")):line 6: gene index 40000 outside 1…5", lines: l)
        l = lines
        l[0] = "1 5 1"
        try check("cell", "\(mtx("cell")):line 4: cell index 5 outside 1…4", lines: l)
        l[0] = "1 99999999999999999999999 1"
        try check("huge", "\(mtx("huge")):line 4: cell index ≥ 2⁶³ outside 1…4", lines: l)
        l[0] = "1 1"
        try check("fields", "\(mtx("fields")):line 4: expected 'gene cell value', found 2 fields", lines: l)
        l[0] = "1 1 x7"
        try check("value", "\(mtx("value")):line 4: value 'x7' is not a finite number", lines: l)
        l[0] = "1.5 1 2"
        try check("coord", "\(mtx("coord")):line 4: coordinates must be whole numbers", lines: l)
    }

    func testMissingFilesAreNamed() throws {
        try writeDirectory(v3: true, gzip: true, sub: "a")
        try FileManager.default.removeItem(atPath: dir + "/a/barcodes.tsv.gz")
        assertThrows(try TenX.readMatrixMarketDirectory(dir + "/a"), "no barcodes.tsv[.gz]")
        try FileManager.default.removeItem(atPath: dir + "/a/features.tsv.gz")
        assertThrows(try TenX.readMatrixMarketDirectory(dir + "/a"), "no features.tsv[.gz] (or genes.tsv)")
        try FileManager.default.removeItem(atPath: dir + "/a/matrix.mtx.gz")
        assertThrows(try TenX.readMatrixMarketDirectory(dir + "/a"), "no matrix.mtx or matrix.mtx.gz")
        // A v3 features file whose later row lost its type column.
        try writeDirectory(v3: true, gzip: false, sub: "b")
        try put(zip(Self.ids, Self.names).enumerated().map { "\($1.0)\t\($1.1)" + ($0 == 2 ? "" : "\tGene Expression") }
            .joined(separator: "\n") + "\n", "features.tsv", in: "b")
        assertThrows(try TenX.readMatrixMarketDirectory(dir + "/b"), "features.tsv:line 3: expected gene id, name and feature type")
    }

    // MARK: Cell Ranger .h5

    func testCellRangerV3H5() throws {
        let (ds, warnings) = try TenX.readCellRangerH5(Self.fixture("tenx_v3.h5"))
        XCTAssertEqual(dense(ds.X), Self.X)
        XCTAssertEqual(ds.obs.index, Self.barcodes)
        XCTAssertEqual(ds.var.index, Self.uniqueNames)
        XCTAssertEqual(ds.var["gene_ids"], .string(Self.ids))
        XCTAssertEqual(ds.var["feature_types"]?.strings, Array(repeating: "Gene Expression", count: 5))
        XCTAssertEqual(ds.var["genome"]?.strings, Array(repeating: "GRCh38", count: 5))
        XCTAssertEqual(warnings.count, 1)
        let (byID, _) = try TenX.readCellRangerH5(Self.fixture("tenx_v3.h5"), varNames: .geneIDs)
        XCTAssertEqual(byID.var.index, Self.ids)
        XCTAssertEqual(byID.var["gene_symbols"], .string(Self.names))
    }

    func testCellRangerV2H5() throws {
        let (ds, _) = try TenX.readCellRangerH5(Self.fixture("tenx_v2.h5"))
        XCTAssertEqual(dense(ds.X), Self.X)
        XCTAssertEqual(ds.obs.index, Self.barcodes)
        XCTAssertEqual(ds.var.index, Self.uniqueNames)
        XCTAssertEqual(ds.var.columnNames, ["gene_ids"])
    }

    func testCellRangerH5Errors() throws {
        let bad = Self.fixture("tenx_v3_bad_indptr.h5")
        assertThrows(try TenX.readCellRangerH5(bad), "\(bad):/matrix/indptr: inconsistent matrix: indptr decreases at row 1")
        let notH5 = dir + "/x.h5"
        try "hello".write(toFile: notH5, atomically: true, encoding: .utf8)
        assertThrows(try TenX.readCellRangerH5(notH5), "\(notH5): not an HDF5 file")
        // An h5ad is HDF5 but not Cell Ranger.
        let h5ad = dir + "/d.h5ad"
        try H5AD.write(Dataset(X: .dense(Matrix(rows: 1, cols: 1, values: [1])), obs: DataFrame(index: ["c"]), var: DataFrame(index: ["g"])), to: h5ad)
        assertThrows(try TenX.readCellRangerH5(h5ad), "\(h5ad):/: not a Cell Ranger file")
    }
}
