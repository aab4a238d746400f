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
