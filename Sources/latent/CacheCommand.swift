import ArgumentParser
import Foundation
import LatentCore
import LatentPipeline

/// `latent cache ls|gc|clean`: look after a pipeline cache.
struct CacheCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cache",
        abstract: "List, garbage-collect or empty a pipeline cache.",
        subcommands: [List.self, GC.self, Clean.self]
    )

    struct Location: ParsableArguments {
        @Option(help: "Cache directory (default: $LATENT_CACHE, else ./.latent-cache).")
        var cache: String?

        func open() throws -> Cache {
            let dir = cache ?? ProcessInfo.processInfo.environment["LATENT_CACHE"] ?? ".latent-cache"
            guard FileManager.default.fileExists(atPath: dir) else {
                throw LatentError.badInput(dir, nil, "no cache here", hint: "give --cache DIR")
            }
            return try Cache(dir)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ls",
            abstract: "One tab-separated row per entry: key, stage, name, instance, bytes, wall_s, created.")
        @OptionGroup var location: Location
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let cache = try location.open()
            var out = "key\tstage\tname\tinstance\tbytes\twall_s\tcreated\n"
            for e in cache.list() {
                let m = e.manifest
                out += [e.key, m?["stage"]?.stringValue ?? "?", m?["name"]?.stringValue ?? "?", m?["instance"]?.stringValue ?? "",
                        String(e.bytes), m?["wall_s"]?.doubleValue.map { "\($0)" } ?? "NA", m?["created"]?.stringValue ?? "NA"]
                    .joined(separator: "\t") + "\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
    }

    struct GC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gc",
            abstract: "Remove the entries none of the given pipeline files would use; print their keys.",
            discussion: """
            Give the same --seed as to `latent run` for files that set no `seed:`.

            Example:
              latent cache gc Pipelines/quickstart.yaml Pipelines/beta-sweep.yaml --cache .latent-cache
            """)
        @Argument(help: "The pipeline files whose entries to keep.") var pipelines: [String]
        @Flag(name: .customLong("dry-run"), help: "Only print what would be removed.") var dryRun = false
        @OptionGroup var location: Location
        @OptionGroup var global: GlobalOptions

        func validate() throws {
            if pipelines.isEmpty { throw ValidationError("name the pipeline files whose entries to keep") }
        }

        func run() throws {
            let cache = try location.open()
            var keep = Set<String>()
            for p in pipelines {
                var spec = try Pipeline.load(p)
                if !spec.seedInFile { spec.seed = global.seed }    // as `latent run --seed` would
                // Thread-sensitive stages key on the threads they ran with: keep every count.
                let hasher = FileHasher(memoDirectory: cache.hashes)
                for t in 1...max(64, Runtime.availableCores) {
                    keep.formUnion(try Plan(spec, hasher: hasher, threads: t).instances.map(\.key))
                }
            }
            cache.removeAbandoned()
            var removed = 0
            for e in cache.list() where !keep.contains(e.key) {
                if !dryRun { try cache.remove(e.key) }
                print(e.key)
                removed += 1
            }
            global.note("latent cache gc: \(dryRun ? "would remove" : "removed") \(removed) entries, kept \(cache.list().count - (dryRun ? removed : 0))")
        }
    }

    struct Clean: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "clean",
            abstract: "Remove every entry (entries being built by a running pipeline are waited for).")
        @OptionGroup var location: Location
        @OptionGroup var global: GlobalOptions

        func run() throws {
            let cache = try location.open()
            cache.removeAbandoned()
            let entries = cache.list()
            for e in entries { try cache.remove(e.key) }
            global.note("latent cache clean: removed \(entries.count) entries from \(cache.root)")
        }
    }
}
