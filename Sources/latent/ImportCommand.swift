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
        abstract: "Read counts (h5ad, CSV/TSV[.gz], 10x directory or .h5) and write an .h5ad; several inputs are concatenated.",
        discussion: """
        Prints a summary on stderr and the output path on stdout.

        Several inputs (streamed in row chunks, within --memory):
          --batch-key KEY: samples of any of the formats above (10x directories, Cell Ranger .h5, \
        .h5ad). Genes are aligned by ID (var "gene_ids" when every input has it, else the gene \
        names) and only genes in every input are kept (an inner join, as anndata.concat and \
        scanpy by default); cell names become NAME-SAMPLE and obs[KEY] holds the sample. A \
        sample is named by its file or directory (a 10x outs/filtered_feature_bc_matrix by the \
        directory above outs), or explicitly as NAME=PATH.
          no --batch-key: .h5ad shards (the gather step of a sharded workflow): identical var \
        required, cell names unique across inputs; X, layers, obs and obsm are stacked, var, varm and uns \
        are the first input's; the bytes are those one process would have written.

        Examples:
          latent import counts.tsv.gz -o dataset.h5ad              # bulk: genes in rows, detected
          latent import filtered_feature_bc_matrix/ -o pbmc.h5ad    # 10x MatrixMarket directory
          latent import sample.h5 -o sample.h5ad --counts           # Cell Ranger v3, require counts
          latent import A/outs/filtered_feature_bc_matrix B.h5 C.h5ad --batch-key sample -o all.h5ad
          latent import shards/shard_*.h5ad -o all.h5ad             # gather shards
        """
    )

    @Argument(help: "Input file(s) or 10x directory(ies); NAME=PATH names a sample for --batch-key.")
    var inputs: [String]

    @Option(name: .customLong("batch-key"), help: "Concatenate samples: the obs column that holds each cell's sample.")
    var batchKey: String?

    @OptionGroup var memory: MemoryOptions

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
        if inputs.isEmpty { throw ValidationError("give at least one input") }
        if concatenating && (obsTable != nil || varTable != nil || counts) {
            throw ValidationError("--obs-table, --var-table and --counts apply to a single input; import the samples first")
        }
        if let k = batchKey, k.isEmpty || k.contains("/") { throw ValidationError("--batch-key must be a plain column name") }
    }

    var concatenating: Bool { inputs.count > 1 || batchKey != nil }

    func run() throws {
        if concatenating { return try concatenate() }
        let input = inputs[0]
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

    func concatenate() throws {
        let run = global.run
        var o = H5ADConcat.Options()
        o.batchKey = batchKey
        o.compression = compression.setting(threads: run.threads)
        o.maxStored = memory.budget.chunkEntries(bytesPerEntry: 16)
        o.importOptions.format = format
        o.importOptions.orientation = orient
        o.importOptions.varNames = varNames
        o.importOptions.threads = run.threads
        let parsed = inputs.map { batchKey == nil ? H5ADConcat.Input(sample: $0, path: $0) : H5ADConcat.Input.parse($0) }
        let clock = Stopwatch()
        let notes = try H5ADConcat.run(parsed, to: output, options: o)
        for n in notes { global.note(n) }
        global.note("\(output): \(inputs.count) inputs concatenated\(batchKey.map { " (obs[\"\($0)\"] holds the sample)" } ?? "")")
        if timing { printError("timing: concat_s=\(clock.lap())") }
        print(output)
    }
}
