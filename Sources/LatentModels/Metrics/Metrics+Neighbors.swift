import CBLAS
import LatentCore

extension Metrics {
    /// Cells as the rows of a dense n×d row-major matrix in Double: the integration metrics work
    /// on embeddings of tens of columns, where Double costs little and keeps the Gram-trick
    /// distances of near neighbours accurate.
    public struct Points: Sendable, Equatable {
        public var n: Int
        public var d: Int
        public var values: [Double]

        public init(n: Int, d: Int, values: [Double]) {
            precondition(values.count == n * d)
            self.n = n
            self.d = d
            self.values = values
        }

        /// From one array per latent (the layout `Metrics.codes` returns).
        public init(columns: [[Double]]) {
            let n = columns.first?.count ?? 0
            var v = [Double](repeating: 0, count: n * columns.count)
            for (k, c) in columns.enumerated() { for i in 0..<n { v[i * columns.count + k] = c[i] } }
            self.init(n: n, d: columns.count, values: v)
        }

        /// The rows in `rows`, in that order.
        public func subset(_ rows: [Int]) -> Points {
            var v = [Double](repeating: 0, count: rows.count * d)
            for (r, i) in rows.enumerated() { for k in 0..<d { v[r * d + k] = values[i * d + k] } }
            return Points(n: rows.count, d: d, values: v)
        }

        /// The columns in `cols`, in that order.
        public func columns(_ cols: [Int]) -> Points {
            var v = [Double](repeating: 0, count: n * cols.count)
            for i in 0..<n { for (c, k) in cols.enumerated() { v[i * cols.count + c] = values[i * d + k] } }
            return Points(n: n, d: cols.count, values: v)
        }

        var squaredNorms: [Double] {
            (0..<n).map { i in var s = 0.0; for k in 0..<d { let x = values[i * d + k]; s += x * x }; return s }
        }
    }

    /// Rows of the n×n Euclidean distance matrix, `block` query rows at a time: one dgemm per block
    /// (‖a‖² + ‖b‖² − 2a·b), so the O(n²d) work runs in BLAS level 3 and memory stays block×n.
    /// `body` gets the first row of the block and the block's distances (row-major block×n).
    static func forEachDistanceBlock(_ x: Points, from y: Points? = nil, block: Int = 256,
                                     _ body: (Int, UnsafeBufferPointer<Double>, Int) -> Void) {
        let same = y == nil
        let y = y ?? x
        precondition(x.d == y.d)
        let nx = x.squaredNorms, ny = y.squaredNorms
        var buf = [Double](repeating: 0, count: min(block, max(x.n, 1)) * y.n)
        var start = 0
        while start < x.n {
            let rows = min(block, x.n - start)
            x.values.withUnsafeBufferPointer { px in
                y.values.withUnsafeBufferPointer { py in
                    buf.withUnsafeMutableBufferPointer { pc in
                        if x.d > 0 {
                            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(y.n), Int32(x.d), -2,
                                        px.baseAddress! + start * x.d, Int32(x.d), py.baseAddress, Int32(y.d), 0,
                                        pc.baseAddress, Int32(y.n))
                        } else {
                            for i in 0..<(rows * y.n) { pc[i] = 0 }
                        }
                        for r in 0..<rows {
                            let a = nx[start + r]
                            for j in 0..<y.n { pc[r * y.n + j] = (max(0, pc[r * y.n + j] + a + ny[j])).squareRoot() }
                        }
                        // a cell's distance to itself is 0, not the rounding residue of the Gram trick
                        if same {
                            for r in 0..<rows { pc[r * y.n + start + r] = 0 }
                        }
                    }
                }
            }
            buf.withUnsafeBufferPointer { body(start, UnsafeBufferPointer(rebasing: $0[0..<(rows * y.n)]), rows) }
            start += rows
        }
    }

    /// The k nearest neighbours of every cell, itself included (first), exact and deterministic:
    /// ties in distance go to the lower index. O(n²d) for the distances (BLAS) and O(n·k) per
    /// cell for the selection; exact search is right for the sizes metrics run on (it is what
    /// scib-metrics' approximate pynndescent search approximates).
    public struct Neighbors: Sendable, Equatable {
        public var n: Int
        public var k: Int
        /// n×k row-major, nearest first.
        public var indices: [Int]
        public var distances: [Double]

        /// The first `k` neighbours of each cell (the k-NN graph for a smaller k).
        public func prefix(_ k: Int) -> Neighbors {
            precondition(k <= self.k)
            var idx = [Int](), dist = [Double]()
            idx.reserveCapacity(n * k); dist.reserveCapacity(n * k)
            for i in 0..<n {
                idx += indices[(i * self.k)..<(i * self.k + k)]
                dist += distances[(i * self.k)..<(i * self.k + k)]
            }
            return Neighbors(n: n, k: k, indices: idx, distances: dist)
        }
    }

    public static func exactNeighbors(_ x: Points, k: Int) -> Neighbors {
        let k = min(k, x.n)
        var idx = [Int](repeating: 0, count: x.n * k)
        var dist = [Double](repeating: 0, count: x.n * k)
        var candD = [Double](repeating: 0, count: k), candI = [Int](repeating: 0, count: k)
        forEachDistanceBlock(x) { start, d, rows in
            for r in 0..<rows {
                let i = start + r
                // self first, then a sorted insertion list of the k − 1 nearest others
                candI[0] = i; candD[0] = 0
                var filled = 1
                for j in 0..<x.n where j != i {
                    let v = d[r * x.n + j]
                    if filled == k {
                        if v >= candD[k - 1] { continue }   // equal: the lower index (seen first) stays
                        filled -= 1
                    }
                    var p = filled
                    while p > 1 && candD[p - 1] > v { candD[p] = candD[p - 1]; candI[p] = candI[p - 1]; p -= 1 }
                    candD[p] = v; candI[p] = j
                    filled += 1
                }
                for c in 0..<k { idx[i * k + c] = candI[c]; dist[i * k + c] = candD[c] }
            }
        }
        return Neighbors(n: x.n, k: k, indices: idx, distances: dist)
    }
}
