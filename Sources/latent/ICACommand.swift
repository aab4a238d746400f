import ArgumentParser
import LatentCore
import LatentIO
import LatentModels

/// `latent ica`: BioBombe's ICA baseline, stored with the same key pattern as PCA.
struct ICACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ica",
        abstract: "FastICA on PCA-whitened data: obsm[\"X_ica\"], varm[\"ICs\"], uns[\"ica\"].",
        discussion: """
        scikit-learn's FastICA(whiten="unit-variance", fun="logcosh", algorithm="parallel"). \
        X_ica holds unit-variance sources; ICs the gene-space unmixing matrix (sklearn's \
        components_.T), so X_ica = (X − mean)·ICs. Components are ordered by the variance they \
        explain, each with its largest-magnitude loading positive.

        Example:
          latent ica norm.h5ad -o ica.h5ad --k 20 --seed 1
        """)

    @Argument(help: "Input .h5ad.") var input: String
    @OptionGroup var out: ModelOutputOptions
    @Option(help: "Number of components.") var k: Int = 20
    @Option(name: .customLong("max-iter"), help: "Iteration limit.") var maxIter: Int = 200
    @Option(help: "Stop when max |(|diag(W₁Wᵀ)| − 1)| is below this (sklearn's tol).") var tol: Double = 1e-4
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if k < 1 { throw ValidationError("--k must be at least 1") }
        if !out.output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
        if maxIter < 1 { throw ValidationError("--max-iter must be at least 1") }
        if !(tol > 0) { throw ValidationError("--tol must be positive") }
    }

    func run() throws {
        let run = global.run
        let clock = Stopwatch()
        let ds = try readModelInput(input, global)
        let tRead = clock.lap()
        var p = ICAParameters()
        p.k = k; p.maxIter = maxIter; p.tol = tol
        let stage = try ICAStage.run(ds, p, seed: run.seed, threads: run.threads, file: input)
        let tFit = clock.lap()
        stage.notes.forEach(global.note)
        try out.write(stage.dataset, threads: run.threads)
        if out.timing { printError("timing: read_s=\(tRead) fit_s=\(tFit) write_s=\(clock.lap())") }
        global.note("\(out.output): \(k) independent components in \(stage.result.iterations) iterations")
        print(out.output)
    }
}
