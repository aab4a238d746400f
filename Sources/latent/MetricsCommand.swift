import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "How each latent relates to known factors: correlations, MIG, DCI, SAP, FactorVAE score, active units, TC.",
        discussion: """
        A tidy TSV (model, parameters, seed, metric, latent, factor, value); "all" marks a score over
        all latents or factors. Without --factors, every obs column named factor_* is used (as
        `latent simulate` writes them). --summary reads metrics tables of several runs and writes
        the mean and standard deviation of each score across seeds, per model and parameters.

        Examples:
          latent metrics vae/embedding.h5ad --key obsm/X_vae --factors obs/factor_1,obs/factor_2 -o metrics.tsv
          latent metrics pca.h5ad --key obsm/X_pca -o -
          latent metrics --summary runs/*/metrics.tsv -o summary.tsv
          latent metrics --summary .latent-cache -o summary.tsv     # every metrics*.tsv below
        """
    )

    @Argument(help: "An .h5ad with codes in obsm (or, with --summary, metrics tables or directories holding them).")
    var inputs: [String] = []

    @Option(help: "The codes: obsm/X_vae, obsm/X_pca, obsm/X_ica, obsm/X_nmf.")
    var key: String?

    @Option(help: "Comma-separated obs columns with the known factors (obs/COL or COL).")
    var factors: String?

    @Flag(help: "Summarise metrics tables across seeds instead of computing metrics.")
    var summary = false

    @Option(help: "Histogram bins for discretising codes and continuous factors.")
    var bins: Int = 20

    @Option(name: .customLong("active-threshold"), help: "Variance of a latent's means across cells above which it is active.")
    var activeThreshold: Double = 0.01

    @Option(name: .shortAndLong, help: "Output TSV path, or - for stdout.")
    var output: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give an .h5ad (or metrics tables with --summary)") }
        if !summary && inputs.count > 1 { throw ValidationError("one .h5ad at a time (several tables only with --summary)") }
        if !summary && key == nil { throw ValidationError("which codes? give --key obsm/NAME (e.g. obsm/X_vae)") }
        if bins < 2 { throw ValidationError("--bins must be at least 2") }
    }

    func run() throws {
        let run = global.run
        if summary {
            let out = try Metrics.summary(paths: inputs)
            try AtomicOutput.write(Data(out.text.utf8), to: output)
            global.note("summarised \(out.files.count) metrics tables")
        } else {
            let input = inputs[0]
            let ds = try readModelInput(input, global)
            let codes = try Metrics.codes(ds, key: key!, file: input)
            let cols = factors?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
            let fs = try Metrics.factors(ds, columns: cols, file: input)
            if fs.isEmpty { global.note("\(input): no factors (no --factors and no obs/factor_* columns): unsupervised metrics only") }
            var p = Metrics.Parameters()
            p.bins = bins
            p.activeThreshold = activeThreshold
            p.seed = run.seed
            let rows = try Metrics.compute(codes: codes, factors: fs, parameters: p)
            try AtomicOutput.write(Data(Metrics.tsv(rows, run: Metrics.runLabel(ds, key: key!)).utf8), to: output)
            let score = { (m: String) in rows.first { $0.metric == m && $0.factor == "all" }.map { String(format: "%.3f", $0.value) } ?? "NA" }
            global.note("\(input): \(codes.count) latents, \(fs.count) factors: MIG \(score("mig")), DCI-D \(score("dci_disentanglement")), active \(score("active_units"))")
        }
        if output != "-" { print(output) }
    }
}
