/// A dense Float32 matrix stored row-major: element (i, j) lives at `values[i * cols + j]`.
///
/// Row-major matches both h5ad's on-disk layout (C order) and cells-in-rows minibatches,
/// so a slice of consecutive cells is one contiguous block that BLAS takes as it is.
public struct Matrix: Equatable, Sendable {
    public var rows: Int
    public var cols: Int
    public var values: [Float]

    public init(rows: Int, cols: Int, values: [Float]) {
        precondition(values.count == rows * cols, "Matrix: \(values.count) values for \(rows)×\(cols)")
        self.rows = rows
        self.cols = cols
        self.values = values
    }

    public init(rows: Int, cols: Int, repeating value: Float = 0) {
        self.init(rows: rows, cols: cols, values: [Float](repeating: value, count: rows * cols))
    }

    @inlinable public subscript(i: Int, j: Int) -> Float {
        get { values[i * cols + j] }
        set { values[i * cols + j] = newValue }
    }

    /// The transpose, as a new row-major matrix (blocked so both sides stay in cache).
    public func transposed() -> Matrix {
        var out = [Float](repeating: 0, count: values.count)
        let block = 32
        values.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                var i0 = 0
                while i0 < rows {
                    let i1 = min(i0 + block, rows)
                    var j0 = 0
                    while j0 < cols {
                        let j1 = min(j0 + block, cols)
                        for i in i0..<i1 {
                            for j in j0..<j1 { dst[j * rows + i] = src[i * cols + j] }
                        }
                        j0 = j1
                    }
                    i0 = i1
                }
            }
        }
        return Matrix(rows: cols, cols: rows, values: out)
    }
}
