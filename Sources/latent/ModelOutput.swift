import ArgumentParser
import LatentCore
import LatentIO

/// `-o`, `--compression`, `--compression-level` and `--timing`, the same on `pca`, `ica`, `nmf`.
struct ModelOutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "Output .h5ad path (written atomically).")
    var output: String

    @Option(help: "Array compression in the output: gzip or none (faster to write, larger).")
    var compression: CompressionChoice = .gzip

    @Option(name: .customLong("compression-level"), help: "gzip level 1–9.")
    var compressionLevel: Int = 4

    @Flag(help: "Print read, fit and write times on stderr.")
    var timing = false

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
        if !(1...9).contains(compressionLevel) { throw ValidationError("--compression-level must be between 1 and 9") }
    }

    func write(_ ds: Dataset, threads: Int) throws {
        let level = compression == .none ? 0 : compressionLevel
        try H5AD.write(ds, to: output, compression: Compression(level: level, threads: threads))
    }
}
