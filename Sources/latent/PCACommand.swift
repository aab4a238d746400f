import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

extension PCA.Solver: ExpressibleByArgument {}

struct PCACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pca",
        abstract: "Principal components: obsm[\"X_pca\"], varm[\"PCs\"], uns[\"pca\"] as scanpy writes them.",
        discussion: """
        Variances and variance ratios as scikit-learn's PCA; signs by its svd_flip (each \
        component's largest-magnitude loading is positive). Sparse input is centred implicitly, \
        never densified. --k above min(observations − 1, variables) is an error, not clamped.

        Solvers: exact (LAPACK eigendecomposition of the smaller Gram matrix), randomized (block \
        Krylov, stopped when every component's relative residual is below --tol), auto (exact \
        for small or nearly full problems, randomized otherwise).

        X is read in row chunks while the previous chunk's statistics are summed (the gene Gram, \
        exact sums per 1,024-row block), and is never held whole when it exceeds --memory: the \
        scores pass then reads it again. The results are the same bytes either way. (Wide data, \
        more observations-side than genes-side work, and sparse data with many genes below 2 % \
        density are fitted in memory.)

        Sharded (issue 16; shards start on 1,024-row blocks, e.g. from `latent split`):
          latent pca s0.h5ad --row-offset 0 --map-stats -o s0.stats        # map, per shard
          latent stats merge s0.stats s1.stats … -o all.stats               # reduce
          latent pca s0.h5ad --stats all.stats --k 50 -o s0.pca.h5ad        # map, per shard
        Each shard's output holds its rows' scores and the loadings and uns["pca"] of the \
        single-process run; `latent import s0.pca.h5ad s1.pca.h5ad … -o all.h5ad` gathers them.

        Examples:
          latent pca norm.h5ad -o pca.h5ad --k 50
          latent pca norm.h5ad -o pca.h5ad --k 20 --solver exact
          latent pca atlas.h5ad -o pca.h5ad --memory 2G        # streamed when X exceeds 2 GiB
          latent pca counts_log.h5ad -o pca.h5ad --k 30 --no-center   # scanpy's zero_center=False
        """
    )

    @Argument(help: "Input .h5ad (e.g. from `latent normalize`).")
    var input: String

    @OptionGroup var out: ModelOutputOptions

    @Option(help: "Number of components.")
    var k: Int = 50

    @Option(help: "auto | exact | randomized.")
    var solver: PCA.Solver = .auto

    @Flag(name: .customLong("no-center"), help: "Do not subtract gene means (scanpy's zero_center=False: TruncatedSVD).")
    var noCenter = false

    @Option(help: "Randomized solver: stop when every component's relative residual ‖Cv − λv‖/λ is below this.")
    var tol: Double = 1e-3

    @Option(help: "Randomized solver: columns added to --k in each Krylov block (sklearn's n_oversamples).")
    var oversampling: Int = 10

    @Flag(name: .customLong("map-stats"), help: "Sharded map step: write this shard's PCA statistics to -o (a .stats file) instead of fitting.")
    var mapStats = false

    @Option(name: .customLong("row-offset"), help: "With --map-stats: the shard's first row in the whole matrix (a multiple of 1024).")
    var rowOffset: Int = 0

    @Option(name: .customLong("stats"), help: "Sharded apply step: fit from these merged statistics (`latent stats merge`) and write this shard's scores.")
    var stats: String?

    @OptionGroup var memory: MemoryOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if !(tol > 0 && tol < 1) { throw ValidationError("--tol must be between 0 and 1") }
        if oversampling < 0 { throw ValidationError("--oversampling must be 0 or more") }
        if mapStats {
            if !out.output.hasSuffix(".stats") { throw ValidationError("with --map-stats, --output must end in .stats") }
            if stats != nil { throw ValidationError("--map-stats and --stats are the two map steps: give one") }
        } else if !out.output.hasSuffix(".h5ad") {
            throw ValidationError("--output must end in .h5ad")
        }
        if rowOffset < 0 || rowOffset % RowChunking.statBlock != 0 {
            throw ValidationError("--row-offset must be a multiple of \(RowChunking.statBlock) (shards start on statistics blocks)")
        }
    }

    var parameters: PCAParameters {
        var p = PCAParameters()
        p.k = k; p.solver = solver; p.center = !noCenter; p.tol = tol; p.oversampling = oversampling
        return p
    }

    func run() throws {
        let run = global.run
        let clock = Stopwatch()
        var warnings: [String] = []
        if mapStats {
            let f = try PCAStage.mapStatistics(file: input, rowOffset: rowOffset, threads: run.threads, budget: memory.budget)
            try f.write(to: out.output)
            global.note("\(out.output): PCA statistics of rows \(f.rows.lowerBound)..<\(f.rows.upperBound)")
            print(out.output)
            return
        }
        let stage = try PCAStage.run(file: input, parameters, seed: run.seed, threads: run.threads, budget: memory.budget,
                                     statistics: stats, warnings: &warnings)
        warnings.forEach(global.note)
        let result = stage.result
        let tFit = clock.lap()
        stage.notes.forEach(global.note)
        try H5AD.writeCarryingMatrices(stage.dataset, to: out.output, compression: out.compression.setting(threads: run.threads))
        // read_s: annotations and opening X; X itself is read during fit_s, overlapped with it.
        if out.timing { printError("timing: read_s=\(stage.readSeconds) fit_s=\(tFit - stage.readSeconds) write_s=\(clock.lap())") }
        let top = result.varianceRatio.prefix(5).map { String(format: "%.1f%%", 100 * $0) }.joined(separator: ", ")
        global.note("\(out.output): \(k) components (\(result.method)); variance ratio \(top)\(k > 5 ? ", …" : "")")
        print(out.output)
    }
}
