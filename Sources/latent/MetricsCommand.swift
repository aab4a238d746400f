import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentModels

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "How each latent relates to known factors (MIG, DCI, SAP, FactorVAE score, …) and how well an embedding integrates batches (scIB metrics).",
        discussion: """
        A tidy TSV (model, parameters, seed, metric, latent, factor, value); "all" marks a score over
        all latents or factors. Without --factors, every obs column named factor_* is used (as
        `latent simulate` writes them). --summary reads metrics tables of several runs and writes
        the mean and standard deviation of each score across seeds, per model and parameters.

        With --batch and/or --labels, the integration metrics of scIB as scib-metrics defines
        them (exact neighbours): bio conservation (isolated_labels, nmi_kmeans, ari_kmeans,
        silhouette_label, clisi) and batch correction (bras, ilisi, kbet, graph_connectivity,
        pcr_comparison; silhouette_batch besides), and with both the aggregates
        scib_batch_correction, scib_bio_conservation and scib_total = 0.4·batch + 0.6·bio (means
        of the unscaled metrics: scib-metrics' Benchmarker without min–max scaling). k-means
        runs one seeded start as scib-metrics does; on overlapping labels its NMI/ARI move with
        the seed by a few hundredths, --kmeans-starts 10 keeps the best of ten. PCR
        comparison needs the unintegrated data: --unintegrated obsm/KEY (of --reference FILE, or
        of the input), else a 50-component PCA of the input's X. Distances and neighbours are
        exact: O(n²·d) time, O(n·256) memory; kBET adds a dense eigendecomposition per label.

        --subspace obs/COL:i-j (and any subspaces the model recorded in uns[model]["subspaces"])
        adds subspace predictability: the cross-validated balanced accuracy of a 15-NN classifier
        for COL from latents i…j and from all the other latents (R² for a numeric COL).

        Examples:
          latent metrics vae/embedding.h5ad --key obsm/X_vae --factors obs/factor_1,obs/factor_2 -o metrics.tsv
          latent metrics pca.h5ad --key obsm/X_pca -o -
          latent metrics vae/embedding.h5ad --key obsm/X_vae --batch obs/sample --labels obs/cell_type -o integration.tsv
          latent metrics vae/embedding.h5ad --key obsm/X_vae --labels obs/cell_type --subspace obs/cell_type:0-3 -o m.tsv
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

    @Option(help: "obs column with the batch (sample) of each cell: adds the batch-correction metrics.")
    var batch: String?

    @Option(help: "obs column with the cell type (label) of each cell: adds the bio-conservation metrics.")
    var labels: String?

    @Option(help: "The unintegrated reference for PCR comparison, obsm/KEY (default: a 50-component PCA of X).")
    var unintegrated: String?

    @Option(help: "An .h5ad holding --unintegrated (or the X to run PCA on), cells in the same order (default: the input).")
    var reference: String?

    @Option(help: "obs/COL:i-j — latents i…j (0-based) belong to covariate COL; repeatable.")
    var subspace: [String] = []

    @Option(name: .customLong("kmeans-starts"), help: "k-means starts for nmi_kmeans/ari_kmeans, the least inertia kept (scib-metrics: 1).")
    var kmeansStarts: Int = 1

    @Flag(help: "Summarise metrics tables across seeds instead of computing metrics.")
    var summary = false

    @Option(help: "Histogram bins for discretising codes and continuous factors.")
    var bins: Int = 20

    @Option(name: .customLong("active-threshold"), help: "Variance of a latent's means across cells above which it is active.")
    var activeThreshold: Double = 0.01

    @Option(name: .shortAndLong, help: "Output TSV path, or - for stdout.")
    var output: String

    @OptionGroup var memory: MemoryOptions

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give an .h5ad (or metrics tables with --summary)") }
        if !summary && inputs.count > 1 { throw ValidationError("one .h5ad at a time (several tables only with --summary)") }
        if !summary && key == nil { throw ValidationError("which codes? give --key obsm/NAME (e.g. obsm/X_vae)") }
        if bins < 2 { throw ValidationError("--bins must be at least 2") }
        if kmeansStarts < 1 { throw ValidationError("--kmeans-starts must be at least 1") }
        if summary && (batch != nil || labels != nil || !subspace.isEmpty) {
            throw ValidationError("--batch, --labels and --subspace compute metrics; --summary only reads tables")
        }
        for s in subspace { do { _ = try Metrics.parseSubspace(s, file: nil) } catch { throw ValidationError("--subspace \(s): write obs/COL:i-j, e.g. obs/cell_type:0-3") } }
    }

    func run() throws {
        let run = global.run
        if summary {
            let out = try Metrics.summary(paths: inputs)
            try AtomicOutput.write(Data(out.text.utf8), to: output)
            global.note("summarised \(out.files.count) metrics tables")
        } else {
            let input = inputs[0]
            // X is read only for PCR's PCA of the unintegrated data, in chunks within --memory.
            let (ds, xSource) = try readAnnotationsInput(input, global)
            let codes = try Metrics.codes(ds, key: key!, file: input)
            let cols = factors?.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } ?? []
            let fs = try Metrics.factors(ds, columns: cols, file: input)
            let request = Metrics.IntegrationRequest(batch: batch, labels: labels, unintegrated: unintegrated, subspaces: subspace)
            if fs.isEmpty && request.isEmpty { global.note("\(input): no factors (no --factors and no obs/factor_* columns): unsupervised metrics only") }
            var p = Metrics.Parameters()
            p.bins = bins
            p.activeThreshold = activeThreshold
            p.seed = run.seed
            var rows = try Metrics.compute(codes: codes, factors: fs, parameters: p)
            var ip = Metrics.IntegrationParameters()
            ip.seed = run.seed
            ip.kmeansStarts = kmeansStarts
            let ref = try reference.map { try readAnnotationsInput($0, global) }
            rows += try Metrics.integration(ds, key: key!, request: request, reference: ref?.dataset, parameters: ip,
                                            threads: run.threads, file: input, note: { global.note("\(input): \($0)") },
                                            xSource: batch != nil && unintegrated == nil ? try (ref?.X ?? xSource)() : nil,
                                            budget: memory.budget)
            try AtomicOutput.write(Data(Metrics.tsv(rows, run: Metrics.runLabel(ds, key: key!)).utf8), to: output)
            let score = { (m: String) in rows.first { $0.metric == m && $0.factor == "all" }.map { String(format: "%.3f", $0.value) } ?? "NA" }
            if !fs.isEmpty || request.isEmpty {
                global.note("\(input): \(codes.count) latents, \(fs.count) factors: MIG \(score("mig")), DCI-D \(score("dci_disentanglement")), active \(score("active_units"))")
            }
            if batch != nil && labels != nil {
                global.note("\(input): scIB batch correction \(score("scib_batch_correction")), bio conservation \(score("scib_bio_conservation")), total \(score("scib_total"))")
            }
        }
        if output != "-" { print(output) }
    }
}
