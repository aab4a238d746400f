import CKernels

/// Hidden-layer non-linearities. Each derivative is written in terms of the activation's output,
/// so the backward pass needs only what the forward pass kept.
public enum Activation: String, Codable, Sendable, CaseIterable {
    case relu, elu, softplus
    /// LeakyReLU with slope 0.2 (the FactorVAE discriminator's).
    case leakyRelu = "leaky-relu"
    case identity

    @inlinable func apply<T: NetScalar>(_ x: T) -> T {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .elu: return x > 0 ? x : T.exp(x) - 1
        case .softplus: return T.softplus(x)
        case .leakyRelu: return x > 0 ? x : T(0.2) * x
        case .identity: return x
        }
    }

    /// f'(x) from y = f(x): relu 1[y > 0]; elu y + 1 below 0; softplus 1 − e^{−y} (= σ(x));
    /// leaky relu 0.2 below 0.
    @inlinable func derivative<T: NetScalar>(output y: T) -> T {
        switch self {
        case .relu: return y > 0 ? 1 : 0
        case .elu: return y > 0 ? 1 : y + 1
        case .softplus: return -expm1Approx(-y)
        case .leakyRelu: return y > 0 ? 1 : T(0.2)
        case .identity: return 1
        }
    }

    /// e^x − 1 without cancellation for small |x| (softplus outputs near 0 are common).
    @inlinable func expm1Approx<T: NetScalar>(_ x: T) -> T {
        if abs(x) < T(1e-4) { return x * (1 + x * (T(0.5) + x / 6)) }
        return T.exp(x) - 1
    }
}


extension Activation {
    /// The code of lk_bias_act_f32 / lk_act_backward_f32, nil where the function needs a
    /// transcendental (elu, softplus: their loops stay in Swift).
    var kernelCode: Int32? {
        switch self {
        case .identity: return 0
        case .relu: return 1
        case .leakyRelu: return 2
        case .elu, .softplus: return nil
        }
    }

    /// A dense layer's forward epilogue, in place over rows × o: z = f(z + b) (b nil: z = f(z)).
    /// One pass over the layer's output instead of a bias broadcast before the product and an
    /// activation pass after it. Float runs the vectorised C kernel for relu, leaky relu and
    /// identity; the loops below are its plain twin (Double, elu, softplus).
    func forward<T: NetScalar>(_ z: UnsafeMutablePointer<T>, bias: UnsafePointer<T>?, rows: Int, outputs o: Int) {
        if T.self == Float.self, let code = kernelCode {
            if bias == nil && code == 0 { return }
            lk_bias_act_f32(UnsafeMutableRawPointer(z).assumingMemoryBound(to: Float.self),
                            bias.map { UnsafeRawPointer($0).assumingMemoryBound(to: Float.self) }, rows, o, code)
            return
        }
        for r in 0..<rows {
            let zr = z + r * o
            if let bias { for j in 0..<o { zr[j] += bias[j] } }
            if self != .identity { for j in 0..<o { zr[j] = apply(zr[j]) } }
        }
    }

    /// The matching backward epilogue over rows × o: d *= mask (dropout, when given), d *= f'(y)
    /// from the layer's output y, then db (+)= Σ_rows d, the rows added in order (written over db
    /// when `accumulate` is false; skipped when db is nil). One pass over d instead of three.
    func backward<T: NetScalar>(_ d: UnsafeMutablePointer<T>, output y: UnsafePointer<T>, mask: UnsafePointer<T>?, rows: Int, outputs o: Int,
                                biasGradient db: UnsafeMutablePointer<T>?, accumulate: Bool) {
        if T.self == Float.self, let code = kernelCode {
            func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
            lk_act_backward_f32(UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self), f(y), mask.map(f), rows, o, code,
                                db.map { UnsafeMutableRawPointer($0).assumingMemoryBound(to: Float.self) }, accumulate ? 1 : 0)
            return
        }
        if let db, !accumulate { db.update(repeating: 0, count: o) }
        for r in 0..<rows {
            let dr = d + r * o, yr = y + r * o
            if let mask { for j in 0..<o { dr[j] *= mask[r * o + j] } }
            if self != .identity { for j in 0..<o { dr[j] *= derivative(output: yr[j]) } }
            if let db { for j in 0..<o { db[j] += dr[j] } }
        }
    }
}
