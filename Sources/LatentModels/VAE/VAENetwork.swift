import LatentCore

/// The loss terms of one minibatch, each a mean over its cells.
public struct StepTerms: Sendable, Equatable {
    /// The objective that was differentiated.
    public var loss = 0.0
    /// Negative log-likelihood of the data under the decoder (per cell, summed over genes).
    public var recon = 0.0
    /// Analytic KL(q(z|x) ‖ N(0, I)), total and per latent.
    public var kl = 0.0
    public var klPerLatent: [Double] = []
    /// Total correlation estimate: the minibatch estimator for every objective but `factor`,
    /// where it is the discriminator's density-ratio estimate.
    public var tc = 0.0
    public var mi = 0.0
    public var dimKL = 0.0
    /// False when the TC estimate was skipped for this batch.
    public var hasTC = true
    /// Further named terms of the loss (latent terms, parameter penalties), in the order they were
    /// added; each is a mean over the batch's cells, unweighted. history.tsv prints one column each.
    public var extra: [ExtraTerm] = []
    public init() {}
}

/// One named value of `StepTerms.extra`.
public struct ExtraTerm: Sendable, Equatable {
    public var name: String
    public var value: Double
    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// What the schedules set for one step: the KL weight (β·warm-up), the capacity C.
public struct StepWeights: Sendable, Equatable {
    public var klWeight: Double
    public var capacity: Double
    public init(klWeight: Double, capacity: Double) {
        self.klWeight = klWeight
        self.capacity = capacity
    }
}

/// Encoder, reparameterisation, decoder and likelihood of a VAE, with the backward pass of the
/// chosen objective. One call of `step` is one minibatch; gradients are accumulated into
/// `parameters.grads` (zeroed by the caller).
///
/// Layout: the encoder's last layer emits [μ | log σ²] side by side (rows × 2K), one gemm for
/// both heads. The decoder's last layer emits the likelihood's natural parameters: the mean
/// (gaussian), logits (bernoulli), softmax logits of the expression proportions ρ (nb), and
/// [ρ logits | dropout logits] (zinb); NB dispersions θ = exp(t) are one parameter per gene.
public final class VAENetwork<T: NetScalar> {
    public let config: VAEParameters
    public let genes: Int
    public let latent: Int
    public let parameters = ParameterSet<T>()
    public let encoder: DenseStack<T>
    public let decoder: DenseStack<T>
    /// Offset of the per-gene log-dispersion t (nb, zinb), else -1.
    public private(set) var logTheta = -1
    /// Cells in the training set (the TC estimators' N).
    public var datasetSize: Int
    /// Threads for the M²K total-correlation sweep (the dense layers use BLAS's own).
    public var threads = 1
    /// Samples per thread below which the sweep is not split (tests lower it to split tiny batches).
    var tcRowsPerThread = 64
    /// Float networks take the NB/ZINB loss through the C kernel (tests turn it off to compare
    /// it with the Swift loop on the same network).
    var useNBKernel = true
    let tcScratch = Scratch(), tcScratchDouble = Scratch()
    /// The NB/ZINB kernel's tables, partials and scratch (VAENetwork+NBKernel.swift).
    let nbScratch = Scratch()
    let maxRows: Int

    // Minibatch buffers (maxRows × K unless noted).
    let eps: UnsafeMutablePointer<T>
    public let z: UnsafeMutablePointer<T>
    let dz: UnsafeMutablePointer<T>
    let dEnc: UnsafeMutablePointer<T>          // rows × 2K
    /// Decoder weight tensors (for the L1 penalty).
    var decoderWeights: [ParameterSet<T>.Tensor] = []
    /// FactorVAE's discriminator, when the objective is `factor`.
    public private(set) var discriminator: Discriminator<T>? = nil
    // MARK: covariates
    /// Where covariates enter (side inputs, per-batch dispersions); `.none` without covariates.
    public let covariateShape: CovariateShape
    /// Penalties on the latent code added to the loss with their weights (extension point 3).
    public var latentTerms: [(term: any LatentTerm, weight: Double)] = []
    // MARK: programs
    /// The decoder's fixed mask and gates (VAENetwork+Programs.swift), nil without them.
    var maskState: DecoderMaskState<T>? = nil
    // MARK: end programs

    /// `decoderMask` (latents × genes, 1 = allowed) masks the decoder's last weight matrix
    /// (program decoders); nil for none.
    public init(genes: Int, config: VAEParameters, datasetSize: Int, maxRows: Int, rng: inout SeededRNG,
                covariates shape: CovariateShape = .none, decoderMask: [UInt8]? = nil) {
        self.config = config
        self.covariateShape = shape
        self.genes = genes
        self.latent = config.latent
        self.datasetSize = datasetSize
        self.maxRows = maxRows
        let k = config.latent
        var enc: [LayerSpec] = []
        var width = genes
        for h in config.hidden {
            enc.append(LayerSpec(inputs: width, outputs: h, activation: config.activation, batchNorm: config.batchNorm, dropout: config.dropout,
                                 sideInputs: enc.isEmpty ? shape.encoderSideInputs : 0))
            width = h
        }
        enc.append(LayerSpec(inputs: width, outputs: 2 * k, activation: .identity, sideInputs: enc.isEmpty ? shape.encoderSideInputs : 0))
        encoder = DenseStack(enc, prefix: "encoder", maxRows: maxRows, parameters: parameters, rng: &rng)
        var dec: [LayerSpec] = []
        width = k
        for h in config.decoderHiddenSizes {
            dec.append(LayerSpec(inputs: width, outputs: h, activation: config.activation, batchNorm: config.batchNorm, dropout: config.dropout,
                                 sideInputs: shape.sideInputs))
            width = h
        }
        let heads = config.likelihood == .zinb ? 2 : 1
        dec.append(LayerSpec(inputs: width, outputs: heads * genes, activation: .identity, sideInputs: shape.sideInputs))
        decoder = DenseStack(dec, prefix: "decoder", maxRows: maxRows, parameters: parameters, rng: &rng)
        if config.likelihood == .nb || config.likelihood == .zinb {
            logTheta = parameters.add("decoder.log_theta", shape: shape.dispersionGroups > 1 ? [shape.dispersionGroups, genes] : [genes], value: 0)
        }
        decoderWeights = parameters.tensors.filter { $0.name.hasPrefix("decoder.") && $0.name.hasSuffix(".weight") && !$0.name.contains(".bn.") }
        eps = .allocate(capacity: maxRows * k)
        z = .allocate(capacity: maxRows * k)
        dz = .allocate(capacity: maxRows * k)
        dEnc = .allocate(capacity: maxRows * 2 * k)
        if config.objective == .factor {
            discriminator = Discriminator(latent: k, hidden: config.discriminatorHidden, maxRows: maxRows,
                                          lr: config.discriminatorLr, rng: &rng)
        }
        setUpDecoderMask(decoderMask)        // MARK: programs
    }

    deinit {
        eps.deallocate(); z.deallocate(); dz.deallocate(); dEnc.deallocate()
    }

    /// One minibatch: `x` the encoder input (rows × genes), `target` what the likelihood scores
    /// (the same matrix, or raw counts for nb/zinb), `library` the cells' total counts (nb/zinb).
    /// With `backward`, `parameters.grads` receives the objective's gradient (overwritten: no
    /// zeroing needed). With `sample` false, z = μ (deterministic evaluation). `estimateTC`
    /// false skips the minibatch TC estimate where it is only logged (objectives other than tc),
    /// an M²K cost.
    /// `covariates` carries the batch's side inputs, dispersion groups and cell indices (see
    /// `StepCovariates`); nil for a model without covariates.
    public func step(x: UnsafePointer<T>, target: UnsafePointer<T>, library: UnsafePointer<T>?, rows: Int,
                     weights: StepWeights, training: Bool, backward: Bool, sample: Bool = true,
                     estimateTC: Bool = true, rng: inout SeededRNG, covariates: StepCovariates<T>? = nil) -> StepTerms {
        let k = latent
        var terms = StepTerms()
        encoder.forward(x, rows: rows, parameters: parameters, training: training, rng: &rng, side: covariates?.side)
        clampLogVariance(rows: rows)                 // VAENetwork+Numerics.swift
        let enc = encoder.output
        for r in 0..<rows {
            for j in 0..<k {
                let mu = enc[r * 2 * k + j], lv = enc[r * 2 * k + k + j]
                let e: T = sample ? T(rng.normal()) : 0
                eps[r * k + j] = e
                z[r * k + j] = mu + e * T.exp(lv / 2)
            }
        }
        let gated = beginGatedDecoder(training: training, rng: &rng)      // MARK: programs
        decoder.forward(UnsafePointer(z), rows: rows, parameters: parameters, training: training, rng: &rng, side: covariates?.side)
        let scale = T(1) / T(rows)
        // Gradients Adam left zeroed are accumulated into (beta = 1 products, no clearing pass);
        // otherwise the stacks' backward passes write over them. The same values either way.
        let fresh = parameters.gradsAreZero
        if backward { parameters.gradsWritten() }
        if backward && logTheta >= 0 && !fresh { (parameters.grads + logTheta).update(repeating: 0, count: genes * covariateShape.dispersionGroups) }
        // Reconstruction: loss and dLoss/dOutput straight into the decoder's gradient buffer.
        terms.recon = reconstruction(target: target, library: library, rows: rows, scale: scale, backward: backward,
                                     groups: covariates?.groups)
        var loss = terms.recon

        // Analytic KL per latent: ½(μ² + σ² − 1 − log σ²).
        var klDim = [Double](repeating: 0, count: k)
        for r in 0..<rows {
            for j in 0..<k {
                let mu = Double(enc[r * 2 * k + j]), lv = Double(enc[r * 2 * k + k + j])
                klDim[j] += 0.5 * (mu * mu + _exp(lv) - 1 - lv)
            }
        }
        for j in 0..<k { klDim[j] /= Double(rows) }
        terms.klPerLatent = klDim
        terms.kl = klDim.reduce(0, +)

        // dLoss/dz from the decoder, then the objective's own terms on μ, log σ² and z.
        if backward {
            decoder.backward(parameters: parameters, inputGradient: dz, accumulate: fresh)
            dEnc.update(repeating: 0, count: rows * 2 * k)
        }
        // MARK: programs
        if gated { finishGatedDecoder(backward: backward) }
        if backward { maskDecoderGradients() }
        loss += gatePenalty(backward: backward)
        // MARK: end programs
        let o = config.objective
        let gamma = config.effectiveGamma
        var klCoefficient = 0.0
        switch o {
        case .beta:
            klCoefficient = weights.klWeight
            loss += weights.klWeight * terms.kl
        case .capacity:
            let gap = terms.kl - weights.capacity
            loss += gamma * abs(gap)
            klCoefficient = gap > 0 ? gamma : (gap < 0 ? -gamma : 0)
        case .factor:
            klCoefficient = 1
            loss += terms.kl
        case .tc:
            break
        }
        terms.hasTC = o == .tc || o == .factor || estimateTC
        let tcWeights: (alpha: Double, beta: Double, gamma: Double)? =
            o == .tc ? (config.alpha, weights.klWeight, gamma) : nil
        if o == .tc || (o != .factor && estimateTC) {
            let e = totalCorrelation(rows: rows, weights: tcWeights, backward: backward && o == .tc)
            terms.tc = e.tc; terms.mi = e.mi; terms.dimKL = e.dimKL
            if let w = tcWeights { loss += w.alpha * e.mi + w.beta * e.tc + w.gamma * e.dimKL }
        } else if let d = discriminator {
            let tc = d.densityRatio(z: UnsafePointer(z), rows: rows, dz: backward ? dz : nil, weight: gamma / Double(rows))
            terms.tc = tc
            loss += gamma * tc
        }
        loss += latentTermsLoss(rows: rows, backward: backward, cells: covariates?.cells ?? [], terms: &terms, rng: &rng)
        if config.l1 > 0 {
            var s = 0.0
            for t in decoderWeights { for i in 0..<t.count { s += Double(abs(parameters.values[t.offset + i])) } }
            loss += config.l1 * s
            if backward {
                let l1 = T(config.l1)
                for t in decoderWeights {
                    for i in 0..<t.count {
                        let w = parameters.values[t.offset + i]
                        parameters.grads[t.offset + i] += w > 0 ? l1 : (w < 0 ? -l1 : 0)
                    }
                }
            }
        }
        terms.loss = loss
        guard backward else { return terms }

        // Chain rule through z = μ + ε·e^{lv/2}, plus the analytic KL's own gradient.
        let kc = T(klCoefficient) * scale
        for r in 0..<rows {
            for j in 0..<k {
                let mi = r * 2 * k + j, li = mi + k
                let lv = enc[li], g = dz[r * k + j]
                dEnc[mi] += g + kc * enc[mi]
                dEnc[li] += g * eps[r * k + j] * T.exp(lv / 2) / 2 + kc * (T.exp(lv) - 1) / 2
            }
        }
        maskClampedLogVarianceGradients(rows: rows)
        encoder.outputGradient.update(from: dEnc, count: rows * 2 * k)
        encoder.backward(parameters: parameters, inputGradient: nil, accumulate: fresh)
        return terms
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
#else
import Darwin
@usableFromInline func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
#endif
