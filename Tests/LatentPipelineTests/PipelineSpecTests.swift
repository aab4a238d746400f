import Foundation
import XCTest
import LatentCore
@testable import LatentPipeline

/// Every kind of mistake in a pipeline file is reported before anything runs, as one
/// `FILE:LINE: …` error pointing at the offending line.
final class PipelineSpecTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "spec-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("a\tb\n".utf8).write(to: URL(fileURLWithPath: dir + "/counts.tsv"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func parse(_ yaml: String) throws -> Pipeline { try Pipeline.parse(yaml, file: dir + "/p.yaml") }

    /// Asserts the error is bad input at `line` and mentions every fragment.
    func assertError(_ yaml: String, line: Int, _ fragments: String..., file: StaticString = #filePath, at: UInt = #line) {
        XCTAssertThrowsError(try parse(yaml), file: file, line: at) { e in
            guard let e = e as? LatentError else { return XCTFail("not a LatentError: \(e)", file: file, line: at) }
            XCTAssertEqual(e.kind, .badInput, file: file, line: at)
            XCTAssertTrue(e.description.hasPrefix(dir + "/p.yaml:\(line): "), "\(e.description) does not point at line \(line)", file: file, line: at)
            for f in fragments { XCTAssertTrue(e.description.contains(f), "'\(f)' not in \(e.description)", file: file, line: at) }
        }
    }

    func testAValidPipelineParses() throws {
        let p = try parse("""
        seed: 3
        stages:
          import:
            input: counts.tsv
            params: {orient: genes-by-cells}
          normalize:
            input: import
            params:
              min_cells: 3      # underscores spell the same parameter
              hvg: 100
          pca:
            input: normalize
            grid: {k: [5, 10]}
        """)
        XCTAssertEqual(p.seed, 3)
        XCTAssertEqual(p.stages.map(\.name), ["import", "normalize", "pca"])
        XCTAssertEqual(p.stage("normalize")?.parameters["min-cells"], .int(3))
        XCTAssertEqual(p.stage("normalize")?.inputs["input"]?.first?.target, .stage("import"))
        XCTAssertEqual(p.stage("import")?.inputs["input"]?.first?.target, .file(dir + "/counts.tsv"))
        XCTAssertEqual(p.stage("pca")?.grid.first?.values, [.int(5), .int(10)])
    }

    func testUnknownStage() {
        assertError("""
        stages:
          simulate: {}
          pcaa:
            input: simulate
        """, line: 3, "unknown stage 'pcaa'")
        assertError("""
        stages:
          simulate: {}
          first:
            stage: pcaa
            input: simulate
        """, line: 4, "unknown stage 'pcaa'", "known stages:")
    }

    func testUnknownParameter() {
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            params:
              k: 5
              components: 5
        """, line: 7, "unknown parameter 'components'", "known: k,")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            grid:
              beta: [1, 4]
        """, line: 6, "unknown parameter 'beta'")
        assertError("""
        stages:
          simulate: {}
          normalize:
            input: simulate
            hvg: 100
        """, line: 5, "'hvg' of stage 'normalize' is a parameter", "params:")
    }

    func testWrongType() {
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            params: {k: ten}
        """, line: 5, "parameter 'k' of stage 'pca' must be an integer", "'ten'")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            params:
              k: "10"
        """, line: 6, "must be an integer")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            params:
              solver: fastest
        """, line: 6, "must be one of auto, exact, randomized")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
            grid:
              k: [5,
                  0]
        """, line: 7, "grid value of 'k'", "≥ 1")
        assertError("""
        stages:
          simulate:
            params: {cells: 2.5}
        """, line: 3, "must be an integer")
    }

    func testCycle() {
        assertError("""
        stages:
          normalize:
            input: pca
          pca:
            input: normalize
        """, line: 2, "cycle: normalize → pca → normalize")
        assertError("""
        stages:
          pca:
            input: pca
        """, line: 3, "cycle")
    }

    func testMissingInput() {
        assertError("""
        stages:
          import:
            input: no-such-file.h5ad
        """, line: 3, "missing input", "'no-such-file.h5ad'", "neither a stage nor an existing file")
        assertError("""
        stages:
          simulate: {}
          pca: {}
        """, line: 3, "stage 'pca' (pca) needs 'input:'")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
          enrich:
            input: pca
            gene-sets: [simulate, not_a_collection]
        """, line: 7, "missing input", "not_a_collection")
    }

    func testAStageInputMustWriteWhatTheSlotReads() {
        assertError("""
        stages:
          simulate: {}
          normalize:
            input: simulate
          enrich:
            input: normalize
            gene-sets: simulate
        """, line: 6, "'input' of stage 'enrich' needs embedding", "'normalize' (normalize) writes normalized.h5ad")
        assertError("""
        stages:
          simulate: {}
          pca:
            input: simulate
          enrich:
            input: pca
            gene-sets: pca
        """, line: 7, "needs gene-sets")
    }

    func testStructuralMistakes() {
        assertError("""
        stages:
          simulate: {}
          simulate: {}
        """, line: 3, "'simulate' appears twice", "first on line 2")
        assertError("""
        stage:
          simulate: {}
        """, line: 1, "unknown key 'stage' at the top level")
        assertError("""
        stages:
          simulate:
            params: {cells: 100}
            grid: {cells: [100, 200]}
        """, line: 4, "both a parameter and a grid")
        assertError("""
        stages:
          simulate:
            grid: {cells: 100}
        """, line: 3, "non-empty list")
        assertError("""
        stages:
          simulate:
            params: {cells: [100
        """, line: 4, "not valid YAML")
    }
}
