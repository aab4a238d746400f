/// Gene-program decoders and learned sparse masks (issue 15): what `--programs`,
/// `--mask-decoder l0` and their penalties set. Both are optional blocks of `VAEParameters`, so
/// a model without them encodes to the same JSON as before and old model files still load.
public struct ProgramDecoder: Codable, Sendable, Equatable {
    public enum MaskKind: String, Codable, Sendable, CaseIterable {
        /// Weights off the gene-set mask are exactly zero throughout training.
        case hard
        /// Off-mask weights start at zero and are pulled back by an L1 proximal step.
        case soft
    }

    /// The `--programs` argument as given (GMT path or shipped name); recorded, not re-read.
    public var source: String = ""
    /// The programs kept after matching and size filtering, in latent order (latents 0..<P).
    public var names: [String] = []
    /// Unconstrained latents after the programs (latents P..<P+K).
    public var freeLatents: Int = 0
    /// Smallest and largest program size (genes of the data in the set) kept.
    public var minGenes: Int = 12
    public var maxGenes: Int? = nil
    public var mask: MaskKind = .hard
    /// Soft mask: weight of the L1 penalty on off-mask weights (applied as a proximal step).
    public var maskL1: Double = 0
    /// Group lasso on each program's decoder weights (proximal step, scaled by the learning rate).
    public var groupLasso: Double = 0
    /// HSIC penalty between the free latents and the program latents.
    public var hsic: Double = 0

    public init() {}

    /// Program latents P (the free ones follow them).
    public var count: Int { names.count }

    public func problems() -> [String] {
        var p: [String] = []
        if freeLatents < 0 { p.append("--free-latents must be 0 or more") }
        if minGenes < 1 { p.append("--min-genes must be at least 1") }
        if let m = maxGenes, m < minGenes { p.append("--max-genes must be at least --min-genes") }
        if !(maskL1 >= 0 && maskL1.isFinite) { p.append("--mask-l1 must be 0 or more") }
        if maskL1 > 0 && mask == .hard { p.append("--mask-l1 applies to --mask soft only") }
        if !(groupLasso >= 0 && groupLasso.isFinite) { p.append("--group-lasso must be 0 or more") }
        if !(hsic >= 0 && hsic.isFinite) { p.append("--hsic must be 0 or more") }
        if hsic > 0 && freeLatents == 0 { p.append("--hsic needs --free-latents of at least 1") }
        return p
    }
}

/// Hard-concrete gates (Louizos, Welling & Kingma 2018) on every decoder connection: each weight
/// is multiplied by a gate g = min(1, max(0, s·(ζ − γ) + γ)), s = σ((log u − log(1 − u) + log α)/β)
/// with u ~ U(0, 1) in training and s = σ(log α) in evaluation, and the loss adds
/// λ·Σ P(g ≠ 0) = λ·Σ σ(log α − β·log(−γ/ζ)), the expected number of open connections.
public struct DecoderGates: Codable, Sendable, Equatable {
    /// λ: weight of the expected-L0 penalty, per open connection.
    public var l0: Double = 1e-3
    /// Temperature β and stretch interval (γ, ζ) of the paper.
    public var temperature: Double = 2.0 / 3.0
    public var lower: Double = -0.1
    public var upper: Double = 1.1
    /// Initial log α: gates start mostly open (P(g ≠ 0) ≈ 0.9).
    public var initialLogAlpha: Double = 2

    public init() {}

    public func problems() -> [String] {
        var p: [String] = []
        if !(l0 >= 0 && l0.isFinite) { p.append("--l0 must be 0 or more") }
        if !(temperature > 0) { p.append("the gate temperature must be positive") }
        if !(lower < 0 && upper > 1) { p.append("the gate stretch must satisfy γ < 0 < 1 < ζ") }
        return p
    }
}
