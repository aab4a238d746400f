import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

final class DelimitedTextTests: XCTestCase {
    func parse(_ s: String) -> Double? {
        let b = Array(s.utf8)
        return b.withUnsafeBufferPointer { p in
            if case .number(let v) = NumberParsing.parse(p.baseAddress!, 0, b.count) { return v }
            return nil
        }
    }

    /// The fast path must round exactly as strtod (the C library's correctly rounded parser).
    func testNumbersMatchStrtod() {
        var rng = SeededRNG(seed: 1)
        var cases = ["0", "-0", "1", "+7", "3.25", "1e5", "1E-5", "2.5e+3", ".5", "5.", "123456789012345678901234",
                     "0.000000000000000000000123", "1.7976931348623157e308", "4.9e-324", "9007199254740993", "0.1", "47677.1"]
        for _ in 0..<2000 {
            let mant = rng.below(1_000_000_000), e = rng.below(40) - 20
            cases.append("\(mant)e\(e)")
            cases.append("\(Double(rng.normal()) * pow(10, Double(rng.below(12) - 6)))")
        }
        for c in cases {
            XCTAssertEqual(parse(c), strtod(c, nil), c)
        }
        for bad in ["", "-", "e5", "1e", "1.2.3", "abc", "1,5", "NaN", "inf", "0x10"] {
            XCTAssertNil(parse(bad), bad)
        }
    }

    func testOrientationHeuristics() {
        let ens = (0..<100).map { String(format: "ENSG%011d", $0) }
        let samples = (0..<10).map { "S\($0)" }
        XCTAssertTrue(DelimitedText.decideOrientation(rowNames: ens, columnNames: samples, requested: .auto).0)
        XCTAssertFalse(DelimitedText.decideOrientation(rowNames: samples, columnNames: ens, requested: .auto).0)
        let barcodes = (0..<50).map { _ in "AAACCTGAGCGTAGTG-1" }
        let symbols = (0..<20).map { "GENE\($0)" }
        XCTAssertFalse(DelimitedText.decideOrientation(rowNames: barcodes, columnNames: symbols, requested: .auto).0)
        // Names that tell nothing: the longer axis is genes.
        XCTAssertTrue(DelimitedText.decideOrientation(rowNames: symbols, columnNames: ["a", "b"], requested: .auto).0)
        XCTAssertFalse(DelimitedText.decideOrientation(rowNames: symbols, columnNames: ["a", "b"], requested: .cellsByGenes).0)
        XCTAssertTrue(DelimitedText.isEnsemblGene("ENSMUSG00000051951.5"))
        XCTAssertFalse(DelimitedText.isEnsemblGene("ENST00000456328"))
    }

    func write(_ text: String, _ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "latent-csv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func testSparseTablesStaySparseAndDenseOnesDense() throws {
        var o = DelimitedTextOptions()
        o.orientation = .cellsByGenes
        let sparse = try DelimitedText.read(try write("c,a,b,c,d\nx,0,0,0,1\ny,0,2,0,0\n", "s.csv"), options: o)
        XCTAssertTrue(sparse.dataset.X.isSparse)
        let dense = try DelimitedText.read(try write("c,a,b\nx,1,2\ny,3,0\n", "d.csv"), options: o)
        XCTAssertFalse(dense.dataset.X.isSparse)
        XCTAssertEqual(dense.dataset.X.storedValues, [1, 2, 3, 0])
    }

    func testErrorsNameLineAndColumn() throws {
        var o = DelimitedTextOptions()
        o.orientation = .cellsByGenes
        o.threads = 2
        var rows = "c,a,b\n"
        for i in 0..<2000 { rows += "r\(i),1,2\n" }
        rows += "bad,1,oops\n"
        let p = try write(rows, "e.csv")
        XCTAssertThrowsError(try DelimitedText.read(p, options: o)) { e in
            XCTAssertEqual("\(e)", "\(p):line 2002, column 3: non-numeric value 'oops'")
        }
        let ragged = try write("c,a,b\nx,1\n", "r.csv")
        XCTAssertThrowsError(try DelimitedText.read(ragged, options: o)) { e in
            XCTAssertEqual("\(e)", "\(ragged):line 2: 2 fields, expected 3 like the header")
        }
        let dup = try write("c,a,b\nx,1,2\nx,3,4\n", "u.csv")
        XCTAssertThrowsError(try DelimitedText.read(dup, options: o)) { e in
            XCTAssertTrue("\(e)".contains("line 3: duplicate observation name 'x' (first at line 2)"), "\(e)")
        }
    }
}
