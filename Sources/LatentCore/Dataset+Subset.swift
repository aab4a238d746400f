extension MatrixData {
    /// The rows `rows` and columns `cols` (in the given order), same storage kind.
    /// Sparse stays sparse: columns are remapped through a lookup table, never densified.
    public func subset(rows: [Int]? = nil, cols: [Int]? = nil) -> MatrixData {
        switch self {
        case .dense(let m): return .dense(m.subset(rows: rows, cols: cols))
        case .sparse(let s): return .sparse(s.subset(rows: rows, cols: cols))
        }
    }
}

extension Matrix {
    public func subset(rows: [Int]? = nil, cols: [Int]? = nil) -> Matrix {
        let r = rows ?? Array(0..<self.rows)
        if let c = cols {
            var out = [Float](repeating: 0, count: r.count * c.count)
            values.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    for (i, ri) in r.enumerated() {
                        let base = ri * self.cols
                        for (j, cj) in c.enumerated() { dst[i * c.count + j] = src[base + cj] }
                    }
                }
            }
            return Matrix(rows: r.count, cols: c.count, values: out)
        }
        var out = [Float]()
        out.reserveCapacity(r.count * self.cols)
        values.withUnsafeBufferPointer { src in
            for ri in r { out.append(contentsOf: src[(ri * self.cols)..<((ri + 1) * self.cols)]) }
        }
        return Matrix(rows: r.count, cols: self.cols, values: out)
    }
}

extension SparseMatrix {
    public func subset(rows: [Int]? = nil, cols: [Int]? = nil) -> SparseMatrix {
        let r = rows ?? Array(0..<self.rows)
        // newIndex[j] = position of old column j in the output, or -1 when dropped.
        var newIndex: [Int32]? = nil
        if let c = cols {
            var map = [Int32](repeating: -1, count: self.cols)
            for (k, j) in c.enumerated() { map[j] = Int32(k) }
            newIndex = map
        }
        var indptr = [Int](repeating: 0, count: r.count + 1)
        var outIdx = [Int32](), outVal = [Float]()
        var count = 0
        for ri in r { count += rowLength(ri) }
        outIdx.reserveCapacity(count)
        outVal.reserveCapacity(count)
        let sortedCols = cols.map { zip($0, $0.dropFirst()).allSatisfy { $0 < $1 } } ?? true
        for (i, ri) in r.enumerated() {
            let lo = self.indptr[ri], hi = self.indptr[ri + 1]
            if let map = newIndex {
                let start = outIdx.count
                for p in lo..<hi {
                    let k = map[Int(indices[p])]
                    if k >= 0 { outIdx.append(k); outVal.append(values[p]) }
                }
                if !sortedCols {
                    // Keep column indices sorted within a row, as CSR consumers expect.
                    let order = (start..<outIdx.count).sorted { outIdx[$0] < outIdx[$1] }
                    let idx = order.map { outIdx[$0] }, val = order.map { outVal[$0] }
                    outIdx.replaceSubrange(start..<outIdx.count, with: idx)
                    outVal.replaceSubrange(start..<outVal.count, with: val)
                }
            } else {
                outIdx.append(contentsOf: indices[lo..<hi])
                outVal.append(contentsOf: values[lo..<hi])
            }
            indptr[i + 1] = outIdx.count
        }
        return SparseMatrix(rows: r.count, cols: cols?.count ?? self.cols, indptr: indptr, indices: outIdx, values: outVal)
    }

    private func rowLength(_ row: Int) -> Int { indptr[row + 1] - indptr[row] }
}

extension Dataset {
    /// Observations `obs` and variables `vars` of X, layers, obsm, varm and the annotations.
    public func subset(obs rows: [Int]? = nil, vars cols: [Int]? = nil) -> Dataset {
        var out = Dataset(X: X.subset(rows: rows, cols: cols),
                          obs: rows.map { obs.subset($0) } ?? obs,
                          var: cols.map { self.var.subset($0) } ?? self.var)
        for k in layers.keys { out.layers[k] = layers[k]!.subset(rows: rows, cols: cols) }
        for k in obsm.keys { out.obsm[k] = rows == nil ? obsm[k]! : obsm[k]!.subset(rows: rows) }
        for k in varm.keys { out.varm[k] = cols == nil ? varm[k]! : varm[k]!.subset(rows: cols) }
        out.uns = uns
        return out
    }
}
