import LatentCore
import LatentIO

/// Reading and writing h5ad the way the subcommands do (the stage's `compression` and
/// `compression-level`, defaults as the flags'), so a pipeline entry holds the same bytes as the
/// command's output; unchanged elements are carried over as stored (see `H5AD.write`).
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
        if let sink = context.outputs {
            sink.add(name, ds, compression: context.compression)
        } else {
            try H5AD.write(ds, to: context.output(name), compression: context.compression)
        }
    }

    /// The dataset a downstream stage receives in memory in place of reading `path` (the final
    /// cache path of the upstream entry): every element marked as stored there, as `H5AD.read`
    /// of that file marks it, so the next stage's writer carries what it left unchanged over
    /// from that file exactly as the subcommand reading the file would. The file does not exist
    /// yet (its write is pending), so the marks have no fingerprint until `resolveStored`.
    static func handoff(_ ds: Dataset, storedAt path: String) -> Dataset {
        var out = ds
        let file = StoredFile(path: path, fingerprint: [])
        func at(_ p: String) -> StoredElement { StoredElement(file: file, path: p) }
        out.stored = StoredElements(X: at("/X"), obs: at("/obs"), var: at("/var"))
        for k in out.layers.keys { out.layers.markStored(k, at: at("/layers/" + k)) }
        for k in out.obsm.keys { out.obsm.markStored(k, at: at("/obsm/" + k)) }
        for k in out.varm.keys { out.varm.markStored(k, at: at("/varm/" + k)) }
        return out
    }

    /// Just before a deferred write: the entries `handoff` pointed at were committed before this
    /// write started (one writer, first in first out), so the marks get those files' identity;
    /// a mark whose file is missing is dropped (the values are encoded instead).
    static func resolveStored(_ ds: Dataset) -> Dataset {
        var out = ds
        func fix(_ e: StoredElement?) -> StoredElement? {
            guard let e, e.file.fingerprint.isEmpty else { return e }
            return StoredFile.current(e.file.path).map { StoredElement(file: $0, path: e.path) }
        }
        out.stored = StoredElements(X: fix(out.stored.X), obs: fix(out.stored.obs), var: fix(out.stored.var))
        for k in out.layers.keys { out.layers.markStored(k, at: fix(out.layers.stored[k])) }
        for k in out.obsm.keys { out.obsm.markStored(k, at: fix(out.obsm.stored[k])) }
        for k in out.varm.keys { out.varm.markStored(k, at: fix(out.varm.stored[k])) }
        return out
    }
}
