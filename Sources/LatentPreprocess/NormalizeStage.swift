import Dispatch
import Foundation
import LatentCore

/// The `normalize` stage: raw counts in, a model-ready matrix out.
///
/// Order (each step as the matching scanpy call would do it):
/// 1. QC metrics on the input X (`calculate_qc_metrics`, mitochondrial genes `MT-`/`mt-`), for
///    cells and genes, before any filter — as the scanpy workflow computes them.
/// 2. Cell filters (`--min-counts`, `--min-genes`, `--max-mito`), then the gene filter
///    (`--min-cells`) on the kept cells. Cells and genes with zero total after filtering are
///    always removed (normalisation is undefined for them) and the removal is reported.
/// 3. Normalisation of all kept genes (`total` + log1p, `median-of-ratios` + log2(x+1),
///    `log1p`, or `none`); Pearson residuals are computed after step 4, on the selected genes.
/// 4. HVG selection: `seurat`/`cell_ranger` on the normalised log data, `seurat_v3` on counts;
///    after `total` on counts, seurat's moments come from the counts and totals (`HVG.Unlogged`),
///    and the log is then taken of the selected genes only.
/// 5. Scaling of the selected genes (`zscore`, `minmax`).
/// `layers["counts"]` keeps the raw counts of the kept cells and genes.
public struct NormalizeParameters: Codable, Sendable, Equatable {
    public enum Method: String, Codable, Sendable, CaseIterable {
        case total
        case medianOfRatios = "median-of-ratios"
        case pearsonResiduals = "pearson-residuals"
        case log1p
        case none
    }

    /// What X holds: decided from the values (`auto`) or said by the user.
    public enum InputType: String, Codable, Sendable, CaseIterable {
        /// Non-negative integers are counts; other values whose largest is at most
        /// `InputType.logScaleMaximum`, or an X that scanpy marked as logged (`uns["log1p"]`),
        /// are log-scale; anything else is linear-scale (FPKM, TPM, estimated counts).
        case auto
        /// Raw counts (non-negative integers).
        case counts
        /// Already normalised and on a log scale (log1p of scaled counts, log2 microarray intensities).
        case log
        /// Non-integer values on a linear scale (FPKM, TPM, estimated counts).
        case linear

        /// The largest value a log-scale X plausibly has (log1p of 10¹³, log2 of 10⁹); linear-scale
        /// expression (TPM, FPKM) reaches far above it.
        public static let logScaleMaximum: Float = 30
    }

    public var method: Method = .total
    public var inputType: InputType = .auto
    public var targetSum: Double? = nil
    public var minCounts: Double? = nil
    public var minGenes: Int? = nil
    public var minCells: Int? = nil
    public var maxMito: Double? = nil
    public var hvg: Int? = nil
    public var hvgFlavor: HVG.Flavor = .seurat
    public var batchKey: String? = nil
    public var scale: Scale.Method = .none
    public var maxValue: Double? = nil
    public var theta: Double = 100
    public var clip: Double? = nil

    public init() {}

    /// Whether the cell filters keep a cell with this total, number of detected genes and
    /// mitochondrial total (cells with nothing to normalise never stay).
    func keepsCell(total: Double, nGenes: Int, mito: Double) -> Bool {
        if let m = minCounts, total < m { return false }
        if let m = minGenes, nGenes < m { return false }
        // The percentage as QC reports it (QC.CellMetrics.pctMito), compared as a fraction.
        if let m = maxMito, (total > 0 ? mito / total * 100 : 0) / 100 > m { return false }
        return total > 0
    }

    /// Methods that only make sense on non-negative integer counts.
    var requiresCounts: Bool { method == .medianOfRatios || method == .pearsonResiduals }
}

public enum NormalizeStage {
    public struct Output {
        public var dataset: Dataset
        public var notes: [String]
        /// Seconds per phase, in order (validate, qc, filter_cells, filter_genes, normalize, with --hvg
        /// hvg and hvg_subset — and normalize_hvg where seurat_v3 (or seurat after total, on counts) lets normalize_total wait for the
        /// cut — then scale),
        /// for `--timing`.
        public var phases: [(name: String, seconds: Double)] = []
        /// With `mapStats`: this input's statistics for the next pass.
        public var stats: StatsFile? = nil
    }

    /// Runs the stage on `input`, whose row 0 is input row `offset` of the whole matrix (a
    /// shard or chunk; a multiple of `RowChunking.statBlock`). With `globals` (the merged
    /// statistics of the first passes, see `NormalizePass`), cross-cell statistics come from
    /// them instead of from `input`; with `mapStats`, the stage stops at the next pass and
    /// returns `input`'s statistics for it in `Output.stats`. Without either, it is the plain
    /// in-memory stage — the same code, so every route gives the same bytes.
    public static func run(_ input: Dataset, _ p: NormalizeParameters, file: String, threads: Int = 1,
                           offset: Int = 0, globals globalFiles: [StatsFile] = [], globalNames: [String] = [],
                           mapStats: Bool = false) throws -> Output {
        var notes: [String] = []
        var profile = Phases()
        GeneStats.threads = threads
        try validate(p, input, file: file)
        let sharded = offset != 0 || mapStats || !globalFiles.isEmpty
        if sharded, let why = p.shardingProblem() { throw LatentError.badInput(nil, nil, why) }
        if offset % RowChunking.statBlock != 0 {
            throw LatentError.badInput(file, nil, "starts at row \(offset), not a multiple of \(RowChunking.statBlock)",
                                       hint: "cut shards on multiples of \(RowChunking.statBlock) rows (latent split)")
        }
        let rowRange = offset..<(offset + input.nObs)
        let globals = try NormalizeGlobals(globalFiles, p, rows: rowRange, genes: input.nVars, names: globalNames.isEmpty ? globalFiles.map { _ in file } : globalNames)
        let passes = p.passes
        if mapStats && globalFiles.count >= passes.count {
            throw LatentError.badInput(nil, nil, "all \(passes.count) statistics passes of these options (\(passes.map(\.rawValue).joined(separator: ", "))) are given",
                                       hint: "apply them with --stats and no --map-stats")
        }
        if !mapStats && sharded && !globalFiles.isEmpty && globalFiles.count < passes.count {
            throw LatentError.badInput(nil, nil, "these options need \(passes.count) statistics passes (\(passes.map(\.rawValue).joined(separator: ", "))), \(globalFiles.count) given",
                                       hint: "run --map-stats for pass \(globalFiles.count + 1) and merge it first")
        }
        /// The pass whose statistics this run maps, if any.
        let mapping: NormalizePass? = mapStats ? passes[globalFiles.count] : nil
        func statsFile(_ pass: NormalizePass) -> StatsFile {
            StatsFile(kind: "normalize/\(pass.rawValue)", parameters: p.passParameters(passes.firstIndex(of: pass)!, earlier: globalFiles),
                      rows: rowRange)
        }
        if p.requiresCounts { try Validate.counts(input, file: file, purpose: "--method \(p.method.rawValue) requires raw counts") }
        profile.step("validate")
        // 1. QC metrics, and the per-gene sums the filters (and seurat_v3) need, in one sweep.
        var ds = input
        let mito = QC.mitochondrialMask(ds.var.index)
        let seuratV3 = p.hvg != nil && p.hvgFlavor == .seuratV3
        // A statistics pass reports no cell metrics, and a pass after counts has the gene sums;
        // the counts pass sums seurat's moments of the cells it keeps in the same sweep.
        let qc = QCPass(ds.X, mito: mito, top: mapping == nil ? [50, 100, 200, 500] : [], squares: seuratV3, threads: threads,
                        offset: offset, genes: globals.file(.counts) == nil,
                        unloggedFor: mapping == .counts && p.unloggedMomentsPass == .counts ? p.keepsCell : nil)
        let cellQC = qc.cells
        // 2. filters (per cell: the same in every shard)
        var keepCells = [Int]()
        for i in 0..<ds.nObs where p.keepsCell(total: cellQC.total[i], nGenes: cellQC.nGenes[i], mito: cellQC.totalMito[i]) {
            keepCells.append(i)
        }
        let allCells = keepCells.count == ds.nObs
        // Input rows of the kept cells, for the statistics blocks (nil: row i is input row i).
        let origin: [Int]? = allCells && offset == 0 ? nil : keepCells.map { offset + $0 }
        if mapping == .counts {
            var f = statsFile(.counts)
            // Every cell kept: the sweep's sums are these (same rows, same blocks, same bits).
            let kept = allCells ? qc.exact : BlockStats.columnSums(ds.X, rows: keepCells,
                                             blocks: BlockStats.blocks(rows: keepCells, origin: nil, offset: offset, n: ds.nObs),
                                             squares: seuratV3 ? .float32 : .none, threads: threads)
            if let m = qc.unlogged {
                f.set("unlogged_sum", m.sum)
                f.set("unlogged_squares", m.squares!)
            }
            f.set("gene_sum_all", qc.exact.sum)
            f.set("gene_nonzero_all", qc.exact.nonzero)
            f.set("gene_sum_kept", kept.sum)
            f.set("gene_nonzero_kept", kept.nonzero)
            if let sq = kept.squares { f.set("gene_squares_kept", sq) }
            var cells = ExactSums(count: 4)
            cells.add([Double(ds.nObs), Double(keepCells.count), Double((0..<ds.nObs).filter { cellQC.total[$0] <= 0 }.count), qc.isCounts ? 0 : 1])
            f.set("cells", cells)
            f.maxima["largest"] = [qc.isCounts ? -Double.infinity : Double(largestValue(ds.X))]
            // Without --min-cells no gene with counts is dropped: the totals are the sweep's.
            if p.totalsInCountsPass { f.perRow["total"] = keepCells.map { cellQC.total[$0] } }
            return Output(dataset: ds, notes: notes, phases: profile.steps, stats: f)
        }
        // Global counts, or this input's.
        let gCells = globals.cells
        let nAll = gCells?[0] ?? ds.nObs, nKept = gCells?[1] ?? keepCells.count
        let isCounts = gCells.map { $0[3] == 0 } ?? qc.isCounts
        let largest: () -> Float = { globals.file(.counts).map { Float($0.maxima["largest"]![0]) } ?? largestValue(ds.X) }
        _ = try inputType(p, ds, isCounts: isCounts, largest: largest, file: file, notes: &notes)
        if seuratV3 && !isCounts {
            notes.append("\(file): seurat_v3 expects raw counts, but X has non-integer or negative values (scanpy warns the same way)")
        }
        QC.annotate(&ds.obs, cellQC)
        let countsFile = globals.file(.counts)
        let geneQC = countsFile.map { GeneStats(rows: nAll, sum: $0.sums["gene_sum_all"]!.values, squares: nil,
                                                nonzero: $0.sums["gene_nonzero_all"]!.values.map { Int($0) }) } ?? qc.geneStats
        QC.annotate(&ds.var, geneQC, nObs: nAll, mito: mito)
        profile.step("qc")

        let droppedEmpty = gCells?[2] ?? (0..<ds.nObs).filter { cellQC.total[$0] <= 0 }.count
        if droppedEmpty > 0 { notes.append("\(file): \(droppedEmpty) cells with zero total counts removed") }
        if nKept < nAll {
            notes.append("filters kept \(nKept) of \(nAll) cells")
        }
        guard nKept > 0 else {
            throw LatentError.badInput(file, nil, "no cells pass the filters", hint: "loosen --min-counts/--min-genes/--max-mito")
        }
        // Detection counts of the kept cells: the sweep's when every cell stays, otherwise counted
        // over whichever is fewer, the dropped cells (subtracted) or the kept ones.
        let geneNonzero: [Int]
        if let f = countsFile {
            geneNonzero = f.sums["gene_nonzero_kept"]!.values.map { Int($0) }
        } else if allCells {
            geneNonzero = qc.geneNonzero
        } else if 2 * keepCells.count > ds.nObs {
            var isKept = [Bool](repeating: false, count: ds.nObs)
            for i in keepCells { isKept[i] = true }
            let dropped = columnNonzero(ds.X, rows: (0..<ds.nObs).filter { !isKept[$0] })
            geneNonzero = zip(qc.geneNonzero, dropped).map { $0 - $1 }
        } else {
            geneNonzero = columnNonzero(ds.X, rows: keepCells)
        }
        if !allCells { ds = ds.subset(obs: keepCells) }
        profile.step("filter_cells")
        var keepGenes = [Int]()
        for j in 0..<ds.nVars {
            if let m = p.minCells, geneNonzero[j] < m { continue }
            // No non-zero value means every stored value is ±0: the gene's total is 0.
            if geneNonzero[j] == 0 { continue }
            keepGenes.append(j)
        }
        let zeroGenes = geneNonzero.filter { $0 == 0 }.count
        if zeroGenes > 0 { notes.append("\(file): \(zeroGenes) genes with no counts in the kept cells removed") }
        guard !keepGenes.isEmpty else {
            throw LatentError.badInput(file, nil, "no genes pass the filters", hint: "lower --min-cells")
        }
        // Removing genes whose values are all zero leaves each cell's total as the sweep summed it
        // (adding ±0 never changes a Double sum), so normalisation can reuse those totals.
        let onlyEmptyGenesRemoved = keepGenes.count == ds.nVars || keepGenes.count + zeroGenes == ds.nVars
        if keepGenes.count < ds.nVars { notes.append("filters kept \(keepGenes.count) of \(ds.nVars) genes") }
        let varBeforeGeneFilter = ds.nVars
        if keepGenes.count < ds.nVars { ds = GeneSubset.apply(ds, keepGenes, threads: threads) }
        profile.step("filter_genes")
        let counts = ds.X
        // seurat_v3 ranks the counts, so with --method total the log values are needed only for the
        // genes it keeps: they are computed after the HVG cut, from the same row totals and target
        // (each value is x / (total/target) then log1p, whichever genes sit beside it).
        // The same holds for seurat when its moments are summed from the counts (HVG.Unlogged).
        // Only on counts: on other values (FPKM down to 1e-38) scanpy's Float32 squares underflow,
        // and its dispersions are those of the log round trip, so they are summed from it.
        let unloggedSeurat = p.unloggedMomentsPass != nil && isCounts
        if p.unloggedMomentsPass != nil && !isCounts && !p.passes.contains(.hvg) && sharded && mapping != .totals {
            throw LatentError.badInput(file, "X", "holds values that are not counts: the seurat flavor's statistics of such data need a pass of their own",
                                       hint: "give --input-type linear (or log), which adds that pass")
        }
        let deferTotal = p.method == .total && (seuratV3 || unloggedSeurat)
        var pendingTotal: (totals: [Double], target: Double)? = nil
        if !deferTotal { ds.layers["counts"] = counts }

        // 3. normalisation
        var record = OrderedDict([("method", .string(p.method.rawValue))])
        var logBase: Double? = nil
        switch p.method {
        case .total:
            let totals = onlyEmptyGenesRemoved ? keepCells.map { cellQC.total[$0] } : rowTotals(ds.X, threads: threads).total
            if mapping == .totals {
                var f = statsFile(.totals)
                f.perRow["total"] = totals
                if p.unloggedMomentsPass == .totals {
                    // Over the kept genes, stored over every input gene (as the hvg pass stores them).
                    let m = HVG.Unlogged.sums(ds.X, inverseTotals: totals.map { 1 / $0 }, rows: nil, origin: origin)
                    f.set("unlogged_sum", m.sum.expanded(keepGenes, to: varBeforeGeneFilter))
                    f.set("unlogged_squares", m.squares!.expanded(keepGenes, to: varBeforeGeneFilter))
                }
                return Output(dataset: ds, notes: notes, phases: profile.steps, stats: f)
            }
            // The target: given, or the median over every kept cell (the merged totals when sharded).
            let merged = p.totalsInCountsPass ? globals.file(.counts)?.perRow["total"] : globals.file(.totals)?.perRow["total"]
            let target = Normalize.totalTarget(merged ?? totals, targetSum: p.targetSum)
            if deferTotal {
                pendingTotal = (totals, target)
                record["target_sum"] = .double(target)
            } else {
                let (normalized, _) = Normalize.totalLog1p(ds.X, targetSum: target, rowTotals: totals, threads: threads)
                ds.X = normalized
                record["target_sum"] = .double(target)
            }
            ds.uns["log1p"] = .dict(OrderedDict())
        case .medianOfRatios:
            let sf = try Normalize.medianOfRatiosSizeFactors(ds.X, file: file)
            ds.obs.set("size_factors", .float64(sf))
            ds.X = Normalize.mapStored(Normalize.scaleRows(ds.X, by: sf.map(Float.init), divide: true, threads: threads)) {
                ElementwiseMath.log2p1(&$0, threads: threads)
            }
            logBase = 2
            ds.uns["log1p"] = .dict(OrderedDict([("base", .double(2))]))
        case .log1p:
            ds.X = Normalize.mapStored(ds.X) { ElementwiseMath.log1p(&$0, threads: threads) }
            ds.uns["log1p"] = .dict(OrderedDict())
        case .pearsonResiduals:
            break
        case .none:
            // scanpy's seurat flavor undoes the log with the base recorded by its log1p. Its natural
            // log is recorded as base None, an empty HDF5 dataset that is no number: only a
            // plausible base (2, 10, …) counts.
            if case .dict(var d)? = ds.uns["log1p"], case .double(let b)? = d["base"] {
                if b > 1 && b <= 1000 {
                    logBase = b
                } else {
                    // Not written back as a number: without "base", scanpy reads the natural log again.
                    d["base"] = nil
                    ds.uns["log1p"] = .dict(d)
                }
            }
        }

        profile.step("normalize")
        // 4. highly variable genes
        if let n = p.hvg {
            if n >= ds.nVars {
                notes.append("--hvg \(n) ≥ the \(ds.nVars) genes left after filtering: keeping every gene")
            }
            var batches: (codes: [Int32], count: Int)? = nil
            if let key = p.batchKey {
                guard let col = ds.obs[key] else {
                    throw LatentError.badInput(file, "obs/\(key)", "no such obs column for --batch-key")
                }
                batches = batchCodes(col)
            }
            let source = p.hvgFlavor == .seuratV3 ? counts : ds.X
            // seurat_v3's gene statistics over the kept cells: merged when sharded; the QC sweep's when
            // no cell was dropped (same rows, same blocks: the same bits).
            var stats: GeneStats? = nil
            if seuratV3, let f = countsFile {
                stats = GeneStats(rows: nKept, sum: f.sums["gene_sum_kept"]!.values, squares: f.sums["gene_squares_kept"]!.values,
                                  nonzero: geneNonzero).subset(keepGenes)
            } else if seuratV3 && allCells {
                stats = qc.geneStats.subset(keepGenes)
            }
            let hvgFile = globals.file(.hvg)
            var given: BlockStats.Sums? = nil
            if let f = hvgFile {
                given = BlockStats.Sums(sum: f.sums["sum"]!.subset(keepGenes), squares: f.sums["squares"]!.subset(keepGenes),
                                        nonzero: f.sums["nonzero"]!.subset(keepGenes))
            } else if let pass = p.unloggedMomentsPass, pass != .hvg, let f = globals.file(pass), let c = countsFile {
                // Detection counts over the kept cells are the counts pass's.
                given = BlockStats.Sums(sum: f.sums["unlogged_sum"]!.subset(keepGenes), squares: f.sums["unlogged_squares"]!.subset(keepGenes),
                                        nonzero: c.sums["gene_nonzero_kept"]!.subset(keepGenes))
            }
            var unlogged: HVG.Unlogged? = nil
            if unloggedSeurat, let (totals, target) = pendingTotal { unlogged = HVG.Unlogged(totals: totals, target: target) }
            var local: BlockStats.Sums? = nil
            let r = try HVG.select(source, geneNames: ds.var.index, flavor: p.hvgFlavor, nTop: n, batches: batches,
                                   logBase: logBase, threads: threads, countStats: stats, origin: origin,
                                   rowCount: sharded ? nKept : nil, givenSums: given, mapOnly: mapping == .hvg ? { local = $0 } : nil,
                                   unlogged: unlogged)
            if mapping == .hvg {
                // Sums over the kept genes, stored over every input gene (zeros elsewhere), so that
                // every shard's file has the same shape whatever its own filters would say.
                var f = statsFile(.hvg)
                f.set("sum", local!.sum.expanded(keepGenes, to: varBeforeGeneFilter))
                f.set("squares", local!.squares!.expanded(keepGenes, to: varBeforeGeneFilter))
                f.set("nonzero", local!.nonzero.expanded(keepGenes, to: varBeforeGeneFilter))
                return Output(dataset: ds, notes: notes, phases: profile.steps, stats: f)
            }
            for (name, col) in r.columns { ds.var.set(name, col) }
            ds.var.set("highly_variable", .bool(r.highlyVariable))
            let selected = (0..<ds.nVars).filter { r.highlyVariable[$0] }
            if selected.count > n { notes.append("\(selected.count - n) extra genes kept: tied at the HVG cut-off (as scanpy keeps them)") }
            profile.step("hvg")
            ds = GeneSubset.apply(ds, selected, threads: threads)
            ds.uns["hvg"] = .dict(OrderedDict([("flavor", .string(p.hvgFlavor.rawValue))]))
            profile.step("hvg_subset")
            if let (totals, target) = pendingTotal {
                ds.layers["counts"] = ds.X
                ds.X = Normalize.totalLog1p(ds.X, targetSum: target, rowTotals: totals, threads: threads).0
                profile.step("normalize_hvg")
            }
        }

        if p.method == .pearsonResiduals {
            let counts = ds.layers["counts"]!
            ds.X = .dense(Normalize.pearsonResiduals(counts, theta: p.theta, clip: p.clip))
            record["theta"] = .double(p.theta)
            record["clip"] = .double(p.clip ?? Double(ds.nObs).squareRoot())
        }

        // 5. scaling
        if p.scale != .none {
            let m = Scale.dense(ds.X)
            var fit: Scale.Fit
            if let f = globals.file(.scale) {
                fit = Scale.Fit(sums: nil, rows: nKept)
                if p.scale == .zscore {
                    fit.sums = BlockStats.Sums(sum: f.sums["sum"]!, squares: f.sums["squares"]!, nonzero: f.sums["nonzero"]!)
                } else {
                    fit.lo = f.minima["value"]!
                    fit.hi = f.maxima["value"]!
                }
            } else {
                fit = Scale.fit(m, method: p.scale, origin: origin)
            }
            if mapping == .scale {
                var f = statsFile(.scale)
                if let s = fit.sums {
                    f.set("sum", s.sum); f.set("squares", s.squares!); f.set("nonzero", s.nonzero)
                } else {
                    f.minima["value"] = fit.lo
                    f.maxima["value"] = fit.hi
                }
                return Output(dataset: ds, notes: notes, phases: profile.steps, stats: f)
            }
            ds.X = .dense(Scale.transform(m, method: p.scale, fit: fit, maxValue: p.maxValue))
            record["scale"] = .string(p.scale.rawValue)
            if let m = p.maxValue { record["max_value"] = .double(m) }
        }
        ds.uns["normalize"] = .dict(record)
        try Validate.finite(ds, file: file, key: "output X")
        profile.step("scale")
        return Output(dataset: ds, notes: notes, phases: profile.steps)
    }

    /// The largest stored value of X (−∞ when nothing is stored).
    static func largestValue(_ X: MatrixData) -> Float {
        X.storedValues.withUnsafeBufferPointer { v in v.reduce(-Float.infinity) { Swift.max($0, $1) } }
    }

    static func validate(_ p: NormalizeParameters, _ ds: Dataset, file: String) throws {
        func bad(_ msg: String) -> LatentError { LatentError.badInput(nil, nil, msg) }
        if let t = p.targetSum, !(t > 0) { throw bad("--target-sum must be positive") }
        if let m = p.maxMito, !(0...1).contains(m) { throw bad("--max-mito is a fraction between 0 and 1") }
        if let n = p.hvg, n < 1 { throw bad("--hvg must be at least 1") }
        if !(p.theta > 0) { throw bad("--theta must be positive") }
        if let c = p.clip, c < 0 { throw bad("--clip must be non-negative") }
        if let m = p.maxValue, !(m > 0) { throw bad("--max-value must be positive") }
        if p.hvg != nil, p.hvgFlavor != .seuratV3, p.method == .pearsonResiduals {
            throw bad("--hvg-flavor \(p.hvgFlavor.rawValue) works on log-normalised data; with --method pearson-residuals use --hvg-flavor seurat_v3")
        }
        if p.inputType == .log, [.total, .log1p, .medianOfRatios, .pearsonResiduals].contains(p.method) {
            throw bad("--input-type log says X is already log-normalised, but --method \(p.method.rawValue) would normalise it again (use --method none)")
        }
        if p.inputType == .log, p.hvg != nil, p.hvgFlavor == .seuratV3 {
            throw bad("--hvg-flavor seurat_v3 ranks raw counts, but --input-type log says X is log-normalised (use --hvg-flavor seurat or cell_ranger)")
        }
    }

    /// What X holds, as the user said or as its values show; says what was detected, and refuses
    /// the dispersion flavors on X that is not log-scale when nothing normalises it.
    static func inputType(_ p: NormalizeParameters, _ ds: Dataset, isCounts: Bool, largest largestValue: () -> Float, file: String,
                          notes: inout [String]) throws -> NormalizeParameters.InputType {
        var kind = p.inputType
        if kind == .auto {
            if isCounts {
                kind = .counts
                notes.append("\(file): X holds non-negative integers: read as raw counts (--input-type counts)")
            } else if ds.uns["log1p"] != nil {
                kind = .log
                notes.append("\(file): X has non-integer values and uns[\"log1p\"] (scanpy's mark of log1p): read as log-normalised (--input-type log)")
            } else {
                let largest = largestValue()
                let limit = NormalizeParameters.InputType.logScaleMaximum
                kind = largest <= limit ? .log : .linear
                notes.append(kind == .log
                    ? "\(file): X has non-integer values, the largest \(largest) (≤ \(Int(limit))): read as log-normalised (--input-type log)"
                    : "\(file): X has non-integer values, the largest \(largest): read as linear-scale expression (--input-type linear)")
            }
            if kind == .log, [.total, .log1p].contains(p.method) {
                notes.append("\(file): --method \(p.method.rawValue) takes the log again; if X is already normalised use --method none")
            }
        }
        if p.hvg != nil, p.hvgFlavor != .seuratV3, p.method == .none, kind != .log {
            let what = kind == .counts ? "raw counts" : "linear-scale values"
            throw LatentError.badInput(file, "X", "--hvg-flavor \(p.hvgFlavor.rawValue) ranks log-normalised data, but X holds \(what) and --method none leaves them so",
                                       hint: "use --method total (or log1p), or --hvg-flavor seurat_v3 on counts, or --input-type log if X is on a log scale")
        }
        return kind
    }

    /// Wall time per phase (the stage's own clock, as `--timing` reports it).
    struct Phases {
        let clock = Stopwatch()
        var steps: [(name: String, seconds: Double)] = []
        mutating func step(_ name: String) { steps.append((name, clock.lap())) }
    }

    /// Batch codes from a categorical (its categories) or any other column (its sorted distinct values).
    static func batchCodes(_ c: Column) -> (codes: [Int32], count: Int) {
        if case .categorical(let codes, let cats, _) = c { return (codes, cats.count) }
        let s = c.strings
        let distinct = Array(Set(s)).sorted(by: codePointLess)
        let idx = Dictionary(uniqueKeysWithValues: distinct.enumerated().map { ($1, Int32($0)) })
        return (s.map { idx[$0]! }, distinct.count)
    }
}

