import Foundation
import XCTest
@testable import LatentPipeline

/// Our SHA-256 against Python's hashlib (Fixtures/make_sha256_fixtures.py): every length around
/// the block and padding boundaries, streamed whole and in odd pieces.
final class SHA256Tests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func cases() throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("sha256_cases.json")))
    }

    func testPatternedMessagesMatchHashlib() throws {
        let all = try XCTUnwrap(cases()["patterned"]?.arrayValue)
        XCTAssertGreaterThan(all.count, 130)
        for c in all {
            let n = Int(try XCTUnwrap(c["length"]?.intValue))
            let data = (0..<n).map { UInt8((7 * $0 + 3) % 256) }
            XCTAssertEqual(SHA256.hex(data), c["sha256"]?.stringValue, "length \(n)")
        }
    }

    func testStreamingInPiecesGivesTheSameDigest() throws {
        let all = try XCTUnwrap(cases()["patterned"]?.arrayValue)
        for c in all {
            let n = Int(try XCTUnwrap(c["length"]?.intValue))
            let data = (0..<n).map { UInt8((7 * $0 + 3) % 256) }
            var h = SHA256()
            var i = 0, step = 1
            while i < n {
                let j = min(n, i + step)
                h.update(data[i..<j])
                i = j
                step = step * 3 % 97 + 1
            }
            XCTAssertEqual(SHA256.hexString(h.finalize()), c["sha256"]?.stringValue, "length \(n) in pieces")
        }
    }

    func testFIPSExamples() throws {
        for c in try XCTUnwrap(cases()["texts"]?.arrayValue) {
            let text = c["text"]?.stringValue ?? String(repeating: "a", count: Int(c["repeat_a"]?.intValue ?? 0))
            XCTAssertEqual(SHA256.hex(Array(text.utf8)), c["sha256"]?.stringValue)
        }
    }

    func testFileDigestEqualsInMemoryDigest() throws {
        let path = NSTemporaryDirectory() + "sha-\(UUID().uuidString)"
        let data = Data((0..<(9 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) })
        try data.write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertEqual(try SHA256.hexOfFile(path), SHA256.hex(data))
    }
}
