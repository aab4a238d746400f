import Foundation
import LatentCore
import LatentIO
import LatentModels

/// `metrics`: latents against known factors → metrics.tsv (as `latent metrics`). `key` defaults
/// to the codes of the stage it reads (obsm/X_vae after vae, obsm/X_pca after pca, …), `factors`
/// to every obs column named factor_* (as `latent simulate` writes them). `batch`/`labels` add
/// the scIB integration metrics, `subspaces` (obs/COL:i-j) subspace predictability; the optional
/// `reference` input holds the unintegrated data for PCR comparison (`unintegrated`: its obsm
/// key; without it, a 50-component PCA of the reference's — or the input's — X).
enum MetricsStageAdapter: StageAdapter {
    static let type = "metrics"
    static let version = 2
    static let usesSeed = true
    // exact neighbours (dgemm) and the default PCA reference are BLAS products
    static let threadSensitive = true
    static let parameters = [
        ParameterSpec("key", .string),
        ParameterSpec("factors", .list(.string), default: .array([])),
        ParameterSpec("bins", .int(min: 2, max: nil), default: .int(20)),
        ParameterSpec("active-threshold", .double(min: 0, max: nil), default: .double(0.01)),
        ParameterSpec("batch", .string),
        ParameterSpec("labels", .string),
        ParameterSpec("unintegrated", .string),
        ParameterSpec("subspaces", .list(.string), default: .array([])),
        ParameterSpec("kmeans-starts", .int(min: 1, max: nil), default: .int(1)),
    ]
    static let inputs = [InputSlot("input", accepts: .embedding), InputSlot("reference", accepts: .embedding, required: false)]
    static let outputs = [OutputFile("metrics.tsv", [.table])]
    static let memoryInputs: Set<String> = ["input"]

    static func run(_ c: StageContext) throws {
        let input = try c.input("input")
        guard let key = c.optionalString("key") ?? input.scoresKey else {
            throw LatentError.badInput(nil, nil, "which codes? give params: {key: obsm/NAME}")
        }
        let ds = try StageIO.read(input, c)
        let codes = try Metrics.codes(ds, key: key, file: input.path)
        let factors = try Metrics.factors(ds, columns: c.strings("factors"), file: input.path)
        var p = Metrics.Parameters()
        p.bins = c.int("bins")
        p.activeThreshold = c.double("active-threshold")
        p.seed = c.seed
        var rows = try Metrics.compute(codes: codes, factors: factors, parameters: p)
        let request = Metrics.IntegrationRequest(batch: c.optionalString("batch"), labels: c.optionalString("labels"),
                                                 unintegrated: c.optionalString("unintegrated"), subspaces: c.strings("subspaces"))
        var reference: Dataset?
        if let r = c.inputs["reference"] {
            reference = try StageIO.read(r, c)
        }
        var ip = Metrics.IntegrationParameters()
        ip.seed = c.seed
        ip.kmeansStarts = c.int("kmeans-starts")
        rows += try Metrics.integration(ds, key: key, request: request, reference: reference, parameters: ip,
                                        threads: c.threads, file: input.path, note: c.note)
        try AtomicOutput.write(Data(Metrics.tsv(rows, run: Metrics.runLabel(ds, key: key)).utf8), to: c.output("metrics.tsv"))
    }
}
