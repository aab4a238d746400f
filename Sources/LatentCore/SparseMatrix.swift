/// A compressed sparse row (CSR) Float32 matrix: row i's non-zeros are
/// `values[indptr[i]..<indptr[i+1]]` at columns `indices[...]`.
///
/// Column indices are Int32 (as anndata writes them), row pointers are Int so that
/// matrices with more than 2³¹ non-zeros still work.
public struct SparseMatrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var indptr: [Int]
    public var indices: [Int32]
    public var values: [Float]

    public init(rows: Int, cols: Int, indptr: [Int], indices: [Int32], values: [Float]) {
        self.rows = rows
        self.cols = cols
        self.indptr = indptr
        self.indices = indices
        self.values = values
    }

    public var nnz: Int { values.count }

    /// Checks the invariants a CSR matrix read from a file must hold; returns what is wrong.
    public func validationError() -> String? {
        if indptr.count != rows + 1 { return "indptr has \(indptr.count) entries, expected \(rows + 1)" }
        if indices.count != values.count { return "indices has \(indices.count) entries but data has \(values.count)" }
        if indptr.first != 0 { return "indptr does not start at 0" }
        if indptr.last != values.count { return "indptr ends at \(indptr.last ?? -1) but there are \(values.count) non-zeros" }
        for i in 0..<rows where indptr[i] > indptr[i + 1] { return "indptr decreases at row \(i)" }
        let c = Int32(truncatingIfNeeded: cols)
        if let bad = indices.firstIndex(where: { $0 < 0 || $0 >= c }) {
            return "column index \(indices[bad]) out of range 0..<\(cols) at position \(bad)"
        }
        return nil
    }

    /// Builds a CSR matrix from compressed sparse column arrays (a transpose in two passes).
    public static func fromCSC(rows: Int, cols: Int, colptr: [Int], rowIndices: [Int32], values: [Float]) -> SparseMatrix {
        let csrT = SparseMatrix(rows: cols, cols: rows, indptr: colptr, indices: rowIndices, values: values)
        return csrT.transposed()
    }

    /// The transpose, still CSR (i.e. the CSC form of `self`). Column order within rows stays sorted.
    public func transposed() -> SparseMatrix {
        var counts = [Int](repeating: 0, count: cols + 1)
        for j in indices { counts[Int(j) + 1] += 1 }
        for j in 0..<cols { counts[j + 1] += counts[j] }
        var next = counts
        var outIdx = [Int32](repeating: 0, count: nnz)
        var outVal = [Float](repeating: 0, count: nnz)
        indices.withUnsafeBufferPointer { ind in
            values.withUnsafeBufferPointer { val in
                outIdx.withUnsafeMutableBufferPointer { oi in
                    outVal.withUnsafeMutableBufferPointer { ov in
                        next.withUnsafeMutableBufferPointer { nx in
                            for i in 0..<rows {
                                for p in indptr[i]..<indptr[i + 1] {
                                    let j = Int(ind[p])
                                    let q = nx[j]
                                    oi[q] = Int32(truncatingIfNeeded: i)
                                    ov[q] = val[p]
                                    nx[j] = q + 1
                                }
                            }
                        }
                    }
                }
            }
        }
        return SparseMatrix(rows: cols, cols: rows, indptr: counts, indices: outIdx, values: outVal)
    }

    /// Dense copy. Call only on matrices known to be small: densifying a cell atlas is the
    /// accident this type exists to prevent.
    public func densified() -> Matrix {
        var out = Matrix(rows: rows, cols: cols)
        for i in 0..<rows {
            for p in indptr[i]..<indptr[i + 1] { out.values[i * cols + Int(indices[p])] = values[p] }
        }
        return out
    }

    /// CSR from a dense matrix, keeping exact non-zeros.
    public init(dense m: Matrix) {
        var indptr = [Int](repeating: 0, count: m.rows + 1)
        var indices: [Int32] = []
        var values: [Float] = []
        for i in 0..<m.rows {
            for j in 0..<m.cols {
                let v = m.values[i * m.cols + j]
                if v != 0 { indices.append(Int32(j)); values.append(v) }
            }
            indptr[i + 1] = values.count
        }
        self.init(rows: m.rows, cols: m.cols, indptr: indptr, indices: indices, values: values)
    }
}

/// X, a layer or an embedding: dense or sparse, always Float32 in memory.
public enum MatrixData: Equatable, Sendable {
    case dense(Matrix)
    case sparse(SparseMatrix)

    public var rows: Int {
        switch self { case .dense(let m): m.rows; case .sparse(let s): s.rows }
    }
    public var cols: Int {
        switch self { case .dense(let m): m.cols; case .sparse(let s): s.cols }
    }
    /// Stored entries: all of them when dense, the non-zeros when sparse.
    public var storedCount: Int {
        switch self { case .dense(let m): m.values.count; case .sparse(let s): s.nnz }
    }
    public var isSparse: Bool { if case .sparse = self { true } else { false } }

    /// The stored values, in storage order (zeros of a sparse matrix excluded).
    public var storedValues: [Float] {
        switch self { case .dense(let m): m.values; case .sparse(let s): s.values }
    }

    /// Number of entries that are not zero (counts explicit zeros of a sparse matrix out).
    public var nonzeroCount: Int {
        var n = 0
        switch self {
        case .dense(let m): for v in m.values where v != 0 { n += 1 }
        case .sparse(let s): for v in s.values where v != 0 { n += 1 }
        }
        return n
    }
}
