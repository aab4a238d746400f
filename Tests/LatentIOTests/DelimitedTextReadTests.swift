import CZlib
import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

/// Whole tables through `DelimitedText.read`: values, names, orientation, storage, and every error.
final class DelimitedTextReadTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-csv-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func write(_ text: String, _ name: String) throws -> String {
        let p = dir + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    func writeGzip(_ text: String, _ name: String) throws -> String {
        let p = dir + "/" + name
        let gz = try XCTUnwrap(gzopen(p, "wb"))
        let bytes = Array(text.utf8)
        let n = bytes.withUnsafeBytes { gzwrite(gz, $0.baseAddress, UInt32($0.count)) }
        XCTAssertEqual(Int(n), bytes.count)
        XCTAssertEqual(gzclose(gz), Z_OK)
        return p
    }

    func dense(_ X: MatrixData) -> [[Float]] {
        let m: Matrix
        switch X {
        case .dense(let d): m = d
        case .sparse(let s): m = s.densified()
        }
        return (0..<m.rows).map { i in Array(m.values[(i * m.cols)..<((i + 1) * m.cols)]) }
    }

    func assertThrows(_ path: String, _ options: DelimitedTextOptions = DelimitedTextOptions(orientation: .cellsByGenes),
                      _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try DelimitedText.read(path, options: options), file: file, line: line) { e in
            XCTAssertTrue("\(e)".contains(expected), "«\(e)» lacks «\(expected)»", file: file, line: line)
            XCTAssertEqual((e as? LatentError)?.kind, .badInput, file: file, line: line)
        }
    }

    /// Samples in rows, Ensembl IDs in the header, gzip, values pandas-then-float32 would give.
    func testGzipSamplesByEnsemblGenes() throws {
        let genes = ["ENSG00000000003", "ENSG00000000005.5", "ENSG00000000419"]
        let p = try writeGzip("sample," + genes.joined(separator: ",") + "\nS1,1,0,2.5\nS2,0.1,1e-3,-4\n", "t.csv.gz")
        let r = try DelimitedText.read(p, options: DelimitedTextOptions())
        XCTAssertEqual(r.dataset.obs.index, ["S1", "S2"])
        XCTAssertEqual(r.dataset.var.index, genes)
        XCTAssertEqual(r.dataset.obs.indexName, "_index")
        XCTAssertEqual(r.dataset.obs.columnNames, [])
        XCTAssertEqual(dense(r.dataset.X), [[1, 0, 2.5], [Float(0.1), Float(1e-3), -4]])
        XCTAssertTrue(r.orientationNote.contains("rows are samples/cells, columns are genes (the header names look like Ensembl gene IDs)"), r.orientationNote)
        XCTAssertTrue(r.orientationNote.contains("--orient"))
        XCTAssertEqual(r.warnings, [])
    }

    /// Genes in rows (bulk tables): detected from the row names and transposed; the override wins.
    func testEnsemblRowsAreGenesAndTransposed() throws {
        let p = try write("gene_id\tA\tB\nENSMUSG00000051951.5\t1\t0\nENSMUSG00000025900\t0\t0\nENSMUSG00000025902\t3\t4\n", "b.tsv")
        let r = try DelimitedText.read(p, options: DelimitedTextOptions())
        XCTAssertEqual(r.dataset.obs.index, ["A", "B"])
        XCTAssertEqual(r.dataset.var.index, ["ENSMUSG00000051951.5", "ENSMUSG00000025900", "ENSMUSG00000025902"])
        XCTAssertEqual(dense(r.dataset.X), [[1, 0, 3], [0, 0, 4]])
        XCTAssertTrue(r.orientationNote.contains("rows are genes, columns are samples/cells (the row names look like Ensembl gene IDs)"), r.orientationNote)
        let o = try DelimitedText.read(p, options: DelimitedTextOptions(orientation: .cellsByGenes))
        XCTAssertEqual(o.dataset.obs.index.count, 3)
        XCTAssertEqual(dense(o.dataset.X), [[1, 0], [0, 0], [3, 4]])
        XCTAssertTrue(o.orientationNote.contains("as --orient says"))
    }

    /// Cell barcodes in the header mean genes in rows; undecided names fall back to the longer axis.
    func testBarcodesAndLongerAxis() throws {
        let p = try write(",AAACCTGAGAAACCAT-1,AAACCTGAGAAACCGC-1\nCD3E,1,2\nMS4A1,0,5\n", "x.csv")
        let r = try DelimitedText.read(p, options: DelimitedTextOptions())
        XCTAssertEqual(r.dataset.obs.index, ["AAACCTGAGAAACCAT-1", "AAACCTGAGAAACCGC-1"])
        XCTAssertTrue(r.orientationNote.contains("header names look like cell barcodes"), r.orientationNote)

        let wide = try write("id,g1,g2,g3,g4\nc1,1,2,3,4\nc2,5,6,7,8\n", "w.csv")
        let w = try DelimitedText.read(wide, options: DelimitedTextOptions())
        XCTAssertEqual(w.dataset.obs.index, ["c1", "c2"])
        XCTAssertTrue(w.orientationNote.contains("more columns (4) than rows (2)"), w.orientationNote)
        let tall = try DelimitedText.read(try write("id,c1,c2\ng1,1,2\ng2,3,4\ng3,5,6\n", "t.csv"), options: DelimitedTextOptions())
        XCTAssertEqual(tall.dataset.obs.index, ["c1", "c2"])
        XCTAssertEqual(dense(tall.dataset.X), [[1, 3, 5], [2, 4, 6]])
        let forced = try DelimitedText.read(wide, options: DelimitedTextOptions(orientation: .genesByCells))
        XCTAssertEqual(forced.dataset.obs.index, ["g1", "g2", "g3", "g4"])
    }

    /// R's write.csv/write.table: quoted names, no corner cell, CRLF, a BOM, no final newline.
    func testRStyleHeaderQuotesCRLFAndBOM() throws {
        let text = "\u{FEFF}\"GENE_A\",\"GENE B\",\"GENE,C\"\r\n\"cell 1\",1.5,0,2e-3\r\n\"cell \"\"2\"\"\",0,-3.25,\"1E2\""
        let r = try DelimitedText.read(try write(text, "r.csv"), options: DelimitedTextOptions(orientation: .cellsByGenes))
        XCTAssertEqual(r.dataset.obs.index, ["cell 1", "cell \"2\""])
        XCTAssertEqual(r.dataset.var.index, ["GENE_A", "GENE B", "GENE,C"])
        XCTAssertEqual(dense(r.dataset.X), [[1.5, 0, Float(2e-3)], [0, -3.25, 100]])
        // A labelled corner cell, blank lines and a trailing newline read the same.
        let labelled = "cell_id,GENE_A,GENE B\n\ncell 1,1.5,0\r\n\ncell 2,0,-3.25\n\n"
        let l = try DelimitedText.read(try write(labelled, "l.csv"), options: DelimitedTextOptions(orientation: .cellsByGenes))
        XCTAssertEqual(l.dataset.obs.index, ["cell 1", "cell 2"])
        XCTAssertEqual(dense(l.dataset.X), [[1.5, 0], [0, -3.25]])
    }

    func testDelimiterByExtensionSniffAndOption() throws {
        let o = DelimitedTextOptions(orientation: .cellsByGenes)
        let txt = try DelimitedText.read(try write("id\tg1\tg2\nc1\t1\t2\n", "a.txt"), options: o)
        XCTAssertEqual(txt.dataset.var.index, ["g1", "g2"])
        let gzTab = try DelimitedText.read(try writeGzip("id\tg1,x\tg2\nc1\t1\t2\n", "a.tsv.gz"), options: o)
        XCTAssertEqual(gzTab.dataset.var.index, ["g1,x", "g2"])
        let sniffed = try DelimitedText.read(try write("id,g1,g2\nc1,1,2\n", "a.dat"), options: o)
        XCTAssertEqual(sniffed.dataset.var.index, ["g1", "g2"])
        var semi = o
        semi.delimiter = UInt8(ascii: ";")
        let s = try DelimitedText.read(try write("id;g1;g2\nc1;1;2\n", "a.csv"), options: semi)
        XCTAssertEqual(dense(s.dataset.X), [[1, 2]])
    }

    /// Over half non-zero: dense; otherwise CSR built from the non-zeros, equal for any threads and blocks.
    func testSparseOrDenseAndThreads() throws {
        let o = DelimitedTextOptions(orientation: .cellsByGenes)
        XCTAssertTrue(try DelimitedText.read(try write("c,a,b,c,d\nx,0,0,0,1\ny,0,2,0,0\n", "s.csv"), options: o).dataset.X.isSparse)
        XCTAssertFalse(try DelimitedText.read(try write("c,a,b\nx,1,2\ny,3,0\n", "d.csv"), options: o).dataset.X.isSparse)

        var rng = SeededRNG(seed: 7)
        var expected = [[Float]]()
        var text = "cell," + (0..<60).map { "G\($0)" }.joined(separator: ",") + "\n"
        for i in 0..<500 {
            let row = (0..<60).map { _ in rng.uniform() < 0.1 ? Float(rng.below(1000)) / 8 : 0 }
            expected.append(row)
            text += "c\(i)," + row.map { $0 == 0 ? "0" : "\($0)" }.joined(separator: ",") + "\n"
        }
        let p = try write(text, "big.csv")
        var opts = o
        let a = try DelimitedText.read(p, options: opts)
        guard case .sparse(let csr) = a.dataset.X else { return XCTFail("expected sparse X") }
        XCTAssertNil(csr.validationError())
        XCTAssertEqual(dense(a.dataset.X), expected)
        opts.threads = 3
        opts.minBlockBytes = 100
        XCTAssertEqual(try DelimitedText.read(p, options: opts).dataset, a.dataset)
        opts.orientation = .genesByCells
        guard case .sparse(let t) = try DelimitedText.read(p, options: opts).dataset.X else { return XCTFail("expected sparse") }
        XCTAssertEqual(t, csr.transposed())
    }

    func testDuplicateGenesMadeUniqueWithWarning() throws {
        let r = try DelimitedText.read(try write("cell,A,B,A,A\nc1,1,2,3,4\n", "d.csv"), options: DelimitedTextOptions(orientation: .cellsByGenes))
        XCTAssertEqual(r.dataset.var.index, ["A", "B", "A-1", "A-2"])
        XCTAssertEqual(r.warnings.count, 1)
        XCTAssertTrue(r.warnings[0].contains("1 duplicated gene name (A)"), r.warnings[0])
        // Genes in rows: the row names are the ones made unique.
        let g = try DelimitedText.read(try write("gene,s1,s2\nX,1,2\nX,3,4\nY,5,6\n", "g.csv"), options: DelimitedTextOptions(orientation: .genesByCells))
        XCTAssertEqual(g.dataset.var.index, ["X", "X-1", "Y"])
        XCTAssertEqual(g.warnings.count, 1)
    }

    func testEveryErrorNamesItsPlace() throws {
        let o = DelimitedTextOptions(orientation: .cellsByGenes)
        assertThrows(try write("id,a,b,c\nx,1,2,3\ny,1,2,3,4,5\n", "r1.csv"), o, "line 3: 6 fields, expected 4 like the header")
        assertThrows(try write("id,a,b,c\nx,1,2,3\ny,1,2\n", "r2.csv"), o, "line 3: 3 fields, expected 4 like the header")
        let long = String(repeating: "z", count: 50)
        assertThrows(try write("id,a,b,c\nx,1,2,3\ny,1,2,\(long)\n", "n.csv"), o,
                     "line 3, column 4: non-numeric value '\(String(repeating: "z", count: 30))…'")
        assertThrows(try write("id,a,b\nx,1,\n", "m1.csv"), o, "line 2, column 3: missing value")
        assertThrows(try write("id,a,b\nx,NA,1\n", "m2.csv"), o, "line 2, column 2: missing value 'NA'")
        assertThrows(try write("id,a,b\nx,1,nan\n", "m3.csv"), o, "line 2, column 3: missing value 'nan'")
        assertThrows(try write("id,a,b\nx,-Inf,1\n", "i1.csv"), o, "line 2, column 2: non-finite value '-Inf'")
        assertThrows(try write("id,a,b\nx,1e400,1\n", "i2.csv"), o, "line 2, column 2: non-finite value '1e400'")
        assertThrows(try write("id,a,b\nx,1,1e39\n", "i3.csv"), o, "line 2, column 3: value '1e39' is too large for Float32")
        assertThrows(try write("id,a,b\n\n", "e1.csv"), o, "empty matrix: a header but no data rows")
        assertThrows(try write("", "e0.csv"), o, "empty matrix")
        assertThrows(try write("id\nx\ny\n", "e2.csv"), o, "line 1: empty matrix: no data columns")
        assertThrows(try write("id,a\nx,1\ny,2\nx,3\n", "u1.csv"), o, "line 4: duplicate observation name 'x' (first at line 2)")
        assertThrows(try write("id,s1,s2,s1\ng,1,2,3\n", "u2.csv"), DelimitedTextOptions(orientation: .genesByCells),
                     "line 1, column 4: duplicate observation name 's1' (first at column 2)")
        assertThrows(try write("id,a\n\"x,1\n", "q.csv"), o, "line 2: unterminated quoted field")
        assertThrows(try write("id,\"a\n", "q2.csv"), o, "line 1: unterminated quoted field")
        assertThrows(dir + "/missing.csv", o, "cannot open")
        // A blank line counts in the line numbers.
        assertThrows(try write("id,a,b\nx,1,2\n\ny,1,x\n", "bl.csv"), o, "line 4, column 3: non-numeric value 'x'")
        // The first bad line wins when blocks fail in parallel.
        var text = "id,a,b\n"
        for i in 0..<300 { text += "r\(i),1,\(i == 250 || i == 40 ? "bad\(i)" : "2")\n" }
        var par = o
        par.threads = 4
        par.minBlockBytes = 64
        assertThrows(try write(text, "p.csv"), par, "line 42, column 3: non-numeric value 'bad40'")
    }

    /// A truncated gzip file is an error, not a short table.
    func testTruncatedGzip() throws {
        var text = "id,a,b\n"
        for i in 0..<20000 { text += "r\(i),\(i),\(i * 7 % 13)\n" }
        let p = try writeGzip(text, "full.csv.gz")
        let bytes = try XCTUnwrap(FileManager.default.contents(atPath: p))
        let cut = dir + "/cut.csv.gz"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        assertThrows(cut, DelimitedTextOptions(), "cannot decompress")
    }

    /// The example table shipped beside the repository: 85 samples × 10,101 genes, integer counts.
    func testShippedGeuvadisTable() throws {
        let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/expression/geuvadis_sex_counts.csv.gz").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "\(path) not present")
        let r = try DelimitedText.read(path, options: DelimitedTextOptions(threads: 2))
        XCTAssertEqual(r.dataset.nObs, 85)
        XCTAssertEqual(r.dataset.nVars, 10101)
        guard case .dense(let m) = r.dataset.X else { return XCTFail("expected dense X") }
        XCTAssertTrue(m.values.allSatisfy { $0 >= 0 && $0 == $0.rounded() })
        XCTAssertTrue(r.orientationNote.contains("rows are samples/cells"), r.orientationNote)
        XCTAssertTrue(r.dataset.var.index[0].hasPrefix("ENSG"))
    }
}
