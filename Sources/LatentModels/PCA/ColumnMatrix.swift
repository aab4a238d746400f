import CBLAS
import LatentCore

/// A dense Float32 matrix stored column-major (LAPACK's layout): element (i, j) lives at
/// `values[j * rows + i]`.
///
/// The eigensolvers keep their bases here (genes × a few hundred columns): a block of columns is
/// contiguous, so appending a Krylov block is an append, and a column-major g × l block is the
/// same memory as the row-major l × g Qᵀ that sgemm takes for X·Q. Rayleigh quotients and their
/// eigenvectors, where accuracy is decided, are kept in Double by the callers.
struct ColumnMatrix {
    var rows: Int
    var cols: Int
    var values: [Float]

    init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        values = [Float](repeating: 0, count: rows * cols)
    }

    init(rows: Int, cols: Int, values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    subscript(i: Int, j: Int) -> Float {
        get { values[j * rows + i] }
        set { values[j * rows + i] = newValue }
    }

    /// op(A)·op(B) by sgemm.
    static func product(_ a: ColumnMatrix, transposeA: Bool = false, _ b: ColumnMatrix, transposeB: Bool = false) -> ColumnMatrix {
        let m = transposeA ? a.cols : a.rows
        let k = transposeA ? a.rows : a.cols
        let n = transposeB ? b.rows : b.cols
        var c = ColumnMatrix(rows: m, cols: n)
        if m == 0 || n == 0 || k == 0 { return c }
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasColMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                                Int32(m), Int32(n), Int32(k), 1, pa.baseAddress, Int32(a.rows),
                                pb.baseAddress, Int32(b.rows), 0, pc.baseAddress, Int32(m))
                }
            }
        }
        return c
    }

    /// self ← self − A·B (sgemm with β = 1).
    mutating func subtractProduct(_ a: ColumnMatrix, _ b: ColumnMatrix) {
        if rows == 0 || cols == 0 || a.cols == 0 { return }
        let (m, n) = (rows, cols)
        a.values.withUnsafeBufferPointer { pa in
            b.values.withUnsafeBufferPointer { pb in
                values.withUnsafeMutableBufferPointer { pc in
                    cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(a.cols), -1,
                                pa.baseAddress, Int32(a.rows), pb.baseAddress, Int32(b.rows), 1, pc.baseAddress, Int32(m))
                }
            }
        }
    }

    /// Rows `range` as a new matrix.
    func rows(_ range: Range<Int>) -> ColumnMatrix {
        var out = ColumnMatrix(rows: range.count, cols: cols)
        for j in 0..<cols { for (r, i) in range.enumerated() { out.values[j * range.count + r] = values[j * rows + i] } }
        return out
    }

    mutating func appendColumns(_ m: ColumnMatrix) {
        values.append(contentsOf: m.values)
        cols += m.cols
    }

    /// Euclidean norm of column j, accumulated in Double.
    func columnNorm(_ j: Int) -> Double {
        var s = 0.0
        for i in 0..<rows { let v = Double(values[j * rows + i]); s += v * v }
        return s.squareRoot()
    }

    /// Row-major copy (rows × cols), the layout `Matrix` uses.
    func rowMajor() -> Matrix { Matrix(rows: cols, cols: rows, values: values).transposed() }

    /// The column-major form of a row-major matrix.
    init(_ m: Matrix) {
        self.init(rows: m.rows, cols: m.cols, values: m.transposed().values)
    }
}
