import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels
import LatentPipeline

extension VAEParameters.Objective: ExpressibleByArgument {}
extension VAEParameters.Likelihood: ExpressibleByArgument {}
extension VAEParameters.Decoder: ExpressibleByArgument {}
extension VAEParameters.Schedule: ExpressibleByArgument {}
extension VAEParameters.TCSampling: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension CovariateParameters.Dispersion: ExpressibleByArgument {}

// MARK: covariates
/// "obs/COL" (or plain "COL") → "COL".
func obsColumn(_ s: String) -> String {
    let t = s.trimmingCharacters(in: .whitespaces)
    return t.hasPrefix("obs/") ? String(t.dropFirst(4)) : t
}

/// `--subspace obs/COL:D`.
struct SubspaceArgument: ExpressibleByArgument {
    var subspace: CovariateParameters.Subspace
    init?(argument: String) {
        guard let colon = argument.lastIndex(of: ":"), let d = Int(argument[argument.index(after: colon)...]), d > 0 else { return nil }
        let key = obsColumn(String(argument[..<colon]))
        guard !key.isEmpty else { return nil }
        subspace = CovariateParameters.Subspace(key: key, dims: d)
    }
}

extension ProgramDecoder.MaskKind: ExpressibleByArgument {}

/// `--mask-decoder`: none, or hard-concrete L0 gates on the decoder's connections.
enum MaskDecoder: String, ExpressibleByArgument, CaseIterable { case none, l0 }

/// Comma-separated layer sizes; "none" (or empty) for no hidden layer.
struct LayerSizes: ExpressibleByArgument {
    var sizes: [Int]
    init?(argument: String) {
        let a = argument.trimmingCharacters(in: .whitespaces)
        if a.isEmpty || a == "none" { sizes = []; return }
        var out: [Int] = []
        for part in a.split(separator: ",") {
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)), v > 0 else { return nil }
            out.append(v)
        }
        sizes = out
    }
}

struct VAECommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae",
        abstract: "β-VAE and its disentangling variants; `latent vae encode` / `decode` apply a trained model.",
        subcommands: [VAETrainCommand.self, VAEEncodeCommand.self, VAEDecodeCommand.self],
        defaultSubcommand: VAETrainCommand.self
    )
}

struct VAETrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a VAE: OUT_DIR/model.h5, OUT_DIR/embedding.h5ad (obsm[\"X_vae\"], varm[\"vae_loadings\"]), OUT_DIR/history.tsv.",
        discussion: """
        Objectives: beta (reconstruction + β·KL, optional --warmup), capacity (γ·|KL − C|, C raised \
        to --capacity-max over --capacity-steps), tc (β-TCVAE: α·MI + β·TC + γ·dimension-wise KL, \
        minibatch-weighted or -stratified sampling), factor (FactorVAE: KL + γ·TC from a \
        discriminator). Likelihoods: gaussian on X, bernoulli on X in [0, 1] (Tybalt; \
        `latent normalize --scale minmax`), nb/zinb on layers["counts"] with library-size scaling \
        (scVI). --decoder linear gives LDVAE, whose decoder weights are the loadings; otherwise \
        loadings are the mean Jacobian of the decoded mean at the cells' posterior means.

        Examples:
          latent vae norm.h5ad -o vae/ --latent 10 --beta 4
          latent vae minmax.h5ad -o tybalt/ --hidden none --latent 100 --likelihood bernoulli --batch-size 50 --warmup 10 --lr 0.0005
          latent vae norm.h5ad -o scvi/ --likelihood nb --hidden 128 --latent 10 --decoder linear
          latent vae norm.h5ad -o tc/ --objective tc --beta 6 --latent 10

        Covariates (scVI's design): --batch-key, --covariates (categorical, one-hot) and \
        --continuous-covariates (standardised) enter every decoder layer, and the encoder's first \
        layer with --encode-covariates; --dispersion gene-batch gives each batch its own NB \
        dispersions. --subspace obs/COL:D reserves latent coordinates 0, 1, … for a known label, \
        shaped by a triplet likelihood (weight --triplet-weight); the others stay unsupervised, \
        kept independent of each subspace by an HSIC term (weight --subspace-hsic). \
        uns["vae"]["subspaces"] and ["latent_names"] say which coordinate is whose.
          latent vae norm.h5ad -o scvi/ --likelihood nb --batch-key obs/batch --dispersion gene-batch
          latent vae norm.h5ad -o sup/ --objective tc --batch-key obs/batch --subspace obs/cell_type:2
          latent vae norm.h5ad -o prog/ --likelihood nb --programs progeny_top100 --free-latents 2 --group-lasso 1
          latent vae norm.h5ad -o l0/ --decoder linear --mask-decoder l0 --l0 0.001

        Program decoders (--programs GMT or a shipped name: go_bp, positional, progeny_top100, …): a \
        linear decoder whose weights are masked by gene-set membership, one latent per program \
        (sets with at least --min-genes genes of the data, matched as `latent enrich` matches: \
        --gene-names, --id-map, --ignore-case) plus --free-latents unconstrained ones; --latent and \
        --decoder are set from them. --mask hard keeps off-set weights at exactly 0; --mask soft \
        lets them grow against an L1 proximal step (--mask-l1). --group-lasso switches whole \
        programs off; uns["vae"]["program_active"] says which stayed on. Writes programs.tsv \
        (per-program gene weights with an in-mask flag) and programs_coverage.tsv (sets kept or \
        dropped, and why). --mask-decoder l0 learns a sparse decoder with hard-concrete gates \
        (Louizos et al. 2018) and an expected-L0 penalty --l0; gates.tsv lists the open connections.

        Minibatches: each epoch permutes the file's 1,024-row blocks, shuffles the training cells \
        of each 8 consecutive permuted blocks together and cuts minibatches from them in turn. \
        When X (with the counts layer for nb/zinb) exceeds half of --memory, training reads those \
        8-block groups from disk on a background thread while the previous ones train, and the \
        embedding is encoded in row chunks: the outputs are the same bytes as in memory. \
        --timing then adds loader_wait_s, the time training waited for a read.
          latent vae atlas_hvg.h5ad -o vae/ --memory 2G --timing
        """
    )

    @Argument(help: "Input .h5ad (from `latent normalize`).") var input: String
    @Option(name: .shortAndLong, help: "Output directory (created; files replaced atomically).") var output: String
    @Option(help: "beta | capacity | tc | factor.") var objective: VAEParameters.Objective = .beta
    @Option(help: "KL weight (beta), TC weight (tc).") var beta: Double = 1
    @Option(help: "capacity: weight on |KL − C| (default 100); tc: dimension-wise KL weight (1); factor: TC weight (10).") var gamma: Double?
    @Option(help: "tc: weight on the index-code mutual information.") var alpha: Double = 1
    @Option(help: "Number of latents.") var latent: Int = 10
    @Option(help: "Encoder hidden sizes, e.g. 256,128 ('none' for none); the decoder mirrors them.") var hidden: LayerSizes = LayerSizes(argument: "128")!
    @Option(name: .customLong("decoder-hidden"), help: "Decoder hidden sizes, when not the mirror of --hidden.") var decoderHidden: LayerSizes?
    @Option(help: "relu | elu | softplus | leaky-relu.") var activation: Activation = .relu
    @Flag(name: .customLong("batch-norm"), help: "Batch normalisation on hidden layers.") var batchNorm = false
    @Option(help: "Dropout rate on hidden layers.") var dropout: Double = 0
    @Option(help: "gaussian | bernoulli | nb | zinb.") var likelihood: VAEParameters.Likelihood = .gaussian
    @Option(help: "mlp | linear (LDVAE).") var decoder: VAEParameters.Decoder = .mlp
    @Option(help: "Training epochs.") var epochs: Int = 100
    @Option(name: .customLong("batch-size"), help: "Minibatch size.") var batchSize: Int = 128
    @Option(help: "Adam learning rate.") var lr: Double = 1e-3
    @Option(name: .customLong("lr-schedule"), help: "constant | cosine.") var lrSchedule: VAEParameters.Schedule = .constant
    @Option(name: .customLong("clip-norm"), help: "Clip the gradient's global norm.") var clipNorm: Double?
    @Option(help: "KL warm-up: epochs over which the KL weight rises from 0 to β.") var warmup: Double = 0
    @Option(name: .customLong("capacity-max"), help: "capacity: final C (nats).") var capacityMax: Double = 25
    @Option(name: .customLong("capacity-steps"), help: "capacity: steps over which C rises to its maximum.") var capacitySteps: Int = 10_000
    @Option(name: .customLong("tc-sampling"), help: "tc: mws (minibatch-weighted) | mss (stratified).") var tcSampling: VAEParameters.TCSampling = .mws
    @Option(name: .customLong("discriminator-hidden"), help: "factor: discriminator hidden sizes.") var discriminatorHidden: LayerSizes = LayerSizes(argument: "256,256")!
    @Option(name: .customLong("discriminator-lr"), help: "factor: discriminator learning rate.") var discriminatorLr: Double = 1e-4
    @Option(help: "L1 penalty on the decoder weights (sparsity).") var l1: Double = 0
    @Option(help: "Fraction of cells held out for validation.") var validation: Double = 0.1
    @Option(help: "Early stopping: epochs without a better validation loss (0: off).") var patience: Int = 0
    @Option(name: .customLong("active-threshold"), help: "A latent is active when its mean KL exceeds this (nats).") var activeThreshold: Double = 0.01
    @Option(name: .customLong("counts-layer"), help: "Layer with raw counts (nb, zinb).") var countsLayer: String = "counts"
    // MARK: programs
    @Option(help: "Gene-program decoder: a GMT file or shipped collection (go_bp, positional, progeny_top100, …).") var programs: String?
    @Option(name: .customLong("min-genes"), help: "Programs: smallest gene set kept (genes of the data in it).") var minGenes: Int = 12
    @Option(name: .customLong("max-genes"), help: "Programs: largest gene set kept (default: no limit).") var maxGenes: Int?
    @Option(name: .customLong("free-latents"), help: "Programs: unconstrained latents beside the programs.") var freeLatents: Int = 0
    @Option(help: "Programs: hard (off-set weights exactly 0) | soft (L1 proximal step, --mask-l1).") var mask: ProgramDecoder.MaskKind = .hard
    @Option(name: .customLong("mask-l1"), help: "Programs, --mask soft: L1 weight on off-set decoder weights.") var maskL1: Double = 0
    @Option(name: .customLong("group-lasso"), help: "Programs: group-lasso weight that switches whole programs off.") var groupLasso: Double = 0
    @Option(help: "Programs: HSIC penalty keeping the free latents independent of the programs.") var hsic: Double = 0
    @Option(name: .customLong("gene-names"), help: "Programs: var column with gene symbols to match the sets with.") var geneNames: String?
    @Option(name: .customLong("id-map"), help: "Programs: Ensembl → symbol map (default: the shipped one).") var idMap: String?
    @Flag(name: .customLong("ignore-case"), help: "Programs: match gene names case-insensitively.") var ignoreCase = false
    @Option(name: .customLong("mask-decoder"), help: "none | l0 (hard-concrete gates on decoder connections).") var maskDecoder: MaskDecoder = .none
    @Option(help: "--mask-decoder l0: weight of the expected-L0 penalty per open connection.") var l0: Double = 1e-3
    // MARK: end programs
    @Flag(help: "Print read, train, embed and write times on stderr.") var timing = false
    // MARK: covariates
    @Option(name: .customLong("batch-key"), help: "obs/COL: the batch (categorical), given to the decoder (and encoder with --encode-covariates).") var batchKey: String?
    @Option(help: "obs/A,obs/B: further categorical covariates (one-hot).") var covariates: String?
    @Option(name: .customLong("continuous-covariates"), help: "obs/C,…: continuous covariates (standardised).") var continuousCovariates: String?
    @Flag(name: .customLong("encode-covariates"), help: "Also feed the covariates to the encoder.") var encodeCovariates = false
    @Option(help: "nb/zinb dispersion: gene | gene-batch.") var dispersion: CovariateParameters.Dispersion = .gene
    @Option(help: "obs/COL:D — D latent coordinates supervised by that label (repeatable).") var subspace: [SubspaceArgument] = []
    @Option(name: .customLong("triplet-weight"), help: "Weight of the subspaces' triplet likelihood (the reconstruction sums over genes: tens to hundreds).") var tripletWeight: Double = 100
    @Option(name: .customLong("subspace-hsic"), help: "Weight of the HSIC term keeping each subspace's label out of the free coordinates (default \(Int(CovariateParameters.defaultSubspaceHSICPerGene)) × the number of genes, since the reconstruction it competes with sums over genes; 0: off).") var subspaceHSIC: Double?
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var memory: MemoryOptions
    @OptionGroup var global: GlobalOptions

    var covariateParameters: CovariateParameters? {
        func list(_ s: String?) -> [String] { (s ?? "").split(separator: ",").map { obsColumn(String($0)) }.filter { !$0.isEmpty } }
        var c = CovariateParameters()
        c.batchKey = batchKey.map(obsColumn)
        c.categorical = list(covariates)
        c.continuous = list(continuousCovariates)
        c.encodeCovariates = encodeCovariates
        c.dispersion = dispersion
        c.subspaces = subspace.map(\.subspace)
        c.tripletWeight = tripletWeight
        c.subspaceHSIC = subspaceHSIC
        return c == CovariateParameters() ? nil : c
    }

    var parameters: VAEParameters {
        var p = VAEParameters()
        p.objective = objective; p.beta = beta; p.gamma = gamma; p.alpha = alpha; p.latent = latent
        p.hidden = hidden.sizes; p.decoderHidden = decoderHidden?.sizes; p.activation = activation
        p.batchNorm = batchNorm; p.dropout = dropout; p.likelihood = likelihood; p.decoder = decoder
        p.epochs = epochs; p.batchSize = batchSize; p.lr = lr; p.lrSchedule = lrSchedule; p.clipNorm = clipNorm
        p.warmup = warmup; p.capacityMax = capacityMax; p.capacitySteps = capacitySteps; p.tcSampling = tcSampling
        p.discriminatorHidden = discriminatorHidden.sizes; p.discriminatorLr = discriminatorLr; p.l1 = l1
        p.validation = validation; p.patience = patience; p.activeThreshold = activeThreshold; p.countsLayer = countsLayer
        p.covariates = covariateParameters
        // MARK: programs
        if let programs {
            var g = ProgramDecoder()
            g.source = programs; g.minGenes = minGenes; g.maxGenes = maxGenes; g.freeLatents = freeLatents
            g.mask = mask; g.maskL1 = maskL1; g.groupLasso = groupLasso; g.hsic = hsic
            p.programs = g
            p.decoder = .linear
        }
        if maskDecoder == .l0 { var g = DecoderGates(); g.l0 = l0; p.gates = g }
        // MARK: end programs
        return p
    }

    func validate() throws {
        if let problem = parameters.problems().first { throw ValidationError(problem) }
        if programs == nil && (freeLatents != 0 || maskL1 != 0 || groupLasso != 0 || hsic != 0 || geneNames != nil) {
            throw ValidationError("--free-latents, --mask-l1, --group-lasso, --hsic and --gene-names apply with --programs only")
        }
    }

    func run() throws {
        let run = global.run
        let clock = Stopwatch()
        let resolve = programs.map {
            ProgramMask.resolver(source: $0, geneNames: geneNames, idMap: idMap, ignoreCase: ignoreCase,
                                 minGenes: minGenes, maxGenes: maxGenes, file: input)
        }
        let s = try VAEStage.run(input: input, outputDirectory: output, parameters: parameters, options: run,
                                 toolVersion: LatentVersion.string, notes: global.note,
                                 compression: compression.setting(threads: run.threads), programs: resolve, budget: memory.budget)
        if timing {
            let t = s.timing
            printError("timing: read_s=\(t.read) train_s=\(t.train) embed_s=\(t.embed) write_s=\(t.write) epochs=\(s.epochsRun) streamed=\(s.streamed) loader_wait_s=\(s.loaderWait) loader_read_s=\(s.loaderRead) windows=\(s.windowsRead)")
        }
        let val = s.validationLoss.map { String(format: ", validation loss %.4g", $0) } ?? ""
        global.note("\(output): \(s.epochsRun) epochs\(s.stoppedEarly ? " (stopped early, best \(s.bestEpoch))" : "") in \(String(format: "%.1f", clock.lap())) s, loss \(String(format: "%.4g", s.finalLoss))\(val); \(s.activeLatents.count) of \(programs == nil ? "\(latent)" : "the") latents active")
        print(output)
    }
}

struct VAEEncodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode",
        abstract: "Embed data with a trained model: obsm[\"X_vae\"], obsm[\"X_vae_logvar\"], varm[\"vae_loadings\"].",
        discussion: """
        The data must contain every gene of the model (extra genes are dropped; the output keeps \
        the model's genes in its order). X is read in row chunks within --memory and never held \
        whole: unchanged X and layers are carried as stored, a gene subset is written in a stream.

        Example:
          latent vae encode vae/model.h5 new_norm.h5ad -o new_vae.h5ad
        """
    )
    @Argument(help: "model.h5 written by `latent vae`.") var model: String
    @Argument(help: "Data to embed (.h5ad, normalised as the training data were).") var data: String
    @Option(name: .shortAndLong, help: "Output .h5ad (written atomically).") var output: String
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var memory: MemoryOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
    }

    func run() throws {
        let run = global.run
        try VAEApply.encode(model: model, data: data, output: output, options: run, compression: compression.setting(threads: run.threads),
                            budget: memory.budget)
        global.note("\(output): encoded with \(model)")
        print(output)
    }
}

struct VAEDecodeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode",
        abstract: "Decode latent codes (obsm) with a trained model: X = decoded mean expression, var = the model's genes.",
        discussion: """
        Example:
          latent vae decode vae/model.h5 vae/embedding.h5ad --key obsm/X_vae -o reconstructed.h5ad
          latent vae decode scvi/model.h5 scvi/embedding.h5ad --transform-batch sample1 -o corrected.h5ad
        """
    )
    @Argument(help: "model.h5 written by `latent vae`.") var model: String
    @Argument(help: ".h5ad holding the codes (e.g. from `latent vae` or `latent vae encode`).") var data: String
    @Option(help: "Where the codes are: obsm/NAME.") var key: String = "obsm/X_vae"
    @Option(name: .shortAndLong, help: "Output .h5ad (written atomically).") var output: String
    @Option(name: .customLong("transform-batch"), help: "Decode every cell as if from this batch (models trained with --batch-key).") var transformBatch: String?
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var memory: MemoryOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
    }

    func run() throws {
        let run = global.run
        try VAEApply.decode(model: model, data: data, key: key, output: output, options: run, transformBatch: transformBatch,
                            compression: compression.setting(threads: run.threads), budget: memory.budget)
        global.note("\(output): decoded \(key) with \(model)")
        print(output)
    }
}

struct TraverseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "traverse",
        abstract: "Decode a sweep of one latent (others at their means): a genes × steps TSV.",
        discussion: """
        Steps run from −range to +range standard deviations of the latent's posterior means \
        across the training cells; the header names each step's value. Values are the decoded \
        mean expression (Gaussian mean, Bernoulli probability, or NB mean at the median library).

        Example:
          latent traverse vae/model.h5 --latent 3 -o traverse_z3.tsv
        """
    )
    @Argument(help: "model.h5 written by `latent vae`.") var model: String
    @Option(help: "The latent to sweep (from 0).") var latent: Int
    @Option(help: "Number of steps.") var steps: Int = 13
    @Option(help: "Sweep ±this many standard deviations.") var range: Double = 3
    @Option(name: .shortAndLong, help: "Output TSV ('-' for stdout).") var output: String = "-"
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if steps < 2 { throw ValidationError("--steps must be at least 2") }
        if !(range > 0) { throw ValidationError("--range must be positive") }
    }

    func run() throws {
        _ = global.run
        let tsv = try VAEApply.traverse(model: model, latent: latent, steps: steps, range: range)
        try AtomicOutput.write(Data(tsv.utf8), to: output)
        if output != "-" { print(output) }
    }
}
