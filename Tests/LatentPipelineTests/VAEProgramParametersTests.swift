import Foundation
import XCTest
import LatentCore
import LatentEnrich
@testable import LatentModels
@testable import LatentPipeline

/// The vae stage's program keys (issue 15): the GMT is an input whose content is in the cache key
/// (a shipped collection's name resolves to its file), program parameters are checked like the
/// flags, and instances without programs keep their keys.
final class VAEProgramParametersTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "vae-programs-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func yaml(programs: String?, params: String = "") -> String {
        """
        stages:
          simulate:
            params: {cells: 64, genes: 60, programs: 2, program-size: 10}
          normalize:
            input: simulate
          vae:
            input: normalize
        \(programs.map { "    programs: \($0)\n" } ?? "")    params: {epochs: 2, batch-size: 16, validation: 0, hidden: [8], latent: 3\(params)}
        """
    }

    func plan(_ text: String) throws -> LatentPipeline.Plan {
        try LatentPipeline.Plan(try Pipeline.parse(text, file: dir + "/p.yaml"), hasher: FileHasher(memoDirectory: nil))
    }

    func vaeKey(_ p: LatentPipeline.Plan) -> String { p.instances.first { $0.name == "vae" }!.key }

    func writeGMT(_ text: String) throws { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/sets.gmt")) }

    func testTheGMTContentIsInTheKeyAndChangingItRebuildsOnlyTheVAE() throws {
        let sets = "A\tna\t" + (0..<20).map { "GENE\($0)" }.joined(separator: "\t") + "\nB\tna\t"
            + (20..<40).map { "GENE\($0)" }.joined(separator: "\t") + "\n"
        try writeGMT(sets)
        let text = yaml(programs: "sets.gmt", params: ", free-latents: 1, min-genes: 3, group-lasso: 0.5")
        let cache = try Cache(dir + "/cache")
        func run() throws -> [String: Runner.Status] {
            let p = try LatentPipeline.Plan(try Pipeline.parse(text, file: dir + "/p.yaml"), hasher: FileHasher(memoDirectory: cache.hashes))
            var o = Runner.Options(results: dir + "/results")
            o.quiet = true
            return Dictionary(uniqueKeysWithValues: try Runner(plan: p, cache: cache, options: o).run().map { ($0.instance.name, $0.status) })
        }
        XCTAssertEqual(try run(), ["simulate": .ran, "normalize": .ran, "vae": .ran])
        // The program decoder ran: its coverage report lists both sets, kept.
        let coverage = try String(contentsOfFile: dir + "/results/vae/default/programs_coverage.tsv", encoding: .utf8)
        XCTAssertEqual(coverage.split(separator: "\n").filter { $0.hasSuffix("\tkept") }.count, 2, coverage)
        XCTAssertEqual(try run(), ["simulate": .cached, "normalize": .cached, "vae": .cached])
        // The same path with other content: only the vae is rebuilt.
        try writeGMT(sets.replacingOccurrences(of: "GENE39\n", with: "GENE39\tGENE41\n"))
        XCTAssertEqual(try run(), ["simulate": .cached, "normalize": .cached, "vae": .ran])
        let again = try String(contentsOfFile: dir + "/results/vae/default/programs_coverage.tsv", encoding: .utf8)
        XCTAssertNotEqual(coverage, again)
    }

    func testKeysFollowContentNotNamesAndNoProgramsKeepsTheOldKey() throws {
        // A shipped collection's name and a copy of its file elsewhere hash to the same key.
        let shipped = try Resources.resolveGeneSets("progeny_top100")
        try FileManager.default.copyItem(atPath: shipped, toPath: dir + "/copy.gmt")
        XCTAssertEqual(vaeKey(try plan(yaml(programs: "progeny_top100"))), vaeKey(try plan(yaml(programs: "copy.gmt"))))
        XCTAssertNotEqual(vaeKey(try plan(yaml(programs: "progeny_top100"))), vaeKey(try plan(yaml(programs: "go_cc"))))
        // Without programs the key is what it was before the program keys existed: the same
        // canonical document (no program parameters, no programs input).
        let p = try plan(yaml(programs: nil))
        let vae = p.instances.first { $0.name == "vae" }!
        let normalize = p.instances.first { $0.name == "normalize" }!
        XCTAssertEqual(vae.key, LatentPipeline.Plan.key(type: "vae", version: VAEStageAdapter.version, parameters: vae.parameters,
                                         inputs: ["input": [.object(["key": .string(normalize.key)])]]))
        for k in VAEStageAdapter.programKeys.keys { XCTAssertTrue(vae.parameters[k] == nil || vae.parameters[k] == JSONValue.null, k) }
    }

    func testProgramParametersAreCheckedLikeTheFlags() {
        func check(_ v: [String: JSONValue]) -> String? { VAEStageAdapter.check(v.merging(VAEStageAdapter.defaults) { given, _ in given }) }
        XCTAssertNil(check(["free-latents": .int(2), "group-lasso": .double(1), "hsic": .double(5)]))
        XCTAssertEqual(check(["hsic": .double(5)]), "hsic needs free-latents of at least 1")
        XCTAssertEqual(check(["mask-l1": .double(1)]), "mask-l1 applies to mask soft only")
        XCTAssertNil(check(["mask": .string("soft"), "mask-l1": .double(1)]))
        XCTAssertNil(check(["mask-decoder": .string("l0"), "l0": .double(0.01)]))
        XCTAssertEqual(VAEStageAdapter.gates(["mask-decoder": .string("l0"), "l0": .double(0.01)])?.l0, 0.01)
        XCTAssertNil(VAEStageAdapter.programDecoder(["latent": .int(4)], source: ""))
        XCTAssertEqual(VAEStageAdapter.programDecoder(["free-latents": .int(2)], source: "x.gmt")?.freeLatents, 2)
    }

    func testProgramParametersWithoutAGMTAreBadInput() throws {
        let cache = try Cache(dir + "/cache")
        let p = try plan(yaml(programs: nil, params: ", free-latents: 1"))
        var o = Runner.Options(results: dir + "/results")
        o.quiet = true
        XCTAssertThrowsError(try Runner(plan: p, cache: cache, options: o).run()) { e in
            XCTAssertTrue("\(e)".contains("need a `programs:` input"), "\(e)")
        }
    }
}
