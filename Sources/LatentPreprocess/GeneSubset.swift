import LatentCore

/// Keeps a subset of genes (columns) of X and every layer, for the gene filter and the HVG cut.
///
/// Why not `Dataset.subset(vars:)`: that copies each matrix on one thread, entry by entry. Here a
/// sparse matrix is cut in parallel over row blocks (count the kept entries per row, then fill),
/// and matrices that share one CSR structure — X normalised from `layers["counts"]` keeps the
/// counts' indptr and indices — are cut together and share the result's structure too, so the
/// indices are read once and stored once. The values are exactly those `subset(vars:)` keeps.
enum GeneSubset {
    static func apply(_ ds: Dataset, _ cols: [Int], threads: Int) -> Dataset {
        let ascending = zip(cols, cols.dropFirst()).allSatisfy { $0 < $1 }
        guard ascending, case .sparse(let x) = ds.X else { return ds.subset(vars: cols) }
        // Matrices that share X's structure are cut with it; any other layer on its own.
        var shared: [(key: String?, values: [Float])] = [(nil, x.values)]
        var separate: [String] = []
        for k in ds.layers.keys {
            if case .sparse(let s)? = ds.layers[k], sameStructure(s, x) { shared.append((k, s.values)) } else { separate.append(k) }
        }
        // Obs, var, varm and uns through the general path, on an X with no stored entries.
        var shell = ds
        shell.X = .sparse(SparseMatrix(rows: ds.nObs, cols: ds.nVars, indptr: [Int](repeating: 0, count: ds.nObs + 1),
                                       indices: [], values: []))
        shell.layers = MatrixDict()
        var out = shell.subset(vars: cols)
        let cut = columns(x, values: shared.map(\.values), keep: cols, threads: threads)
        out.X = .sparse(cut[0])
        for k in ds.layers.keys {
            if let i = shared.firstIndex(where: { $0.key == k }) {
                out.layers[k] = .sparse(cut[i])
            } else if separate.contains(k) {
                out.layers[k] = ds.layers[k]!.subset(cols: cols)
            }
        }
        return out
    }

    /// The same indptr and indices storage (not merely equal values: that would cost a pass).
    static func sameStructure(_ a: SparseMatrix, _ b: SparseMatrix) -> Bool {
        guard a.rows == b.rows, a.cols == b.cols, a.indices.count == b.indices.count else { return false }
        let pa = a.indptr.withUnsafeBufferPointer { $0.baseAddress }, pb = b.indptr.withUnsafeBufferPointer { $0.baseAddress }
        let ia = a.indices.withUnsafeBufferPointer { $0.baseAddress }, ib = b.indices.withUnsafeBufferPointer { $0.baseAddress }
        return pa == pb && ia == ib
    }

    /// When no stored entry lies in a dropped column (the gene filter's usual case: it drops genes
    /// with no counts), every row keeps all its entries: the indptr and values are the input's
    /// (shared, not copied) and only the column numbers change, in one parallel pass. Nil as soon
    /// as an entry of a dropped column turns up.
    static func renumbered(_ s: SparseMatrix, values: [[Float]], map: [Int32], cols: Int, threads: Int) -> [SparseMatrix]? {
        let nnz = s.indices.count
        let parts = max(1, min(64, nnz / (1 << 16)))
        var dropped = [Bool](repeating: false, count: parts)
        let indices = [Int32](unsafeUninitializedCapacity: nnz) { out, count in
            map.withUnsafeBufferPointer { map in
            s.indices.withUnsafeBufferPointer { ind in
            dropped.withUnsafeMutableBufferPointer { dropped in
                Runtime.parallelFor(parts, threads: threads) { b in
                    let lo = nnz * b / parts, hi = nnz * (b + 1) / parts
                    var any: Int32 = 0
                    for p in lo..<hi {
                        let k = map[Int(ind[p])]
                        out[p] = k
                        any |= k
                    }
                    dropped[b] = any < 0
                }
            }}}
            count = nnz
        }
        if dropped.contains(true) { return nil }
        return values.map { SparseMatrix(rows: s.rows, cols: cols, indptr: s.indptr, indices: indices, values: $0) }
    }

    /// Columns `keep` (ascending) of the CSR structure `s` with each of `values` on it.
    ///
    /// One pass: each row block compacts its kept entries into its own buffers (every entry is
    /// written, the cursor advances only past kept ones: no branch to mispredict), then the blocks'
    /// results — a fraction of X — are copied into place.
    static func columns(_ s: SparseMatrix, values: [[Float]], keep: [Int], threads: Int) -> [SparseMatrix] {
        let n = s.rows, nv = values.count
        var map = [Int32](repeating: -1, count: s.cols)
        for (k, j) in keep.enumerated() { map[j] = Int32(k) }
        if let same = renumbered(s, values: values, map: map, cols: keep.count, threads: threads) { return same }
        let nBlocks = max(1, min(64, n / 256))
        var rowLength = [Int](repeating: 0, count: n)
        var parts = [(indices: [Int32], values: [[Float]])](repeating: ([], []), count: nBlocks)
        let sources = values
        map.withUnsafeBufferPointer { map in
        s.indices.withUnsafeBufferPointer { ind in
        s.indptr.withUnsafeBufferPointer { ip in
        rowLength.withUnsafeMutableBufferPointer { rowLength in
        parts.withUnsafeMutableBufferPointer { parts in
            Runtime.parallelFor(nBlocks, threads: threads) { b in
                let lo = n * b / nBlocks, hi = n * (b + 1) / nBlocks
                let capacity = ip[hi] - ip[lo] + 1
                let oi = UnsafeMutableBufferPointer<Int32>.allocate(capacity: capacity)
                let ov = UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity * nv)
                defer { oi.deallocate(); ov.deallocate() }
                var q = 0
                for i in lo..<hi {
                    let start = q
                    for p in ip[i]..<ip[i + 1] {
                        let k = map[Int(ind[p])]
                        oi[q] = k
                        q += k >= 0 ? 1 : 0
                    }
                    rowLength[i] = q - start
                }
                let kept = q
                // The values, per matrix, by the same rule.
                for m in 0..<nv {
                    sources[m].withUnsafeBufferPointer { src in
                        var q = m * capacity
                        for p in ip[lo]..<ip[hi] {
                            ov[q] = src[p]
                            q += map[Int(ind[p])] >= 0 ? 1 : 0
                        }
                    }
                }
                parts[b] = (Array(oi[0..<kept]), (0..<nv).map { m in Array(ov[(m * capacity)..<(m * capacity + kept)]) })
            }
        }}}}}
        var indptr = [Int](repeating: 0, count: n + 1)
        for i in 0..<n { indptr[i + 1] = indptr[i] + rowLength[i] }
        var newIndices = [Int32]()
        newIndices.reserveCapacity(indptr[n])
        for part in parts { newIndices.append(contentsOf: part.indices) }
        return (0..<nv).map { m in
            var v = [Float]()
            v.reserveCapacity(indptr[n])
            for part in parts { v.append(contentsOf: part.values[m]) }
            return SparseMatrix(rows: n, cols: keep.count, indptr: indptr, indices: newIndices, values: v)
        }
    }
}
