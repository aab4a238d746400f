import LatentCore

extension PCA.Result {
    /// Writes the result where scanpy's `pp.pca` puts it: obsm["X_pca"] (scores), varm["PCs"]
    /// (genes × k loadings — the one key enrichment reads), uns["pca"] with `variance`,
    /// `variance_ratio` and `params` (`zero_center`, `use_highly_variable` = false as scanpy
    /// writes them, plus the solver that ran and how it converged).
    public func store(into ds: inout Dataset, keys: EmbeddingKeys = .pca) {
        ds.obsm[keys.scores] = .dense(scores)
        ds.varm[keys.loadings] = .dense(loadings)
        ds.uns[keys.uns] = .dict(OrderedDict([
            ("variance", .numbers(NumericArray(shape: [variance.count], storage: .float64(variance)))),
            ("variance_ratio", .numbers(NumericArray(shape: [varianceRatio.count], storage: .float64(varianceRatio)))),
            ("params", .dict(params)),
        ]))
    }

    /// uns["pca"]["params"].
    public var params: OrderedDict {
        OrderedDict([
            ("zero_center", .bool(center)),
            ("use_highly_variable", .bool(false)),
            ("svd_solver", .string(solver.rawValue)),
            ("method", .string(method)),
            ("krylov_blocks", .int(Int64(blocks))),
            ("max_residual", .double(residual)),
            ("converged", .bool(converged)),
        ])
    }
}
