import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

struct ConsensusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consensus",
        abstract: "Which latents come back with every seed: latents matched across seeds by their loadings.",
        discussion: """
        Runs of the same model and settings that differ only in seed (uns["vae"]["seed"], as `latent
        run` grids write them) are compared pairwise: |Pearson r| (or |cosine|) between every two
        latents' gene loadings, latents matched one-to-one by the Hungarian algorithm. A latent's
        reproducibility is the median over the other seeds of its matched |r|; its recurrence, the
        fraction of the other seeds whose matched latent has the same top significant gene set (from
        enrichment tables: --enrich, paired with the runs in order, or an enrich*.tsv beside each model).

        Output: a tidy TSV (model, parameters, seed, run, latent, name, consensus, seeds,
        reproducibility, min_match, top_set, top_set_direction, recurrence, stable); consensus is the
        matched latent of the first seed; stable is reproducibility ≥ --stable. `latent report` shows
        a consensus*.tsv it finds.

        Examples:
          latent consensus results/vae/*/ -o consensus.tsv
          latent consensus s0/ica.h5ad s1/ica.h5ad s2/ica.h5ad --enrich s0/enrich.tsv --enrich s1/enrich.tsv --enrich s2/enrich.tsv -o consensus.tsv
        """
    )

    @Argument(help: "Model outputs: .h5ad files, or directories holding one (a `latent vae` directory).")
    var inputs: [String] = []

    @Option(help: "The loadings (varm/NAME); default: the model output each file holds.")
    var key: String?

    @Option(help: "An enrichment table per run, in the order of the runs (repeat); default: enrich*.tsv beside each model.")
    var enrich: [String] = []

    @Option(help: "pearson (|r| of the loadings) or cosine.")
    var similarity: Consensus.Similarity = .pearson

    @Option(help: "FDR below which a gene set can be a latent's top set.")
    var fdr: Double = 0.05

    @Option(help: "Reproducibility at or above which a latent is called stable.")
    var stable: Double = 0.8

    @Option(name: .shortAndLong, help: "Output TSV path, or - for stdout.")
    var output: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if inputs.count < 2 { throw ValidationError("give at least two runs (the same model with different seeds)") }
        if !enrich.isEmpty && enrich.count != inputs.count {
            throw ValidationError("--enrich was given \(enrich.count) times for \(inputs.count) runs; give one per run, in the same order")
        }
        if !(fdr > 0 && fdr <= 1) { throw ValidationError("--fdr must be in (0, 1]") }
        if !(stable >= 0 && stable <= 1) { throw ValidationError("--stable must be in [0, 1]") }
    }

    func run() throws {
        _ = global.run
        var p = Consensus.Parameters()
        p.similarity = similarity
        p.fdr = fdr
        p.stable = stable
        var runs: [Consensus.Run] = []
        for (i, path) in inputs.enumerated() {
            let file = try Consensus.modelFile(path)
            let table = enrich.isEmpty ? Consensus.enrichmentBeside(file) : enrich[i]
            runs.append(try Consensus.loadRun(path, key: key, enrichment: table, fdr: fdr))
        }
        let out = try Consensus.compute(runs, parameters: p)
        out.notes.forEach(global.note)
        guard !out.rows.isEmpty else {
            throw LatentError.badInput(inputs[0], nil, "no two runs share a model and its settings (they differ in more than the seed)",
                                       hint: "give runs of one model with different --seed")
        }
        try AtomicOutput.write(Data(Consensus.tsv(out.rows).utf8), to: output)
        let stableCount = out.rows.filter(\.stable).count
        global.note("\(runs.count) runs, \(out.rows.count) latents: \(stableCount) with reproducibility ≥ \(stable)"
                    + (runs.contains { $0.topSets != nil } ? "" : " (no enrichment tables: recurrence NA)"))
        if output != "-" { print(output) }
    }
}

extension Consensus.Similarity: ExpressibleByArgument {}
