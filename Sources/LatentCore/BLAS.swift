import CBLAS

extension Matrix {
    /// C = op(A)·op(B) with cblas_sgemm (row-major). Shapes are checked by the caller's types.
    public static func multiply(_ a: Matrix, transposeA: Bool = false, _ b: Matrix, transposeB: Bool = false) -> Matrix {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let kb = transposeB ? b.cols : b.rows
        let n = transposeB ? b.rows : b.cols
        precondition(k == kb, "multiply: inner dimensions \(k) and \(kb) differ")
        var c = Matrix(rows: m, cols: n)
        if m == 0 || n == 0 { return c }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasRowMajor,
                                transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1,
                                pa.baseAddress, Int32(a.cols),
                                pb.baseAddress, Int32(b.cols),
                                0, pc.baseAddress, Int32(n))
                }
            }
        }
        return c
    }
}
