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

    @OptionGroup var compression: CompressionOptions

    @Flag(help: "Print read, stage and write times on stderr, and the stage's phases (qc, filters, normalize, hvg, scale).")
    var timing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
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
        let run = global.run
        var warnings: [String] = []
        let clock = Stopwatch()
        let ds = try H5AD.read(input, warnings: &warnings)
        let tRead = clock.lap()
        warnings.forEach(global.note)
        let out = try NormalizeStage.run(ds, parameters, file: input, threads: run.threads)
        let tStage = clock.lap()
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
