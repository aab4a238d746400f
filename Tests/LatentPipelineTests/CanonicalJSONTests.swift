import Foundation
import XCTest
@testable import LatentPipeline

final class CanonicalJSONTests: XCTestCase {
    func testKeyOrderDoesNotMatter() {
        let a = JSONValue.object(["k": .int(10), "solver": .string("auto"), "nested": .object(["b": .bool(true), "a": .null])])
        var o: [String: JSONValue] = [:]
        for (k, v) in [("nested", JSONValue.object(["a": .null, "b": .bool(true)])), ("solver", .string("auto")), ("k", .int(10))] { o[k] = v }
        XCTAssertEqual(a.canonical, JSONValue.object(o).canonical)
        XCTAssertEqual(a.canonical, #"{"k":10,"nested":{"a":null,"b":true},"solver":"auto"}"#)
    }

    func testTypesAreExact() {
        XCTAssertNotEqual(JSONValue.int(4).canonical, JSONValue.double(4).canonical)
        XCTAssertNotEqual(JSONValue.string("4").canonical, JSONValue.int(4).canonical)
        XCTAssertEqual(JSONValue.double(4).canonical, "4.0")
        XCTAssertEqual(JSONValue.double(0.001).canonical, JSONValue.double(1e-3).canonical)
    }

    func testDoublesRoundTripAndStringsEscape() throws {
        for d in [0.1, 1e-300, 123456789.125, -2.5e17, 1.0 / 3.0, Double.leastNonzeroMagnitude] {
            let text = JSONValue.double(d).canonical
            XCTAssertEqual(Double(text), d, text)
        }
        let s = JSONValue.string("tab\there \"quoted\" back\\slash \u{1}")
        XCTAssertEqual(s.canonical, #""tab\there \"quoted\" back\\slash \u0001""#)
        XCTAssertEqual(try JSONValue.parse(Data(s.canonical.utf8)), s)
    }

    func testLabelsReadAsWritten() {
        XCTAssertEqual(JSONValue.double(4).label, "4")
        XCTAssertEqual(JSONValue.double(0.5).label, "0.5")
        XCTAssertEqual(JSONValue.string("nb").label, "nb")
        XCTAssertEqual(JSONValue.array([.int(128), .int(64)]).label, "128-64")
        XCTAssertEqual(JSONValue.double(4).canonical, "4.0", "the key keeps the type")
    }

    func testParseKeepsIntegersApartFromDoubles() throws {
        let v = try JSONValue.parse(Data(#"{"a": 1, "b": 1.0, "c": [true, null, "x", -3e2], "d": {}}"#.utf8))
        XCTAssertEqual(v, .object(["a": .int(1), "b": .double(1), "c": .array([.bool(true), .null, .string("x"), .double(-300)]), "d": .object([:])]))
        XCTAssertEqual(try JSONValue.parse(Data(v.pretty.utf8)), v)
        XCTAssertThrowsError(try JSONValue.parse(Data("{\"a\": 1,}".utf8)))
    }
}
