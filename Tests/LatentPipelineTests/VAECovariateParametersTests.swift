import Foundation
import XCTest
@testable import LatentModels
@testable import LatentPipeline

/// The vae stage's covariate keys (issue 14) read into `VAEParameters.covariates`, checked like
/// the flags, and absent keys leave a model without covariates.
final class VAECovariateParametersTests: XCTestCase {
    func testCovariateKeysBecomeCovariateParameters() throws {
        let v: [String: JSONValue] = ["batch-key": .string("obs/batch"), "covariates": .array([.string("obs/donor"), .string("sex")]),
                                      "continuous-covariates": .array([.string("obs/age")]), "encode-covariates": .bool(true),
                                      "dispersion": .string("gene-batch"), "subspace": .array([.string("obs/cell_type:3")]),
                                      "triplet-weight": .double(20), "subspace-hsic": .double(500), "likelihood": .string("nb"), "latent": .int(10)]
            .merging(VAEStageAdapter.defaults) { given, _ in given }   // the runner fills in defaults before check/run
        guard case .success(let c?) = VAEStageAdapter.covariates(v) else { return XCTFail("no covariates read") }
        XCTAssertEqual(c.batchKey, "batch")
        XCTAssertEqual(c.categorical, ["donor", "sex"])
        XCTAssertEqual(c.continuous, ["age"])
        XCTAssertTrue(c.encodeCovariates)
        XCTAssertEqual(c.dispersion, .geneBatch)
        XCTAssertEqual(c.subspaces, [.init(key: "cell_type", dims: 3)])
        XCTAssertEqual(c.tripletWeight, 20)
        XCTAssertEqual(c.subspaceHSIC, 500)
        XCTAssertEqual(c.subspaceHSICWeight(latent: 10, genes: 50), 500)
        XCTAssertNil(VAEStageAdapter.check(v))
        // The `covariates` list does not collide with VAEParameters' nested field.
        let p = try ParameterDefaults.decode(VAEParameters.self, from: v, renaming: VAEStageAdapter.covariateKeys)
        XCTAssertEqual(p.latent, 10)
    }

    func testNoCovariateKeysMeanNoCovariates() {
        guard case .success(let c) = VAEStageAdapter.covariates(["latent": .int(5)]) else { return XCTFail() }
        XCTAssertNil(c)
    }

    func testProblemsAreReported() {
        func check(_ v: [String: JSONValue]) -> String? { VAEStageAdapter.check(v.merging(VAEStageAdapter.defaults) { given, _ in given }) }
        XCTAssertNil(check(["batch-key": .string("obs/b")]))
        XCTAssertEqual(check(["dispersion": .string("gene-batch"), "likelihood": .string("nb")]), "dispersion gene-batch needs batch-key")
        XCTAssertEqual(check(["subspace": .array([.string("obs/x:0")])]), "subspace 'obs/x:0': expected obs/COL:D with D ≥ 1")
        XCTAssertEqual(check(["subspace": .array([.string("obs/x:20")]), "latent": .int(10)]), "subspace reserves 20 coordinates but latent is 10")
    }
}
