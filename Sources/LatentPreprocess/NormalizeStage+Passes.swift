import Foundation
import LatentCore

/// The statistics rounds of a sharded or streamed `normalize` (issue 16).
///
/// Every cross-cell statistic of the stage is a sum formed per canonical block (`BlockStats`),
/// a maximum, or a list of per-cell values; each round needs the merged results of the rounds
/// before it, so a sharded run is: for each pass, every shard's map step
/// (`--map-stats [--stats earlier…]`), then `latent stats merge`; finally every shard's apply
/// step with all merged files (`--stats p1 --stats p2 …`). Which passes run depends on the
/// options only (never on the data), so a workflow knows the rounds in advance:
/// - `counts`: QC gene sums over all cells; detection, sums (and squares, for seurat_v3) over
///   the cells that pass the cell filters; cell counts; whether X holds counts; its largest value.
/// - `totals` (`--method total` without `--target-sum`, with `--min-cells`): each kept cell's
///   total over the kept genes, for the median target. Without `--min-cells` the gene filter only
///   drops genes with no counts, which leaves every total as the counts pass sums it: that pass
///   then lists the kept cells' totals itself, and the data are read once less.
/// - `hvg` (`--hvg`): seurat_v3's clipped sums, or the dispersion flavors' moments of the
///   normalised data. The seurat flavor after `--method total` has no pass of its own where it
///   can help it: its moments are sums of x/total (`HVG.Unlogged`), formed in the pass that
///   finds the totals — counts, or totals with `--min-cells` — so a streamed default run reads
///   the data twice, not three times.
/// - `scale` (`--scale`): the selected genes' moments (zscore) or ranges (minmax).
public enum NormalizePass: String, Sendable, CaseIterable {
    case counts, totals, hvg, scale
}

extension NormalizeParameters {
    /// Whether the counts pass also lists the kept cells' totals (the median target's input).
    var totalsInCountsPass: Bool { method == .total && targetSum == nil && minCells == nil }

    /// The pass that sums seurat's moments from the counts (`HVG.Unlogged`), when they are so summed.
    var unloggedMomentsPass: NormalizePass? {
        guard method == .total, hvg != nil, hvgFlavor == .seurat else { return nil }
        // Summed from counts only (see NormalizeStage.run); a table said to hold other values
        // gets the hvg pass.
        guard inputType == .auto || inputType == .counts else { return nil }
        // Without --min-cells the kept cells' totals are the counts pass's; with it they are known
        // in the totals pass, or (with --target-sum, which has none) only in a pass after counts.
        if minCells == nil { return .counts }
        return targetSum == nil ? .totals : .hvg
    }

    /// The passes a sharded or streamed run makes, in order.
    public var passes: [NormalizePass] {
        var out: [NormalizePass] = [.counts]
        if method == .total && targetSum == nil && minCells != nil { out.append(.totals) }
        if hvg != nil && (unloggedMomentsPass ?? .hvg) == .hvg { out.append(.hvg) }
        if scale != .none { out.append(.scale) }
        return out
    }

    /// Options whose statistics are not (yet) split into passes.
    public func shardingProblem() -> String? {
        if method == .medianOfRatios || method == .pearsonResiduals {
            return "--method \(method.rawValue) is not available for sharded or streamed runs (use total, log1p or none, or run in memory)"
        }
        if batchKey != nil { return "--batch-key is not available for sharded or streamed runs (run in memory)" }
        return nil
    }

    /// Canonical JSON of the options (sorted keys): what a statistics file was computed with.
    public var canonicalJSON: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? enc.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// The `parameters` of pass `k`'s statistics: the options and the digests of the merged
    /// statistics of the passes before it (so shards that used different earlier statistics
    /// cannot be merged).
    func passParameters(_ k: Int, earlier: [StatsFile]) -> String {
        let digests = earlier.prefix(k).map { "\"\($0.digest)\"" }.joined(separator: ",")
        return "{\"after\":[\(digests)],\"options\":\(canonicalJSON),\"pass\":\"\(passes[k].rawValue)\"}"
    }
}

/// The merged statistics given to a shard (or chunk), pass by pass.
struct NormalizeGlobals {
    var files: [StatsFile]
    var passes: [NormalizePass]

    /// What pass `pass` stores under these options: per-gene sums (one value per input gene), and
    /// other entries by dictionary. The stage reads them without further checks.
    static func contents(_ pass: NormalizePass, _ p: NormalizeParameters) -> (geneSums: [String], other: [String]) {
        let unlogged = p.unloggedMomentsPass == pass ? ["unlogged_sum", "unlogged_squares"] : []
        switch pass {
        case .counts:
            let squares = p.hvg != nil && p.hvgFlavor == .seuratV3 ? ["gene_squares_kept"] : []
            return (["gene_sum_all", "gene_nonzero_all", "gene_sum_kept", "gene_nonzero_kept"] + squares + unlogged,
                    ["sums/cells", "maxima/largest"] + (p.totalsInCountsPass ? ["per-row/total"] : []))
        case .totals: return (unlogged, ["per-row/total"])
        case .hvg: return (["sum", "squares", "nonzero"], [])
        case .scale: return ([], p.scale == .minmax ? ["minima/value", "maxima/value"] : ["sums/sum", "sums/squares", "sums/nonzero"])
        }
    }

    /// Checks that `files` are the merged statistics of the first passes, in order, computed with
    /// `p`, that they cover the rows `rows` of this shard and hold what their pass stores for
    /// `genes` input genes (a file of another latent version or another input is refused here,
    /// not trapped on later).
    init(_ files: [StatsFile], _ p: NormalizeParameters, rows: Range<Int>, genes: Int, names: [String]) throws {
        let passes = p.passes
        if files.count > passes.count {
            throw LatentError.badInput(names[passes.count], nil, "more statistics files than these options have passes (\(passes.map(\.rawValue).joined(separator: ", ")))",
                                       hint: "give the merged file of each pass once, in order")
        }
        for (k, f) in files.enumerated() {
            if f.kind != "normalize/\(passes[k].rawValue)" {
                throw LatentError.badInput(names[k], nil, "holds statistics '\(f.kind)', but pass \(k + 1) of these options is normalize/\(passes[k].rawValue)",
                                           hint: "give the merged files in pass order: \(passes.map(\.rawValue).joined(separator: ", "))")
            }
            let want = p.passParameters(k, earlier: files)
            if f.parameters != want {
                throw LatentError.badInput(names[k], nil, "statistics computed with other options or earlier statistics than this run",
                                           hint: "use the same normalize options in every step; expected \(want)")
            }
            let (geneSums, other) = Self.contents(passes[k], p)
            for key in geneSums where f.sums[key]?.sums.count != genes {
                throw LatentError.badInput(names[k], key, f.sums[key] == nil ? "missing from these statistics" : "holds \(f.sums[key]!.sums.count) genes, the input \(genes)",
                                           hint: "make the statistics with this latent version from this input's shards")
            }
            for entry in other {
                let parts = entry.split(separator: "/").map(String.init)
                let present: Bool
                switch parts[0] {
                case "sums": present = f.sums[parts[1]] != nil
                case "maxima": present = f.maxima[parts[1]]?.isEmpty == false
                case "minima": present = f.minima[parts[1]] != nil
                default: present = f.perRow[parts[1]] != nil
                }
                if !present {
                    throw LatentError.badInput(names[k], entry, "missing from these statistics",
                                               hint: "make the statistics with this latent version")
                }
            }
            if f.sums["cells"].map({ $0.sums.count != 4 }) == true {
                throw LatentError.badInput(names[k], "sums/cells", "holds \(f.sums["cells"]!.sums.count) values, not 4",
                                           hint: "make the statistics with this latent version")
            }
            if rows.count > 0 && !(f.rows.lowerBound <= rows.lowerBound && rows.upperBound <= f.rows.upperBound) {
                throw LatentError.badInput(names[k], nil, "covers rows \(f.rows.lowerBound)..<\(f.rows.upperBound), not this input's rows \(rows.lowerBound)..<\(rows.upperBound)",
                                           hint: "merge the statistics of every shard, including this one")
            }
        }
        self.files = files
        self.passes = passes
    }

    func file(_ pass: NormalizePass) -> StatsFile? {
        guard let k = passes.firstIndex(of: pass), k < files.count else { return nil }
        return files[k]
    }

    /// The `counts` pass: cell counts [all, kept, empty, not-counts rows].
    var cells: [Int]? { file(.counts).map { $0.sums["cells"]!.values.map { Int($0) } } }
}
