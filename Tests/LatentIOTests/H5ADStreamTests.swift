import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

/// The file side of streaming: `H5ADMatrixSource` reads what `H5AD.read` reads, in any row
/// ranges; `H5ADStreamWriter` fed blocks of any sizes writes the very bytes of `H5AD.write`.
final class H5ADStreamTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-stream-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// `rows` × `cols` with about `density` non-zeros, obs/var/obsm/uns as a real file has them.
    static func dataset(rows: Int, cols: Int, density: Double, dense: Bool = false, seed: UInt64 = 3) -> Dataset {
        var r = SeededRNG(seed: seed)
        var m = Matrix(rows: rows, cols: cols)
        for i in 0..<m.values.count where r.uniform() < density { m.values[i] = Float(1 + r.below(40)) }
        var obs = DataFrame(index: (0..<rows).map { "c\($0)" })
        obs.set("sample", .categorical(codes: (0..<rows).map { Int32($0 % 3) }, categories: ["a", "b", "c"], ordered: false))
        obs.set("total", .float64((0..<rows).map { Double($0) }))
        var vars = DataFrame(index: (0..<cols).map { "G\($0)" })
        vars.set("symbol", .string((0..<cols).map { "S\($0)" }))
        var ds = Dataset(X: dense ? .dense(m) : .sparse(SparseMatrix(dense: m)), obs: obs, var: vars)
        ds.obsm["X_pca"] = .dense(Matrix(rows: rows, cols: 2, values: (0..<rows * 2).map { Float($0) }))
        ds.uns["note"] = .string("stream")
        return ds
    }

    /// Row blocks of irregular sizes (1 row, odd sizes, a big rest) covering 0..<rows.
    static func irregularRanges(_ rows: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var s = 0
        let sizes = [1, 7, 300, 2, 1025, 3]
        var k = 0
        while s < rows {
            let e = min(rows, s + sizes[k % sizes.count])
            out.append(s..<e)
            s = e
            k += 1
        }
        return out
    }

    func streamWrite(_ ds: Dataset, to path: String, ranges: [Range<Int>], compression: Compression) throws {
        try? FileManager.default.removeItem(atPath: path)
        let w = try H5ADStreamWriter(path: path, cols: ds.nVars, sparse: ds.X.isSparse, compression: compression)
        for r in ranges { try w.append(ds.X.rowBlock(r)) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "nothing visible before finish")
        w.annotations = H5AD.Annotations(ds)
        try w.finish()
    }

    func bytes(_ p: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: p)) }

    func testStreamedFileIsByteIdenticalToInMemoryWrite() throws {
        // Small (one chunk shorter than 1 MiB), several chunks of data/indices, dense with several
        // row chunks; compressed on 1 and 3 threads, and uncompressed (contiguous).
        let cases: [(Dataset, String)] = [
            (Self.dataset(rows: 130, cols: 20, density: 0.3), "small"),
            (Self.dataset(rows: 2100, cols: 300, density: 0.5), "multi-chunk"),
            (Self.dataset(rows: 1500, cols: 400, density: 0.3, dense: true), "dense"),
        ]
        for (ds, name) in cases {
            for compression in [Compression(), Compression(level: 4, threads: 3), Compression.none] {
                let a = dir + "/\(name)-mem.h5ad", b = dir + "/\(name)-stream.h5ad"
                try H5AD.write(ds, to: a, compression: compression)
                try streamWrite(ds, to: b, ranges: Self.irregularRanges(ds.nObs), compression: compression)
                XCTAssertEqual(try bytes(a), try bytes(b), "\(name) level \(compression.level) threads \(compression.threads)")
                var w: [String] = []
                XCTAssertEqual(try H5AD.read(b, warnings: &w), ds)
            }
        }
    }

    func testSourceReadsAnyRangesLikeMemory() throws {
        for (ds, compression) in [(Self.dataset(rows: 2100, cols: 300, density: 0.5), Compression(level: 2, threads: 2)),
                                  (Self.dataset(rows: 900, cols: 30, density: 0.2), Compression.none),
                                  (Self.dataset(rows: 1500, cols: 400, density: 0.3, dense: true), Compression())] {
            let path = dir + "/src.h5ad"
            try H5AD.write(ds, to: path, compression: compression)
            let src = try H5ADMatrixSource(path: path)
            let mem = InMemorySource(ds.X)
            XCTAssertEqual(src.rows, ds.nObs)
            XCTAssertEqual(src.cols, ds.nVars)
            XCTAssertEqual(src.isSparse, ds.X.isSparse)
            for r in Self.irregularRanges(ds.nObs) + [0..<ds.nObs, 5..<5] {
                XCTAssertEqual(src.storedCount(r), mem.storedCount(r))
                XCTAssertEqual(try src.read(r), try mem.read(r), "rows \(r)")
            }
            // Through the prefetching chunk loop with a tiny budget (many chunks).
            let plan = RowChunking.plan(src, maxStored: 2000)
            XCTAssertEqual(plan.count, (ds.nObs + RowChunking.statBlock - 1) / RowChunking.statBlock)
            var sink = InMemorySink()
            try RowChunking.forEach(src, plan, prefetch: true) { _, block in try sink.append(block) }
            XCTAssertEqual(sink.stacked(), ds.X)
        }
    }

    /// The reader that normalize's passes use: chunks in the announced order come from the read
    /// ahead, a range asked out of order is read at once, and the order resumes after it.
    func testPrefetchingReaderGivesEachRangeInAnyOrder() throws {
        let ds = Self.dataset(rows: 2100, cols: 300, density: 0.5)
        let path = dir + "/prefetch.h5ad"
        try H5AD.write(ds, to: path, compression: Compression(level: 2, threads: 2))
        let src = try H5ADMatrixSource(path: path)
        let mem = InMemorySource(ds.X)
        let plan = [0..<1024, 1024..<2048, 2048..<2100]
        let reader = PrefetchingReader(src, order: plan + plan)
        defer { reader.finish() }
        for r in plan + [1024..<2048, 0..<1024, 5..<700] + plan + plan {
            XCTAssertEqual(try reader.read(r), try mem.read(r), "rows \(r)")
        }
    }

    func testStreamedCopyThroughPrefetchEqualsOriginal() throws {
        // Source → writer with the prefetch thread reading while the main thread writes.
        let ds = Self.dataset(rows: 3000, cols: 200, density: 0.5)
        let a = dir + "/a.h5ad", b = dir + "/b.h5ad"
        try H5AD.write(ds, to: a)
        let src = try H5ADMatrixSource(path: a)
        var warnings: [String] = []
        let ann = try H5AD.readAnnotations(a, warnings: &warnings)
        XCTAssertEqual(ann, H5AD.Annotations(ds))
        let w = try H5ADStreamWriter(path: b, cols: src.cols, sparse: true, annotations: ann)
        try RowChunking.forEach(src, RowChunking.plan(src, maxStored: 5000), prefetch: true) { _, block in try w.append(block) }
        try w.finish()
        XCTAssertEqual(try bytes(a), try bytes(b))
    }

    func testFailedStreamLeavesNothing() throws {
        let ds = Self.dataset(rows: 50, cols: 10, density: 0.3)
        let path = dir + "/fail.h5ad"
        do {
            let w = try H5ADStreamWriter(path: path, cols: 10, sparse: true)
            try w.append(ds.X.rowBlock(0..<20))
            XCTAssertThrowsError(try w.append(Self.dataset(rows: 5, cols: 11, density: 0.3).X))
            w.annotations = H5AD.Annotations(ds)   // 50 obs rows but only 20 written
            XCTAssertThrowsError(try w.finish())
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
        XCTAssertThrowsError(try H5ADStreamWriter(path: dir + "/nodir/x.h5ad", cols: 3, sparse: true))
    }

    func testLayersStreamedBesideXAreByteIdentical() throws {
        var ds = Self.dataset(rows: 1300, cols: 250, density: 0.4)
        ds.layers["counts"] = Self.dataset(rows: 1300, cols: 250, density: 0.5, seed: 8).X
        ds.layers["dense"] = Self.dataset(rows: 1300, cols: 250, density: 0.5, dense: true, seed: 9).X
        let a = dir + "/mem.h5ad", b = dir + "/stream.h5ad"
        try H5AD.write(ds, to: a)
        let w = try H5ADStreamWriter(path: b, cols: 250, sparse: true, annotations: H5AD.Annotations(ds),
                                     layers: [("counts", true), ("dense", false)])
        for r in Self.irregularRanges(1300) {
            try w.append(ds.X.rowBlock(r))
            try w.appendLayer("dense", ds.layers["dense"]!.rowBlock(r))
            try w.appendLayer("counts", ds.layers["counts"]!.rowBlock(r))
        }
        XCTAssertThrowsError(try w.appendLayer("nope", ds.X.rowBlock(0..<1)))
        try w.finish()
        XCTAssertEqual(try bytes(a), try bytes(b))
    }

    func testLayerIsReadByRows() throws {
        var ds = Self.dataset(rows: 1100, cols: 40, density: 0.3)
        let dense = Self.dataset(rows: 1100, cols: 40, density: 0.5, dense: true, seed: 9).X
        ds.layers["counts"] = dense
        let path = dir + "/layers.h5ad"
        try H5AD.write(ds, to: path)
        let src = try H5ADMatrixSource(path: path, layer: "counts")
        XCTAssertEqual(src.element, "/layers/counts")
        XCTAssertFalse(src.isSparse)
        for r in [0..<1, 3..<700, 1024..<1100] { XCTAssertEqual(try src.read(r), dense.rowBlock(r)) }
    }

    func testBadFilesNameFileAndPath() throws {
        let ds = Self.dataset(rows: 20, cols: 5, density: 0.5)
        let path = dir + "/ok.h5ad"
        try H5AD.write(ds, to: path)
        XCTAssertThrowsError(try H5ADMatrixSource(path: path, layer: "missing")) { e in
            XCTAssertTrue("\(e)".contains(path), "\(e)")
        }
        let junk = dir + "/junk.h5ad"
        try Data("not hdf5".utf8).write(to: URL(fileURLWithPath: junk))
        XCTAssertThrowsError(try H5ADMatrixSource(path: junk)) { e in
            guard let le = e as? LatentError else { return XCTFail("\(e)") }
            XCTAssertEqual(le.kind, .badInput)
        }
    }
}
