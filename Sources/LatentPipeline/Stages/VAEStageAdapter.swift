import Foundation
import LatentCore
import LatentModels

/// `vae`: β-VAE and its variants → embedding.h5ad, history.tsv, model.h5 (as `latent vae -o DIR`).
/// Parameters are `latent vae`'s flags; their defaults come from `VAEParameters()`.
enum VAEStageAdapter: StageAdapter {
    static let type = "vae"
    static let version = 3     // 2: chunk-shuffled minibatch order (ChunkShuffle), other bytes than 1; 3: NB/ZINB loss through the C kernel (other last bits of the loss history), and the log σ² bound passes gradients back inside (runs that reached it)
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
        // MARK: covariates (no defaults: instances without them keep their cache keys)
        ParameterSpec("batch-key", .string),
        ParameterSpec("covariates", .list(.string)),
        ParameterSpec("continuous-covariates", .list(.string)),
        ParameterSpec("encode-covariates", .bool),
        ParameterSpec("dispersion", .choice(CovariateParameters.Dispersion.allCases.map(\.rawValue))),
        ParameterSpec("subspace", .list(.string)),
        ParameterSpec("triplet-weight", .double(min: 0, max: nil)),
        ParameterSpec("subspace-hsic", .double(min: 0, max: nil)),
        // MARK: programs (no defaults: instances without them keep their cache keys; the GMT is
        // the `programs` input, content-hashed into the key like every input file)
        ParameterSpec("min-genes", .int(min: 1, max: nil)),
        ParameterSpec("max-genes", .int(min: 1, max: nil)),
        ParameterSpec("free-latents", .int(min: 0, max: nil)),
        ParameterSpec("mask", .choice(ProgramDecoder.MaskKind.allCases.map(\.rawValue))),
        ParameterSpec("mask-l1", .double(min: 0, max: nil)),
        ParameterSpec("group-lasso", .double(min: 0, max: nil)),
        ParameterSpec("hsic", .double(min: 0, max: nil)),
        ParameterSpec("gene-names", .string),
        ParameterSpec("ignore-case", .bool),
        ParameterSpec("mask-decoder", .choice(["none", "l0"])),
        ParameterSpec("l0", .double(min: 0, max: nil)),
    ]
    static let inputs = [
        InputSlot("input", accepts: .dataset),
        // MARK: programs
        InputSlot("programs", accepts: .geneSets, required: false, allowsShippedGeneSets: true),
        InputSlot("id-map", accepts: .table, required: false),
    ]
    static let outputs = [
        OutputFile("embedding.h5ad", [.embedding, .dataset], loadingsKey: "varm/vae_loadings", scoresKey: "obsm/X_vae"),
        OutputFile("history.tsv", [.table]),
        OutputFile("model.h5", [.other]),
    ]

    static func check(_ parameters: [String: JSONValue]) -> String? {
        guard var p = try? ParameterDefaults.decode(VAEParameters.self, from: parameters, renaming: renamed) else { return "parameters do not fit the VAE" }
        switch covariates(parameters) {
        case .failure(let e): return e.message
        case .success(let c): p.covariates = c
        }
        // Without the `programs` input the program parameters have nothing to act on; the check
        // cannot see inputs, so it checks the parameters' own consistency (the GMT's sets are
        // matched when the stage runs).
        if let prog = programDecoder(parameters, source: "") { p.programs = prog; p.decoder = .linear }
        p.gates = gates(parameters)
        return p.problems().first.map { $0.replacingOccurrences(of: "--", with: "") }
    }

    // MARK: programs
    static let programKeys = ["min-genes": "_minGenes", "max-genes": "_maxGenes", "free-latents": "_freeLatents", "mask": "_mask",
                              "mask-l1": "_maskL1", "group-lasso": "_groupLasso", "hsic": "_hsic", "gene-names": "_geneNames",
                              "ignore-case": "_ignoreCase", "mask-decoder": "_maskDecoder", "l0": "_l0"]
    static var renamed: [String: String] { covariateKeys.merging(programKeys) { a, _ in a } }

    /// The program decoder the parameters ask for: present when any program parameter is set
    /// (`source` is the GMT's path, or "" where the input is not known yet).
    static func programDecoder(_ v: [String: JSONValue], source: String?) -> ProgramDecoder? {
        let keys = ["min-genes", "max-genes", "free-latents", "mask", "mask-l1", "group-lasso", "hsic", "gene-names", "ignore-case"]
        guard let source, !source.isEmpty || keys.contains(where: { (v[$0] ?? .null) != .null }) else { return nil }
        var g = ProgramDecoder()
        g.source = source
        if let x = v["min-genes"]?.intValue { g.minGenes = Int(x) }
        g.maxGenes = v["max-genes"]?.intValue.map { Int($0) }
        if let x = v["free-latents"]?.intValue { g.freeLatents = Int(x) }
        if let x = v["mask"]?.stringValue, let m = ProgramDecoder.MaskKind(rawValue: x) { g.mask = m }
        if let x = v["mask-l1"]?.doubleValue { g.maskL1 = x }
        if let x = v["group-lasso"]?.doubleValue { g.groupLasso = x }
        if let x = v["hsic"]?.doubleValue { g.hsic = x }
        return g
    }

    static func gates(_ v: [String: JSONValue]) -> DecoderGates? {
        guard v["mask-decoder"]?.stringValue == "l0" else { return nil }
        var g = DecoderGates()
        if let x = v["l0"]?.doubleValue { g.l0 = x }
        return g
    }

    // MARK: covariates
    /// The covariate keys are read by `covariates(_:)`, not decoded into VAEParameters (whose
    /// `covariates` field is the nested struct): renamed out of the decoder's way.
    static let covariateKeys = ["batch-key": "_batchKey", "covariates": "_covariates", "continuous-covariates": "_continuous",
                                "encode-covariates": "_encode", "dispersion": "_dispersion", "subspace": "_subspace",
                                "triplet-weight": "_tripletWeight", "subspace-hsic": "_subspaceHSIC"]

    static func covariates(_ v: [String: JSONValue]) -> Result<CovariateParameters?, StageParameterError> {
        func column(_ s: String) -> String { s.hasPrefix("obs/") ? String(s.dropFirst(4)) : s }
        var c = CovariateParameters()
        c.batchKey = v["batch-key"]?.stringValue.map(column)
        c.categorical = (v["covariates"]?.arrayValue ?? []).compactMap(\.stringValue).map(column)
        c.continuous = (v["continuous-covariates"]?.arrayValue ?? []).compactMap(\.stringValue).map(column)
        c.encodeCovariates = v["encode-covariates"]?.boolValue ?? false
        if let d = v["dispersion"]?.stringValue { c.dispersion = CovariateParameters.Dispersion(rawValue: d) ?? .gene }
        for s in (v["subspace"]?.arrayValue ?? []).compactMap(\.stringValue) {
            guard let colon = s.lastIndex(of: ":"), let d = Int(s[s.index(after: colon)...]), d > 0 else {
                return .failure(StageParameterError("subspace '\(s)': expected obs/COL:D with D ≥ 1"))
            }
            c.subspaces.append(.init(key: column(String(s[..<colon])), dims: d))
        }
        if let w = v["triplet-weight"]?.doubleValue { c.tripletWeight = w }
        if let w = v["subspace-hsic"]?.doubleValue { c.subspaceHSIC = w }
        return .success(c == CovariateParameters() ? nil : c)
    }

    static func run(_ c: StageContext) throws {
        var p = try c.decode(VAEParameters.self, renaming: renamed)
        switch covariates(c.parameters) {
        case .failure(let e): throw LatentError.badInput(nil, c.label, e.message)
        case .success(let cov): p.covariates = cov
        }
        // MARK: programs
        let input = try c.input("input").path
        let gmt = c.inputs["programs"]?.path
        // The source recorded in uns is the GMT's file name: the key hashes its content, so the
        // entry must not depend on where the file was found.
        if let prog = programDecoder(c.parameters, source: gmt.map { ($0 as NSString).lastPathComponent } ?? "") {
            guard gmt != nil else {
                throw LatentError.badInput(nil, c.label, "program parameters (free-latents, group-lasso, …) need a `programs:` input (a GMT or a shipped collection)")
            }
            p.programs = prog
            p.decoder = .linear
        }
        p.gates = gates(c.parameters)
        let resolve = gmt.map {
            ProgramMask.resolver(source: $0, geneNames: c.optionalString("gene-names"), idMap: c.inputs["id-map"]?.path,
                                 ignoreCase: c.bool("ignore-case"), minGenes: p.programs?.minGenes ?? 12,
                                 maxGenes: p.programs?.maxGenes, file: input)
        }
        try VAEStage.run(input: input, outputDirectory: c.directory, parameters: p,
                         options: RunOptions(seed: c.seed, threads: c.threads, quiet: true), toolVersion: c.toolVersion, notes: c.note,
                         compression: c.compression, programs: resolve)
    }
}

/// A parameter problem found while reading a stage's parameters (a message for `check`).
struct StageParameterError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
