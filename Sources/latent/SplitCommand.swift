import ArgumentParser
import Foundation
import LatentCore
import LatentIO

struct SplitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "split",
        abstract: "Cut an .h5ad into shards of N rows (streamed), for sharded Snakemake/Nextflow workflows.",
        discussion: """
        Writes DIR/shard_0000.h5ad, DIR/shard_0001.h5ad, … and prints their paths on stdout, one a \
        line. Each shard holds its rows of X, layers, obs and obsm and the whole var, varm and uns. N must \
        be a multiple of 1024 (the row block that statistics are formed on), so that per-shard \
        statistics sum to exactly those of the whole file. `latent import shard_*.h5ad -o all.h5ad` \
        puts shards back together, byte for byte.

        Example:
          latent split atlas.h5ad --rows 262144 -o shards/
        """
    )

    @Argument(help: "Input .h5ad (X as CSR or dense).") var input: String
    @Option(help: "Rows per shard (a multiple of \(RowChunking.statBlock)).") var rows: Int
    @Option(name: .shortAndLong, help: "Output directory (created if missing).") var output: String
    @OptionGroup var memory: MemoryOptions
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if rows <= 0 || rows % RowChunking.statBlock != 0 {
            throw ValidationError("--rows must be a positive multiple of \(RowChunking.statBlock) (got \(rows)), so that shards start on statistics blocks")
        }
    }

    func run() throws {
        let run = global.run
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: output, isDirectory: &isDir) {
            do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
                throw LatentError.badInput(output, nil, "cannot create the output directory")
            }
        } else if !isDir.boolValue {
            throw LatentError.badInput(output, nil, "exists and is not a directory", hint: "give a directory for the shards")
        }
        var notes: [String] = []
        let paths = try H5ADSplit.split(input, rows: rows, into: output, compression: compression.setting(threads: run.threads),
                                        maxStored: memory.budget.chunkEntries(bytesPerEntry: 16), notes: &notes)
        for n in notes { global.note(n) }
        global.note("\(input): \(paths.count) shards of up to \(rows) rows in \(output)")
        for p in paths { print(p) }
    }
}
