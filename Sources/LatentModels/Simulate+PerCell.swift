import Dispatch
import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// The per-cell sampler: atlas-size simulations (1.3 M cells × 28 k genes = 36 G entries, 93 %
// zeros) cannot afford a Gamma and a Poisson draw per entry. The count of cell c and gene g is
// NB(mean λ, dispersion θ), P(0) = (1 + λ/θ)^-θ. One uniform u decides zero or not: since
// P(count > 0) ≤ λ (Markov), u ≥ λ is a zero without any transcendental function, which is most
// entries; otherwise u < 1 - P(0) is the exact test. A non-zero count is drawn by walking the
// NB's CDF from 1 (pmf(k+1) = pmf(k) · (k+θ)/(k+1) · λ/(λ+θ)) with a second uniform, so the
// draw is exact and costs O(count). Each cell has its own random stream, so cells can be drawn
// on any number of threads and in chunks of any size with the same result.

extension Simulate.Stream {
    mutating func nextPerCell(_ n: Int, threads: Int) -> SparseMatrix {
        let start = cell, end = min(cells, cell + n)
        let g = genes
        let base = rng.stream(0xC0_0A75)
        let parts = max(1, min(threads, (end - start + 63) / 64))
        var pieces = [(indptr: [Int], indices: [Int32], values: [Float])](repeating: ([0], [], []), count: parts)
        let me = self
        // Per gene: baseline share and θ; genes whose mean moves with the cell (programs, batches).
        let share = mu.map { $0 / muSum }
        let moving = batchPlan != nil ? Array(0..<g) : (0..<g).filter { !membership[$0].isEmpty }
        pieces.withUnsafeMutableBufferPointer { out in
            DispatchQueue.concurrentPerform(iterations: parts) { t in
                let lo = start + (end - start) * t / parts, hi = start + (end - start) * (t + 1) / parts
                var indptr = [0], indices = [Int32](), values = [Float]()
                let expect = Int(Double(hi - lo) * Double(g) * 0.08)
                indices.reserveCapacity(expect)
                values.reserveCapacity(expect)
                var lambda = [Double](repeating: 0, count: g)
                me.theta.withUnsafeBufferPointer { theta in
                    share.withUnsafeBufferPointer { share in
                        for c in lo..<hi {
                            var r = base.stream(UInt64(c))
                            let scale = me.library[c]
                            lambda.withUnsafeMutableBufferPointer { lam in
                                for j in 0..<g { lam[j] = scale * share[j] }
                                for j in moving { lam[j] *= exp(me.logShift(cell: c, gene: j)) }
                            }
                            lambda.withUnsafeBufferPointer { lam in
                                for j in 0..<g {
                                    let l = lam[j]
                                    let u = r.uniform()
                                    if u >= l { continue }
                                    let th = theta[j]
                                    let p0 = exp(-th * log1p(l / th))
                                    if u >= 1 - p0 { continue }
                                    indices.append(Int32(j))
                                    values.append(Float(Simulate.Stream.positiveNB(l, th, p0: p0, &r)))
                                }
                            }
                            indptr.append(values.count)
                        }
                    }
                }
                out[t] = (indptr, indices, values)
            }
        }
        cell = end
        var indptr = [0], indices = [Int32](), values = [Float]()
        indices.reserveCapacity(pieces.reduce(0) { $0 + $1.indices.count })
        values.reserveCapacity(indices.capacity)
        for p in pieces {
            let off = indptr.last!
            for i in 1..<p.indptr.count { indptr.append(off + p.indptr[i]) }
            indices += p.indices
            values += p.values
        }
        return SparseMatrix(rows: end - start, cols: g, indptr: indptr, indices: indices, values: values)
    }

    /// The log-fold shift of gene j's mean in cell c: its programs' effects and its batch.
    @inline(__always) func logShift(cell c: Int, gene j: Int) -> Double {
        var shift = 0.0
        for k in membership[j] { shift += effect[k] * factors[k][c] }
        if let b = batchPlan { shift += b.logShift(cell: c, gene: j) }
        return shift
    }

    /// A draw of NB(mean λ, dispersion θ) given that it is positive; `p0` = P(0).
    static func positiveNB(_ lam: Double, _ th: Double, p0: Double, _ r: inout SeededRNG) -> Int {
        if p0 < 1e-250 || lam > 1e6 {
            // P(0) too small to walk the CDF from 0 in Doubles: Gamma–Poisson until positive.
            while true {
                let k = r.poisson(r.gamma(shape: th, scale: lam / th))
                if k > 0 { return k }
            }
        }
        let target = p0 + r.uniform() * (1 - p0)
        let ratio = lam / (lam + th)
        var pmf = p0, cum = p0, k = 0
        while cum < target {
            k += 1
            pmf *= (Double(k - 1) + th) / Double(k) * ratio
            cum += pmf
            // Rounding can leave cum a hair below a target near 1: stop once the tail is negligible.
            if pmf < 1e-18 * cum && Double(k) > lam { break }
        }
        return max(1, k)
    }
}
