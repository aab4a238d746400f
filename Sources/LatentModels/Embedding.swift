import LatentCore

/// Where a fitted model puts its results in the dataset, one documented key per model so that
/// enrichment and reports read every model the same way: scores per observation in `obsm`,
/// gene loadings (genes × components) in `varm`, fit statistics under `uns`.
public struct EmbeddingKeys: Sendable, Equatable {
    public var scores: String
    public var loadings: String
    public var uns: String

    public init(scores: String, loadings: String, uns: String) {
        self.scores = scores
        self.loadings = loadings
        self.uns = uns
    }

    /// scanpy's names for PCA.
    public static let pca = EmbeddingKeys(scores: "X_pca", loadings: "PCs", uns: "pca")
    public static let ica = EmbeddingKeys(scores: "X_ica", loadings: "ICs", uns: "ica")
    public static let nmf = EmbeddingKeys(scores: "X_nmf", loadings: "NMF_loadings", uns: "nmf")
    public static let vae = EmbeddingKeys(scores: "X_vae", loadings: "vae_loadings", uns: "vae")
}
