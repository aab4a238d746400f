import Foundation
import XCTest
@testable import LatentPipeline

final class ParameterDefaultsTests: XCTestCase {
    struct Example: Codable {
        var batchSize = 128
        var lr = 1.0
        var hidden = [64, 32]
        var countsLayer = "counts"
        var gamma: Double? = nil
        var decoderHidden: [Int]? = nil
    }

    func testDefaultsComeUnderFlagNames() {
        let d = ParameterDefaults.of(Example())
        XCTAssertEqual(d["batch-size"], .int(128))
        XCTAssertEqual(d["hidden"], .array([.int(64), .int(32)]))
        XCTAssertEqual(d["counts-layer"], .string("counts"))
        XCTAssertNil(d["gamma"], "nil stays unset")
        XCTAssertEqual(Set(d.keys), ["batch-size", "lr", "hidden", "counts-layer"])
    }

    func testIntegerDefaultsOfDoubleParametersBecomeDoubles() {
        // JSONEncoder writes 1.0 as `1`; the key must not change when a file gives `lr: 1`.
        let d = ParameterDefaults.of(Example())
        XCTAssertEqual(ParameterSpec("lr", .double(min: 0, max: nil), default: d["lr"]).defaultValue, .double(1))
        XCTAssertEqual(ParameterSpec("w", .list(.double(min: nil, max: nil)), default: .array([.int(2)])).defaultValue, .array([.double(2)]))
        XCTAssertEqual(ParameterSpec("k", .int(min: 1, max: nil), default: .int(3)).defaultValue, .int(3))
    }

    func testDecodeMapsFlagNamesToFields() throws {
        let c = StageContext(directory: "/nonexistent", parameters: ["batch-size": .int(50), "lr": .double(5e-4), "hidden": .array([]),
                                                                    "counts-layer": .string("raw"), "gamma": .null, "seed": .int(3)],
                             inputs: [:], seed: 3, threads: 1, label: "test", note: { _ in })
        let e = try c.decode(Example.self)
        XCTAssertEqual(e.batchSize, 50)
        XCTAssertEqual(e.lr, 5e-4)
        XCTAssertEqual(e.hidden, [])
        XCTAssertEqual(e.countsLayer, "raw")
        XCTAssertNil(e.gamma)
    }
}
