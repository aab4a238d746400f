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
        Examples:
          latent pca norm.h5ad -o pca.h5ad --k 50
          latent pca norm.h5ad -o pca.h5ad --k 20 --solver exact
        """
    )

    @Argument(help: "Input .h5ad (e.g. from `latent normalize`).")
    var input: String

    @Option(name: .shortAndLong, help: "Output .h5ad path.")
    var output: String

    @Option(help: "Number of components.")
    var k: Int = 50

    @Option(help: "auto | exact | randomized.")
    var solver: PCA.Solver = .auto

    @Flag(name: .customLong("no-center"), help: "Do not subtract gene means (as scanpy's zero_center=False).")
    var noCenter = false

    @Flag(help: "Print read, fit and write times on stderr.")
    var timing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
        if k < 1 { throw ValidationError("--k must be at least 1") }
    }

    func run() throws {
        let run = global.run
        var rng = run.rng()
        let clock = Stopwatch()
        var ds = try readModelInput(input, global)
        let tRead = clock.lap()
        let result: PCA.Result
        do {
            result = try PCA.fit(ds.X, k: k, solver: solver, center: !noCenter, rng: &rng, threads: run.threads)
        } catch let e as LatentError {
            throw e.inFile(input)
        }
        let tFit = clock.lap()
        result.store(into: &ds)
        try H5AD.write(ds, to: output, compression: Compression(level: 4, threads: run.threads))
        if timing { printError("timing: read_s=\(tRead) fit_s=\(tFit) write_s=\(clock.lap())") }
        let top = result.varianceRatio.prefix(5).map { String(format: "%.3f", $0) }.joined(separator: ", ")
        global.note("\(output): \(k) components (\(result.solver.rawValue)); variance ratio \(top)\(k > 5 ? ", …" : "")")
        print(output)
    }
}
