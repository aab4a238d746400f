import LatentModels

/// The result of comparing a network's analytic gradient with central differences.
struct GradientSweep {
    /// The largest relative disagreement, and which parameter it was.
    var worst = 0.0
    var worstName = ""
    /// Per tensor name, the largest |numeric derivative| (does this tensor reach the loss at all?).
    var largestNumeric: [String: Double] = [:]
}

/// Central differences (h = 1e-5) on every parameter against the gradient that
/// `loss(true)` accumulates into the zeroed `parameters.grads`; `loss(false)` only evaluates.
/// The relative error is |numeric − analytic| / max(1e-3, |numeric| + |analytic|).
func finiteDifferenceSweep(_ parameters: ParameterSet<Double>, loss: (_ backward: Bool) -> Double) -> GradientSweep {
    parameters.zeroGrads()
    _ = loss(true)
    let analytic = Array(UnsafeBufferPointer(start: parameters.grads, count: parameters.count))
    let h = 1e-5
    var sweep = GradientSweep()
    for t in parameters.tensors {
        for i in 0..<t.count {
            let p = t.offset + i
            let keep = parameters.values[p]
            parameters.values[p] = keep + h
            let up = loss(false)
            parameters.values[p] = keep - h
            let down = loss(false)
            parameters.values[p] = keep
            let numeric = (up - down) / (2 * h)
            let err = abs(numeric - analytic[p]) / max(1e-3, abs(numeric) + abs(analytic[p]))
            if err > sweep.worst { sweep.worst = err; sweep.worstName = "\(t.name)[\(i)] analytic \(analytic[p]) numeric \(numeric)" }
            sweep.largestNumeric[t.name] = max(sweep.largestNumeric[t.name] ?? 0, abs(numeric))
        }
    }
    return sweep
}
