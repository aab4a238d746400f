import ArgumentParser
import Foundation
import LatentCore
import LatentIO

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a dataset: shape, sparsity, value type, obs/var columns, obsm/varm keys.",
        discussion: """
        Reads any input `latent import` reads. The summary goes to stdout.

        Examples:
          latent inspect dataset.h5ad
          latent inspect counts.csv.gz --json | jq .nObs
        """
    )

    @Argument(help: "File or 10x directory to describe.")
    var input: String

    @Option(help: "Input format (as for import).")
    var format: Import.Format = .auto

    @Option(help: "For CSV/TSV: auto, cells-by-genes or genes-by-cells.")
    var orient: Orientation = .auto

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @OptionGroup var global: GlobalOptions

    func run() throws {
        let run = global.run
        var options = Import.Options()
        options.format = format
        options.orientation = orient
        options.threads = run.threads
        let result = try Import.read(input, options: options)
        for n in result.notes { global.note(n) }
        let summary = DatasetSummary(result.dataset)
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.sortedKeys, .prettyPrinted]
            let data = try enc.encode(summary)
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(summary.render(title: "\(input)  (\(result.format.rawValue))"))
        }
    }
}
