import CKernels
import LatentCore

extension VAENetwork {
    /// `reconstruction`'s NB/ZINB loss for Float networks, through the vectorised C kernel
    /// (`lk_nb_row_f32`: its own Double exp, log, lgamma and digamma, eight lanes at a time).
    /// The Double network keeps the Swift loop in `reconstruction`, which the finite-difference
    /// tests check; NBKernelTests check this path against it. Blocks, partials and their order
    /// are those of the Swift loop: the same numbers for any thread count.
    func nbReconstructionKernel(target: UnsafePointer<T>, library: UnsafePointer<T>, rows: Int, scale: T,
                                backward: Bool, groups: UnsafePointer<Int>?) -> Double {
        precondition(T.self == Float.self, "the NB kernel is Float only")
        func f(_ p: UnsafePointer<T>) -> UnsafePointer<Float> { UnsafeRawPointer(p).assumingMemoryBound(to: Float.self) }
        func fm(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> { UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self) }
        let g = genes, zi = config.likelihood == .zinb
        let width = zi ? 2 * g : g
        let y = f(decoder.output), dy = fm(decoder.outputGradient), x = f(target), lib = f(library)
        let lt0 = f(parameters.values + logTheta), dt0 = parameters.grads + logTheta
        let nGroups = groups.map { gp in (0..<rows).reduce(0) { max($0, gp[$1]) } + 1 } ?? 1
        let n = nGroups * g, blockRows = Self.lossBlockRows
        let nBlocks = (rows + blockRows - 1) / blockRows
        // One buffer kept across steps (a fresh 0.7 MB each step came from mmap, page faults and
        // all): θ, log Γ(θ), ψ(θ) once per group and gene (not once per cell), then per block its
        // loss, its dispersion-gradient partials and the kernel's scratch.
        let buffer = nbScratch.buffer(3 * n + nBlocks * (1 + n + 8 * g), of: Double.self)
        let table = buffer, partial = buffer + 3 * n, dtPart = partial + nBlocks, scratch = dtPart + nBlocks * n
        lk_nb_dispersion_f32(lt0, n, table, table + n, table + 2 * n)
        let s = Double(scale)
        Runtime.parallelFor(nBlocks, threads: threads) { blk in
            if backward { (dtPart + blk * n).update(repeating: 0, count: n) }
            var total = 0.0
            for r in (blk * blockRows)..<min(rows, (blk + 1) * blockRows) {
                let group = groups.map { $0[r] * g } ?? 0
                let row = y + r * width, drow = dy + r * width
                let pi: UnsafePointer<Float>? = zi ? row + g : nil
                let dRow: UnsafeMutablePointer<Float>? = backward ? drow : nil
                let dPi: UnsafeMutablePointer<Float>? = backward && zi ? drow + g : nil
                let dt: UnsafeMutablePointer<Double>? = backward ? dtPart + (blk * n + group) : nil
                let theta: UnsafePointer<Double> = UnsafePointer(table + group)
                let lgt: UnsafePointer<Double> = UnsafePointer(table + (n + group))
                let dgt: UnsafePointer<Double> = UnsafePointer(table + (2 * n + group))
                let work: UnsafeMutablePointer<Double> = scratch + blk * 8 * g
                total += lk_nb_row_f32(row, pi, x + r * g, g, lt0 + group, theta, lgt, dgt, Double(lib[r]), s,
                                       dRow, dPi, dt, work)
            }
            partial[blk] = total
        }
        var total = 0.0
        for blk in 0..<nBlocks { total += partial[blk] }
        if backward {
            for blk in 0..<nBlocks {
                let part = dtPart + blk * n
                for k in 0..<n where part[k] != 0 { dt0[k] += T(part[k]) }
            }
        }
        return total / Double(rows)
    }
}
