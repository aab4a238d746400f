import CBLAS
import LatentCore

extension CenteredMatrix {
    /// Z = Xc·Q (n × l, row-major Float32) for a gene-space block Q (g × l, column-major).
    ///
    /// Dense X takes Q's memory as it is (column-major g × l = row-major Qᵀ, which sgemm reads
    /// transposed); CSR X wants Q's rows contiguous, so Q is transposed first (g × l: small).
    func times(_ q: ColumnMatrix) -> [Float] {
        let l = q.cols
        guard case .dense(let d) = X, n > 0, l > 0 else { return times(q.rowMajor().values, cols: l) }
        var z = [Float](repeating: 0, count: n * l)
        d.values.withUnsafeBufferPointer { px in
            q.values.withUnsafeBufferPointer { pq in
                z.withUnsafeMutableBufferPointer { pz in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(l), Int32(g), 1,
                                px.baseAddress, Int32(g), pq.baseAddress, Int32(g), 0, pz.baseAddress, Int32(l))
                }
            }
        }
        if center { subtractShift(&z, cols: l) { j, c in Double(q.values[c * g + j]) } }
        return z
    }

    /// z[i, :] −= μᵀQ, with μᵀQ accumulated in Double (`entry(j, c)` = Q[j, c]).
    private func subtractShift(_ z: inout [Float], cols l: Int, _ entry: (Int, Int) -> Double) {
        var muQ = [Double](repeating: 0, count: l)
        for c in 0..<l { var s = 0.0; for j in 0..<g { s += shift[j] * entry(j, c) }; muQ[c] = s }
        let row = muQ.map { Float($0) }
        z.withUnsafeMutableBufferPointer { pz in
            for i in 0..<n { for c in 0..<l { pz[i * l + c] -= row[c] } }
        }
    }

    /// Z = Xc·Q (n × l, row-major Float32) for Q row-major g × l Float32 (e.g. NMF's Hᵀ).
    ///
    /// Dense X: one sgemm. CSR X: each row's non-zeros add v·Q[j, :] (contiguous), rows split
    /// over threads. Then the rank-one centring 1(μᵀQ), μᵀQ accumulated in Double.
    func times(_ q: [Float], cols l: Int) -> [Float] {
        var z = [Float](repeating: 0, count: n * l)
        if n == 0 || l == 0 { return z }
        switch X {
        case .dense(let d):
            d.values.withUnsafeBufferPointer { px in
                q.withUnsafeBufferPointer { pq in
                    z.withUnsafeMutableBufferPointer { pz in
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(l), Int32(g), 1,
                                    px.baseAddress, Int32(g), pq.baseAddress, Int32(l), 0, pz.baseAddress, Int32(l))
                    }
                }
            }
        case .sparse(let s):
            let chunks = rowChunks(minimumRows: 64)
            s.indices.withUnsafeBufferPointer { ind in
                s.values.withUnsafeBufferPointer { val in
                    q.withUnsafeBufferPointer { pq in
                        z.withUnsafeMutableBufferPointer { pz in
                            Runtime.parallelFor(chunks.count, threads: chunks.count) { c in
                                guard let zb = pz.baseAddress, let qb = pq.baseAddress else { return }
                                for i in chunks[c] {
                                    let out = zb + i * l
                                    for p in s.indptr[i]..<s.indptr[i + 1] {
                                        let v = val[p], row = qb + Int(ind[p]) * l
                                        for c2 in 0..<l { out[c2] += v * row[c2] }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        if center { subtractShift(&z, cols: l) { j, c in Double(q[j * l + c]) } }
        return z
    }

    /// W = Xcᵀ·Z (g × l, column-major) for Z (n × l, row-major).
    ///
    /// Dense X: one sgemm computing Zᵀ·X, whose row-major l × g result is W column-major. CSR X:
    /// each worker scatters v·Z[i, :] into its own Double accumulator over a fixed row range, and
    /// the accumulators are summed in worker order (results repeat for a thread count). Then the
    /// centring μ(1ᵀZ), with the column sums of Z in Double.
    func transposeTimes(_ z: [Float], cols l: Int) -> ColumnMatrix {
        var w = ColumnMatrix(rows: g, cols: l)
        if n == 0 || l == 0 { return w }
        switch X {
        case .dense(let d):
            d.values.withUnsafeBufferPointer { px in
                z.withUnsafeBufferPointer { pz in
                    w.values.withUnsafeMutableBufferPointer { pw in
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(l), Int32(g), Int32(n), 1,
                                    pz.baseAddress, Int32(l), px.baseAddress, Int32(g), 0, pw.baseAddress, Int32(g))
                    }
                }
            }
        case .sparse(let s):
            let chunks = rowChunks(minimumRows: 256)
            var partial = [[Double]](repeating: [], count: chunks.count)
            s.indices.withUnsafeBufferPointer { ind in
                s.values.withUnsafeBufferPointer { val in
                    z.withUnsafeBufferPointer { pz in
                        partial.withUnsafeMutableBufferPointer { parts in
                            Runtime.parallelFor(chunks.count, threads: chunks.count) { c in
                                var acc = [Double](repeating: 0, count: g * l)     // row-major g × l
                                acc.withUnsafeMutableBufferPointer { pa in
                                    guard let zb = pz.baseAddress, let ab = pa.baseAddress else { return }
                                    for i in chunks[c] {
                                        let zi = zb + i * l
                                        for p in s.indptr[i]..<s.indptr[i + 1] {
                                            let v = Double(val[p]), out = ab + Int(ind[p]) * l
                                            for c2 in 0..<l { out[c2] += v * Double(zi[c2]) }
                                        }
                                    }
                                }
                                parts[c] = acc
                            }
                        }
                    }
                }
            }
            var total = partial[0]
            for part in partial.dropFirst() { for i in total.indices { total[i] += part[i] } }
            for j in 0..<g { for c in 0..<l { w.values[c * g + j] = Float(total[j * l + c]) } }
        }
        guard center else { return w }
        for c in 0..<l {
            var s = 0.0
            for i in 0..<n { s += Double(z[i * l + c]) }
            for j in 0..<g { w.values[c * g + j] -= Float(shift[j] * s) }
        }
        return w
    }

    /// Xc·V for loadings V (g × k): the PCA scores, n × k row-major.
    func scores(_ v: ColumnMatrix) -> Matrix {
        Matrix(rows: n, cols: v.cols, values: times(v))
    }
}
