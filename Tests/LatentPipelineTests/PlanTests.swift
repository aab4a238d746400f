import Foundation
import XCTest
import LatentCore
@testable import LatentPipeline

/// Grid expansion, fan-out and cache keys: keys are stable under anything that cannot change an
/// output, and change — for exactly the affected instances — under anything that can.
final class PlanTests: XCTestCase {
    func plan(_ yaml: String) throws -> Plan {
        try Plan(try Pipeline.parse(yaml, file: "/nonexistent/p.yaml"), hasher: FileHasher(memoDirectory: nil))
    }

    func keys(_ p: Plan) -> [String: String] {
        Dictionary(uniqueKeysWithValues: p.instances.map { ($0.display, $0.key) })
    }

    let sweep = """
    stages:
      simulate:
        params: {cells: 100, genes: 50}
        grid: {seed: [0, 1]}
      normalize:
        input: simulate
      pca:
        input: normalize
        grid: {k: [2, 3]}
      enrich:
        input: pca
        gene-sets: simulate
    """

    func testGridsExpandAndDownstreamFansOut() throws {
        let p = try plan(sweep)
        XCTAssertEqual(p.instances.map(\.display), [
            "simulate [seed=0]", "simulate [seed=1]",
            "normalize [seed=0]", "normalize [seed=1]",
            "pca [seed=0,k=2]", "pca [seed=0,k=3]", "pca [seed=1,k=2]", "pca [seed=1,k=3]",
            "enrich [seed=0,k=2]", "enrich [seed=0,k=3]", "enrich [seed=1,k=2]", "enrich [seed=1,k=3]",
        ])
        // enrich reads pca and simulate's gene sets: it pairs the simulate instance of the same
        // seed rather than crossing all of them (4 instances, not 8).
        for e in p.instances where e.name == "enrich" {
            guard case .instance(let sim)? = e.inputs["gene-sets"]?.first, case .instance(let pca)? = e.inputs["input"]?.first else {
                return XCTFail("enrich inputs not resolved")
            }
            let seedOfPCA = p.instances[pca].bindings.first { $0.parameter == "seed" }?.value
            XCTAssertNotNil(seedOfPCA)
            XCTAssertEqual(p.instances[sim].bindings.first?.value, seedOfPCA)
            XCTAssertEqual(p.instances[pca].label, e.label)
        }
        XCTAssertEqual(Set(p.instances.map(\.key)).count, p.instances.count, "every instance has its own key")
        let pca = p.instances.filter { $0.name == "pca" }
        XCTAssertEqual(pca.map { $0.parameters["k"] }, [.int(2), .int(3), .int(2), .int(3)])
        // pca's own seed is the pipeline's (0); the grid seed belongs to simulate.
        XCTAssertEqual(Set(pca.map { $0.parameters["seed"] }), [.int(0)])
    }

    func testKeysAreStable() throws {
        let a = keys(try plan(sweep))
        XCTAssertEqual(a, keys(try plan(sweep)))
        // Parameter order, flag spelling, defaults given explicitly, 1e-3 vs 0.001, comments.
        let b = keys(try plan("""
        stages:
          simulate:
            grid: {seed: [0, 1]}
            params: {genes: 50, cells: 100, program_size: 40}   # 40 is the default
          normalize:
            input: simulate
            params: {method: total}
          pca:
            input: normalize
            grid: {k: [2, 3]}
            params: {tol: 0.001, solver: auto}
          enrich:
            gene-sets: simulate
            input: pca
        """))
        XCTAssertEqual(a, b)
    }

    func testRenamingAStageKeepsItsKey() throws {
        let a = try plan(sweep)
        let b = try plan(sweep.replacingOccurrences(of: "  normalize:", with: "  norm:\n    stage: normalize")
                            .replacingOccurrences(of: "input: normalize", with: "input: norm"))
        XCTAssertEqual(a.instances.map(\.key), b.instances.map(\.key))
        XCTAssertEqual(b.instances[2].name, "norm")
    }

    func testChangingOneParameterChangesExactlyItsDescendants() throws {
        let a = try plan(sweep)
        let b = try plan(sweep.replacingOccurrences(of: "  normalize:\n    input: simulate", with: "  normalize:\n    input: simulate\n    params: {hvg: 20}"))
        let changed = zip(a.instances, b.instances).filter { $0.key != $1.key }.map { $0.0.name }
        XCTAssertEqual(Set(changed), ["normalize", "pca", "enrich"])
        XCTAssertEqual(changed.count, 2 + 4 + 4)
        // A type change on a Double parameter that keeps the value does not count as a change.
        let c = try plan(sweep.replacingOccurrences(of: "params: {cells: 100, genes: 50}", with: "params: {cells: 100, genes: 50, effect: 1}"))
        XCTAssertEqual(a.instances.map(\.key), c.instances.map(\.key))
        let d = try plan(sweep.replacingOccurrences(of: "params: {cells: 100, genes: 50}", with: "params: {cells: 100, genes: 50, effect: 1.5}"))
        XCTAssertEqual(zip(a.instances, d.instances).filter { $0.key == $1.key }.count, 0, "simulate feeds everything")
    }

    func testThePipelineSeedEntersOnlyStagesThatUseIt() throws {
        let base = """
        stages:
          import:
            input: \(#filePath)
          normalize:
            input: import
          pca:
            input: normalize
        """
        let a = try plan("seed: 0\n" + base), b = try plan("seed: 7\n" + base)
        XCTAssertEqual(a.instances[0].key, b.instances[0].key, "import draws no random numbers")
        XCTAssertEqual(a.instances[1].key, b.instances[1].key, "nor does normalize")
        XCTAssertNotEqual(a.instances[2].key, b.instances[2].key, "pca's randomized solver does")
        XCTAssertEqual(b.instances[2].parameters["seed"], .int(7))
        XCTAssertNil(b.instances[1].parameters["seed"])
    }

    func testCrossParameterChecksRunBeforeAnything() {
        XCTAssertThrowsError(try plan("""
        stages:
          simulate:
            grid: {theta: [1, 0]}
        """)) { e in
            XCTAssertEqual((e as? LatentError)?.description, "/nonexistent/p.yaml:2: stage 'simulate' [theta=0]: theta must be positive")
        }
        XCTAssertThrowsError(try plan(sweep.replacingOccurrences(of: "gene-sets: simulate", with: "gene-sets: simulate\n    params: {min-size: 50, max-size: 20}"))) { e in
            XCTAssertTrue("\(e)".contains("p.yaml:10: stage 'enrich' [seed=0,k=2]: min-size must not exceed max-size"), "\(e)")
        }
    }

    func testFileInputsAreKeyedByContentNotPath() throws {
        let dir = NSTemporaryDirectory() + "plan-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: dir + "/a.tsv"))
        try Data("x\n".utf8).write(to: URL(fileURLWithPath: dir + "/b.tsv"))
        try Data("y\n".utf8).write(to: URL(fileURLWithPath: dir + "/c.tsv"))
        func key(_ f: String, memo: String? = nil) throws -> String {
            let p = try Pipeline.parse("stages:\n  import:\n    input: \(f)\n", file: dir + "/p.yaml")
            return try Plan(p, hasher: FileHasher(memoDirectory: memo)).instances[0].key
        }
        XCTAssertEqual(try key("a.tsv"), try key("b.tsv"))
        XCTAssertNotEqual(try key("a.tsv"), try key("c.tsv"))
        // A directory (a 10x folder) is keyed by its files' names and contents.
        for d in ["tenx1", "tenx2"] {
            try FileManager.default.createDirectory(atPath: dir + "/\(d)/sub", withIntermediateDirectories: true)
            try Data("m\n".utf8).write(to: URL(fileURLWithPath: dir + "/\(d)/matrix.mtx"))
            try Data("g\n".utf8).write(to: URL(fileURLWithPath: dir + "/\(d)/sub/genes.tsv"))
        }
        try Data("hidden\n".utf8).write(to: URL(fileURLWithPath: dir + "/tenx2/.DS_Store"))
        XCTAssertEqual(try key("tenx1"), try key("tenx2"))
        try Data("G\n".utf8).write(to: URL(fileURLWithPath: dir + "/tenx2/sub/genes.tsv"))
        XCTAssertNotEqual(try key("tenx1"), try key("tenx2"))
        try FileManager.default.moveItem(atPath: dir + "/tenx2/sub/genes.tsv", toPath: dir + "/tenx2/sub/features.tsv")
        try Data("g\n".utf8).write(to: URL(fileURLWithPath: dir + "/tenx2/sub/features.tsv"))
        XCTAssertNotEqual(try key("tenx1"), try key("tenx2"), "a renamed file is a different input")
        // The memo must notice a rewritten file.
        try FileManager.default.createDirectory(atPath: dir + "/memo", withIntermediateDirectories: true)
        let before = try key("a.tsv", memo: dir + "/memo")
        XCTAssertEqual(before, try key("a.tsv", memo: dir + "/memo"))
        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: dir + "/a.tsv"))
        XCTAssertNotEqual(before, try key("a.tsv", memo: dir + "/memo"))
    }
}
