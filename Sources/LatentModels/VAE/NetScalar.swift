import CBLAS
import CKernels
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The element type of the network: Float for training, Double for gradient checks.
///
/// Everything in the VAE is generic over it so that the finite-difference tests run the very code
/// that trains, in Float64 where differences of 1e-6 are meaningful. Hot element-wise work has
/// buffer-level requirements that Float implements with the vectorised C kernels.
public protocol NetScalar: BinaryFloatingPoint, Sendable where Self.RawSignificand: FixedWidthInteger {
    /// C = alpha·op(A)·op(B) + beta·C, row-major (cblas_sgemm / cblas_dgemm).
    static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Self,
                     _ a: UnsafePointer<Self>, _ lda: Int, _ b: UnsafePointer<Self>, _ ldb: Int,
                     _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    static func exp(_ x: Self) -> Self
    static func log(_ x: Self) -> Self
    static func log1p(_ x: Self) -> Self
    /// out[i] = 1/(1 + e^{-x[i]}).
    static func sigmoid(_ x: UnsafePointer<Self>, _ out: UnsafeMutablePointer<Self>, _ n: Int)
    /// Σ softplus(y) − t·y; grad = scale·(σ(y) − t).
    static func bernoulliLoss(_ y: UnsafePointer<Self>, _ t: UnsafePointer<Self>, _ grad: UnsafeMutablePointer<Self>, _ n: Int, _ scale: Self) -> Double
    /// x[i] = e^{x[i]}.
    static func expInPlace(_ x: UnsafeMutablePointer<Self>, _ n: Int)
    /// One Adam step (see `Adam.update`); leaves `g` zeroed.
    static func adam(_ w: UnsafeMutablePointer<Self>, _ g: UnsafeMutablePointer<Self>, _ m: UnsafeMutablePointer<Self>, _ v: UnsafeMutablePointer<Self>,
                     _ n: Int, beta1: Self, beta2: Self, stepSize: Self, invSqrtBc2: Self, epsilon: Self, gradScale: Self)
    /// Σ ½(y − t)²; grad = scale·(y − t).
    static func gaussianLoss(_ y: UnsafePointer<Self>, _ t: UnsafePointer<Self>, _ grad: UnsafeMutablePointer<Self>, _ n: Int, _ scale: Self) -> Double
    /// One sample's per-latent TC densities (lk_tc_densities_f32 says what).
    static func tcDensities(z: UnsafePointer<Self>, mu: UnsafePointer<Self>, iv: UnsafePointer<Self>, hl: UnsafePointer<Self>,
                            w: UnsafePointer<Self>, m: Int, k: Int, e: UnsafeMutablePointer<Self>,
                            maxK: UnsafeMutablePointer<Self>, sumK: UnsafeMutablePointer<Self>)
    /// Their backward pass (lk_tc_backward_f32).
    static func tcBackward(z: UnsafePointer<Self>, mu: UnsafePointer<Self>, iv: UnsafePointer<Self>, qa: UnsafePointer<Self>,
                           rk: UnsafePointer<Self>, e: UnsafePointer<Self>, m: Int, k: Int,
                           grad: UnsafeMutablePointer<Self>, dz: UnsafeMutablePointer<Self>)
}

extension NetScalar {
    @inlinable public static func softplus(_ x: Self) -> Self {
        x > 0 ? x + log1p(exp(-x)) : log1p(exp(x))
    }
    @inlinable public static func sigmoid(_ x: Self) -> Self {
        x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x))
    }
}

extension NetScalar {
    public static func expInPlace(_ x: UnsafeMutablePointer<Self>, _ n: Int) {
        for i in 0..<n { x[i] = exp(x[i]) }
    }

    public static func adam(_ w: UnsafeMutablePointer<Self>, _ g: UnsafeMutablePointer<Self>, _ m: UnsafeMutablePointer<Self>, _ v: UnsafeMutablePointer<Self>,
                            _ n: Int, beta1 b1: Self, beta2 b2: Self, stepSize: Self, invSqrtBc2: Self, epsilon: Self, gradScale: Self) {
        let c1 = 1 - b1, c2 = 1 - b2
        for i in 0..<n {
            let gi = g[i] * gradScale
            g[i] = 0
            let mi = b1 * m[i] + c1 * gi
            let vi = b2 * v[i] + c2 * gi * gi
            m[i] = mi
            v[i] = vi
            w[i] -= stepSize * mi / (vi.squareRoot() * invSqrtBc2 + epsilon)
        }
    }
}

extension Float: NetScalar {
    public static func tcDensities(z: UnsafePointer<Float>, mu: UnsafePointer<Float>, iv: UnsafePointer<Float>, hl: UnsafePointer<Float>,
                                   w: UnsafePointer<Float>, m: Int, k: Int, e: UnsafeMutablePointer<Float>,
                                   maxK: UnsafeMutablePointer<Float>, sumK: UnsafeMutablePointer<Float>) {
        lk_tc_densities_f32(z, mu, iv, hl, w, m, k, e, maxK, sumK)
    }
    public static func tcBackward(z: UnsafePointer<Float>, mu: UnsafePointer<Float>, iv: UnsafePointer<Float>, qa: UnsafePointer<Float>,
                                  rk: UnsafePointer<Float>, e: UnsafePointer<Float>, m: Int, k: Int,
                                  grad: UnsafeMutablePointer<Float>, dz: UnsafeMutablePointer<Float>) {
        lk_tc_backward_f32(z, mu, iv, qa, rk, e, m, k, grad, dz)
    }
    public static func expInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) { lk_exp_f32(x, x, n) }

    public static func adam(_ w: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>, _ v: UnsafeMutablePointer<Float>,
                            _ n: Int, beta1: Float, beta2: Float, stepSize: Float, invSqrtBc2: Float, epsilon: Float, gradScale: Float) {
        lk_adam_f32(w, g, m, v, n, beta1, beta2, stepSize, invSqrtBc2, epsilon, gradScale)
    }
    @inlinable public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                                       _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func exp(_ x: Float) -> Float { expf(x) }
    @inlinable public static func log(_ x: Float) -> Float { logf(x) }
    @inlinable public static func log1p(_ x: Float) -> Float { log1pf(x) }
    public static func sigmoid(_ x: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ n: Int) {
        lk_sigmoid_f32(x, out, n)
    }
    public static func bernoulliLoss(_ y: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ grad: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Float) -> Double {
        lk_bce_logits_f32(y, t, grad, n, scale)
    }
    public static func gaussianLoss(_ y: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ grad: UnsafeMutablePointer<Float>, _ n: Int, _ scale: Float) -> Double {
        lk_half_sq_f32(y, t, grad, n, scale)
    }
}

extension Double: NetScalar {
    public static func tcDensities(z: UnsafePointer<Double>, mu: UnsafePointer<Double>, iv: UnsafePointer<Double>, hl: UnsafePointer<Double>,
                                   w: UnsafePointer<Double>, m: Int, k: Int, e: UnsafeMutablePointer<Double>,
                                   maxK: UnsafeMutablePointer<Double>, sumK: UnsafeMutablePointer<Double>) {
        // The Swift twin of lk_tc_densities_f32, run by the gradient checks.
        for c in 0..<k { maxK[c] = -greatestFiniteMagnitude; sumK[c] = 0 }
        for j in 0..<m {
            for c in 0..<k {
                let d = z[c] - mu[j * k + c]
                let v = hl[j * k + c] - d * d * iv[j * k + c] / 2 + w[j]
                e[j * k + c] = v
                maxK[c] = Swift.max(maxK[c], v)
            }
        }
        for j in 0..<m { for c in 0..<k { e[j * k + c] -= maxK[c] } }
        expInPlace(e, m * k)
        for j in 0..<m { for c in 0..<k { sumK[c] += e[j * k + c] } }
    }
    public static func tcBackward(z: UnsafePointer<Double>, mu: UnsafePointer<Double>, iv: UnsafePointer<Double>, qa: UnsafePointer<Double>,
                                  rk: UnsafePointer<Double>, e: UnsafePointer<Double>, m: Int, k: Int,
                                  grad: UnsafeMutablePointer<Double>, dz: UnsafeMutablePointer<Double>) {
        for j in 0..<m {
            let dmu = grad + j * 2 * k, dlv = dmu + k
            for c in 0..<k {
                let coef = qa[j] + rk[c] * e[j * k + c]
                let d = z[c] - mu[j * k + c]
                let u = d * iv[j * k + c]
                let cu = coef * u
                dz[c] -= cu
                dmu[c] += cu
                dlv[c] += coef * (u * d - 1) / 2
            }
        }
    }
    @inlinable public static func gemm(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Double,
                                       _ a: UnsafePointer<Double>, _ lda: Int, _ b: UnsafePointer<Double>, _ ldb: Int,
                                       _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int) {
        if m == 0 || n == 0 { return }
        cblas_dgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func exp(_ x: Double) -> Double { Glibc.exp(x) }
    @inlinable public static func log(_ x: Double) -> Double { Glibc.log(x) }
    @inlinable public static func log1p(_ x: Double) -> Double { Glibc.log1p(x) }
    public static func sigmoid(_ x: UnsafePointer<Double>, _ out: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { out[i] = sigmoid(x[i]) }
    }
    public static func bernoulliLoss(_ y: UnsafePointer<Double>, _ t: UnsafePointer<Double>, _ grad: UnsafeMutablePointer<Double>, _ n: Int, _ scale: Double) -> Double {
        var total = 0.0
        for i in 0..<n {
            total += softplus(y[i]) - t[i] * y[i]
            grad[i] = scale * (sigmoid(y[i]) - t[i])
        }
        return total
    }
    public static func gaussianLoss(_ y: UnsafePointer<Double>, _ t: UnsafePointer<Double>, _ grad: UnsafeMutablePointer<Double>, _ n: Int, _ scale: Double) -> Double {
        var total = 0.0
        for i in 0..<n {
            let d = y[i] - t[i]
            total += 0.5 * d * d
            grad[i] = scale * d
        }
        return total
    }
}

/// lgamma and digamma in Double (the NB likelihood needs both; Float would lose the small
/// differences lgamma(x + θ) − lgamma(θ) at large θ).
public enum SpecialFunctions {
    /// log Γ(x) through lgamma_r: the loss runs on several threads, and lgamma writes the
    /// process-wide `signgam`.
    @inlinable public static func lgamma(_ x: Double) -> Double {
        var sign: Int32 = 0
        return Glibc.lgamma_r(x, &sign)
    }

    /// ψ(x) for x > 0: the recurrence ψ(x) = ψ(x + 1) − 1/x up to x ≥ 10, then the asymptotic
    /// series ln x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ), accurate to ~1e-15 there.
    public static func digamma(_ x: Double) -> Double {
        var x = x, r = 0.0
        while x < 10 { r -= 1 / x; x += 1 }
        let f = 1 / (x * x)
        let series = f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252 - f * (1.0 / 240 - f * (1.0 / 132)))))
        return r + Glibc.log(x) - 0.5 / x - series
    }
}

/// softplus and the logistic function in Double, written so neither overflows for large |x|.
@inline(__always) func softplus(_ x: Double) -> Double { x > 0 ? x + _log1p(_exp(-x)) : _log1p(_exp(x)) }
@inline(__always) func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + _exp(-x)) : _exp(x) / (1 + _exp(x)) }
