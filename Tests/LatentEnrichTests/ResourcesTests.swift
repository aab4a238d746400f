import Foundation
import XCTest
import LatentCore
@testable import LatentEnrich

/// Finding the shipped gene sets: a name resolves in the first directory that holds them, and a
/// name found nowhere is one error naming every place looked in.
final class ResourcesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "resources-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/shipped", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/shipped/" + Resources.marker, contents: Data())
        FileManager.default.createFile(atPath: dir + "/shipped/go_bp.gmt", contents: Data("A\tx\tG1\tG2\n".utf8))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testNameResolvesInTheFirstDirectoryHoldingTheShippedFiles() throws {
        let c = [(dir + "/empty", "$LATENT_GENESETS"), (dir + "/shipped", "installed beside the binary")]
        XCTAssertEqual(try Resources.resolveGeneSets("go_bp", candidates: c), dir + "/shipped/go_bp.gmt")
        XCTAssertEqual(try Resources.resolveGeneSets("go_bp.gmt", candidates: c), dir + "/shipped/go_bp.gmt")
        // A path is a path: returned unchanged for the reader to report.
        XCTAssertEqual(try Resources.resolveGeneSets("sets/mine.gmt", candidates: c), "sets/mine.gmt")
        XCTAssertThrowsError(try Resources.resolveGeneSets("go_bq", candidates: c)) { e in
            let text = (e as? LatentError)?.description ?? ""
            XCTAssertTrue(text.hasPrefix("go_bq: no such file, and no shipped gene-set collection of that name in \(dir)/shipped (shipped: go_bp)"), text)
        }
    }

    func testNameFoundNowhereListsEveryPlaceLookedIn() throws {
        let c = [(dir + "/empty", "$LATENT_GENESETS"), (dir + "/absent/share/latent/GeneSets", "installed beside the binary")]
        XCTAssertThrowsError(try Resources.resolveGeneSets("go_bp", candidates: c)) { e in
            guard let le = e as? LatentError else { return XCTFail("\(e)") }
            XCTAssertEqual(le.exitCode, 2)
            let text = le.description
            XCTAssertTrue(text.contains("\(dir)/empty [$LATENT_GENESETS, no \(Resources.marker)]"), text)
            XCTAssertTrue(text.contains("\(dir)/absent/share/latent/GeneSets [installed beside the binary, missing]"), text)
            XCTAssertTrue(text.contains("set LATENT_GENESETS"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }

    func testCandidatesPutTheEnvironmentFirstAndTheInstallPrefixBeforeTheCheckout() throws {
        setenv("LATENT_GENESETS", dir + "/shipped", 1)
        defer { unsetenv("LATENT_GENESETS") }
        let c = Resources.geneSetsCandidates()
        XCTAssertEqual(c.first?.path, dir + "/shipped")
        let installed = try XCTUnwrap(c.firstIndex { $0.origin == "installed beside the binary" })
        // Tests/LatentEnrichTests/ResourcesTests.swift → the checkout's GeneSets (found around the
        // test binary or as the source checkout, whichever comes first).
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try XCTUnwrap(c.firstIndex { $0.path == repo.appendingPathComponent("GeneSets").standardizedFileURL.path })
        XCTAssertLessThan(installed, source)
        XCTAssertTrue(c[installed].path.hasSuffix("/share/latent/GeneSets"))
        XCTAssertEqual(Resources.geneSetsDirectory(), dir + "/shipped")
    }
}
