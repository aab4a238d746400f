import ArgumentParser
import LatentIO

enum CompressionChoice: String, ExpressibleByArgument, CaseIterable {
    case gzip, none
}

/// `--compression` and `--compression-level`: the same on every subcommand that writes an h5ad.
struct CompressionOptions: ParsableArguments {
    @Option(help: """
        Compression of the arrays this command writes: gzip or none (faster to write, larger). \
        Arrays carried over unchanged from the input .h5ad (X, layers, … when the command only \
        adds keys) keep the input's own storage.
        """)
    var compression: CompressionChoice = .gzip

    @Option(name: .customLong("compression-level"), help: "gzip level 1–9.")
    var compressionLevel: Int = Compression.defaultLevel

    func validate() throws {
        if !(1...9).contains(compressionLevel) { throw ValidationError("--compression-level must be between 1 and 9") }
    }

    func setting(threads: Int) -> Compression {
        Compression(level: compression == .none ? 0 : compressionLevel, threads: threads)
    }
}
