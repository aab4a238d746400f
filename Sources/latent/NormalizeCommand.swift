import ArgumentParser
import LatentCore
import LatentIO
import LatentPreprocess

extension NormalizeParameters.Method: ExpressibleByArgument {}
extension HVG.Flavor: ExpressibleByArgument {}
extension Scale.Method: ExpressibleByArgument {}
extension NormalizeParameters.InputType: ExpressibleByArgument {}

struct NormalizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "normalize",
        abstract: "QC filters, normalisation, highly variable genes and scaling, as scanpy would do them.",
        discussion: """
        Keeps the raw counts of the kept cells and genes in layers["counts"], writes scanpy's QC
        columns to obs/var and the HVG statistics to var.

        Examples:
          latent normalize raw.h5ad -o norm.h5ad --min-genes 200 --min-cells 3 --hvg 2000
          latent normalize raw.h5ad -o norm.h5ad --hvg 2000 --hvg-flavor seurat_v3 --scale zscore --max-value 10
          latent normalize bulk.h5ad -o norm.h5ad --method median-of-ratios --hvg 5000 --scale minmax
          latent normalize raw.h5ad -o resid.h5ad --method pearson-residuals --hvg 2000 --hvg-flavor seurat_v3
          latent normalize lognorm.h5ad -o hvg.h5ad --input-type log --method none --hvg 2000 --hvg-flavor cell_ranger

        Streaming: when X would not fit --memory, the stage runs over row chunks by itself; the \
        output is byte for byte the in-memory one.

        Sharded runs (Snakemake/Nextflow): shards are cut on multiples of 1024 rows (latent split), \
        each told its first row with --row-offset. The statistics come in passes, each a map over \
        the shards (--map-stats, with the merged files of the earlier passes as --stats, in order) \
        and a merge (latent stats merge); the last step normalises each shard with every merged \
        pass. Which passes run depends on the options only (--passes lists them):
          counts  always: QC sums, detection, seurat_v3 moments of the kept cells
          totals  --method total without --target-sum, with --min-cells: kept cells' totals \
        (median target; without --min-cells the counts pass lists them)
          hvg     with --hvg: seurat_v3 clipped sums, or moments of the normalised data
          scale   with --scale: moments (zscore) or ranges (minmax) of the selected genes
        Example with two passes (counts, hvg):
          latent normalize s0.h5ad --row-offset 0 --target-sum 1e4 --hvg 2000 --map-stats -o s0.p1.stats
          latent stats merge s*.p1.stats -o all.p1.stats
          latent normalize s0.h5ad --row-offset 0 --target-sum 1e4 --hvg 2000 --map-stats \
            --stats all.p1.stats -o s0.p2.stats
          latent stats merge s*.p2.stats -o all.p2.stats
          latent normalize s0.h5ad --row-offset 0 --target-sum 1e4 --hvg 2000 \
            --stats all.p1.stats --stats all.p2.stats -o s0.norm.h5ad
        Each shard's output holds exactly the single-process rows of its cells.
        --passes prints the passes of the given options, one per line.
        """
    )

    @Argument(help: "Input .h5ad: raw counts in X (from `latent import`), or values already normalised (--input-type).")
    var input: String

    @Option(name: .shortAndLong, help: "Output .h5ad path.")
    var output: String

    @Option(help: "total | median-of-ratios | pearson-residuals | log1p | none.")
    var method: NormalizeParameters.Method = .total

    @Option(name: .customLong("input-type"), help: """
        What X holds: counts | log (already log-normalised) | linear (FPKM, TPM) | auto (decided from \
        the values and said on stderr). With log, --method none and the seurat or cell_ranger flavor \
        select HVGs on X as it is.
        """)
    var inputType: NormalizeParameters.InputType = .auto

    @Option(name: .customLong("target-sum"), help: "Total per cell for --method total (default: the median total).")
    var targetSum: Double?

    @Option(name: .customLong("min-counts"), help: "Keep cells with at least this many counts.")
    var minCounts: Double?

    @Option(name: .customLong("min-genes"), help: "Keep cells with at least this many detected genes.")
    var minGenes: Int?

    @Option(name: .customLong("min-cells"), help: "Keep genes detected in at least this many cells.")
    var minCells: Int?

    @Option(name: .customLong("max-mito"), help: "Keep cells whose mitochondrial (MT-/mt-) fraction is at most this (0–1).")
    var maxMito: Double?

    @Option(help: "Keep this many highly variable genes.")
    var hvg: Int?

    @Option(name: .customLong("hvg-flavor"), help: "seurat | cell_ranger | seurat_v3.")
    var hvgFlavor: HVG.Flavor = .seurat

    @Option(name: .customLong("batch-key"), help: "obs column: select HVGs per batch and merge, as scanpy.")
    var batchKey: String?

    @Option(help: "none | zscore | minmax, applied to the selected genes.")
    var scale: Scale.Method = .none

    @Option(name: .customLong("max-value"), help: "Clip z-scores to ±this value.")
    var maxValue: Double?

    @Option(help: "Negative binomial overdispersion θ for Pearson residuals.")
    var theta: Double = 100

    @Option(help: "Clip Pearson residuals to ±this (default √n_cells).")
    var clip: Double?

    @Flag(name: .customLong("map-stats"), help: "Write this shard's statistics for the next pass to -o (a .stats file) instead of normalising.")
    var mapStats = false

    @Option(name: .customLong("stats"), help: "Merged statistics of a pass (repeat, in pass order): apply them to this shard, or map the next pass.")
    var stats: [String] = []

    @Option(name: .customLong("row-offset"), help: "The input's first row in the whole matrix (sharded runs; a multiple of 1024).")
    var rowOffset: Int = 0

    @Flag(help: "Print the statistics passes these options need (sharded runs), one per line, and exit.")
    var passes = false

    @OptionGroup var compression: CompressionOptions

    @OptionGroup var memory: MemoryOptions

    @Flag(help: "Print read, stage and write times on stderr, and the stage's phases (qc, filters, normalize, hvg, scale).")
    var timing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if mapStats {
            if !output.hasSuffix(".stats") { throw ValidationError("with --map-stats, --output must end in .stats") }
        } else if !passes && !output.hasSuffix(".h5ad") {
            throw ValidationError("--output must end in .h5ad")
        }
        if rowOffset < 0 || rowOffset % 1024 != 0 { throw ValidationError("--row-offset must be a non-negative multiple of 1024") }
    }

    var parameters: NormalizeParameters {
        var p = NormalizeParameters()
        p.method = method
        p.inputType = inputType
        p.targetSum = targetSum
        p.minCounts = minCounts
        p.minGenes = minGenes
        p.minCells = minCells
        p.maxMito = maxMito
        p.hvg = hvg
        p.hvgFlavor = hvgFlavor
        p.batchKey = batchKey
        p.scale = scale
        p.maxValue = maxValue
        p.theta = theta
        p.clip = clip
        return p
    }

    func run() throws {
        if passes {
            for pass in parameters.passes { print(pass.rawValue) }
            return
        }
        let run = global.run
        var warnings: [String] = []
        let clock = Stopwatch()
        let globals = try stats.map { try StatsFile.read($0) }
        let budget = memory.budget
        let p = parameters
        let plainRun = !mapStats && stats.isEmpty && rowOffset == 0
        // Streams by itself when the stage's copies of X would not fit --memory (the same bytes
        // either way): X is read from the file chunk by chunk when it has no layers to carry.
        if plainRun && p.shardingProblem() == nil, input.hasSuffix(".h5ad"),
           let source = try? H5ADMatrixSource(path: input),
           source.storedCount(0..<source.rows) * NormalizeStage.bytesPerStoredEntry > budget.bytes,
           (try? H5AD.layerNames(input))?.isEmpty == true {
            let ann = try H5AD.readAnnotations(input, warnings: &warnings)
            warnings.forEach(global.note)
            // The next chunk's counts (value and index) are read while this one is worked on.
            let plan = RowChunking.plan(source, maxStored: budget.chunkEntries(bytesPerEntry: NormalizeStage.bytesPerStoredEntry + 8, share: 1))
            global.note("\(input): streaming in \(plan.count) chunks of at most \(budget.description) (--memory)")
            let reader = PrefetchingReader(source, order: Array(repeating: plan, count: p.passes.count + 1).flatMap { $0 })
            defer { reader.finish() }
            // Each normalised chunk's X and layers go to the file's spool as they come; only obs
            // and obsm rows stay in memory. The file is the bytes H5AD.write gives the stack.
            var writer: H5ADStreamWriter? = nil
            var rowParts: [Dataset] = []
            let notes = try NormalizeStage.runStreamed(p, file: input, threads: run.threads, plan: plan, chunk: { r in
                var d = Dataset(X: try reader.read(r), obs: ann.obs.subset(Array(r)), var: ann.var)
                for k in ann.obsm.keys { d.obsm[k] = ann.obsm[k]!.subset(rows: Array(r)) }
                d.varm = ann.varm
                d.uns = ann.uns
                return d
            }, emit: { d in
                if writer == nil {
                    writer = try H5ADStreamWriter(path: output, cols: d.nVars, sparse: d.X.isSparse,
                                                  compression: compression.setting(threads: run.threads),
                                                  layers: d.layers.keys.map { ($0, d.layers[$0]!.isSparse) })
                }
                try writer!.append(d.X)
                for k in d.layers.keys { try writer!.appendLayer(k, d.layers[k]!) }
                var rest = Dataset(X: .dense(Matrix(rows: d.nObs, cols: 0)), obs: d.obs, var: d.var)
                rest.obsm = d.obsm
                if rowParts.isEmpty { rest.varm = d.varm; rest.uns = d.uns }
                rowParts.append(rest)
            })
            guard let writer, let first = rowParts.first else { throw LatentError.internalFailure("no chunks were normalised", file: input) }
            let (obs, obsm) = try NormalizeStage.stackRowAnnotations(rowParts)
            writer.annotations = H5AD.Annotations(obs: obs, var: first.var, obsm: obsm, varm: first.varm, uns: first.uns)
            let tStage = clock.lap()
            notes.forEach(global.note)
            try writer.finish()
            if timing { printError("timing: read_s=0 stage_s=\(tStage) write_s=\(clock.lap())") }
            global.note("\(output): \(obs.count) cells × \(first.var.count) genes")
            print(output)
            return
        }
        let ds = try H5AD.read(input, warnings: &warnings)
        let tRead = clock.lap()
        warnings.forEach(global.note)
        // An input read whole (it has layers) still runs in chunks over --memory, for the same bytes.
        let footprint = ds.X.storedCount * NormalizeStage.bytesPerStoredEntry
        let stream = plainRun && footprint > budget.bytes && p.shardingProblem() == nil
        if footprint > budget.bytes && plainRun, let why = p.shardingProblem() {
            global.note("\(input): needs about \(footprint >> 20) MiB, more than --memory, but runs in memory: \(why)")
        }
        let out: NormalizeStage.Output
        if stream {
            let plan = RowChunking.plan(InMemorySource(ds.X),
                                        maxStored: budget.chunkEntries(bytesPerEntry: NormalizeStage.bytesPerStoredEntry, share: 1))
            global.note("\(input): streaming in \(plan.count) chunks of at most \(budget.description) (--memory)")
            out = try NormalizeStage.runInChunks(ds, p, file: input, threads: run.threads, plan: plan)
        } else {
            out = try NormalizeStage.run(ds, p, file: input, threads: run.threads, offset: rowOffset,
                                         globals: globals, globalNames: stats, mapStats: mapStats)
        }
        let tStage = clock.lap()
        if mapStats, let s = out.stats {
            try s.write(to: output)
            global.note("\(output): \(s.kind) statistics of rows \(s.rows.lowerBound)..<\(s.rows.upperBound)")
            print(output)
            return
        }
        out.notes.forEach(global.note)
        try H5AD.write(out.dataset, to: output, compression: compression.setting(threads: run.threads))
        if timing {
            let phases = out.phases.map { " \($0.name)_s=\($0.seconds)" }.joined()
            printError("timing: read_s=\(tRead) stage_s=\(tStage) write_s=\(clock.lap())" + phases)
        }
        global.note("\(output): \(out.dataset.nObs) cells × \(out.dataset.nVars) genes")
        print(output)
    }
}
