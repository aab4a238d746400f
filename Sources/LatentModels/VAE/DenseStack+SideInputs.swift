import LatentCore

/// Side inputs (extension point 1): a layer that also reads a dense covariate matrix `c`
/// (rows × sideInputs, the same `c` for every layer of the stack that has side inputs) computes
/// x·W + c·Wc + b. This is a Linear over the concatenation [x | c] without building it: the
/// input may be a wide sparse expression batch, and a second small gemm costs rows·C·outputs
/// where a concatenated copy would cost a gather of the whole batch. `c` is data, not a
/// parameter: no gradient flows into it, only into Wc.
extension DenseStack {
    /// Adds layer `l`'s side weight to the parameter set ("<prefix>.<l>.side_weight", C × outputs),
    /// or returns -1 when the layer has none (no tensor, no draw from `rng`: a stack without side
    /// inputs is initialised exactly as before they existed).
    func addSideWeight(_ l: Int, _ s: LayerSpec, bound: Double, parameters p: ParameterSet<T>, rng: inout SeededRNG) -> Int {
        guard s.sideInputs > 0 else { return -1 }
        return p.add("\(prefix).\(l).side_weight", shape: [s.sideInputs, s.outputs], bound: bound, rng: &rng)
    }

    /// z += c·Wc for layer `l` (z already holds x·W + b).
    func sideForward(_ l: Int, rows: Int, into z: UnsafeMutablePointer<T>, parameters p: ParameterSet<T>) {
        let s = specs[l]
        guard let c = lastSide else { preconditionFailure("\(prefix).\(l) has \(s.sideInputs) side inputs but forward got none") }
        T.gemm(false, false, rows, s.outputs, s.sideInputs, 1, c, s.sideInputs, p.values + wc[l], s.outputs, 1, z, s.outputs)
    }

    /// dWc (+)= cᵀ·d, d the gradient of layer `l`'s linear output.
    func sideBackward(_ l: Int, rows: Int, gradient d: UnsafePointer<T>, parameters p: ParameterSet<T>, accumulate: Bool) {
        let s = specs[l]
        guard let c = lastSide else { preconditionFailure("backward of side inputs without a side forward") }
        T.gemm(true, false, s.sideInputs, s.outputs, rows, 1, c, s.sideInputs, d, s.outputs, accumulate ? 1 : 0, p.grads + wc[l], s.outputs)
    }

    /// The side-input weight of layer `l` (nil when the layer has none).
    public func sideWeight(_ l: Int) -> Int? { wc[l] >= 0 ? wc[l] : nil }
}
