import Foundation
import LatentCore

// MARK: covariates

/// The covariate side of a `vae` run: the design fitted to the training data, the cells' side
/// inputs, the triplet terms of the supervised subspaces, and what the outputs record about them.
struct CovariateRun {
    var parameters: CovariateParameters
    var design: CovariateDesign
    /// cells × design.width (empty-column matrix when only subspaces are asked for).
    var side: Matrix
    var training: TrainingCovariates

    init(_ c: CovariateParameters, config: VAEParameters, dataset ds: Dataset, file: String) throws {
        parameters = c
        design = try CovariateDesign.fit(c, obs: ds.obs, file: file)
        side = try design.sideInputs(ds.obs, file: file)
        let labels = try c.subspaceRanges.map { try CovariateDesign.subspaceLabels(ds.obs, $0.key, file: file) }
        let terms = Self.subspaceTerms(c, latent: config.latent, genes: ds.nVars, labels: labels)
        let groups = c.dispersion == .geneBatch ? design.batchIndices(side) : nil
        let shape = CovariateShape(sideInputs: design.width, encodeCovariates: c.encodeCovariates,
                                   dispersionGroups: c.dispersion == .geneBatch ? design.batchCategories.count : 1)
        training = TrainingCovariates(shape: shape, side: side, groups: groups, terms: terms)
    }

    /// The latent terms of the supervised subspaces, `labels` in `c.subspaceRanges` order: a
    /// triplet term per subspace and, with free coordinates, an HSIC term between each subspace
    /// and the free coordinates (so the label lives in its subspace only).
    static func subspaceTerms(_ c: CovariateParameters, latent: Int, genes: Int, labels: [TripletTerm.Labels]) -> [(term: any LatentTerm, weight: Double)] {
        var terms: [(term: any LatentTerm, weight: Double)] = []
        for ((key, range), l) in zip(c.subspaceRanges, labels) {
            terms.append((TripletTerm(name: "triplet_\(key)", coordinates: range, labels: l), c.tripletWeight))
        }
        let hsic = c.subspaceHSICWeight(latent: latent, genes: genes)
        guard hsic > 0 else { return terms }
        let free = Array(c.subspaces.reduce(0) { $0 + $1.dims }..<latent)
        for (key, range) in c.subspaceRanges { terms.append((SubspaceHSICTerm(subspace: Array(range), free: free, name: "hsic_\(key)"), hsic)) }
        return terms
    }

    /// The design to record in the model file (nil when no covariate enters the network).
    var modelDesign: CovariateDesign? { design.width > 0 ? design : nil }

    /// The side matrix to pass to encode/decode/loadings (nil when the network reads none).
    var networkSide: Matrix? { design.width > 0 ? side : nil }

    /// Entries of `uns["vae"]`: the covariates, their categories, which coordinates belong to
    /// which subspace, and every latent coordinate's name.
    func unsEntries(latent: Int, genes: Int) -> [(String, UnsValue)] {
        var out: [(String, UnsValue)] = []
        var cov: [(String, UnsValue)] = []
        if let b = design.batchKey { cov.append(("batch_key", .string(b))) }
        for c in design.categorical { cov.append(("categories_\(c.column)", .strings(c.categories))) }
        if !design.continuous.isEmpty {
            cov.append(("continuous", .strings(design.continuous.map(\.column))))
            cov.append(("continuous_mean", .numbers(NumericArray(shape: [design.continuous.count], storage: .float64(design.continuous.map(\.mean))))))
            cov.append(("continuous_sd", .numbers(NumericArray(shape: [design.continuous.count], storage: .float64(design.continuous.map(\.sd))))))
        }
        cov.append(("encode_covariates", .bool(parameters.encodeCovariates)))
        cov.append(("dispersion", .string(parameters.dispersion.rawValue)))
        out.append(("covariates", .dict(OrderedDict(cov))))
        var subs: [(String, UnsValue)] = []
        for (key, range) in parameters.subspaceRanges {
            subs.append((key, .numbers(NumericArray(shape: [range.count], storage: .int64(range.map { Int64($0) })))))
        }
        out.append(("subspaces", .dict(OrderedDict(subs))))
        if !parameters.subspaces.isEmpty {
            out.append(("triplet_weight", .double(parameters.tripletWeight)))
            out.append(("subspace_hsic", .double(parameters.subspaceHSICWeight(latent: latent, genes: genes))))
        }
        out.append(("latent_names", .strings(parameters.latentNames(latent: latent))))
        return out
    }
}
