import LatentCore
import Dispatch
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Every trainable tensor of a network in one flat buffer, with its gradient beside it.
///
/// One buffer means one Adam loop over all parameters (vectorised, no per-tensor dispatch), one
/// gradient norm for clipping, and one place to save and load. Tensors are named
/// ("encoder.0.weight") and addressed by offset. A class over raw memory rather than a struct of
/// arrays: layers read weights while writing gradients of the same set in one step, which Swift's
/// exclusivity rules would otherwise forbid (or check on every access).
public final class ParameterSet<T: NetScalar> {
    public struct Tensor: Sendable, Equatable {
        public var name: String
        public var offset: Int
        public var shape: [Int]
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var tensors: [Tensor] = []
    public private(set) var count = 0
    private var capacity = 0
    public private(set) var values = UnsafeMutablePointer<T>.allocate(capacity: 1)
    public private(set) var grads = UnsafeMutablePointer<T>.allocate(capacity: 1)

    public init() {}

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    private func grow(to n: Int) {
        guard n > capacity else { return }
        let cap = max(n, 2 * capacity)
        let nv = UnsafeMutablePointer<T>.allocate(capacity: cap), ng = UnsafeMutablePointer<T>.allocate(capacity: cap)
        nv.update(from: values, count: count)
        ng.update(from: grads, count: count)
        values.deallocate(); grads.deallocate()
        values = nv; grads = ng
        capacity = cap
    }

    /// Adds a tensor initialised uniformly in ±bound (PyTorch's nn.Linear default draws weights
    /// and biases in ±1/√fan_in), returning its offset.
    @discardableResult
    public func add(_ name: String, shape: [Int], bound: Double, rng: inout SeededRNG) -> Int {
        let offset = append(name, shape: shape)
        for i in 0..<tensors.last!.count { values[offset + i] = T((2 * rng.uniform() - 1) * bound) }
        return offset
    }

    /// Adds a tensor filled with `value`.
    @discardableResult
    public func add(_ name: String, shape: [Int], value: T) -> Int {
        let offset = append(name, shape: shape)
        for i in 0..<tensors.last!.count { values[offset + i] = value }
        return offset
    }

    private func append(_ name: String, shape: [Int]) -> Int {
        let n = shape.reduce(1, *)
        let offset = count
        grow(to: count + n)
        tensors.append(Tensor(name: name, offset: offset, shape: shape))
        (grads + offset).initialize(repeating: 0, count: n)
        count += n
        return offset
    }

    /// True while every gradient is known to be 0: after `zeroGrads`, after `Adam.update` (which
    /// zeroes each gradient as it consumes it) and at creation. A training step then lets its
    /// weight-gradient products accumulate into the zeros (gemm beta = 1) instead of overwriting
    /// (beta = 0, for which OpenBLAS first clears C in a pass of its own) — the same values. Any
    /// code that writes `grads` outside a step must clear the flag (`gradsWritten()`).
    public internal(set) var gradsAreZero = true

    public func zeroGrads() {
        grads.update(repeating: 0, count: count)
        gradsAreZero = true
    }

    /// Marks the gradients as no longer all zero.
    public func gradsWritten() { gradsAreZero = false }

    /// √Σ g² (Double accumulation).
    public func gradNorm() -> Double {
        var s = 0.0
        for i in 0..<count { let g = Double(grads[i]); s += g * g }
        return s.squareRoot()
    }

    public func tensor(named name: String) -> Tensor? { tensors.first { $0.name == name } }

    public func array(_ t: Tensor) -> [T] { Array(UnsafeBufferPointer(start: values + t.offset, count: t.count)) }

    public func set(_ t: Tensor, _ v: [T]) {
        precondition(v.count == t.count)
        for i in 0..<v.count { values[t.offset + i] = v[i] }
    }

    /// All values, as an array (saving, comparing runs).
    public var allValues: [T] { Array(UnsafeBufferPointer(start: values, count: count)) }
}

/// Adam (Kingma & Ba) with bias correction, as torch.optim.Adam without weight decay.
public struct Adam<T: NetScalar> {
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public private(set) var step = 0
    /// Threads for the update: large sets are split into contiguous blocks (the update is
    /// element-wise, so the result does not depend on the split), small ones run on one.
    public var threads = 1
    private var m: [T]
    /// Second moments (read by the proximal steps of program decoders, which take Adam's metric).
    public private(set) var v: [T]

    public init(count: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        m = [T](repeating: 0, count: count)
        v = [T](repeating: 0, count: count)
    }

    /// One update of the parameters from their gradients at learning rate `lr`, the gradient
    /// first multiplied by `gradScale` (clipping by global norm). The gradients are consumed: left
    /// zeroed, ready for the next step to accumulate into.
    public mutating func update(_ p: ParameterSet<T>, lr: Double, gradScale: Double = 1) {
        step += 1
        let bc1 = 1 - pow(beta1, Double(step)), bc2 = 1 - pow(beta2, Double(step))
        // torch: p −= lr/bc1 · m / (√v/√bc2 + ε)
        let n = p.count
        // One pass over four arrays of n values is memory-bound: below ~256 K values a second
        // thread's hand-off costs more than it saves. Above, the set is cut into several blocks
        // per thread, taken in turn by whichever thread is free: a helper that wakes late (or
        // shares a core with OpenBLAS's spinning worker) then costs one block, not half the set.
        let parts = threads > 1 && n >= 1 << 18 ? min(threads * 8, n >> 15) : 1
        let (b1, b2, ss, ib, e, gs) = (T(beta1), T(beta2), T(lr / bc1), T(1 / bc2.squareRoot()), T(epsilon), T(gradScale))
        let w = p.values, g = p.grads
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                let mp = m.baseAddress!, vp = v.baseAddress!
                func block(_ part: Int) {
                    // Block edges on 64-byte lines, so that the threads never share one.
                    let lo = (n * part / parts) & ~15, hi = part == parts - 1 ? n : (n * (part + 1) / parts) & ~15
                    T.adam(w + lo, g + lo, mp + lo, vp + lo, hi - lo, beta1: b1, beta2: b2, stepSize: ss, invSqrtBc2: ib, epsilon: e, gradScale: gs)
                }
                if parts == 1 { block(0) } else { DispatchQueue.concurrentPerform(iterations: parts, execute: block) }
            }
        }
        p.gradsAreZero = true
    }
}
