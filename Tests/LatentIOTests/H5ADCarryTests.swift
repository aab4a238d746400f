import Foundation
import XCTest
@testable import LatentCore
@testable import LatentIO

/// Unchanged elements are copied from the file they were read from as stored; changed ones are
/// encoded; the results read back as the data in memory.
final class H5ADCarryTests: XCTestCase {
    var dir: String = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-carry-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: dir)
    }

    func read(_ path: String) throws -> Dataset {
        var w: [String] = []
        return try H5AD.read(path, warnings: &w)
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func carriedTargets() -> Set<String> {
        Set(H5AD.lastCarried.compactMap { $0.components(separatedBy: " → ").last })
    }

    /// A "stage" that only adds keys: every matrix read is carried (obs and var are encoded);
    /// the copy keeps the input's filters even when the output asks for none; the file reads
    /// back as the data in memory.
    func testAddingKeysCarriesEverythingAsStored() throws {
        for (sparse, level) in [(true, 4), (false, 4), (true, 0), (false, 0)] {
            var ds = H5ADTests.richDataset(rows: 400, cols: 60)
            if !sparse { ds.X = ds.layers["counts"]! }
            let input = dir + "/in.h5ad", output = dir + "/out.h5ad"
            try H5AD.write(ds, to: input, compression: Compression(level: level, threads: 2))
            var staged = try read(input)
            XCTAssertEqual(Set(staged.storedElements.keys), ["X", "obs", "var", "layers/counts", "obsm/X_pca", "varm/PCs"])
            staged.obsm["X_new"] = .dense(Matrix(rows: 400, cols: 2, values: (0..<800).map { Float($0) }))
            staged.uns["added"] = .int(1)
            try H5AD.write(staged, to: output, compression: level == 0 ? Compression(level: 4) : .none)
            XCTAssertEqual(carriedTargets(), ["/X", "/layers/counts", "/obsm/X_pca", "/varm/PCs"])
            let xIn = try H5File.open(input).root, xOut = try H5File.open(output).root
            let (a, b) = sparse ? (try xIn.group("X").dataset("data"), try xOut.group("X").dataset("data"))
                                : (try xIn.dataset("X"), try xOut.dataset("X"))
            XCTAssertEqual(b.filterIDs, a.filterIDs, "carried X keeps the input's filters")
            XCTAssertEqual(a.filterIDs.isEmpty, level == 0)
            XCTAssertEqual(try read(output), staged)
        }
    }

    /// Matrices stored as latent writes them are carried as they would be written: the file is
    /// the one that encoding the same values at the same level gives, byte for byte (what lets a
    /// sharded run's gather, which encodes, reproduce a single run's file, which carries).
    func testCarryingWhatWeWroteGivesTheEncodedBytes() throws {
        for sparse in [true, false] {
            var ds = H5ADTests.richDataset(rows: 3000, cols: 120)
            if !sparse { ds.X = ds.layers["counts"]! }
            let input = dir + "/in.h5ad", carried = dir + "/carried.h5ad", encoded = dir + "/encoded.h5ad"
            try H5AD.write(ds, to: input, compression: Compression(level: 3, threads: 2))
            var staged = try read(input)
            staged.uns["added"] = .int(1)
            try H5AD.write(staged, to: carried, compression: Compression(level: 3, threads: 2))
            XCTAssertEqual(carriedTargets(), ["/X", "/layers/counts", "/obsm/X_pca", "/varm/PCs"])
            var fresh = staged
            fresh.forgetStored()
            try H5AD.write(fresh, to: encoded, compression: Compression(level: 3, threads: 2))
            XCTAssertEqual(carriedTargets(), [])
            XCTAssertEqual(try bytes(carried), try bytes(encoded), sparse ? "sparse X" : "dense X")
        }
    }

    /// Assigning or mutating an element forgets where it was stored: it is encoded anew.
    func testChangedElementsAreNotCarried() throws {
        let input = dir + "/in.h5ad", output = dir + "/out.h5ad"
        try H5AD.write(H5ADTests.richDataset(), to: input)
        var ds = try read(input)
        guard case .sparse(var s) = ds.X else { return XCTFail("sparse X expected") }
        for i in s.values.indices { s.values[i] *= 2 }
        ds.X = .sparse(s)
        ds.obs.set("new", .int64((0..<ds.nObs).map { Int64($0) }))
        ds.layers["counts"] = ds.layers["counts"]!.subset()
        XCTAssertEqual(Set(ds.storedElements.keys), ["var", "obsm/X_pca", "varm/PCs"])
        try H5AD.write(ds, to: output)
        XCTAssertEqual(carriedTargets(), ["/obsm/X_pca", "/varm/PCs"])
        XCTAssertEqual(try read(output), ds)
        XCTAssertNotEqual(try read(output).X, try read(input).X)
    }

    /// In-place mutation through the property (no reassignment) also forgets the stored X.
    func testInPlaceMutationForgetsStoredX() throws {
        let input = dir + "/in.h5ad"
        try H5AD.write(H5ADTests.richDataset(), to: input)
        var ds = try read(input)
        ds.var.remove("symbol")
        ds.obsm["X_pca"] = nil
        XCTAssertNotNil(ds.stored.X)
        XCTAssertNil(ds.stored.var)
        XCTAssertNil(ds.obsm.stored["X_pca"])
        ds.X = ds.X.subset(rows: Array(0..<ds.nObs))
        XCTAssertNil(ds.stored.X)
    }

    /// A source replaced since it was read is not copied from: the values in memory are written.
    func testReplacedSourceIsNotCopied() throws {
        let input = dir + "/in.h5ad", output = dir + "/out.h5ad"
        let original = H5ADTests.richDataset(seed: 1)
        try H5AD.write(original, to: input)
        let ds = try read(input)
        try H5AD.write(H5ADTests.richDataset(seed: 9), to: input)
        try H5AD.write(ds, to: output)
        XCTAssertEqual(H5AD.lastCarried, [])
        XCTAssertEqual(try read(output), original)
    }

    /// Writing over the input itself (same path) copies from the old file before the rename.
    func testOutputOverItsOwnInput() throws {
        let path = dir + "/same.h5ad"
        let original = H5ADTests.richDataset()
        try H5AD.write(original, to: path)
        var ds = try read(path)
        ds.uns["again"] = .bool(true)
        try H5AD.write(ds, to: path)
        XCTAssertTrue(carriedTargets().contains("/X"))
        XCTAssertEqual(try read(path), ds)
    }

    func testCarriedOutputIsByteIdenticalAcrossRuns() throws {
        let input = dir + "/in.h5ad"
        try H5AD.write(H5ADTests.richDataset(rows: 2000, cols: 100), to: input)
        var ds = try read(input)
        ds.obsm["X_new"] = .dense(Matrix(rows: 2000, cols: 1, values: (0..<2000).map { Float($0) }))
        try H5AD.write(ds, to: dir + "/a.h5ad", compression: Compression(level: 4, threads: 1))
        try H5AD.write(try read(input).withObsm("X_new", ds.obsm["X_new"]!), to: dir + "/b.h5ad",
                       compression: Compression(level: 4, threads: 2))
        XCTAssertEqual(try bytes(dir + "/a.h5ad"), try bytes(dir + "/b.h5ad"))
    }

    /// The dataset `write` returns carries from the file just written exactly as a fresh read of
    /// that file does, so keeping it in memory between stages gives the same next output bytes.
    func testReturnedDatasetWritesAsAReadBackDoes() throws {
        let first = dir + "/first.h5ad"
        let kept = try H5AD.write(H5ADTests.richDataset(rows: 300, cols: 40), to: first)
        let reread = try read(first)
        XCTAssertEqual(Set(kept.storedElements.keys), Set(reread.storedElements.keys))
        XCTAssertEqual(kept.storedElements, reread.storedElements)
        let extra = MatrixData.dense(Matrix(rows: 300, cols: 3, values: (0..<900).map { Float($0) / 3 }))
        try H5AD.write(kept.withObsm("X_next", extra), to: dir + "/fromMemory.h5ad")
        try H5AD.write(reread.withObsm("X_next", extra), to: dir + "/fromFile.h5ad")
        XCTAssertEqual(try bytes(dir + "/fromMemory.h5ad"), try bytes(dir + "/fromFile.h5ad"))
    }

    /// After the written file is renamed, the returned dataset still carries from it once told.
    func testMarksFollowARenamedFile() throws {
        let first = dir + "/first.h5ad", moved = dir + "/moved.h5ad"
        var kept = try H5AD.write(H5ADTests.richDataset(rows: 300, cols: 40), to: first)
        XCTAssertEqual(rename(first, moved), 0)
        kept.storedFileMoved(from: first, to: moved)
        kept.uns["next"] = .int(2)
        try H5AD.write(kept, to: dir + "/fromMemory.h5ad")
        XCTAssertTrue(carriedTargets().contains("/X"))
        var reread = try read(moved)
        reread.uns["next"] = .int(2)
        try H5AD.write(reread, to: dir + "/fromFile.h5ad")
        XCTAssertEqual(try bytes(dir + "/fromMemory.h5ad"), try bytes(dir + "/fromFile.h5ad"))
    }

    func testForgetStoredEncodesEverything() throws {
        let input = dir + "/in.h5ad"
        try H5AD.write(H5ADTests.richDataset(), to: input, compression: Compression(level: 4))
        var ds = try read(input)
        ds.forgetStored()
        try H5AD.write(ds, to: dir + "/out.h5ad", compression: .none)
        XCTAssertEqual(H5AD.lastCarried, [])
        XCTAssertEqual(try H5File.open(dir + "/out.h5ad").root.group("X").dataset("data").filterIDs, [])
    }
}

/// anndata's masked columns keep their missing values and integer widths.
final class H5ADNullableTests: XCTestCase {
    func testNullableColumnsRoundTrip() throws {
        let dir = NSTemporaryDirectory() + "latent-nullable-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var obs = DataFrame(index: ["a", "b", "c"])
        obs.set("n", .nullableInteger(values: [1, 0, 3], missing: [false, true, false], type: .int64))
        obs.set("u8", .nullableInteger(values: [7, 0, 255], missing: [false, true, false], type: .uint8))
        obs.set("flag", .nullableBool(values: [true, false, false], missing: [false, true, false]))
        obs.set("label", .nullableString(values: ["x", "", "z"], missing: [false, true, false]))
        let ds = Dataset(X: .dense(Matrix(rows: 3, cols: 1, values: [1, 2, 3])), obs: obs, var: DataFrame(index: ["g"]))
        for c in [Compression(), Compression.none] {
            try H5AD.write(ds, to: dir + "/n.h5ad", compression: c)
            var w: [String] = []
            XCTAssertEqual(try H5AD.read(dir + "/n.h5ad", warnings: &w), ds)
            XCTAssertEqual(w, [])
        }
        XCTAssertEqual(obs["n"]!.doubles!.map { $0.isNaN }, [false, true, false])
        XCTAssertEqual(obs["flag"]!.strings, ["True", "", "False"])
    }
}

private extension Dataset {
    func withObsm(_ key: String, _ m: MatrixData) -> Dataset {
        var d = self
        d.obsm[key] = m
        return d
    }
}
