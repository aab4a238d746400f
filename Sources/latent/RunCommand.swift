import ArgumentParser
import Foundation
import LatentCore
import LatentPipeline

/// `latent run`: a pipeline file through the content-addressed cache.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline file: stages in dependency order, parameter grids fanned out, every output cached.",
        discussion: """
        Each stage instance is cached under a key hashed from its stage type and version, its \
        parameters and the keys (or file contents) of its inputs; an instance whose key exists is \
        not run again, so a second run of an unchanged pipeline does nothing, and a run killed at \
        any point resumes where it stopped. Outputs are linked as RESULTS/<stage>/<grid values>/.

        stdout: one tab-separated row per stage instance (name, instance, stage, status, key, \
        reason, path); with --dry-run, status is `cached` or `run` and reason says why. \
        --seed is the default seed of stages that draw random numbers when the file sets no \
        `seed:`; --threads is shared among --jobs.

        Examples:
          latent run Pipelines/quickstart.yaml
          latent run Pipelines/beta-sweep.yaml --jobs 2 --dry-run
          latent run sweep.yaml --cache /scratch/latent-cache --force pca
        """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(help: "Cache directory (default: $LATENT_CACHE, else .latent-cache beside the pipeline file).")
    var cache: String?

    @Option(help: "Results view directory (default: results beside the pipeline file).")
    var results: String?

    @Option(help: "Rerun this stage and everything downstream of it, cached or not (repeatable).")
    var force: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Print the plan, each instance cached or to run and why; run nothing.")
    var dryRun = false

    @Option(help: "Stage instances to run at once (threads are shared among them).")
    var jobs: Int = 1

    @Flag(name: .customLong("keep-going"), help: "After a failure, still run the instances that do not depend on it.")
    var keepGoing = false

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        let run = global.run
        var spec = try Pipeline.load(pipeline)
        if !spec.seedInFile { spec.seed = run.seed }
        let cacheDir = cache ?? ProcessInfo.processInfo.environment["LATENT_CACHE"] ?? spec.directory + "/.latent-cache"
        let store = try Cache(cacheDir)
        let plan = try Plan(spec, hasher: FileHasher(memoDirectory: store.hashes),
                            threads: Runner.threadsPerJob(threads: run.threads, jobs: jobs))
        var options = Runner.Options(results: results ?? spec.directory + "/results")
        options.force = Set(force)
        options.jobs = jobs
        options.threads = run.threads
        options.dryRun = dryRun
        options.keepGoing = keepGoing
        options.quiet = run.quiet
        options.toolVersion = LatentVersion.string
        let runner = Runner(plan: plan, cache: store, options: options)
        let (rows, failure) = try runner.runAll()
        var out = "name\tinstance\tstage\tstatus\tkey\treason\tpath\n"
        for r in rows {
            out += [r.instance.name, r.instance.label, r.instance.type, r.status.rawValue, r.instance.key,
                    r.reason.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " "), r.path]
                .joined(separator: "\t") + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        if let failure {
            let failed = rows.filter { $0.status == .failed }.count, skipped = rows.filter { $0.status == .skipped }.count
            if failed + skipped > 1 { global.note("latent run: \(failed) failed, \(skipped) not run") }
            throw failure
        }
        if !dryRun {
            let ran = rows.filter { $0.status == .ran }.count
            global.note("latent run: \(ran) of \(rows.count) stage instances ran, \(rows.count - ran) cached; results in \(options.results)")
        }
    }
}
