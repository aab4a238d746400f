import XCTest
@testable import LatentCore
@testable import LatentPreprocess

/// The one-sweep QC pass and the parallel gene subset give exactly (bit for bit) what the separate
/// passes they replace give; what X holds is detected, said, and decides which HVG flavors apply.
final class NormalizeSweepTests: XCTestCase {
    /// A seeded sparse matrix: mostly small integer counts, some above the histogram (≥ 256),
    /// optionally negative integers or fractions, explicit zeros, and a few empty rows.
    func matrix(rows: Int, cols: Int, seed: UInt64, fractions: Bool = false, negatives: Bool = false,
                emptyRows: Bool = true) -> SparseMatrix {
        var rng = SplitMix64(seed: seed)
        var indptr = [0], indices: [Int32] = [], values: [Float] = []
        for i in 0..<rows {
            if !emptyRows || i % 17 != 5 {
                for j in 0..<cols where rng.next() % 4 == 0 {
                    var v = Float(rng.next() % 6)
                    if rng.next() % 23 == 0 { v = Float(200 + rng.next() % 900) }
                    if negatives && rng.next() % 31 == 0 { v = -Float(1 + rng.next() % 300) }
                    if fractions && rng.next() % 3 == 0 { v = v * 0.37 + 0.011 }
                    indices.append(Int32(j))
                    values.append(v)
                }
            }
            indptr.append(indices.count)
        }
        return SparseMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: values)
    }

    /// The QC metrics as the separate passes compute them: row sums in stored order, the N largest
    /// values sorted and summed largest first.
    func reference(_ X: MatrixData, mito: [Bool], top: [Int]) -> QC.CellMetrics {
        let (total, nnz) = rowTotals(X)
        let (mt, _) = rowTotals(X, cols: mito)
        let dense: Matrix
        switch X { case .dense(let m): dense = m; case .sparse(let s): dense = s.densified() }
        var tops: [(n: Int, pct: [Double])] = []
        for n in top.sorted() where n <= X.cols {
            var pct = [Double]()
            for i in 0..<X.rows {
                let row: [Float]
                switch X {
                case .sparse(let s): row = Array(s.values[s.indptr[i]..<s.indptr[i + 1]])
                case .dense: row = Array(dense.values[(i * X.cols)..<((i + 1) * X.cols)])
                }
                let acc = row.sorted(by: >).prefix(n).reduce(0.0) { $0 + Double($1) }
                pct.append(total[i] > 0 ? acc / total[i] * 100 : 0)
            }
            tops.append((n, pct))
        }
        return QC.CellMetrics(nGenes: nnz, total: total, totalMito: mt, topPercent: tops)
    }

    func assertSameMetrics(_ a: QC.CellMetrics, _ b: QC.CellMetrics, _ what: String) {
        XCTAssertEqual(a.total, b.total, what)
        XCTAssertEqual(a.nGenes, b.nGenes, what)
        XCTAssertEqual(a.totalMito, b.totalMito, what)
        XCTAssertEqual(a.topPercent.map(\.n), b.topPercent.map(\.n), what)
        for (x, y) in zip(a.topPercent, b.topPercent) { XCTAssertEqual(x.pct, y.pct, "\(what): top \(x.n)") }
    }

    func testSweepEqualsSeparatePassesBitForBit() {
        let cases: [(String, SparseMatrix)] = [
            ("counts", matrix(rows: 400, cols: 2400, seed: 1)),
            ("negative integers", matrix(rows: 300, cols: 400, seed: 2, negatives: true)),
            ("fractions", matrix(rows: 300, cols: 400, seed: 3, fractions: true)),
        ]
        let top = [5, 50, 100, 200, 500]
        for (name, s) in cases {
            let mito = (0..<s.cols).map { $0 % 50 == 0 }
            for X in [MatrixData.sparse(s), .dense(s.densified())] {
                let what = "\(name), \(X.isSparse ? "sparse" : "dense")"
                for threads in [1, 2] {
                    let pass = QCPass(X, mito: mito, top: top, squares: true, threads: threads)
                    assertSameMetrics(pass.cells, reference(X, mito: mito, top: top), "\(what), \(threads) threads")
                    XCTAssertEqual(pass.geneStats, GeneStats(X, method: .scanpy), "\(what): seurat_v3 statistics")
                    let twoPass = GeneStats(X)
                    // Exact block sums (rounded once per 1024-row block to 2⁻⁵⁰) against plain Double sums.
                    for j in 0..<s.cols {
                        XCTAssertEqual(pass.geneStats.mean[j], twoPass.mean[j], accuracy: 1e-13 * max(1, abs(twoPass.mean[j])), what)
                        XCTAssertEqual(pass.geneStats.total[j], twoPass.total[j], accuracy: 1e-12 * max(1, abs(twoPass.total[j])), what)
                    }
                    XCTAssertEqual(pass.geneStats.nonzero, twoPass.nonzero, what)
                    XCTAssertEqual(pass.isCounts, name == "counts", what)
                }
            }
        }
    }

    func testDetectionCountsOverRowSubsets() {
        let s = matrix(rows: 200, cols: 50, seed: 4)
        let rows = (0..<200).filter { $0 % 3 != 0 }
        XCTAssertEqual(columnNonzero(.sparse(s), rows: rows), GeneStats(.sparse(s.subset(rows: rows))).nonzero)
        XCTAssertEqual(columnNonzero(.dense(s.densified()), rows: rows), GeneStats(.sparse(s.subset(rows: rows))).nonzero)
    }

    func testGeneSubsetEqualsDatasetSubsetAndSharesStructure() throws {
        let counts = matrix(rows: 900, cols: 300, seed: 5)
        var ds = Dataset(X: .sparse(counts), obs: DataFrame(index: (0..<900).map { "c\($0)" }),
                         var: DataFrame(index: (0..<300).map { "g\($0)" }))
        ds.var.set("score", .float64((0..<300).map(Double.init)))
        ds.layers["counts"] = ds.X
        ds.X = Normalize.totalLog1p(ds.X, targetSum: nil, threads: 2).0   // shares the counts' indptr and indices
        ds.layers["other"] = .dense(counts.densified())
        let keep = (0..<300).filter { $0 % 7 == 2 || $0 > 280 }
        for threads in [1, 2] {
            let fast = GeneSubset.apply(ds, keep, threads: threads)
            XCTAssertEqual(fast, ds.subset(vars: keep), "\(threads) threads")
            guard case .sparse(let x) = fast.X, case .sparse(let c)? = fast.layers["counts"] else { return XCTFail("sparse") }
            XCTAssertTrue(GeneSubset.sameStructure(x, c), "X and counts keep one shared structure")
        }
    }

    // MARK: what X holds

    func logDataset() -> Dataset {
        let s = matrix(rows: 120, cols: 80, seed: 6, emptyRows: false)
        var ds = Dataset(X: .sparse(s), obs: DataFrame(index: (0..<120).map { "c\($0)" }),
                         var: DataFrame(index: (0..<80).map { "g\($0)" }))
        ds.X = Normalize.totalLog1p(ds.X, targetSum: 1e4, threads: 1).0
        return ds
    }

    func testLogInputWithMethodNoneTakesTheDispersionFlavors() throws {
        for flavor in [HVG.Flavor.seurat, .cellRanger] {
            var p = NormalizeParameters()
            p.method = .none
            p.hvg = 20
            p.hvgFlavor = flavor
            let out = try NormalizeStage.run(logDataset(), p, file: "log.h5ad")
            XCTAssertEqual(out.dataset.nVars, 20, flavor.rawValue)
            XCTAssertTrue(out.notes.contains { $0.contains("read as log-normalised (--input-type log)") }, "\(out.notes)")
            // The selection is the dispersion ranking of X as given (no normalisation in between).
            let direct = try HVG.select(logDataset().X, geneNames: logDataset().var.index, flavor: flavor, nTop: 20)
            XCTAssertEqual(out.dataset.var.index, (0..<80).filter { direct.highlyVariable[$0] }.map { "g\($0)" })
        }
    }

    func testDispersionFlavorsWithMethodNoneRefuseCountsAndLinearScale() {
        var p = NormalizeParameters()
        p.method = .none
        p.hvg = 10
        let counts = Dataset(X: .sparse(matrix(rows: 60, cols: 40, seed: 7)), obs: DataFrame(index: (0..<60).map { "c\($0)" }),
                             var: DataFrame(index: (0..<40).map { "g\($0)" }))
        XCTAssertThrowsError(try NormalizeStage.run(counts, p, file: "c.h5ad")) { e in
            XCTAssertTrue("\(e)".contains("X holds raw counts"), "\(e)")
        }
        var linear = counts
        linear.X = Normalize.mapStored(counts.X) { v in for i in v.indices { v[i] = v[i] * 10.5 + 0.25 } }
        XCTAssertThrowsError(try NormalizeStage.run(linear, p, file: "l.h5ad")) { e in
            XCTAssertTrue("\(e)".contains("linear-scale values"), "\(e)")
        }
        // Said by the user, the type wins over the values.
        p.inputType = .log
        p.hvgFlavor = .cellRanger
        XCTAssertNoThrow(try NormalizeStage.run(linear, p, file: "l.h5ad"))
    }

    func testLogInputRefusesAnotherNormalisationAndSeuratV3() {
        var p = NormalizeParameters()
        p.inputType = .log
        XCTAssertThrowsError(try NormalizeStage.run(logDataset(), p, file: "x")) { e in
            XCTAssertTrue("\(e)".contains("use --method none"), "\(e)")
        }
        p.method = .none
        p.hvg = 10
        p.hvgFlavor = .seuratV3
        XCTAssertThrowsError(try NormalizeStage.run(logDataset(), p, file: "x")) { e in
            XCTAssertTrue("\(e)".contains("seurat_v3 ranks raw counts"), "\(e)")
        }
    }
}

/// A small seeded generator for test data (SplitMix64).
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
