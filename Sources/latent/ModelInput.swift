import LatentCore
import LatentIO

/// What every model command does first: read the h5ad, pass its warnings on, require finite X.
func readModelInput(_ input: String, _ global: GlobalOptions) throws -> Dataset {
    var warnings: [String] = []
    let ds = try H5AD.read(input, warnings: &warnings)
    warnings.forEach(global.note)
    try Validate.finite(ds, file: input)
    return ds
}
