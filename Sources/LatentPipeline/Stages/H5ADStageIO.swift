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

    static func write(_ ds: Dataset, _ name: String, _ context: StageContext) throws {
        try H5AD.write(ds, to: context.output(name), compression: context.compression)
    }
}
