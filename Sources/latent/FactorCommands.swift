import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

/// `latent ica` and `latent nmf`: the other two BioBombe baselines, stored like PCA.
struct ICACommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ica",
        abstract: "FastICA on PCA-whitened data: obsm[\"X_ica\"], varm[\"ICs\"], uns[\"ica\"].",
        discussion: "Example:\n  latent ica norm.h5ad -o ica.h5ad --k 20 --seed 1")

    @Argument(help: "Input .h5ad.") var input: String
    @Option(name: .shortAndLong, help: "Output .h5ad path.") var output: String
    @Option(help: "Number of components.") var k: Int = 20
    @Option(name: .customLong("max-iter"), help: "Iteration limit.") var maxIter: Int = 200
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let run = global.run
        var rng = run.rng()
        var ds = try readModelInput(input, global)
        let r: ICA.Result
        do { r = try ICA.fit(ds.X, k: k, maxIterations: maxIter, rng: &rng, threads: run.threads) } catch let e as LatentError { throw e.inFile(input) }
        if !r.converged { global.note("\(input): FastICA did not converge in \(maxIter) iterations (raise --max-iter)") }
        ds.storeFactors(scores: r.sources, loadings: r.loadings, keys: .ica, info: OrderedDict([
            ("n_iter", .int(Int64(r.iterations))), ("converged", .bool(r.converged)),
            ("params", .dict(OrderedDict([("fun", .string("logcosh")), ("algorithm", .string("parallel")), ("whiten", .string("unit-variance"))]))),
        ]))
        try H5AD.write(ds, to: output, compression: Compression(level: 4, threads: run.threads))
        print(output)
    }
}

struct NMFCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nmf",
        abstract: "Non-negative matrix factorisation (multiplicative updates): obsm[\"X_nmf\"], varm[\"NMF_loadings\"], uns[\"nmf\"].",
        discussion: "Example:\n  latent nmf norm.h5ad -o nmf.h5ad --k 20 --seed 1")

    @Argument(help: "Input .h5ad with non-negative X (log-normalised, not z-scored).") var input: String
    @Option(name: .shortAndLong, help: "Output .h5ad path.") var output: String
    @Option(help: "Number of components.") var k: Int = 20
    @Option(name: .customLong("max-iter"), help: "Iteration limit.") var maxIter: Int = 200
    @OptionGroup var global: GlobalOptions

    func run() throws {
        let run = global.run
        var rng = run.rng()
        var ds = try readModelInput(input, global)
        let r = try NMF.fit(ds.X, k: k, maxIterations: maxIter, rng: &rng, file: input)
        ds.storeFactors(scores: r.scores, loadings: r.loadings, keys: .nmf, info: OrderedDict([
            ("reconstruction_err", .double((2 * (r.objective.last ?? 0)).squareRoot())),
            ("n_iter", .int(Int64(r.objective.count))), ("converged", .bool(r.converged)),
            ("params", .dict(OrderedDict([("solver", .string("mu")), ("init", .string("random")), ("beta_loss", .string("frobenius"))]))),
        ]))
        try H5AD.write(ds, to: output, compression: Compression(level: 4, threads: run.threads))
        print(output)
    }
}
