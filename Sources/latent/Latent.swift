import ArgumentParser
import Foundation
import LatentCore
import LatentIO

@main
struct Latent: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latent",
        abstract: "Transcriptomic count matrices to interpretable latent factors.",
        discussion: """
        Each stage reads and writes AnnData .h5ad files that scanpy opens unchanged.

        Examples:
          latent import counts.csv.gz -o dataset.h5ad
          latent inspect dataset.h5ad
        """,
        version: LatentVersion.string,
        subcommands: [ImportCommand.self, SplitCommand.self, InspectCommand.self, NormalizeCommand.self, PCACommand.self, ICACommand.self, NMFCommand.self, VAECommand.self, TraverseCommand.self, EnrichCommand.self, SimulateCommand.self, MetricsCommand.self, DifferentialCommand.self, ConsensusCommand.self, ReportCommand.self, RunCommand.self, CacheCommand.self, StatsCommand.self]
    )

    /// Runs the command line with latent's exit-code contract: 0 success, 2 bad input or usage,
    /// 1 internal failure, and one `latent: …` line on stderr instead of a stack trace.
    static func main() {
        StartupEnvironment.ensure()
        AtomicOutput.installInterruptCleanup()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as LatentError {
            printError("latent: \(error)")
            Foundation.exit(error.exitCode)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            if error is CleanExit || error is ExitCode { exit(withError: error) }
            printError("latent: " + message(for: error).split(separator: "\n").joined(separator: "; ")
                       + " (see 'latent --help')")
            Foundation.exit(2)
        }
    }
}

enum LatentVersion {
    static let string = "0.1.0"
}
