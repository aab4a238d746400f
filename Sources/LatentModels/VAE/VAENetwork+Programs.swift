import LatentCore

/// What multiplies the decoder's last weight matrix (extension place 2): a fixed gene-set mask
/// (program decoders), hard-concrete gates, both or neither.
///
/// Hard masks never form W ⊙ M: off-mask weights start at exactly 0 and their gradients are
/// zeroed, so Adam's update of them is exactly 0 too (m = v = 0 ⇒ step 0) and the forward pass is
/// the plain layer's. Soft masks leave W free; off-mask weights start at 0 and an L1 proximal step
/// after each optimiser step pulls them back (exact zeros, unlike a subgradient). Gates replace W
/// by W ⊙ g for the step only (the raw W is stashed and restored), so the dense layer's code is
/// untouched; after training the deterministic gates are folded into W (`foldGates`), which is
/// what encode/decode/loadings and the model file then use.
final class DecoderMaskState<T: NetScalar> {
    /// Rows (latents, or the last hidden layer's units) × columns (heads · genes) of the weight.
    let rows: Int, width: Int, genes: Int
    /// rows × genes, 1 where the connection is allowed (the same for every head); nil: no mask.
    let mask: [UInt8]?
    let weight: Int
    /// Offset of log α (rows × width), or -1 without gates.
    var logAlpha = -1
    /// The gates g and dg/d log α of the current step, and the stashed raw weights.
    let gate: UnsafeMutablePointer<T>
    let gateSlope: UnsafeMutablePointer<T>
    let stash: UnsafeMutablePointer<T>
    var gatesActive = false

    init(rows: Int, width: Int, genes: Int, mask: [UInt8]?, weight: Int, gated: Bool) {
        self.rows = rows; self.width = width; self.genes = genes; self.mask = mask; self.weight = weight
        let n = gated ? rows * width : 0
        gate = .allocate(capacity: max(1, n)); gateSlope = .allocate(capacity: max(1, n)); stash = .allocate(capacity: max(1, n))
    }

    deinit { gate.deallocate(); gateSlope.deallocate(); stash.deallocate() }

    @inline(__always) func allowed(_ r: Int, _ c: Int) -> Bool { mask.map { $0[r * genes + c % genes] != 0 } ?? true }
}

extension VAENetwork {
    /// Sets up the mask and gates of the decoder's last layer (called once from `init`).
    func setUpDecoderMask(_ decoderMask: [UInt8]?) {
        guard decoderMask != nil || config.gates != nil else { return }
        let last = decoder.specs.count - 1
        let spec = decoder.specs[last]
        if let m = decoderMask { precondition(m.count == spec.inputs * genes, "decoder mask must be latents × genes") }
        let state = DecoderMaskState<T>(rows: spec.inputs, width: spec.outputs, genes: genes, mask: decoderMask,
                                        weight: decoder.w[last], gated: config.gates != nil)
        if let g = config.gates {
            state.logAlpha = parameters.add("decoder.\(last).log_alpha", shape: [spec.inputs, spec.outputs],
                                            value: T(g.initialLogAlpha / Self.logAlphaScale))
        }
        let w = parameters.values + state.weight
        if decoderMask != nil {
            for r in 0..<state.rows { for c in 0..<state.width where !state.allowed(r, c) { w[r * state.width + c] = 0 } }
        }
        maskState = state
    }

    /// The decoder mask, latents × genes (1: allowed), when the model has one.
    public var decoderMask: [UInt8]? { maskState?.mask }

    /// The latent terms a program decoder adds: HSIC between the free and the program latents.
    public func programLatentTerms() -> [(term: any LatentTerm, weight: Double)] {
        guard let prog = config.programs, prog.hsic > 0, prog.freeLatents > 0, prog.count > 0 else { return [] }
        return [(HSICTerm(a: Array(prog.count..<latent), b: Array(0..<prog.count)), prog.hsic)]
    }

    // MARK: gates

    /// log α is stored divided by this: Adam moves every parameter by about lr per step, and the
    /// gates must travel several units of log α (open at +2, shut below −2.4) in a few hundred
    /// steps (measured: with log α itself as the parameter, no gate closed at lr 0.003 × 700
    /// steps, whatever the L0 weight).
    static var logAlphaScale: Double { 10 }

    /// Before the decoder's forward pass: draws the gates (training) or takes their deterministic
    /// values (evaluation) and writes W ⊙ g over W, keeping W aside. Returns whether it did.
    func beginGatedDecoder(training: Bool, rng: inout SeededRNG) -> Bool {
        guard let s = maskState, s.logAlpha >= 0, let cfg = config.gates else { return false }
        let n = s.rows * s.width
        let w = parameters.values + s.weight, la = parameters.values + s.logAlpha
        let beta = cfg.temperature, lo = cfg.lower, span = cfg.upper - cfg.lower
        for i in 0..<n {
            let a = Self.logAlphaScale * Double(la[i])
            let sv: Double
            var slope: Double
            if training {
                let u = min(max(rng.uniform(), 1e-7), 1 - 1e-7)
                sv = logistic((_log(u) - _log(1 - u) + a) / beta)
                slope = span * sv * (1 - sv) / beta
            } else {
                sv = logistic(a)
                slope = span * sv * (1 - sv)
            }
            var g = sv * span + lo
            if g <= 0 { g = 0; slope = 0 } else if g >= 1 { g = 1; slope = 0 }
            s.gate[i] = T(g); s.gateSlope[i] = T(slope)
            s.stash[i] = w[i]
            w[i] *= T(g)
        }
        s.gatesActive = true
        return true
    }

    /// After the decoder's backward pass: turns dLoss/d(W ⊙ g) into dLoss/dW and dLoss/d log α
    /// (written over their gradients), then puts the raw W back.
    func finishGatedDecoder(backward: Bool) {
        guard let s = maskState, s.gatesActive else { return }
        let n = s.rows * s.width
        let w = parameters.values + s.weight
        w.update(from: s.stash, count: n)
        if backward {
            let gw = parameters.grads + s.weight, ga = parameters.grads + s.logAlpha
            for i in 0..<n {
                let d = gw[i]
                ga[i] = d * w[i] * s.gateSlope[i] * T(Self.logAlphaScale)
                gw[i] = d * s.gate[i]
            }
        }
        s.gatesActive = false
    }

    /// λ·Σ P(g ≠ 0) and its gradient (added to log α's).
    func gatePenalty(backward: Bool) -> Double {
        guard let s = maskState, s.logAlpha >= 0, let cfg = config.gates, cfg.l0 > 0 else { return 0 }
        let shift = cfg.temperature * _log(-cfg.lower / cfg.upper)
        let la = parameters.values + s.logAlpha, ga = parameters.grads + s.logAlpha
        var total = 0.0
        for i in 0..<(s.rows * s.width) {
            let p = logistic(Self.logAlphaScale * Double(la[i]) - shift)
            total += p
            if backward { ga[i] += T(cfg.l0 * p * (1 - p) * Self.logAlphaScale) }
        }
        return cfg.l0 * total
    }

    /// The deterministic gates (rows × width), as evaluation uses them.
    public func deterministicGates() -> [Double]? {
        guard let s = maskState, s.logAlpha >= 0, let cfg = config.gates else { return nil }
        let la = parameters.values + s.logAlpha
        return (0..<(s.rows * s.width)).map { i in
            min(1, max(0, logistic(Self.logAlphaScale * Double(la[i])) * (cfg.upper - cfg.lower) + cfg.lower))
        }
    }

    /// Multiplies W by the deterministic gates once training is over, so that every evaluation
    /// path (encode, decode, loadings, the model file) sees the gated decoder as plain weights.
    public func foldGates() {
        guard let s = maskState, let g = deterministicGates() else { return }
        let w = parameters.values + s.weight
        for i in 0..<g.count { w[i] *= T(g[i]) }
    }

    // MARK: fixed masks

    /// Zeroes the gradient of hard-masked weights (called after the decoder's backward pass).
    func maskDecoderGradients() {
        guard let s = maskState, s.mask != nil, config.programs?.mask ?? .hard == .hard else { return }
        let gw = parameters.grads + s.weight
        for r in 0..<s.rows { for c in 0..<s.width where !s.allowed(r, c) { gw[r * s.width + c] = 0 } }
    }

    /// The proximal steps after an optimiser step at learning rate `lr`: the soft mask's L1 on
    /// off-mask weights, then the group lasso on each program's weights, as expiMap's trainer
    /// orders them. Both are taken in Adam's metric: Adam moves a weight by about lr whatever
    /// its gradient's size, so a plain threshold lr·λ would compare λ with the *sign pattern* of
    /// the gradient (measured: decoy programs hovered at norms 10⁻²–10⁻⁴, never 0). With the
    /// preconditioner P = 1/(√v̂ + ε) the thresholds are lr·λ·P_i (L1, per weight, exact) and
    /// lr·λ·P̄_p (group: 1/(RMS over the group of √v̂ + ε)), whose fixed points are the penalised
    /// problem's own: a weight stays 0 while |∂L/∂w| ≤ λ₁, a program while ‖∂L/∂w_p‖ ≤ λ.
    /// `adam` nil: the plain thresholds lr·λ (tests, and any optimiser without a metric).
    ///
    /// The group lasso's weight rises linearly from 0 over the first half of training
    /// (`progress`, the fraction of epochs done): a program switched off before its latent has
    /// learned to carry the program's signal never returns (its latent gets no reconstruction
    /// gradient once its weights are 0), and at initialisation no latent carries any signal yet
    /// (measured: 2 of 4 planted programs were switched off from the first epochs without it).
    public func proximalStep(lr: Double, adam: Adam<T>? = nil, progress: Double = 1) {
        guard let s = maskState, let prog = config.programs else { return }
        let w = parameters.values + s.weight
        let useMetric = (adam?.step ?? 0) > 0
        let bc2 = adam.map { 1 - _pow($0.beta2, Double($0.step)) } ?? 1, eps = adam?.epsilon ?? 0
        let v = adam?.v ?? []
        func metric(_ i: Int) -> Double {
            useMetric ? 1 / ((Double(v[s.weight + i]) / bc2).squareRoot() + eps) : 1
        }
        if prog.mask == .soft && prog.maskL1 > 0 {
            for r in 0..<s.rows {
                for c in 0..<s.width where !s.allowed(r, c) {
                    let i = r * s.width + c, v = w[i]
                    let t = T(lr * prog.maskL1 * metric(i))
                    w[i] = v > t ? v - t : (v < -t ? v + t : 0)
                }
            }
        }
        let ramp = min(1, max(0, 2 * progress))
        if prog.groupLasso > 0 && ramp > 0 {
            let rows = min(prog.count, s.rows)
            for r in 0..<rows {
                // The group's scalar metric 1/(RMS of √v̂ + ε): a group Adam drives consistently
                // moves ≈ lr·√n per step, against a threshold lr·λ/RMS(g), so it survives exactly
                // when ‖g_p‖ = √n·RMS(g) > λ.
                var p = 1.0
                if useMetric {
                    var ms = 0.0
                    for c in 0..<s.width { ms += Double(v[s.weight + r * s.width + c]) }
                    p = 1 / ((ms / Double(s.width) / bc2).squareRoot() + eps)
                }
                Self.groupSoftThreshold(w + r * s.width, rows: 1, width: s.width, threshold: lr * prog.groupLasso * ramp * p)
            }
        }
    }

    /// Scales each of the first `rows` rows of `w` (rows × width) by max(0, 1 − t/‖row‖): the
    /// proximal operator of t·Σ_p ‖w_p‖₂. A row of norm ≤ t becomes exactly zero.
    static func groupSoftThreshold(_ w: UnsafeMutablePointer<T>, rows: Int, width: Int, threshold t: Double) {
        for r in 0..<rows {
            let row = w + r * width
            var ss = 0.0
            for c in 0..<width { let v = Double(row[c]); ss += v * v }
            let norm = ss.squareRoot()
            let f = norm > t ? 1 - t / norm : 0
            if f == 0 { row.update(repeating: 0, count: width) } else {
                let ft = T(f)
                for c in 0..<width { row[c] *= ft }
            }
        }
    }

    /// ‖w_p‖₂ of every row of the decoder's last weight (latents for a linear decoder).
    public func decoderRowNorms() -> [Double] {
        let last = decoder.specs.count - 1
        let rows = decoder.specs[last].inputs, width = decoder.specs[last].outputs
        let w = parameters.values + decoder.w[last]
        return (0..<rows).map { r in
            var ss = 0.0
            for c in 0..<width { let v = Double(w[r * width + c]); ss += v * v }
            return ss.squareRoot()
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
#else
import Darwin
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
#endif

@inline(__always) func logistic(_ x: Double) -> Double { x >= 0 ? 1 / (1 + _exp(-x)) : _exp(x) / (1 + _exp(x)) }
