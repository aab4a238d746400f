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

        Examples:
          latent pca norm.h5ad -o pca.h5ad --k 50
          latent pca norm.h5ad -o pca.h5ad --k 20 --solver exact
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

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if !(tol > 0 && tol < 1) { throw ValidationError("--tol must be between 0 and 1") }
        if oversampling < 0 { throw ValidationError("--oversampling must be 0 or more") }
    }

    var parameters: PCAParameters {
        var p = PCAParameters()
        p.k = k; p.solver = solver; p.center = !noCenter; p.tol = tol; p.oversampling = oversampling
        return p
    }

    func run() throws {
        let run = global.run
        let clock = Stopwatch()
        let ds = try readModelInput(input, global)
        let tRead = clock.lap()
        let stage = try PCAStage.run(ds, parameters, seed: run.seed, threads: run.threads, file: input)
        let result = stage.result
        let tFit = clock.lap()
        stage.notes.forEach(global.note)
        try out.write(stage.dataset, threads: run.threads)
        if out.timing { printError("timing: read_s=\(tRead) fit_s=\(tFit) write_s=\(clock.lap())") }
        let top = result.varianceRatio.prefix(5).map { String(format: "%.1f%%", 100 * $0) }.joined(separator: ", ")
        global.note("\(out.output): \(k) components (\(result.method)); variance ratio \(top)\(k > 5 ? ", …" : "")")
        print(out.output)
    }
}
