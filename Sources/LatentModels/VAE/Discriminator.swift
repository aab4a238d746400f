import LatentCore

/// FactorVAE's discriminator (Kim & Mnih 2018): an MLP on latent codes whose logit d(z)
/// estimates log q(z)/Π_k q(z_k), trained to tell codes of the batch from codes whose latents
/// were permuted independently across the batch (samples of Π_k q(z_k)). It has its own
/// parameters and Adam (β₁ = 0.5, β₂ = 0.9, as in the paper).
///
/// Permuted codes come from the same minibatch as the real ones (the paper draws a second
/// batch); both are samples of the same distributions, and one batch keeps a step's cost and
/// randomness in one place.
public final class Discriminator<T: NetScalar> {
    public let parameters = ParameterSet<T>()
    public let net: DenseStack<T>
    var adam: Adam<T>
    let lr: Double
    let latent: Int
    let permuted: UnsafeMutablePointer<T>
    let maxRows: Int

    public init(latent: Int, hidden: [Int], maxRows: Int, lr: Double, rng: inout SeededRNG) {
        var specs: [LayerSpec] = []
        var width = latent
        for h in hidden {
            specs.append(LayerSpec(inputs: width, outputs: h, activation: .leakyRelu))
            width = h
        }
        specs.append(LayerSpec(inputs: width, outputs: 1, activation: .identity))
        net = DenseStack(specs, prefix: "discriminator", maxRows: maxRows, parameters: parameters, rng: &rng)
        adam = Adam(count: parameters.count, beta1: 0.5, beta2: 0.9)
        self.lr = lr
        self.latent = latent
        self.maxRows = maxRows
        permuted = .allocate(capacity: maxRows * latent)
    }

    deinit { permuted.deallocate() }

    /// The TC estimate E[d(z)] over the batch; with `dz`, adds weight·∂d(z_i)/∂z_i to it
    /// (the discriminator's own parameters are not changed here).
    public func densityRatio(z: UnsafePointer<T>, rows: Int, dz: UnsafeMutablePointer<T>?, weight: Double) -> Double {
        var rng = SeededRNG(seed: 0)     // no dropout in the discriminator: never drawn from
        net.forward(z, rows: rows, parameters: parameters, training: false, rng: &rng)
        var total = 0.0
        for r in 0..<rows { total += Double(net.output[r]) }
        if let dz {
            let g = net.outputGradient
            for r in 0..<rows { g[r] = T(weight) }
            let dzIn = UnsafeMutablePointer<T>.allocate(capacity: rows * latent)
            defer { dzIn.deallocate() }
            net.backward(parameters: parameters, inputGradient: dzIn)
            for i in 0..<(rows * latent) { dz[i] += dzIn[i] }
            parameters.zeroGrads()
        }
        return total / Double(rows)
    }

    /// One discriminator step on the batch's codes (treated as constants) against their
    /// per-latent permutation; returns its loss before the step.
    @discardableResult
    public func train(z: UnsafePointer<T>, rows: Int, rng: inout SeededRNG) -> Double {
        let k = latent
        var perm = [Int](repeating: 0, count: rows)
        for c in 0..<k {
            for r in 0..<rows { perm[r] = r }
            rng.shuffle(&perm)
            for r in 0..<rows { permuted[r * k + c] = z[perm[r] * k + c] }
        }
        parameters.zeroGrads()
        let loss = lossAndGradients(real: z, fake: UnsafePointer(permuted), rows: rows)
        adam.update(parameters, lr: lr)
        return loss
    }

    /// ½(BCE(d(real), 1) + BCE(d(fake), 0)), averaged over rows, with its gradient added to
    /// `parameters.grads`.
    public func lossAndGradients(real: UnsafePointer<T>, fake: UnsafePointer<T>, rows: Int) -> Double {
        var rng = SeededRNG(seed: 0)
        var loss = 0.0
        let half = 0.5 / Double(rows)
        // Real codes, label 1: loss softplus(−d), gradient −σ(−d).
        net.forward(real, rows: rows, parameters: parameters, training: true, rng: &rng)
        for r in 0..<rows {
            let d = Double(net.output[r])
            loss += half * softplus(-d)
            net.outputGradient[r] = T(-half * sigmoid(-d))
        }
        net.backward(parameters: parameters, inputGradient: nil)
        // Permuted codes, label 0: loss softplus(d), gradient σ(d).
        net.forward(fake, rows: rows, parameters: parameters, training: true, rng: &rng)
        for r in 0..<rows {
            let d = Double(net.output[r])
            loss += half * softplus(d)
            net.outputGradient[r] = T(half * sigmoid(d))
        }
        net.backward(parameters: parameters, inputGradient: nil)
        return loss
    }

}
