import LatentCore

/// One fully connected layer of a stack: Linear → [BatchNorm] → activation → [dropout].
public struct LayerSpec: Codable, Sendable, Equatable {
    public var inputs: Int
    public var outputs: Int
    public var activation: Activation
    public var batchNorm: Bool
    public var dropout: Double
    // MARK: covariates
    /// Width of the side input `c` (covariates) this layer also reads: it computes x·W + c·Wc + b
    /// (see DenseStack+SideInputs.swift). 0: none, the layer is exactly x·W + b.
    public var sideInputs: Int = 0

    public init(inputs: Int, outputs: Int, activation: Activation, batchNorm: Bool = false, dropout: Double = 0, sideInputs: Int = 0) {
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        self.batchNorm = batchNorm
        self.dropout = dropout
        self.sideInputs = sideInputs
    }
}

/// A stack of dense layers over minibatches of row-major matrices (rows = cells), with a
/// hand-written backward pass. Every product is one gemm; buffers are allocated once for the
/// largest batch, so a training step allocates nothing.
///
/// Weights are stored in×out (row-major), so the forward product is X·W with no transposes.
/// Batch norm follows torch.nn.BatchNorm1d (biased batch variance in training, running
/// statistics with the unbiased variance for evaluation).
public final class DenseStack<T: NetScalar> {
    public let specs: [LayerSpec]
    public let prefix: String
    let maxRows: Int
    /// Offsets into the parameter set: weight, bias, BN scale and shift (-1 when absent).
    var w: [Int] = [], b: [Int] = [], gamma: [Int] = [], beta: [Int] = []
    // MARK: covariates
    /// Offset of each layer's side-input weight Wc (sideInputs × outputs), -1 when it has none.
    var wc: [Int] = []
    /// The side input of the last forward pass (rows × the layers' sideInputs), for backward.
    var lastSide: UnsafePointer<T>? = nil
    /// BatchNorm running statistics (not trained, saved with the model).
    public var runningMean: [[T]] = [], runningVar: [[T]] = []
    public var bnMomentum: T = T(0.1)
    public var bnEpsilon: T = T(1e-5)

    // Per layer: z (linear output, or BN output when BN is on), act (after the activation: the
    // same buffer as z, the activation runs in place, as nothing reads z afterwards), out (after
    // dropout; the same buffer as act when there is none), xhat, mean, invstd, mask.
    var lin: [UnsafeMutablePointer<T>] = []
    var act: [UnsafeMutablePointer<T>] = []
    var out: [UnsafeMutablePointer<T>] = []
    var xhat: [UnsafeMutablePointer<T>?] = []
    var invstd: [UnsafeMutablePointer<T>?] = []
    var mask: [UnsafeMutablePointer<T>?] = []
    var grad: [UnsafeMutablePointer<T>] = []
    var ownsOut: [Bool] = []
    private var lastInput: UnsafePointer<T>? = nil
    private var lastRows = 0

    public init(_ specs: [LayerSpec], prefix: String, maxRows: Int, parameters p: ParameterSet<T>, rng: inout SeededRNG) {
        precondition(!specs.isEmpty)
        self.specs = specs
        self.prefix = prefix
        self.maxRows = maxRows
        for (l, s) in specs.enumerated() {
            // fan-in counts the side inputs: the layer is a Linear over [x | c] (as torch would init it).
            let bound = 1 / Double(s.inputs + s.sideInputs).squareRoot()
            w.append(p.add("\(prefix).\(l).weight", shape: [s.inputs, s.outputs], bound: bound, rng: &rng))
            b.append(p.add("\(prefix).\(l).bias", shape: [s.outputs], bound: bound, rng: &rng))
            wc.append(addSideWeight(l, s, bound: bound, parameters: p, rng: &rng))
            if s.batchNorm {
                gamma.append(p.add("\(prefix).\(l).bn.weight", shape: [s.outputs], value: 1))
                beta.append(p.add("\(prefix).\(l).bn.bias", shape: [s.outputs], value: 0))
            } else { gamma.append(-1); beta.append(-1) }
            runningMean.append([T](repeating: 0, count: s.batchNorm ? s.outputs : 0))
            runningVar.append([T](repeating: 1, count: s.batchNorm ? s.outputs : 0))
            let n = maxRows * s.outputs
            lin.append(.allocate(capacity: n))
            act.append(lin[l])
            grad.append(.allocate(capacity: n))
            if s.dropout > 0 {
                out.append(.allocate(capacity: n)); mask.append(.allocate(capacity: n)); ownsOut.append(true)
            } else {
                out.append(act[l]); mask.append(nil); ownsOut.append(false)
            }
            if s.batchNorm {
                xhat.append(.allocate(capacity: n)); invstd.append(.allocate(capacity: s.outputs))
            } else { xhat.append(nil); invstd.append(nil) }
        }
    }

    deinit {
        for l in specs.indices {
            lin[l].deallocate(); grad[l].deallocate()
            if ownsOut[l] { out[l].deallocate(); mask[l]!.deallocate() }
            xhat[l]?.deallocate(); invstd[l]?.deallocate()
        }
    }

    public var outputs: Int { specs.last!.outputs }

    /// The output of the last forward pass (rows × outputs).
    public var output: UnsafeMutablePointer<T> { out[specs.count - 1] }

    /// Forward pass; `input` must stay valid until `backward`. Training mode uses batch statistics
    /// and dropout (masks drawn from `rng`); evaluation uses running statistics and no dropout.
    /// `side` (rows × sideInputs) feeds the layers with side inputs; it too must stay valid until
    /// `backward`, and is required when any layer has side inputs.
    public func forward(_ input: UnsafePointer<T>, rows: Int, parameters p: ParameterSet<T>, training: Bool, rng: inout SeededRNG,
                        side: UnsafePointer<T>? = nil) {
        precondition(rows <= maxRows && rows > 0)
        lastInput = input
        lastRows = rows
        lastSide = side
        var x = input
        for (l, s) in specs.enumerated() {
            let o = s.outputs, z = lin[l]
            let bias = UnsafePointer(p.values + b[l])
            // The bias and the activation in one pass after the product (z and act share memory).
            T.gemm(false, false, rows, o, s.inputs, 1, x, s.inputs, p.values + w[l], o, 0, z, o)
            if s.sideInputs > 0 { sideForward(l, rows: rows, into: z, parameters: p) }
            let a = act[l]
            let f = s.activation
            if s.batchNorm {
                Activation.identity.forward(z, bias: bias, rows: rows, outputs: o)
                batchNormForward(l, rows: rows, p: p, training: training)
                f.forward(a, bias: nil, rows: rows, outputs: o)
            } else {
                f.forward(a, bias: bias, rows: rows, outputs: o)
            }
            if s.dropout > 0 {
                let m = mask[l]!, y = out[l]
                if training {
                    let keep = 1 - s.dropout, scale = T(1 / keep)
                    for i in 0..<(rows * o) {
                        let k: T = rng.uniform() < keep ? scale : 0
                        m[i] = k
                        y[i] = a[i] * k
                    }
                } else {
                    y.update(from: a, count: rows * o)
                    m.update(repeating: 1, count: rows * o)
                }
            }
            x = UnsafePointer(out[l])
        }
    }

    private func batchNormForward(_ l: Int, rows: Int, p: ParameterSet<T>, training: Bool) {
        let o = specs[l].outputs, z = lin[l], xh = xhat[l]!, inv = invstd[l]!
        let g = p.values + gamma[l], bt = p.values + beta[l]
        if training {
            var mean = [Double](repeating: 0, count: o), varSum = [Double](repeating: 0, count: o)
            for r in 0..<rows { for j in 0..<o { mean[j] += Double(z[r * o + j]) } }
            for j in 0..<o { mean[j] /= Double(rows) }
            for r in 0..<rows { for j in 0..<o { let d = Double(z[r * o + j]) - mean[j]; varSum[j] += d * d } }
            let m = Double(bnMomentum)
            for j in 0..<o {
                let v = varSum[j] / Double(rows)
                inv[j] = T(1 / (v + Double(bnEpsilon)).squareRoot())
                runningMean[l][j] = T((1 - m) * Double(runningMean[l][j]) + m * mean[j])
                let unbiased = rows > 1 ? varSum[j] / Double(rows - 1) : v
                runningVar[l][j] = T((1 - m) * Double(runningVar[l][j]) + m * unbiased)
            }
            for r in 0..<rows {
                for j in 0..<o {
                    let h = (z[r * o + j] - T(mean[j])) * inv[j]
                    xh[r * o + j] = h
                    z[r * o + j] = g[j] * h + bt[j]
                }
            }
        } else {
            for j in 0..<o { inv[j] = 1 / (runningVar[l][j] + bnEpsilon).squareRoot() }
            for r in 0..<rows {
                for j in 0..<o {
                    let h = (z[r * o + j] - runningMean[l][j]) * inv[j]
                    xh[r * o + j] = h
                    z[r * o + j] = g[j] * h + bt[j]
                }
            }
        }
    }

    /// The gradient buffer of the output (rows × outputs): fill it with dLoss/dOutput, then call
    /// `backward`.
    public var outputGradient: UnsafeMutablePointer<T> { grad[specs.count - 1] }

    /// Backpropagates `outputGradient` through the stack into the parameter gradients: added to
    /// `p.grads`, or written over them with `accumulate: false` (a training step's only writer
    /// of these tensors then spares zeroing them first). When `inputGradient` is given it
    /// receives dLoss/dInput (rows × inputs), overwritten.
    public func backward(parameters p: ParameterSet<T>, inputGradient: UnsafeMutablePointer<T>?, accumulate: Bool = true) {
        let rows = lastRows
        guard let input = lastInput else { preconditionFailure("backward before forward") }
        for l in stride(from: specs.count - 1, through: 0, by: -1) {
            let s = specs[l], o = s.outputs, d = grad[l]
            // d *= dropout mask, d *= f'(act), db += Σ_rows d: one pass (the sum after batch norm's
            // backward when there is one); dW += inputᵀ·d; dInput = d·Wᵀ.
            let db = p.grads + b[l]
            let m = s.dropout > 0 ? UnsafePointer(mask[l]!) : nil
            if s.batchNorm {
                s.activation.backward(d, output: act[l], mask: m, rows: rows, outputs: o, biasGradient: nil, accumulate: accumulate)
                batchNormBackward(l, rows: rows, p: p, accumulate: accumulate)
                Activation.identity.backward(d, output: act[l], mask: nil, rows: rows, outputs: o, biasGradient: db, accumulate: accumulate)
            } else {
                s.activation.backward(d, output: act[l], mask: m, rows: rows, outputs: o, biasGradient: db, accumulate: accumulate)
            }
            let x: UnsafePointer<T> = l == 0 ? input : UnsafePointer(out[l - 1])
            T.gemm(true, false, s.inputs, o, rows, 1, x, s.inputs, d, o, accumulate ? 1 : 0, p.grads + w[l], o)
            if s.sideInputs > 0 { sideBackward(l, rows: rows, gradient: d, parameters: p, accumulate: accumulate) }
            let target: UnsafeMutablePointer<T>? = l == 0 ? inputGradient : grad[l - 1]
            if let target {
                T.gemm(false, true, rows, s.inputs, o, 1, d, o, p.values + w[l], o, 0, target, s.inputs)
            }
        }
    }

    private func batchNormBackward(_ l: Int, rows: Int, p: ParameterSet<T>, accumulate: Bool) {
        let o = specs[l].outputs, d = grad[l], xh = xhat[l]!, inv = invstd[l]!
        let g = p.values + gamma[l], dg = p.grads + gamma[l], dbt = p.grads + beta[l]
        var sumD = [Double](repeating: 0, count: o), sumDX = [Double](repeating: 0, count: o)
        for r in 0..<rows {
            for j in 0..<o {
                let dy = Double(d[r * o + j])
                sumD[j] += dy
                sumDX[j] += dy * Double(xh[r * o + j])
            }
        }
        if !accumulate { dg.update(repeating: 0, count: o); dbt.update(repeating: 0, count: o) }
        for j in 0..<o { dg[j] += T(sumDX[j]); dbt[j] += T(sumD[j]) }
        // dz = γ·invstd/B · (B·dy − Σdy − x̂·Σ(dy·x̂))
        let n = Double(rows)
        for r in 0..<rows {
            for j in 0..<o {
                let i = r * o + j
                let v = n * Double(d[i]) - sumD[j] - Double(xh[i]) * sumDX[j]
                d[i] = T(Double(g[j]) * Double(inv[j]) / n * v)
            }
        }
    }

    /// Forward-mode derivative after an evaluation-mode `forward`: for tangents `t` of the input
    /// (rows × inputs), the directional derivative of the output (rows × outputs), written into
    /// the gradient buffers (so it must not overlap a backward pass).
    public func jvp(_ t: UnsafePointer<T>, rows: Int, parameters p: ParameterSet<T>, layers: Int? = nil) -> UnsafeMutablePointer<T> {
        let count = layers ?? specs.count
        var x = t
        for (l, s) in specs.prefix(count).enumerated() {
            let o = s.outputs, d = grad[l]
            T.gemm(false, false, rows, o, s.inputs, 1, x, s.inputs, p.values + w[l], o, 0, d, o)
            if s.batchNorm {
                let g = p.values + gamma[l], inv = invstd[l]!
                for r in 0..<rows { for j in 0..<o { d[r * o + j] *= g[j] * inv[j] } }
            }
            let f = s.activation
            if f != .identity { let a = act[l]; for i in 0..<(rows * o) { d[i] *= f.derivative(output: a[i]) } }
            x = UnsafePointer(d)
        }
        return grad[count - 1]
    }
}
