import Foundation
import LatentCore
import LatentIO
import LatentModels

/// `metrics`: latents against known factors → metrics.tsv (as `latent metrics`). `key` defaults
/// to the codes of the stage it reads (obsm/X_vae after vae, obsm/X_pca after pca, …), `factors`
/// to every obs column named factor_* (as `latent simulate` writes them).
enum MetricsStageAdapter: StageAdapter {
    static let type = "metrics"
    static let version = 1
    static let usesSeed = true
    static let parameters = [
        ParameterSpec("key", .string),
        ParameterSpec("factors", .list(.string), default: .array([])),
        ParameterSpec("bins", .int(min: 2, max: nil), default: .int(20)),
        ParameterSpec("active-threshold", .double(min: 0, max: nil), default: .double(0.01)),
    ]
    static let inputs = [InputSlot("input", accepts: .embedding)]
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
        let rows = try Metrics.compute(codes: codes, factors: factors, parameters: p)
        try AtomicOutput.write(Data(Metrics.tsv(rows, run: Metrics.runLabel(ds, key: key)).utf8), to: c.output("metrics.tsv"))
    }
}
