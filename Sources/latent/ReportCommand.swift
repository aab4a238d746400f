import ArgumentParser
import Foundation
import LatentCore
import LatentIO
import LatentReport

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "One self-contained HTML page (inline SVG, no network) about every model run, and its tables as TSV.",
        discussion: """
        Input: a run directory (walked recursively: every .h5ad with obsm X_pca, X_ica, X_nmf or X_vae is
        a model run; history*.tsv, enrich*.tsv, metrics*.tsv and traverse*_zJ.tsv beside it belong to
        it, by name when a directory holds several models), a pipeline cache (entries with manifest.json),
        or one .h5ad. The tables go to a directory beside the page: report.html → report_tables/.

        Examples:
          latent report runs/ -o report.html
          latent report .latent-cache -o sweep.html --color-by cell_type
        """
    )

    @Argument(help: "Run directory, pipeline cache or .h5ad.")
    var input: String

    @Option(name: .shortAndLong, help: "Output .html path (written atomically; tables beside it).")
    var output: String

    @Option(help: "FDR below which a gene set counts as significant.")
    var fdr: Double = 0.05

    @Option(name: .customLong("top-genes"), help: "Genes shown per sign and latent.")
    var topGenes: Int = 10

    @Option(name: .customLong("top-sets"), help: "Gene sets shown per latent.")
    var topSets: Int = 10

    @Option(name: .customLong("color-by"), help: "obs column to colour latent distributions by (default: the first with 2–8 categories).")
    var colorBy: String?

    @Option(help: "Page title.")
    var title: String = "latent report"

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".html") { throw ValidationError("--output must end in .html") }
        if !(fdr > 0 && fdr <= 1) { throw ValidationError("--fdr must be in (0, 1]") }
        if topGenes < 1 || topSets < 1 { throw ValidationError("--top-genes and --top-sets must be at least 1") }
    }

    func run() throws {
        _ = global.run
        var o = Report.Options()
        o.fdr = fdr
        o.topGenes = topGenes
        o.topSets = topSets
        o.colorBy = colorBy
        o.title = title
        let report = try Report.discover(input, options: o)
        if let c = colorBy, !report.runs.contains(where: { $0.obs[c] != nil }) {
            throw LatentError.badInput(input, "obs/\(c)", "no run has this obs column for --color-by")
        }
        report.notes.forEach { global.note("latent report: \($0)") }
        let tables = try report.write(to: output, generator: "latent \(LatentVersion.string)")
        global.note("\(output): \(report.runs.count) runs, \(tables.count) tables in \(Report.tablesDirectory(for: output))")
        print(output)
    }
}
