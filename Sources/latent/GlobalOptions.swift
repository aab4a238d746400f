import ArgumentParser
import LatentIO
import LatentCore

/// `--seed`, `--threads`, `--quiet`: the same meaning on every subcommand.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Seed for every random choice; the same seed and thread count give identical outputs.")
    var seed: UInt64 = 0

    @Option(help: "Threads to use (0 = all cores).")
    var threads: Int = 0

    @Flag(name: .shortAndLong, help: "No progress or notes on stderr; errors are still printed.")
    var quiet = false

    func validate() throws {
        if threads < 0 { throw ValidationError("--threads must be 0 (all cores) or more") }
    }

    var run: RunOptions {
        let o = RunOptions(seed: seed, threads: threads, quiet: quiet)
        Runtime.configureBLAS(threads: o.threads)
        IOSettings.threads = o.threads
        return o
    }

    /// A note for the user on stderr, unless --quiet.
    func note(_ s: String) {
        if !quiet { printError(s) }
    }
}
