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

/// Everything of an h5ad but its matrices, for a command that reads X (if at all) through a
/// `MatrixSource` in row chunks: the returned dataset's X is an empty matrix of X's shape. `X()`
/// opens that source; where X cannot be read by rows (CSC), it reads the file whole instead.
func readAnnotationsInput(_ input: String, _ global: GlobalOptions) throws -> (dataset: Dataset, X: () throws -> any MatrixSource) {
    var warnings: [String] = []
    let a = try H5AD.readAnnotations(input, warnings: &warnings)
    warnings.forEach(global.note)
    let n = a.obs.count, g = a.var.count
    var ds = Dataset(X: .sparse(SparseMatrix(rows: n, cols: g, indptr: [Int](repeating: 0, count: n + 1), indices: [], values: [])),
                     obs: a.obs, var: a.var)
    ds.obsm = a.obsm
    ds.varm = a.varm
    ds.uns = a.uns
    return (ds, {
        if let source = try? H5ADMatrixSource(path: input) { return source }
        return InMemorySource(try readModelInput(input, global).X)
    })
}
