import XCTest
import Foundation
@testable import LatentCore
@testable import LatentIO

final class StatsFileTests: XCTestCase {
    /// Three shards of made-up statistics over rows 0..<3000 cut at block boundaries.
    func shards() -> [StatsFile] {
        var rng = SeededRNG(seed: 11)
        let cuts = [0, 1024, 2048, 3000]
        return (0..<3).map { k in
            var s = StatsFile(kind: "test/1", parameters: "{\"a\":1}", rows: cuts[k]..<cuts[k + 1])
            var e = ExactSums(count: 6)
            e.add((0..<6).map { _ in (rng.uniform() - 0.5) * 1e6 })
            s.set("gram", e, shape: [2, 3])
            s.maxima["hi"] = (0..<4).map { _ in rng.uniform() }
            s.minima["lo"] = (0..<4).map { _ in -rng.uniform() }
            s.perRow["total"] = (cuts[k]..<cuts[k + 1]).map { Double($0) }
            return s
        }
    }

    func testMergeIsOrderIndependentAndExact() throws {
        let parts = shards()
        let names = ["a", "b", "c"]
        let m1 = try StatsFile.merge(parts, names: names)
        let m2 = try StatsFile.merge([parts[2], parts[0], parts[1]], names: ["c", "a", "b"])
        XCTAssertEqual(m1, m2)
        XCTAssertEqual(m1.rows, 0..<3000)
        var direct = parts[0].sums["gram"]!
        direct.add(parts[2].sums["gram"]!)
        direct.add(parts[1].sums["gram"]!)
        XCTAssertEqual(m1.sums["gram"], direct)
        XCTAssertEqual(m1.shapes["gram"], [2, 3])
        XCTAssertEqual(m1.perRow["total"], (0..<3000).map(Double.init))
        for j in 0..<4 {
            XCTAssertEqual(m1.maxima["hi"]![j], parts.map { $0.maxima["hi"]![j] }.max())
            XCTAssertEqual(m1.minima["lo"]![j], parts.map { $0.minima["lo"]![j] }.min())
        }
        // Merging merges: ((a b) c) == (a (b c)).
        let ab = try StatsFile.merge([parts[0], parts[1]], names: ["a", "b"])
        let bc = try StatsFile.merge([parts[1], parts[2]], names: ["b", "c"])
        XCTAssertEqual(try StatsFile.merge([ab, parts[2]], names: ["ab", "c"]), m1)
        XCTAssertEqual(try StatsFile.merge([bc, parts[0]], names: ["bc", "a"]), m1)
    }

    func testMergeRefusesMismatches() {
        let p = shards()
        func message(_ parts: [StatsFile]) -> String? {
            do { _ = try StatsFile.merge(parts, names: parts.indices.map { "f\($0).stats" }); return nil }
            catch let e as LatentError { XCTAssertEqual(e.exitCode, 2); return e.description }
            catch { return "\(error)" }
        }
        XCTAssertTrue(message([p[0], p[2]])?.contains("gap") ?? false)
        XCTAssertTrue(message([p[0], p[1], p[1]])?.contains("overlap") ?? false)
        var otherKind = p[1]; otherKind.kind = "test/2"
        XCTAssertTrue(message([p[0], otherKind])?.contains("kind") ?? false)
        var otherParams = p[1]; otherParams.parameters = "{\"a\":2}"
        XCTAssertTrue(message([p[0], otherParams])?.contains("parameters") ?? false)
        var otherShape = p[1]; otherShape.shapes["gram"] = [3, 2]
        XCTAssertTrue(message([p[0], otherShape])?.contains("shape") ?? false)
        var missing = p[1]; missing.maxima["hi"] = nil
        XCTAssertTrue(message([p[0], missing])?.contains("statistics") ?? false)
        XCTAssertNotNil(StatsFile(kind: "k", parameters: "", rows: 5..<9).problem())
    }

    func testFileRoundTripKeepsEveryBit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("statsfile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var s = try StatsFile.merge(shards(), names: ["a", "b", "c"])
        // Negative and huge sums exercise both halves.
        var e = ExactSums(count: 3)
        e.add([-1.5e20, 3.0e-12, -7])
        s.set("signed", e)
        let path = dir.appendingPathComponent("x.stats").path
        try s.write(to: path)
        let back = try StatsFile.read(path)
        XCTAssertEqual(back, s)
        XCTAssertEqual(back.digest, s.digest)
        // A file that is not a statistics file: one bad-input error.
        let other = dir.appendingPathComponent("y.stats").path
        try Data("nope".utf8).write(to: URL(fileURLWithPath: other))
        XCTAssertThrowsError(try StatsFile.read(other)) { XCTAssertEqual(($0 as? LatentError)?.exitCode, 2) }
    }
}
