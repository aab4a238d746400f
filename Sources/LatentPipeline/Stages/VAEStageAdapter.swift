import LatentCore
import LatentModels

/// `vae`: β-VAE and its variants → embedding.h5ad, history.tsv, model.h5 (as `latent vae -o DIR`).
/// Parameters are `latent vae`'s flags; their defaults come from `VAEParameters()`.
enum VAEStageAdapter: StageAdapter {
    static let type = "vae"
    static let version = 1
    static let usesSeed = true
    static let threadSensitive = true
    static let defaults = ParameterDefaults.of(VAEParameters())
    static let parameters: [ParameterSpec] = [
        ParameterSpec("objective", .choice(VAEParameters.Objective.allCases.map(\.rawValue)), default: defaults["objective"]),
        ParameterSpec("beta", .double(min: 0, max: nil), default: defaults["beta"]),
        ParameterSpec("gamma", .double(min: 0, max: nil)),
        ParameterSpec("alpha", .double(min: 0, max: nil), default: defaults["alpha"]),
        ParameterSpec("latent", .int(min: 1, max: nil), default: defaults["latent"]),
        ParameterSpec("hidden", .list(.int(min: 1, max: nil)), default: defaults["hidden"]),
        ParameterSpec("decoder-hidden", .list(.int(min: 1, max: nil))),
        ParameterSpec("activation", .choice(Activation.allCases.map(\.rawValue)), default: defaults["activation"]),
        ParameterSpec("batch-norm", .bool, default: defaults["batch-norm"]),
        ParameterSpec("dropout", .double(min: 0, max: 1), default: defaults["dropout"]),
        ParameterSpec("likelihood", .choice(VAEParameters.Likelihood.allCases.map(\.rawValue)), default: defaults["likelihood"]),
        ParameterSpec("decoder", .choice(VAEParameters.Decoder.allCases.map(\.rawValue)), default: defaults["decoder"]),
        ParameterSpec("epochs", .int(min: 1, max: nil), default: defaults["epochs"]),
        ParameterSpec("batch-size", .int(min: 2, max: nil), default: defaults["batch-size"]),
        ParameterSpec("lr", .double(min: 0, max: nil), default: defaults["lr"]),
        ParameterSpec("lr-schedule", .choice(VAEParameters.Schedule.allCases.map(\.rawValue)), default: defaults["lr-schedule"]),
        ParameterSpec("clip-norm", .double(min: 0, max: nil)),
        ParameterSpec("warmup", .double(min: 0, max: nil), default: defaults["warmup"]),
        ParameterSpec("capacity-max", .double(min: 0, max: nil), default: defaults["capacity-max"]),
        ParameterSpec("capacity-steps", .int(min: 1, max: nil), default: defaults["capacity-steps"]),
        ParameterSpec("tc-sampling", .choice(VAEParameters.TCSampling.allCases.map(\.rawValue)), default: defaults["tc-sampling"]),
        ParameterSpec("discriminator-hidden", .list(.int(min: 1, max: nil)), default: defaults["discriminator-hidden"]),
        ParameterSpec("discriminator-lr", .double(min: 0, max: nil), default: defaults["discriminator-lr"]),
        ParameterSpec("l1", .double(min: 0, max: nil), default: defaults["l1"]),
        ParameterSpec("validation", .double(min: 0, max: 1), default: defaults["validation"]),
        ParameterSpec("patience", .int(min: 0, max: nil), default: defaults["patience"]),
        ParameterSpec("active-threshold", .double(min: 0, max: nil), default: defaults["active-threshold"]),
        ParameterSpec("counts-layer", .string, default: defaults["counts-layer"]),
    ]
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let outputs = [
        OutputFile("embedding.h5ad", [.embedding, .dataset], loadingsKey: "varm/vae_loadings", scoresKey: "obsm/X_vae"),
        OutputFile("history.tsv", [.table]),
        OutputFile("model.h5", [.other]),
    ]

    static func check(_ parameters: [String: JSONValue]) -> String? {
        guard let p = try? ParameterDefaults.decode(VAEParameters.self, from: parameters) else { return "parameters do not fit the VAE" }
        return p.problems().first.map { $0.replacingOccurrences(of: "--", with: "") }
    }

    static func run(_ c: StageContext) throws {
        let p = try c.decode(VAEParameters.self)
        try VAEStage.run(input: try c.input("input").path, outputDirectory: c.directory, parameters: p,
                         options: RunOptions(seed: c.seed, threads: c.threads, quiet: true), toolVersion: c.toolVersion, notes: c.note,
                         compression: c.compression)
    }
}
