/// Everything that defines a VAE fit, named as the `latent vae` flags (and pipeline-file keys).
/// The seed and thread count come from `RunOptions`, as on every stage.
public struct VAEParameters: Codable, Sendable, Equatable {
    public enum Objective: String, Codable, Sendable, CaseIterable {
        /// reconstruction + β·w(t)·KL (Higgins et al.), w the optional KL warm-up.
        case beta
        /// reconstruction + γ·|KL − C(t)|, C raised linearly to capacityMax (Burgess et al.).
        case capacity
        /// reconstruction + α·MI + β·TC + γ·dimension-wise KL, minibatch estimates (Chen et al.).
        case tc
        /// reconstruction + KL + γ·TC from a discriminator's density ratio (Kim & Mnih).
        case factor
    }
    public enum Likelihood: String, Codable, Sendable, CaseIterable {
        case gaussian, bernoulli, nb, zinb
    }
    public enum Decoder: String, Codable, Sendable, CaseIterable { case mlp, linear }
    public enum Schedule: String, Codable, Sendable, CaseIterable { case constant, cosine }
    public enum TCSampling: String, Codable, Sendable, CaseIterable {
        /// minibatch-weighted sampling
        case mws
        /// minibatch-stratified sampling
        case mss
    }

    public var objective: Objective = .beta
    public var beta: Double = 1
    /// capacity: weight on |KL − C| (default 100); tc: weight on dimension-wise KL (default 1);
    /// factor: weight on the discriminator's TC (default 10).
    public var gamma: Double? = nil
    /// tc: weight on the index-code mutual information.
    public var alpha: Double = 1
    public var latent: Int = 10
    /// Encoder hidden sizes; the decoder mirrors them unless `decoderHidden` is set.
    public var hidden: [Int] = [128]
    public var decoderHidden: [Int]? = nil
    public var activation: Activation = .relu
    public var batchNorm: Bool = false
    public var dropout: Double = 0
    public var likelihood: Likelihood = .gaussian
    public var decoder: Decoder = .mlp
    public var epochs: Int = 100
    public var batchSize: Int = 128
    public var lr: Double = 1e-3
    public var lrSchedule: Schedule = .constant
    /// Clip the gradient's global norm to this (nil: no clipping).
    public var clipNorm: Double? = nil
    /// KL warm-up: the KL weight rises linearly from 0 to β over this many epochs (Tybalt).
    public var warmup: Double = 0
    public var capacityMax: Double = 25
    /// Steps over which C rises from 0 to capacityMax.
    public var capacitySteps: Int = 10_000
    public var tcSampling: TCSampling = .mws
    public var discriminatorHidden: [Int] = [256, 256]
    public var discriminatorLr: Double = 1e-4
    /// L1 penalty on the decoder weights.
    public var l1: Double = 0
    /// Fraction of cells held out for validation (0: none).
    public var validation: Double = 0.1
    /// Stop after this many epochs without a better validation loss (0: never); the best
    /// weights are kept.
    public var patience: Int = 0
    /// A latent is active when its mean KL (nats) over cells exceeds this.
    public var activeThreshold: Double = 0.01
    /// Layer with raw counts for the nb/zinb likelihoods.
    public var countsLayer: String = "counts"
    // MARK: covariates
    /// Batch key, covariates, supervised subspaces (nil: none; see Covariates.swift).
    public var covariates: CovariateParameters? = nil

    // MARK: programs
    /// Gene-program decoder (`--programs`): a linear decoder masked by gene-set membership.
    public var programs: ProgramDecoder? = nil
    /// Learned sparse mask (`--mask-decoder l0`): hard-concrete gates on decoder connections.
    public var gates: DecoderGates? = nil
    // MARK: end programs

    public init() {}

    public var effectiveGamma: Double {
        if let gamma { return gamma }
        switch objective {
        case .capacity: return 100
        case .factor: return 10
        case .tc, .beta: return 1
        }
    }

    public var decoderHiddenSizes: [Int] {
        if decoder == .linear { return [] }
        return decoderHidden ?? hidden.reversed()
    }

    /// Problems with the parameters themselves (before any data is read), as messages.
    public func problems() -> [String] {
        var p: [String] = []
        if latent < 1 { p.append("--latent must be at least 1") }
        if hidden.contains(where: { $0 < 1 }) || (decoderHidden ?? []).contains(where: { $0 < 1 }) { p.append("hidden sizes must be positive") }
        if epochs < 1 { p.append("--epochs must be at least 1") }
        if batchSize < 2 { p.append("--batch-size must be at least 2") }
        if !(lr > 0 && lr.isFinite) { p.append("--lr must be positive") }
        if !(beta >= 0 && beta.isFinite) { p.append("--beta must be 0 or more") }
        if let g = gamma, !(g >= 0 && g.isFinite) { p.append("--gamma must be 0 or more") }
        if !(alpha >= 0) { p.append("--alpha must be 0 or more") }
        if !(dropout >= 0 && dropout < 1) { p.append("--dropout must be in [0, 1)") }
        if !(validation >= 0 && validation < 1) { p.append("--validation must be in [0, 1)") }
        if patience < 0 { p.append("--patience must be 0 or more") }
        if !(warmup >= 0) { p.append("--warmup must be 0 or more") }
        if !(capacityMax >= 0) || capacitySteps < 1 { p.append("--capacity-max must be 0 or more and --capacity-steps at least 1") }
        if let c = clipNorm, !(c > 0) { p.append("--clip-norm must be positive") }
        if !(l1 >= 0) { p.append("--l1 must be 0 or more") }
        if discriminatorHidden.isEmpty || discriminatorHidden.contains(where: { $0 < 1 }) { p.append("--discriminator-hidden needs positive sizes") }
        if !(discriminatorLr > 0) { p.append("--discriminator-lr must be positive") }
        // MARK: covariates
        if let c = covariates { p += c.problems(latent: latent, likelihood: likelihood) }
        // MARK: programs
        if let g = programs {
            p += g.problems()
            if decoder != .linear { p.append("--programs needs the linear decoder (--decoder linear)") }
            if !g.names.isEmpty && latent != g.count + g.freeLatents { p.append("--latent must equal the programs plus --free-latents") }
        }
        if let g = gates { p += g.problems() }
        // MARK: end programs
        return p
    }
}
