import LatentCore

/// Per-cell and per-gene quality-control metrics, named as scanpy's `calculate_qc_metrics`
/// names them (with `qc_vars=["mt"]`, `percent_top=(50, 100, 200, 500)`), so notebooks that
/// read `obs["pct_counts_mt"]` keep working.
public enum QC {
    /// Mitochondrial genes: names starting `MT-` (human) or `mt-` (mouse), as scanpy tutorials mark them.
    public static func mitochondrialMask(_ names: [String]) -> [Bool] {
        names.map { $0.hasPrefix("MT-") || $0.hasPrefix("mt-") }
    }

    public struct CellMetrics: Sendable {
        public var nGenes: [Int]
        public var total: [Double]
        public var totalMito: [Double]
        /// pct_counts_in_top_N_genes for each N kept (N ≤ number of genes).
        public var topPercent: [(n: Int, pct: [Double])]

        public var pctMito: [Double] { zip(totalMito, total).map { $1 > 0 ? $0 / $1 * 100 : 0 } }
    }

    public static func cellMetrics(_ X: MatrixData, mito: [Bool], top: [Int] = [50, 100, 200, 500], threads: Int = 1) -> CellMetrics {
        QCPass(X, mito: mito, top: top, squares: false, threads: threads).cells
    }

    /// Writes the cell metrics into obs with scanpy's column names.
    public static func annotate(_ obs: inout DataFrame, _ m: CellMetrics) {
        obs.set("n_genes_by_counts", .int64(m.nGenes.map(Int64.init)))
        obs.set("log1p_n_genes_by_counts", .float64(m.nGenes.map { log1pD(Double($0)) }))
        obs.set("total_counts", .float64(m.total))
        obs.set("log1p_total_counts", .float64(m.total.map(log1pD)))
        for (n, p) in m.topPercent { obs.set("pct_counts_in_top_\(n)_genes", .float64(p)) }
        obs.set("total_counts_mt", .float64(m.totalMito))
        obs.set("log1p_total_counts_mt", .float64(m.totalMito.map(log1pD)))
        obs.set("pct_counts_mt", .float64(m.pctMito))
    }

    /// Writes per-gene metrics into var with scanpy's column names.
    public static func annotate(_ vars: inout DataFrame, _ s: GeneStats, nObs: Int, mito: [Bool]) {
        vars.set("mt", .bool(mito))
        vars.set("n_cells_by_counts", .int64(s.nonzero.map(Int64.init)))
        vars.set("mean_counts", .float64(s.mean))
        vars.set("log1p_mean_counts", .float64(s.mean.map(log1pD)))
        vars.set("pct_dropout_by_counts", .float64(s.nonzero.map { (1 - Double($0) / Double(max(nObs, 1))) * 100 }))
        vars.set("total_counts", .float64(s.total))
        vars.set("log1p_total_counts", .float64(s.total.map(log1pD)))
    }
}

/// Moves the `k` largest values to the front (in no order): Hoare-partition quickselect with a
/// median-of-three pivot, O(count) on average.
func selectLargest<T: Comparable>(_ a: UnsafeMutableBufferPointer<T>, _ k: Int) {
    var lo = 0, hi = a.count - 1
    guard k > 0 && k < a.count else { return }
    while lo < hi {
        let mid = (lo + hi) / 2
        // Median of three as pivot.
        if a[mid] > a[lo] { a.swapAt(mid, lo) }
        if a[hi] > a[lo] { a.swapAt(hi, lo) }
        if a[mid] < a[hi] { a.swapAt(mid, hi) }
        let pivot = a[hi]
        var i = lo, j = hi
        while i <= j {
            while a[i] > pivot { i += 1 }
            while a[j] < pivot { j -= 1 }
            if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
        }
        // Now a[lo...j] ≥ pivot ≥ a[i...hi].
        if k - 1 <= j { hi = j } else if k - 1 >= i { lo = i } else { return }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

@inline(__always) func log1pD(_ x: Double) -> Double { log1p(x) }
