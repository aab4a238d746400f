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
/// 4. HVG selection: `seurat`/`cell_ranger` on the normalised log data, `seurat_v3` on counts.
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

    public var method: Method = .total
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

    /// Methods that only make sense on non-negative integer counts.
    var requiresCounts: Bool { method == .medianOfRatios || method == .pearsonResiduals }
}

public enum NormalizeStage {
    public struct Output {
        public var dataset: Dataset
        public var notes: [String]
    }

    public static func run(_ input: Dataset, _ p: NormalizeParameters, file: String, threads: Int = 1) throws -> Output {
        var notes: [String] = []
        var profile = StepProfile()
        GeneStats.threads = threads
        try validate(p, input, file: file)
        if p.requiresCounts { try Validate.counts(input, file: file, purpose: "--method \(p.method.rawValue) requires raw counts") }
        if p.hvg != nil && p.hvgFlavor == .seuratV3 {
            if (try? Validate.counts(input, file: file)) == nil {
                notes.append("\(file): seurat_v3 expects raw counts, but X has non-integer or negative values (scanpy warns the same way)")
            }
        }
        profile.step("validate")
        // 1. QC metrics
        var ds = input
        let mito = QC.mitochondrialMask(ds.var.index)
        let cellQC = QC.cellMetrics(ds.X, mito: mito, threads: threads)
        QC.annotate(&ds.obs, cellQC)
        QC.annotate(&ds.var, GeneStats(ds.X), nObs: ds.nObs, mito: mito)

        profile.step("qc")
        // 2. filters
        var keepCells = [Int]()
        let pctMito = cellQC.pctMito
        for i in 0..<ds.nObs {
            if let m = p.minCounts, cellQC.total[i] < m { continue }
            if let m = p.minGenes, cellQC.nGenes[i] < m { continue }
            if let m = p.maxMito, pctMito[i] / 100 > m { continue }
            if cellQC.total[i] <= 0 { continue }
            keepCells.append(i)
        }
        let droppedEmpty = (0..<ds.nObs).filter { cellQC.total[$0] <= 0 }.count
        if droppedEmpty > 0 { notes.append("\(file): \(droppedEmpty) cells with zero total counts removed") }
        if keepCells.count < ds.nObs {
            notes.append("filters kept \(keepCells.count) of \(ds.nObs) cells")
        }
        guard !keepCells.isEmpty else {
            throw LatentError.badInput(file, nil, "no cells pass the filters", hint: "loosen --min-counts/--min-genes/--max-mito")
        }
        if keepCells.count < ds.nObs { ds = ds.subset(obs: keepCells) }
        profile.step("filter cells")
        let geneStats = GeneStats(ds.X)
        var keepGenes = [Int]()
        for j in 0..<ds.nVars {
            if let m = p.minCells, geneStats.nonzero[j] < m { continue }
            if geneStats.total[j] == 0 && geneStats.nonzero[j] == 0 { continue }
            keepGenes.append(j)
        }
        let zeroGenes = (0..<ds.nVars).filter { geneStats.nonzero[$0] == 0 }.count
        if zeroGenes > 0 { notes.append("\(file): \(zeroGenes) genes with no counts in the kept cells removed") }
        guard !keepGenes.isEmpty else {
            throw LatentError.badInput(file, nil, "no genes pass the filters", hint: "lower --min-cells")
        }
        if keepGenes.count < ds.nVars { notes.append("filters kept \(keepGenes.count) of \(ds.nVars) genes") }
        if keepGenes.count < ds.nVars { ds = ds.subset(vars: keepGenes) }
        profile.step("filter genes")
        let counts = ds.X
        ds.layers["counts"] = counts

        // 3. normalisation
        var record = OrderedDict([("method", .string(p.method.rawValue))])
        var logBase: Double? = nil
        switch p.method {
        case .total:
            let (normalized, target) = Normalize.totalLog1p(ds.X, targetSum: p.targetSum, threads: threads)
            ds.X = normalized
            record["target_sum"] = .double(target)
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
        case .pearsonResiduals, .none:
            break
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
            let r = try HVG.select(source, geneNames: ds.var.index, flavor: p.hvgFlavor, nTop: n, batches: batches,
                                   logBase: logBase, threads: threads)
            for (name, col) in r.columns { ds.var.set(name, col) }
            ds.var.set("highly_variable", .bool(r.highlyVariable))
            let selected = (0..<ds.nVars).filter { r.highlyVariable[$0] }
            if selected.count > n { notes.append("\(selected.count - n) extra genes kept: tied at the HVG cut-off (as scanpy keeps them)") }
            ds = ds.subset(vars: selected)
            ds.uns["hvg"] = .dict(OrderedDict([("flavor", .string(p.hvgFlavor.rawValue))]))
        }

        profile.step("hvg")
        if p.method == .pearsonResiduals {
            let counts = ds.layers["counts"]!
            ds.X = .dense(Normalize.pearsonResiduals(counts, theta: p.theta, clip: p.clip))
            record["theta"] = .double(p.theta)
            record["clip"] = .double(p.clip ?? Double(ds.nObs).squareRoot())
        }

        // 5. scaling
        if p.scale != .none {
            ds.X = Scale.apply(ds.X, method: p.scale, maxValue: p.maxValue)
            record["scale"] = .string(p.scale.rawValue)
            if let m = p.maxValue { record["max_value"] = .double(m) }
        }
        ds.uns["normalize"] = .dict(record)
        profile.step("scale")
        profile.report()
        try Validate.finite(ds, file: file, key: "output X")
        return Output(dataset: ds, notes: notes)
    }

    static func validate(_ p: NormalizeParameters, _ ds: Dataset, file: String) throws {
        func bad(_ msg: String) -> LatentError { LatentError.badInput(nil, nil, msg) }
        if let t = p.targetSum, !(t > 0) { throw bad("--target-sum must be positive") }
        if let m = p.maxMito, !(0...1).contains(m) { throw bad("--max-mito is a fraction between 0 and 1") }
        if let n = p.hvg, n < 1 { throw bad("--hvg must be at least 1") }
        if !(p.theta > 0) { throw bad("--theta must be positive") }
        if let c = p.clip, c < 0 { throw bad("--clip must be non-negative") }
        if let m = p.maxValue, !(m > 0) { throw bad("--max-value must be positive") }
        if p.hvg != nil, p.hvgFlavor != .seuratV3, [.pearsonResiduals, .none].contains(p.method) {
            throw bad("--hvg-flavor \(p.hvgFlavor.rawValue) works on log-normalised data; with --method \(p.method.rawValue) use --hvg-flavor seurat_v3")
        }
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

