import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension HVG {
    /// One batch's statistics for the dispersion flavors (scanpy's `_highly_variable_genes_single_batch`).
    struct DispersionStats {
        var means: [Double]
        var dispersions: [Double]
        var norm: [Double]
        var hv: [Bool]
    }

    /// seurat's linear-scale data when X holds counts and `normalize_total` scales row i by
    /// target/total[i]: scanpy takes expm1 of the log1p it wrote, which is x·target/total[i] up to
    /// Float32 rounding. Summing x/total[i] (and its square) in Double from the counts, then scaling
    /// by target and target², gives those moments without the log round trip, and without knowing
    /// the target: a streamed run forms them in the pass that finds the totals (issue 16).
    struct Unlogged {
        /// Each row's total (the kept cells' totals over the kept genes), and its inverse.
        var totals: [Double]
        var inverseTotals: [Double]
        var target: Double

        init(totals: [Double], target: Double) {
            self.totals = totals
            inverseTotals = totals.map { 1 / $0 }
            self.target = target
        }

        /// The column sums of x/total over `rows` of `counts`, in the canonical blocks of `origin`.
        static func sums(_ counts: MatrixData, inverseTotals: [Double], rows: [Int]?, origin: [Int]?) -> BlockStats.Sums {
            BlockStats.columnSums(counts, rows: rows, blocks: BlockStats.blocks(rows: rows, origin: origin, n: counts.rows),
                                  squares: .scaled(inverseTotals), threads: GeneStats.threads)
        }

        /// Detection per column over `rows` as scanpy sees it on the normalised data: x/(total/target)
        /// in Float32 is 0 for values that underflow (FPKM tables hold values down to 1e-38), which
        /// the per-batch gene filter leaves out.
        func detected(_ counts: MatrixData, rows: [Int]) -> [Int] {
            var nz = [Int](repeating: 0, count: counts.cols)
            let t = target
            for i in rows {
                let a = Float(totals[i] / t)   // normalize_total's divisor
                switch counts {
                case .sparse(let s):
                    for p in s.indptr[i]..<s.indptr[i + 1] where s.values[p] / a != 0 { nz[Int(s.indices[p])] += 1 }
                case .dense(let m):
                    for j in 0..<m.cols where m.values[i * m.cols + j] / a != 0 { nz[j] += 1 }
                }
            }
            return nz
        }

        /// scanpy's mean and variance of the normalised values from the sums of x/total.
        func geneStats(_ s: BlockStats.Sums, rows n: Int) -> GeneStats {
            let t = target
            return GeneStats(rows: n, sum: s.sum.values.map { $0 * t }, squares: s.squares!.values.map { $0 * t * t },
                             nonzero: s.nonzero.values.map { Int($0) })
        }
    }

    static func dispersionBased(_ X: MatrixData, geneNames: [String], flavor: Flavor, nTop: Int,
                                batches: (codes: [Int32], count: Int)?, logBase: Double?, threads: Int,
                                origin: [Int]? = nil, rowCount: Int? = nil, givenSums: BlockStats.Sums? = nil,
                                mapOnly: ((BlockStats.Sums) -> Void)? = nil, unlogged: Unlogged? = nil) throws -> Result {
        var data = X
        let unlogged = flavor == .seurat ? unlogged : nil
        if flavor == .seurat && unlogged == nil && (givenSums == nil || batches != nil) {
            // Back to the linear scale: dispersion is computed on expm1 of natural-log data.
            let scale = logBase.map { Float(log($0)) }
            data = Normalize.mapStored(X) { v in
                if let s = scale { for i in v.indices { v[i] *= s } }
                v = ElementwiseMath.expm1(v, threads: threads)
            }
        }
        /// Statistics of the rows `rows` (nil: all) from sums over them.
        func stats(_ rows: [Int]?, given: BlockStats.Sums? = nil) -> (GeneStats, BlockStats.Sums) {
            let n = rows?.count ?? rowCount ?? data.rows
            if let u = unlogged {
                let s = given ?? Unlogged.sums(X, inverseTotals: u.inverseTotals, rows: rows, origin: origin)
                return (u.geneStats(s, rows: n), s)
            }
            let s = given ?? BlockStats.columnSums(data, rows: rows, blocks: BlockStats.blocks(rows: rows, origin: origin, n: data.rows),
                                                   squares: .float32, threads: GeneStats.threads)
            return (s.geneStats(rows: n), s)
        }
        let g = X.cols
        if batches == nil {
            let (all, sums) = stats(nil, given: givenSums)
            if let mapOnly { mapOnly(sums); return Result(flavor: flavor, highlyVariable: [], columns: []) }
            let s = try dispersionSingle(data, rows: nil, genes: Array(0..<g), flavor: flavor, nTop: nTop, stats: all)
            return Result(flavor: flavor, highlyVariable: s.hv, columns: [
                ("means", .float64(s.means)), ("dispersions", .float64(s.dispersions)),
                ("dispersions_norm", .float32(s.norm.map(Float.init))),
            ])
        }
        // Per batch on the genes expressed in it; absent genes count as zeros, as scanpy fills them,
        // then the per-batch statistics are averaged (NaN skipped, as pandas' mean does).
        let groups = batchRows(batches, n: X.rows)
        var acc = [[Double]](repeating: [Double](repeating: 0, count: g), count: 3)
        var cnt = [[Int]](repeating: [Int](repeating: 0, count: g), count: 3)
        var nBatches = [Int](repeating: 0, count: g)
        for rows in groups {
            var batch = stats(rows).0
            if let u = unlogged { batch.nonzero = u.detected(X, rows: rows) }
            let expressed = (0..<g).filter { batch.nonzero[$0] > 0 }
            let s = try dispersionSingle(data, rows: rows, genes: expressed, flavor: flavor, nTop: nTop, stats: batch)
            var value = [[Double]](repeating: [Double](repeating: 0, count: g), count: 3)
            for (k, j) in expressed.enumerated() {
                value[0][j] = s.means[k]; value[1][j] = s.dispersions[k]; value[2][j] = s.norm[k]
                if s.hv[k] { nBatches[j] += 1 }
            }
            for c in 0..<3 { for j in 0..<g where !value[c][j].isNaN { acc[c][j] += value[c][j]; cnt[c][j] += 1 } }
        }
        let avg = (0..<3).map { c in (0..<g).map { cnt[c][$0] > 0 ? acc[c][$0] / Double(cnt[c][$0]) : Double.nan } }
        let norm = avg[2]
        // scanpy groups by gene name (so ties keep name order), then stable-sorts by
        // (batches selected in, descending; mean normalised dispersion, descending, NaN last).
        let byName = (0..<g).sorted { codePointLess(geneNames[$0], geneNames[$1]) }
        let ranked = byName.enumerated().sorted { a, b in
            let (i, j) = (a.element, b.element)
            if nBatches[i] != nBatches[j] { return nBatches[i] > nBatches[j] }
            let (x, y) = (norm[i], norm[j])
            if x.isNaN != y.isNaN { return !x.isNaN }
            if !x.isNaN && x != y { return x > y }
            return a.offset < b.offset
        }.map(\.element)
        var hv = [Bool](repeating: false, count: g)
        for j in ranked.prefix(nTop) { hv[j] = true }
        return Result(flavor: flavor, highlyVariable: hv, columns: [
            ("means", .float64(avg[0])), ("dispersions", .float64(avg[1])),
            ("dispersions_norm", .float32(norm.map(Float.init))),
            ("highly_variable_nbatches", .int64(nBatches.map(Int64.init))),
            ("highly_variable_intersection", .bool(nBatches.map { $0 == groups.count })),
        ])
    }

    /// Single-batch dispersion statistics on the columns `genes` (rows `rows`, or all).
    static func dispersionSingle(_ data: MatrixData, rows: [Int]?, genes: [Int], flavor: Flavor, nTop: Int,
                                 stats precomputed: GeneStats? = nil) throws -> DispersionStats {
        let all = precomputed ?? GeneStats(data, rows: rows, method: .scanpy)
        var means = genes.map { all.mean[$0] }
        let vars = genes.map { all.variance[$0] }
        for k in means.indices where means[k] == 0 { means[k] = 1e-12 }
        var disp = zip(vars, means).map { $0 / $1 }
        if flavor == .seurat {
            disp = disp.map { $0 == 0 ? .nan : log($0) }
            means = means.map { log1p($0) }
        }
        let bin: [Int]
        switch flavor {
        case .seurat: bin = equalWidthBins(means, count: 20)
        default: bin = try percentileBins(means)
        }
        let nBins = (bin.max() ?? 0) + 1
        var avg = [Double](repeating: .nan, count: nBins), dev = [Double](repeating: .nan, count: nBins)
        var members = [[Double]](repeating: [], count: nBins)
        for (k, b) in bin.enumerated() where !disp[k].isNaN { members[b].append(disp[k]) }
        for b in 0..<nBins {
            let m = members[b]
            if flavor == .seurat {
                if !m.isEmpty { avg[b] = m.reduce(0, +) / Double(m.count) }
                if m.count > 1 {
                    let mu = avg[b]
                    dev[b] = (m.reduce(0) { $0 + ($1 - mu) * ($1 - mu) } / Double(m.count - 1)).squareRoot()
                }
                // A bin with a single gene: its normalised dispersion is set to 1 (scanpy's rule).
                if dev[b].isNaN { dev[b] = avg[b]; avg[b] = 0 }
            } else if !m.isEmpty {
                let med = median(m)!
                avg[b] = med
                dev[b] = median(m.map { abs($0 - med) / 0.6744897501960817 })!
            }
        }
        let norm = (0..<genes.count).map { (disp[$0] - avg[bin[$0]]) / dev[bin[$0]] }
        return DispersionStats(means: means, dispersions: disp, norm: norm, hv: topByNorm(norm, nTop))
    }

    /// True for genes whose normalised dispersion is at least the nTop-th highest (NaN never);
    /// ties at the cut-off are all kept, as scanpy's `>=` keeps them.
    static func topByNorm(_ norm: [Double], _ nTop: Int) -> [Bool] {
        let finite = norm.filter { !$0.isNaN }.sorted(by: >)
        if finite.isEmpty { return norm.map { _ in false } }
        let cut = finite[min(nTop, finite.count) - 1]
        return norm.map { !$0.isNaN && $0 >= cut }
    }

    /// pandas.cut(x, bins: count): equal-width bins over [min, max], the lowest edge lowered by
    /// 0.1% of the range, intervals closed on the right. Returns each value's bin.
    static func equalWidthBins(_ x: [Double], count: Int) -> [Int] {
        guard var mn = x.min(), var mx = x.max() else { return [] }
        var edges: [Double]
        if mn == mx {
            mn -= mn != 0 ? 0.001 * abs(mn) : 0.001
            mx += mx != 0 ? 0.001 * abs(mx) : 0.001
            edges = linspace(mn, mx, count + 1)
        } else {
            edges = linspace(mn, mx, count + 1)
            edges[0] -= (mx - mn) * 0.001
        }
        return x.map { searchLeft(edges, $0) - 1 }
    }

    /// numpy.linspace with endpoint: start + i·step, the last value exactly `stop`.
    static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        let step = (stop - start) / Double(num - 1)
        var out = (0..<num).map { Double($0) * step + start }
        out[num - 1] = stop
        return out
    }

    /// numpy.searchsorted(edges, v, side="left").
    static func searchLeft(_ edges: [Double], _ v: Double) -> Int {
        var lo = 0, hi = edges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if edges[mid] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// cell_ranger bins: (−∞, p10], (p10, p15], …, (p100, ∞) over the gene means (numpy's linear
    /// percentiles). Equal edges would make empty bins; scanpy (pandas) refuses them, and so do we.
    static func percentileBins(_ means: [Double]) throws -> [Int] {
        let sorted = means.sorted()
        var edges: [Double] = [-.infinity]
        for q in stride(from: 10, through: 100, by: 5) { edges.append(percentile(sorted, Double(q))) }
        edges.append(.infinity)
        for k in 1..<edges.count where edges[k] <= edges[k - 1] {
            throw LatentError.badInput(nil, nil, "cell_ranger HVG: gene-mean percentile bins are not distinct (many genes share mean \(edges[k]))",
                                       hint: "filter unexpressed genes first (--min-cells) or use --hvg-flavor seurat")
        }
        return means.map { searchLeft(edges, $0) - 1 }
    }

    /// numpy.percentile(method="linear") on sorted data, with numpy's two-sided lerp.
    static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let n = sorted.count
        let virtual = (q / 100) * Double(n - 1)
        let lo = Int(virtual.rounded(.down))
        let t = virtual - Double(lo)
        if lo + 1 >= n { return sorted[n - 1] }
        let a = sorted[lo], b = sorted[lo + 1], d = b - a
        return t >= 0.5 ? b - d * (1 - t) : a + d * t
    }
}
