import LatentCore

extension Dataset {
    /// Stores a factor model the way every model in latent does: scores in obsm, gene loadings in
    /// varm, fit information in uns (see `EmbeddingKeys`).
    public mutating func storeFactors(scores: Matrix, loadings: Matrix, keys: EmbeddingKeys, info: OrderedDict) {
        obsm[keys.scores] = .dense(scores)
        varm[keys.loadings] = .dense(loadings)
        uns[keys.uns] = .dict(info)
    }
}
