import CBLAS
import LatentCore

/// Which Gram matrix an eigensolver works on: the g × g gene covariance XcᵀXc (tall data,
/// n ≥ g: the usual case after HVG selection) or the n × n cell Gram XcXcᵀ (wide data: bulk
/// samples × all genes). Both have the same non-zero eigenvalues; the smaller is cheaper.
enum GramSide: Sendable {
    case genes, cells
}

extension CenteredMatrix {
    /// Rows of X densified per block for the sparse Gram: 1,024 × g Float32 (8 MB at g = 2,000).
    static let gramBlockRows = 1024

    /// The centred Gram on `side`, full symmetric m × m Float32 (row- and column-major alike).
    ///
    /// Dense X: one ssyrk over all of X (BLAS level 3, one triangle: n·m² flops, as close to the
    /// machine's sgemm peak as anything), then the rank-one/two centring correction in Double.
    /// CSR X: blocks of rows are densified and centred explicitly (so no correction and no
    /// cancellation), never more than one or two blocks at a time.
    func gram(_ side: GramSide) -> ColumnMatrix {
        switch (side, X) {
        case (.genes, .dense(let d)): return denseGeneGram(d)
        case (.cells, .dense(let d)): return denseCellGram(d)
        case (.genes, .sparse(let s)): return sparseGeneGram(s)
        case (.cells, .sparse(let s)): return sparseCellGram(s)
        }
    }

    /// Completes a row-major lower triangle into the full symmetric matrix, first subtracting
    /// a[i]·b[j] + a[j]·b[i] − c from entry (i, j) in Double when `a` is given (the centring
    /// corrections); in 64 × 64 tiles so that the transposed writes stay in cache.
    static func symmetrize(_ m: Int, _ values: inout [Float], a: [Double]? = nil, b: [Double]? = nil, c: Double = 0) {
        let tile = 64
        let a = a ?? [], b = b ?? a
        let correct = !a.isEmpty
        values.withUnsafeMutableBufferPointer { pc in
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    var i0 = 0
                    while i0 < m {
                        let i1 = min(m, i0 + tile)
                        var j0 = 0
                        while j0 < i1 {
                            let j1 = min(m, j0 + tile)
                            for i in i0..<i1 {
                                let upper = min(j1, i + 1)
                                if correct {
                                    let ai = pa[i], bi = pb[i]
                                    for j in j0..<upper {
                                        let v = Float(Double(pc[i * m + j]) - ai * pb[j] - pa[j] * bi + c)
                                        pc[i * m + j] = v
                                        pc[j * m + i] = v
                                    }
                                } else {
                                    for j in j0..<upper { pc[j * m + i] = pc[i * m + j] }
                                }
                            }
                            j0 = j1
                        }
                        i0 = i1
                    }
                }
            }
        }
    }

    private func denseGeneGram(_ d: Matrix) -> ColumnMatrix {
        var c = [Float](repeating: 0, count: g * g)
        d.values.withUnsafeBufferPointer { px in
            c.withUnsafeMutableBufferPointer { pc in
                // Row-major lower triangle of XᵀX: C[i·g + j] for j ≤ i.
                cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(n), 1,
                            px.baseAddress, Int32(g), 0, pc.baseAddress, Int32(g))
            }
        }
        if center {
            // XᵀX − n·μμᵀ, written as a·bᵀ + b·aᵀ with a = (n/2)·μ, b = μ.
            Self.symmetrize(g, &c, a: shift.map { $0 * Double(n) / 2 }, b: shift)
        } else {
            Self.symmetrize(g, &c)
        }
        return ColumnMatrix(rows: g, cols: g, values: c)
    }

    private func denseCellGram(_ d: Matrix) -> ColumnMatrix {
        var c = [Float](repeating: 0, count: n * n)
        d.values.withUnsafeBufferPointer { px in
            c.withUnsafeMutableBufferPointer { pc in
                cblas_ssyrk(CblasRowMajor, CblasLower, CblasNoTrans, Int32(n), Int32(g), 1,
                            px.baseAddress, Int32(g), 0, pc.baseAddress, Int32(n))
            }
        }
        // XcXcᵀ = XXᵀ − a1ᵀ − 1aᵀ + (μᵀμ)11ᵀ with a = Xμ, all in Double.
        var a = [Double](repeating: 0, count: n)
        var mm = 0.0
        if center {
            d.values.withUnsafeBufferPointer { px in
                for i in 0..<n {
                    var s = 0.0
                    for j in 0..<g { s += Double(px[i * g + j]) * shift[j] }
                    a[i] = s
                }
            }
            mm = shift.reduce(0) { $0 + $1 * $1 }
        }
        Self.symmetrize(n, &c, a: a, b: [Double](repeating: 1, count: n), c: mm)
        return ColumnMatrix(rows: n, cols: n, values: c)
    }

    /// Rows `rows` of CSR X as a dense, centred row-major block.
    private func centredBlock(_ s: SparseMatrix, _ rows: Range<Int>) -> [Float] {
        var b = [Float](repeating: 0, count: rows.count * g)
        let mu = shift.map { Float($0) }
        b.withUnsafeMutableBufferPointer { pb in
            guard let base = pb.baseAddress else { return }
            for (r, i) in rows.enumerated() {
                let row = base + r * g
                for j in 0..<g { row[j] = -mu[j] }
                for p in s.indptr[i]..<s.indptr[i + 1] { row[Int(s.indices[p])] += s.values[p] }
            }
        }
        return b
    }

    private func sparseGeneGram(_ s: SparseMatrix) -> ColumnMatrix {
        var c = [Float](repeating: 0, count: g * g)
        var start = 0
        while start < n {
            let rows = start..<min(n, start + Self.gramBlockRows)
            let b = centredBlock(s, rows)
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(rows.count), 1,
                                pb.baseAddress, Int32(g), start == 0 ? 0 : 1, pc.baseAddress, Int32(g))
                }
            }
            start = rows.upperBound
        }
        Self.symmetrize(g, &c)
        return ColumnMatrix(rows: g, cols: g, values: c)
    }

    private func sparseCellGram(_ s: SparseMatrix) -> ColumnMatrix {
        // Pairs of centred row blocks: K[a, b] = A·Bᵀ for b ≤ a (blocks of 512 rows × g).
        let bs = 512
        var out = ColumnMatrix(rows: n, cols: n)
        var a0 = 0
        while a0 < n {
            let ra = a0..<min(n, a0 + bs)
            let blockA = centredBlock(s, ra)
            var b0 = 0
            while b0 <= a0 {
                let rb = b0..<min(n, b0 + bs)
                let blockB = b0 == a0 ? blockA : centredBlock(s, rb)
                var prod = [Float](repeating: 0, count: ra.count * rb.count)
                blockA.withUnsafeBufferPointer { pa in
                    blockB.withUnsafeBufferPointer { pb in
                        prod.withUnsafeMutableBufferPointer { pp in
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(ra.count), Int32(rb.count), Int32(g), 1,
                                        pa.baseAddress, Int32(g), pb.baseAddress, Int32(g), 0, pp.baseAddress, Int32(rb.count))
                        }
                    }
                }
                for (x, i) in ra.enumerated() {
                    for (y, j) in rb.enumerated() {
                        out.values[j * n + i] = prod[x * rb.count + y]
                        out.values[i * n + j] = prod[x * rb.count + y]
                    }
                }
                b0 += bs
            }
            a0 += bs
        }
        return out
    }
}
