import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

struct DifferentialCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "differential",
        abstract: "Which latents (gene programs) change between groups of cells: a Bayes-factor test on the posterior.",
        discussion: """
        For each group of an obs column against a reference (the other cells, or one group) and each
        latent: p = P(z_group > z_reference) over pairs of cells, with z from each cell's posterior
        N(μ, σ²) (obsm X_vae and X_vae_logvar), and the log Bayes factor log p − log(1 − p), as
        expiMap's latent test and scVI's differential expression define them. --mode exact (default)
        uses the closed form Φ((μa − μb)/√(σ²a + σ²b)) per pair; sampled draws z. Every pair is used
        when there are at most --pairs of them. Latents are named by uns["vae"]["latent_names"] (gene
        programs) when present, else z0, z1, …; with programs, --directions auto multiplies each latent
        by the sign of its loadings' sum (expiMap's latent_directions), so "up" means its genes go up.

        Output: a tidy TSV (groupby, group, reference, latent, name, n_group, n_reference, mean_group,
        mean_reference, difference, sign, pairs, probability, log_bayes_factor, direction); direction is
        up/down where |log BF| exceeds --threshold (2.3 = odds of 10 : 1), else none. Written beside a
        model as differential*.tsv, `latent report` shows it.

        Examples:
          latent differential vae/ --groupby obs/cell_type -o vae/differential.tsv
          latent differential vae/ --groupby sex --group female --reference male -o vae/differential_sex.tsv
          latent differential pca.h5ad --key obsm/X_pca --groupby obs/batch -o -    # point estimates
        """
    )

    @Argument(help: "A `latent vae` output directory (its embedding.h5ad) or an embedding .h5ad.")
    var input: String

    @Option(help: "The obs column whose groups are compared (obs/COL or COL): categorical, string, bool or integer.")
    var groupby: String

    @Option(help: "A group to test (repeat for several; default: every group).")
    var group: [String] = []

    @Option(help: "What each group is compared with: 'rest' (all other cells) or one group.")
    var reference: String = "rest"

    @Option(help: "The posterior means in obsm (variances from obsm/<NAME>_logvar when present).")
    var key: String = "obsm/X_vae"

    @Option(help: "exact (closed form per pair, expiMap's default) or sampled (one posterior draw per cell of each pair, scVI's).")
    var mode: DifferentialActivity.Mode = .exact

    @Option(help: "Pairs of cells per comparison; every pair when there are fewer.")
    var pairs: Int = 5000

    @Option(help: "Latent signs: auto (sum when latents are gene programs, else none), sum, counts, none.")
    var directions: DifferentialActivity.Directions = .auto

    @Option(help: "|log Bayes factor| above which a change is called up or down.")
    var threshold: Double = 2.3

    @Option(name: .shortAndLong, help: "Output TSV path, or - for stdout.")
    var output: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if pairs < 1 { throw ValidationError("--pairs must be at least 1") }
        if !(threshold >= 0) || !threshold.isFinite { throw ValidationError("--threshold must be a finite number ≥ 0") }
        if group.contains(reference) { throw ValidationError("--group and --reference name the same group '\(reference)'") }
    }

    func run() throws {
        let options = global.run
        let input = try DifferentialActivity.load(self.input, key: key, directions: directions)
        let grouping = try DifferentialActivity.grouping(input.dataset, column: groupby, file: input.path)
        var p = DifferentialActivity.Parameters()
        p.pairs = pairs
        p.mode = mode
        p.threshold = threshold
        p.seed = options.seed
        let rows: [DifferentialActivity.Row]
        do {
            rows = try DifferentialActivity.test(input.posterior, grouping: grouping, groups: group.isEmpty ? nil : group,
                                                 reference: reference == "rest" ? nil : reference, parameters: p)
        } catch let e as LatentError {
            throw e.inFile(input.path)
        }
        if rows.isEmpty {
            throw LatentError.badInput(input.path, "obs/\(grouping.column)", "nothing to compare: fewer than two groups with cells")
        }
        try AtomicOutput.write(Data(DifferentialActivity.tsv(rows, groupby: grouping.column).utf8), to: output)
        let called = rows.filter { $0.direction != "none" }
        global.note("\(input.path): \(Set(rows.map(\.group)).count) groups × \(input.posterior.mean.cols) latents"
                    + (input.named ? " (gene programs, directions \(input.directions.rawValue))" : "")
                    + ": \(called.count) changes with |log BF| > \(threshold)")
        if output != "-" { print(output) }
    }
}

extension DifferentialActivity.Mode: ExpressibleByArgument {}
extension DifferentialActivity.Directions: ExpressibleByArgument {}
