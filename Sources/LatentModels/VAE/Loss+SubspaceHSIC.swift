import LatentCore

/// HSIC between a supervised subspace and the free coordinates, on the encoder's means μ: the
/// program decoders' `HSICTerm` (same estimator, same kernels, same code) applied to μ instead of
/// the sampled z.
///
/// Why μ: what must not carry the label is where the encoder puts a cell (the embedding is μ, and
/// subspace predictability is measured on it). On z the reparameterisation noise (σ ≈ 1 on free
/// coordinates) hides a small, consistent shift of μ between labels from the kernel, and the
/// label stayed predictable from the free coordinates of μ (measured on simulated programs:
/// balanced accuracy 0.62–0.70 against a majority share of 0.51 at every weight tried).
///
/// μ is read in place: `LatentBatch.encoded` holds rows of [μ | log σ²], i.e. rows of 2K values
/// whose first K are μ, so the HSIC of columns of a rows × 2K matrix is the HSIC of μ's columns,
/// and its gradient lands in the μ half of dLoss/d[μ | log σ²].
public struct SubspaceHSICTerm: LatentTerm {
    public var hsic: HSICTerm
    public var name: String { hsic.name }

    /// `subspace` and `free`: latent coordinates (< K).
    public init(subspace: [Int], free: [Int], name: String) {
        hsic = HSICTerm(a: subspace, b: free, name: name)
    }

    public func apply<T: NetScalar>(_ batch: LatentBatch<T>, weight: Double, grads: LatentGrads<T>?, rng: inout SeededRNG) -> Double {
        hsic.value(z: batch.encoded, rows: batch.rows, latents: 2 * batch.latent, weight: weight, dz: grads?.encoded)
    }
}
