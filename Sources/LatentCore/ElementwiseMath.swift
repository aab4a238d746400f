import CKernels

/// Vectorised element-wise transforms of Float32 buffers, split over threads in fixed blocks
/// (so results never depend on scheduling: each element's value is computed the same way).
public enum ElementwiseMath {
    static let block = 1 << 16

    private static func blocks(_ n: Int, threads: Int, _ body: (Int, Int) -> Void) {
        let nb = (n + block - 1) / block
        Runtime.parallelFor(nb, threads: threads) { b in
            let lo = b * block
            body(lo, min(block, n - lo))
        }
    }

    /// x ← log(1 + x).
    public static func log1p(_ x: inout [Float], threads: Int = 1) {
        x.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            blocks(p.count, threads: threads) { lo, n in lk_log1p_f32(base + lo, n) }
        }
    }

    /// x ← log(1 + x) on a buffer, on the calling thread.
    public static func log1p(_ x: UnsafeMutableBufferPointer<Float>) {
        guard let base = x.baseAddress else { return }
        lk_log1p_f32(base, x.count)
    }

    /// x ← log2(1 + x).
    public static func log2p1(_ x: inout [Float], threads: Int = 1) {
        x.withUnsafeMutableBufferPointer { p in
            guard let base = p.baseAddress else { return }
            blocks(p.count, threads: threads) { lo, n in lk_log2p1_f32(base + lo, n) }
        }
    }

    /// exp(x) − 1, as a new array.
    public static func expm1(_ x: [Float], threads: Int = 1) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                blocks(src.count, threads: threads) { lo, n in lk_expm1_f32(s + lo, d + lo, n) }
            }
        }
        return out
    }
}
