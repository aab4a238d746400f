import ArgumentParser
import Dispatch
import LatentCore
import LatentIO

extension Import.Format: ExpressibleByArgument {}
extension Orientation: ExpressibleByArgument {}
extension TenXVarNames: ExpressibleByArgument {}

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Read counts (h5ad, CSV/TSV[.gz], 10x directory or .h5) and write an .h5ad.",
        discussion: """
        Prints a summary on stderr and the output path on stdout.

        Examples:
          latent import counts.tsv.gz -o dataset.h5ad              # bulk: genes in rows, detected
          latent import filtered_feature_bc_matrix/ -o pbmc.h5ad    # 10x MatrixMarket directory
          latent import sample.h5 -o sample.h5ad --counts           # Cell Ranger v3, require counts
        """
    )

    @Argument(help: "Input file or 10x directory.")
    var input: String

    @Option(name: .shortAndLong, help: "Output .h5ad path.")
    var output: String

    @Option(help: "Input format: \(Import.Format.allCases.map(\.rawValue).joined(separator: "|")).")
    var format: Import.Format = .auto

    @Option(help: "For CSV/TSV: auto, cells-by-genes (rows are cells/samples) or genes-by-cells.")
    var orient: Orientation = .auto

    @Option(name: .customLong("var-names"), help: "For 10x input: gene_symbols (scanpy's default) or gene_ids.")
    var varNames: TenXVarNames = .geneSymbols

    @Option(name: .customLong("obs-table"), help: "CSV/TSV sample sheet joined onto obs by its first column.")
    var obsTable: String?

    @Option(name: .customLong("var-table"), help: "CSV/TSV gene annotation joined onto var by its first column.")
    var varTable: String?

    @Flag(help: "Require non-negative integer counts in X.")
    var counts = false

    @OptionGroup var compression: CompressionOptions

    @Flag(help: "Print read and write times on stderr.")
    var timing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
    }

    func run() throws {
        let run = global.run
        var options = Import.Options()
        options.format = format
        options.orientation = orient
        options.varNames = varNames
        options.requireCounts = counts
        options.obsTable = obsTable
        options.varTable = varTable
        options.threads = run.threads
        let clock = Stopwatch()
        let result = try Import.read(input, options: options)
        let tRead = clock.lap()
        for n in result.notes { global.note(n) }
        var ds = result.dataset
        ds.uns["latent_import"] = .dict(OrderedDict([
            ("source", .string(input.split(separator: "/").last.map(String.init) ?? input)),
            ("format", .string(result.format.rawValue)),
        ]))
        try H5AD.write(ds, to: output, compression: compression.setting(threads: run.threads))
        let tWrite = clock.lap()
        global.note(DatasetSummary(ds).render(title: "\(output)  (from \(input), \(result.format.rawValue))"))
        if timing { printError("timing: read_s=\(tRead) write_s=\(tWrite)") }
        print(output)
    }
}
