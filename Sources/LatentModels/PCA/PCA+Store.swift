import LatentCore

extension PCA.Result {
    /// Writes the result as scanpy's `pp.pca` does: obsm["X_pca"], varm["PCs"], uns["pca"] with
    /// variance, variance_ratio and params (plus the solver used).
    public func store(into ds: inout Dataset, keys: EmbeddingKeys = .pca) {
        ds.obsm[keys.scores] = .dense(scores)
        ds.varm[keys.loadings] = .dense(loadings)
        ds.uns[keys.uns] = .dict(OrderedDict([
            ("variance", .numbers(NumericArray(shape: [variance.count], storage: .float64(variance)))),
            ("variance_ratio", .numbers(NumericArray(shape: [varianceRatio.count], storage: .float64(varianceRatio)))),
            ("params", .dict(OrderedDict([
                ("zero_center", .bool(center)),
                ("use_highly_variable", .bool(false)),
                ("mask_var", .string("none")),
                ("svd_solver", .string(solver.rawValue)),
            ]))),
        ]))
    }
}
