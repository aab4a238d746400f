import ArgumentParser
import LatentCore
import LatentIO

/// `-o`, `--compression`, `--compression-level` and `--timing`, the same on `pca`, `ica`, `nmf`.
struct ModelOutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output .h5ad path (written atomically).")
    var output: String

    @OptionGroup var compression: CompressionOptions

    @Flag(help: "Print read, fit and write times on stderr.")
    var timing = false

    func validate() throws {
        // .stats: `latent pca --map-stats` (the command checks which one it writes).
        if !output.hasSuffix(".h5ad") && !output.hasSuffix(".stats") { throw ValidationError("--output must end in .h5ad") }
    }

    func write(_ ds: Dataset, threads: Int) throws {
        try H5AD.write(ds, to: output, compression: compression.setting(threads: threads))
    }
}
