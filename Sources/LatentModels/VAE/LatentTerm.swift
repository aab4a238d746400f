import LatentCore

/// One minibatch's latent code as a `LatentTerm` sees it (extension point 3).
public struct LatentBatch<T: NetScalar> {
    public let rows: Int
    public let latent: Int
    /// The encoder's output, rows × 2K: [μ | log σ²] per row.
    public let encoded: UnsafePointer<T>
    /// The sampled codes z = μ + ε·σ, rows × K.
    public let z: UnsafePointer<T>
    /// The rows' indices in the training data (labels live there); empty when the caller gave none.
    public let cells: ArraySlice<Int>

    @inline(__always) public func mu(_ r: Int, _ j: Int) -> T { encoded[r * 2 * latent + j] }
    @inline(__always) public func logvar(_ r: Int, _ j: Int) -> T { encoded[r * 2 * latent + latent + j] }
}

/// Where a `LatentTerm` adds its gradients: dLoss/d[μ | log σ²] (rows × 2K, same layout as
/// `LatentBatch.encoded`) and dLoss/dz (rows × K; the network carries it through z = μ + ε·σ).
public struct LatentGrads<T: NetScalar> {
    public let encoded: UnsafeMutablePointer<T>
    public let z: UnsafeMutablePointer<T>
    public let latent: Int
    @inline(__always) public func addMu(_ r: Int, _ j: Int, _ g: T) { encoded[r * 2 * latent + j] += g }
    @inline(__always) public func addLogvar(_ r: Int, _ j: Int, _ g: T) { encoded[r * 2 * latent + latent + j] += g }
}

/// A penalty on the latent code of a minibatch (the triplet term of supervised subspaces, an
/// HSIC independence term, …). `apply` returns the term's value, a mean over the batch's cells,
/// *unweighted*; the network adds weight·value to the loss and, when `grads` is given, the term
/// must add the gradient of weight·value (per-cell mean, so divided by `rows`). Randomness (e.g.
/// drawing triplets) comes from `rng`, the step's noise stream, so runs stay reproducible and a
/// model without terms draws exactly as before. The value appears in history.tsv as `name`.
public protocol LatentTerm: Sendable {
    var name: String { get }
    func apply<T: NetScalar>(_ batch: LatentBatch<T>, weight: Double, grads: LatentGrads<T>?, rng: inout SeededRNG) -> Double
}

/// What a minibatch carries besides expression when the model has covariates.
public struct StepCovariates<T: NetScalar> {
    /// rows × `CovariateShape.sideInputs` (one-hot categories, standardised continuous values).
    public var side: UnsafePointer<T>?
    /// Per row, its row of the dispersion table (`--dispersion gene-batch`), else nil.
    public var groups: UnsafePointer<Int>?
    /// The rows' indices in the training data (for latent terms' labels).
    public var cells: ArraySlice<Int>
    public init(side: UnsafePointer<T>?, groups: UnsafePointer<Int>? = nil, cells: ArraySlice<Int> = []) {
        self.side = side
        self.groups = groups
        self.cells = cells
    }
}

/// Where covariates enter a network (extension point 1): the width of the side input read by
/// every decoder layer, whether the encoder's first layer reads it too, and the number of
/// dispersion rows (1: one θ per gene).
public struct CovariateShape: Sendable, Equatable {
    public var sideInputs: Int
    public var encodeCovariates: Bool
    public var dispersionGroups: Int
    public static let none = CovariateShape(sideInputs: 0, encodeCovariates: false, dispersionGroups: 1)
    public init(sideInputs: Int, encodeCovariates: Bool, dispersionGroups: Int) {
        self.sideInputs = sideInputs
        self.encodeCovariates = encodeCovariates
        self.dispersionGroups = max(1, dispersionGroups)
    }
    var encoderSideInputs: Int { encodeCovariates ? sideInputs : 0 }
}

extension VAENetwork {
    /// Sums the latent terms into the loss (weight·value each), recording each value in
    /// `terms.extra`; with `backward`, their gradients go into dEnc and dz before the chain rule.
    func latentTermsLoss(rows: Int, backward: Bool, cells: ArraySlice<Int>, terms: inout StepTerms, rng: inout SeededRNG) -> Double {
        guard !latentTerms.isEmpty else { return 0 }
        let batch = LatentBatch<T>(rows: rows, latent: latent, encoded: UnsafePointer(encoder.output), z: UnsafePointer(z), cells: cells)
        let grads: LatentGrads<T>? = backward ? LatentGrads(encoded: dEnc, z: dz, latent: latent) : nil
        var total = 0.0
        for (term, weight) in latentTerms {
            let v = term.apply(batch, weight: weight, grads: grads, rng: &rng)
            terms.extra.append(ExtraTerm(name: term.name, value: v))
            total += weight * v
        }
        return total
    }
}
