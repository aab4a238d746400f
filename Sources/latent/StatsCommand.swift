import ArgumentParser
import LatentCore
import LatentIO

/// `latent stats`: the reduce step of a sharded stage, and a look inside statistics files.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Merge or show the statistics files (.stats) of sharded stages.",
        discussion: """
        A sharded stage runs in three steps: each shard's statistics (`latent normalize SHARD \
        --map-stats -o SHARD.stats`, likewise `latent pca`), their sum (`latent stats merge`), and \
        each shard's transform with the summed statistics (`--stats all.stats`). The sums are exact \
        (128-bit fixed point, formed per block of 1024 rows), so the result is the single-process \
        result to the bit.
        """,
        subcommands: [StatsMergeCommand.self, StatsShowCommand.self]
    )
}

struct StatsMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Sum the statistics of contiguous shards into one file.",
        discussion: """
        The inputs must hold the same kind of statistics, computed with the same parameters, over \
        row ranges that together cover one contiguous range without overlap; they may be given in \
        any order.

        Example:
          latent stats merge shard0.stats shard1.stats shard2.stats -o all.stats
        """
    )

    @Argument(help: "Statistics files from the map steps (or earlier merges).")
    var inputs: [String]

    @Option(name: .shortAndLong, help: "Output .stats path.")
    var output: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give at least one .stats file to merge") }
    }

    func run() throws {
        let parts = try inputs.map { try StatsFile.read($0) }
        let merged = try StatsFile.merge(parts, names: inputs)
        try merged.write(to: output)
        global.note("\(output): \(merged.kind), rows \(merged.rows.lowerBound)..<\(merged.rows.upperBound) from \(inputs.count) files")
        print(output)
    }
}

struct StatsShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a summary of a statistics file: kind, rows, parameters and arrays.",
        discussion: "Example:\n  latent stats show all.stats"
    )

    @Argument(help: "A .stats file.")
    var input: String

    func run() throws {
        let s = try StatsFile.read(input)
        print("kind: \(s.kind)")
        print("rows: \(s.rows.lowerBound)..<\(s.rows.upperBound) (\(s.rows.count))")
        print("parameters: \(s.parameters)")
        func head(_ v: [Double]) -> String {
            v.prefix(4).map { "\($0)" }.joined(separator: ", ") + (v.count > 4 ? ", …" : "")
        }
        for k in s.sums.keys.sorted() {
            print("sum \(k) \(s.shapes[k]!): \(head(s.sums[k]!.values))")
        }
        for k in s.maxima.keys.sorted() { print("max \(k) [\(s.maxima[k]!.count)]: \(head(s.maxima[k]!))") }
        for k in s.minima.keys.sorted() { print("min \(k) [\(s.minima[k]!.count)]: \(head(s.minima[k]!))") }
        for k in s.perRow.keys.sorted() { print("per-row \(k) [\(s.perRow[k]!.count)]: \(head(s.perRow[k]!))") }
    }
}
