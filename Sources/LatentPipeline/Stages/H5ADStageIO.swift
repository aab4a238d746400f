import LatentCore
import LatentIO

/// Reading and writing h5ad the way the subcommands do (gzip level 4, the default of every
/// `-o`), so a pipeline entry holds the same bytes as the command's output.
enum StageIO {
    static func read(_ path: String, _ context: StageContext) throws -> Dataset {
        var warnings: [String] = []
        let ds = try H5AD.read(path, warnings: &warnings)
        warnings.forEach(context.note)
        return ds
    }

    /// The input's dataset: the upstream stage's result kept in memory when it ran in this
    /// process (no reading back and decompressing what it just wrote), else read from its file.
    static func read(_ input: ResolvedInput, _ context: StageContext) throws -> Dataset {
        if let ds = input.dataset { return ds }
        return try read(input.path, context)
    }

    /// Writes `name` into the stage's directory, or, under `latent run`, hands it to the runner,
    /// which keeps it for the next stage and writes the same bytes in the background.
    static func write(_ ds: Dataset, _ name: String, _ context: StageContext) throws {
        let compression = Compression(level: 4, threads: context.threads)
        if let sink = context.outputs {
            sink.add(name, ds, compression: compression)
        } else {
            try H5AD.write(ds, to: context.output(name), compression: compression)
        }
    }

    /// The dataset a downstream stage receives in memory in place of reading `path` (the final
    /// cache path of the upstream entry). The hook for carrying unchanged arrays over as stored
    /// chunks: a reader marks what it decoded as stored in the file it read, so this is where the
    /// hand-off marks X, obs, var and the aligned matrices as stored at `path`, for the writer of
    /// the next entry (which runs only after this entry is committed; see `EntryWriter`).
    static func handoff(_ ds: Dataset, storedAt path: String) -> Dataset {
        ds
    }

    /// Just before a deferred write: whatever `handoff` marked is now on disk at its final path
    /// (the entry it names was committed before this write started), so the marks can be
    /// completed with that file's identity. Identity until the stored-chunk writer lands.
    static func resolveStored(_ ds: Dataset) -> Dataset {
        ds
    }
}
