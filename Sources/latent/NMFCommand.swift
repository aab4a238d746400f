import ArgumentParser
import LatentCore
import LatentIO
import LatentModels

extension NMF.Solver: ExpressibleByArgument {}
extension NMF.Initialization: ExpressibleByArgument {}

/// `latent nmf`: BioBombe's NMF baseline, stored with the same key pattern as PCA.
struct NMFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nmf",
        abstract: "Non-negative matrix factorisation: obsm[\"X_nmf\"] (W), varm[\"NMF_loadings\"] (Hᵀ), uns[\"nmf\"].",
        discussion: """
        scikit-learn's NMF with the Frobenius loss: --solver cd (coordinate descent, i.e. HALS; \
        sklearn's default) or mu (multiplicative updates), started from --init nndsvda (sklearn's \
        default), nndsvd or random. X must be non-negative (log-normalised, not z-scored).

        Example:
          latent nmf norm.h5ad -o nmf.h5ad --k 20
        """)

    @Argument(help: "Input .h5ad with non-negative X.") var input: String
    @OptionGroup var out: ModelOutputOptions
    @Option(help: "Number of components.") var k: Int = 20
    @Option(help: "cd | mu.") var solver: NMF.Solver = .cd
    @Option(help: "nndsvda | nndsvd | random (seeded by --seed).") var `init`: NMF.Initialization = .nndsvda
    @Option(name: .customLong("max-iter"), help: "Iteration limit.") var maxIter: Int = 200
    @Option(help: "sklearn's tol: relative stopping threshold.") var tol: Double = 1e-4
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if !out.output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
        if maxIter < 1 { throw ValidationError("--max-iter must be at least 1") }
        if !(tol >= 0) { throw ValidationError("--tol must be 0 or more") }
    }

    func run() throws {
        let run = global.run
        let clock = Stopwatch()
        let ds = try readModelInput(input, global)
        let tRead = clock.lap()
        var p = NMFParameters()
        p.k = k; p.solver = solver; p.initialization = `init`; p.maxIter = maxIter; p.tol = tol
        let stage = try NMFStage.run(ds, p, seed: run.seed, threads: run.threads, file: input)
        let r = stage.result
        let tFit = clock.lap()
        stage.notes.forEach(global.note)
        try out.write(stage.dataset, threads: run.threads)
        if out.timing { printError("timing: read_s=\(tRead) fit_s=\(tFit) write_s=\(clock.lap())") }
        global.note("\(out.output): \(k) factors, reconstruction error \(r.reconstructionError) after \(r.iterations) iterations")
        print(out.output)
    }
}
