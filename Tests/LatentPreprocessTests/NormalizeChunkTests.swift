import XCTest
@testable import LatentCore
@testable import LatentPreprocess

/// Streamed and sharded normalize (issue 16): the stage over row chunks, with statistics mapped
/// per chunk and merged exactly, gives the in-memory bytes for any chunking and thread count.
final class NormalizeChunkTests: XCTestCase {
    /// 3,000 cells × 160 genes of seeded counts: a few mitochondrial genes, empty cells, a gene
    /// with no counts, cells that the filters drop.
    func counts(rows: Int = 3000, cols: Int = 160, seed: UInt64 = 3) -> Dataset {
        var rng = SplitMix64(seed: seed)
        var indptr = [0], indices: [Int32] = [], values: [Float] = []
        for i in 0..<rows {
            let depth = 1 + Int(rng.next() % 4)
            if i % 97 != 13 {
                for j in 0..<cols where j != 7 && rng.next() % UInt64(2 + j % 5) == 0 {
                    let v = Float(rng.next() % UInt64(1 + depth * (1 + j % 9)))
                    if v != 0 || rng.next() % 5 == 0 { indices.append(Int32(j)); values.append(v) }
                }
            }
            indptr.append(indices.count)
        }
        let names = (0..<cols).map { $0 < 4 ? "MT-\($0)" : "gene\($0)" }
        return Dataset(X: .sparse(SparseMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: values)),
                       obs: DataFrame(index: (0..<rows).map { "cell\($0)" }), var: DataFrame(index: names))
    }

    func cases() -> [(String, NormalizeParameters)] {
        var a = NormalizeParameters()
        a.minGenes = 20; a.minCells = 30; a.hvg = 40
        var b = NormalizeParameters()
        b.hvg = 50; b.hvgFlavor = .seuratV3; b.scale = .zscore; b.maxValue = 10; b.maxMito = 0.2
        var c = NormalizeParameters()
        c.targetSum = 1e4; c.hvg = 30; c.hvgFlavor = .cellRanger; c.minCounts = 40; c.scale = .minmax
        var d = NormalizeParameters()
        d.method = .log1p; d.scale = .zscore
        // seurat after total with its moments in the counts pass (cells filtered), and in a pass
        // of its own (--min-cells with --target-sum).
        var e = NormalizeParameters()
        e.hvg = 25; e.minCounts = 30
        var f = NormalizeParameters()
        f.hvg = 25; f.minCells = 40; f.targetSum = 1e3
        return [("seurat", a), ("seurat_v3+zscore", b), ("cell_ranger+minmax", c), ("log1p+zscore", d),
                ("seurat in the counts pass", e), ("seurat in its own pass", f)]
    }

    /// Values that are not counts: the streamed run takes seurat's moments from the log round
    /// trip in a pass of its own (started again when the counts pass finds them), as in memory.
    func testSeuratOnValuesThatAreNotCountsStreamsWithItsOwnPass() throws {
        var ds = counts()
        if case .sparse(var m) = ds.X { m.values = m.values.map { $0 * 0.37 }; ds.X = .sparse(m) }
        var p = NormalizeParameters()
        p.hvg = 25
        XCTAssertEqual(p.passes, [.counts])
        let whole = try NormalizeStage.run(ds, p, file: "x", threads: 1).dataset
        let out = try NormalizeStage.runInChunks(ds, p, file: "x", threads: 2, plan: [0..<1024, 1024..<2048, 2048..<3000])
        assertSame(out.dataset, whole, "non-counts")
        XCTAssertTrue(out.notes.contains { $0.contains("pass of their own") }, "\(out.notes)")
        // A shard applied with the counts pass only is refused with what to do.
        let s0 = try NormalizeStage.run(ds, p, file: "s0", mapStats: true).stats!
        XCTAssertThrowsError(try NormalizeStage.run(ds, p, file: "s0", globals: [s0])) { e in
            XCTAssertTrue("\(e)".contains("--input-type linear"), "\(e)")
        }
    }

    func assertSame(_ x: Dataset, _ y: Dataset, _ what: String) {
        XCTAssertEqual(x.X, y.X, "\(what): X")
        XCTAssertEqual(x.layers, y.layers, "\(what): layers")
        XCTAssertEqual(x.obs, y.obs, "\(what): obs")
        XCTAssertEqual(x.var, y.var, "\(what): var")
        XCTAssertEqual(x.uns, y.uns, "\(what): uns")
    }

    func testChunkedEqualsInMemoryForAnyChunkingAndThreads() throws {
        let ds = counts()
        for (name, p) in cases() {
            let whole = try NormalizeStage.run(ds, p, file: "x", threads: 1).dataset
            XCTAssertGreaterThan(whole.nObs, 0)
            for (plan, threads) in [([0..<1024, 1024..<2048, 2048..<3000], 1), ([0..<2048, 2048..<3000], 2),
                                     ([0..<3000], 2)] {
                let chunked = try NormalizeStage.runInChunks(ds, p, file: "x", threads: threads, plan: plan).dataset
                assertSame(chunked, whole, "\(name), chunks \(plan.map(\.count)), \(threads) threads")
            }
        }
    }

    func testPassesFollowTheOptions() {
        var s = NormalizeParameters()
        s.hvg = 100
        XCTAssertEqual(s.passes, [.counts], "seurat's moments are summed from counts in the counts pass")
        s.minCells = 3
        XCTAssertEqual(s.passes, [.counts, .totals], "… or in the totals pass")
        s.inputType = .linear
        XCTAssertEqual(s.passes, [.counts, .totals, .hvg], "… but not from values that are not counts")
        var p = NormalizeParameters()
        XCTAssertEqual(p.passes, [.counts], "without --min-cells the counts pass lists the totals")
        p.minCells = 3
        XCTAssertEqual(p.passes, [.counts, .totals])
        p.targetSum = 1e4
        XCTAssertEqual(p.passes, [.counts])
        p.hvg = 10; p.scale = .zscore
        XCTAssertEqual(p.passes, [.counts, .hvg, .scale])
        p.batchKey = "b"
        XCTAssertNotNil(p.shardingProblem())
    }

    func testShardStatisticsRefuseMismatches() throws {
        let ds = counts(rows: 2048)
        var p = NormalizeParameters()
        p.hvg = 20
        let s0 = try NormalizeStage.run(ds.subset(obs: Array(0..<1024)), p, file: "s0", offset: 0, mapStats: true).stats!
        // Statistics of other options are refused when applied.
        var q = p
        q.hvg = 21
        XCTAssertThrowsError(try NormalizeStage.run(ds.subset(obs: Array(0..<1024)), q, file: "s0", offset: 0,
                                                    globals: [s0], mapStats: true)) { e in
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
        // A shard that does not start on a block boundary.
        XCTAssertThrowsError(try NormalizeStage.run(ds, p, file: "s", offset: 100, mapStats: true))
        // Statistics that do not cover this shard's rows.
        XCTAssertThrowsError(try NormalizeStage.run(ds.subset(obs: Array(1024..<2048)), p, file: "s1", offset: 1024,
                                                    globals: [s0], mapStats: true)) { e in
            XCTAssertTrue("\(e)".contains("covers rows"), "\(e)")
        }
        // Statistics that lack what their pass stores (another latent version), or hold another
        // input's gene count: one line naming the entry, not a trap.
        let first = ds.subset(obs: Array(0..<1024))
        var old = s0
        old.sums["unlogged_sum"] = nil
        XCTAssertThrowsError(try NormalizeStage.run(first, p, file: "s0", offset: 0, globals: [old], globalNames: ["old.stats"])) { e in
            XCTAssertTrue("\(e)".hasPrefix("old.stats:unlogged_sum: missing"), "\(e)")
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
        var other = s0
        other.sums["gene_sum_all"] = ExactSums(count: 7)
        XCTAssertThrowsError(try NormalizeStage.run(first, p, file: "s0", offset: 0, globals: [other], globalNames: ["o.stats"])) { e in
            XCTAssertTrue("\(e)".hasPrefix("o.stats:gene_sum_all: holds 7 genes, the input 160"), "\(e)")
        }
    }
}
