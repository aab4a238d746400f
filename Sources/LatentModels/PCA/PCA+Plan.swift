import LatentCore

/// How a PCA is computed, chosen from the shape.
///
/// The cost model (n observations, g genes, m = min(n, g), Krylov blocks of l ≈ k + 10 columns,
/// B ≈ 6–10 blocks on the flat spectra of expression data):
/// - the Gram matrix of the smaller side costs n·g·m flops in one `ssyrk`, at the machine's
///   sgemm peak; after it, each Krylov block costs only m²·l — so for m up to a few thousand
///   (HVG-selected single-cell data, bulk samples × genes) the Gram is the whole bill;
/// - a Krylov block applied directly costs two passes over X, 4·n·g·l flops, at the lower
///   efficiency of tall-skinny sgemm: cheaper than the Gram only when m ≫ 4·B·l, so direct passes
///   are for large m (all genes of a big atlas), where a m × m Gram would not fit either;
/// - LAPACK on the Gram adds a tridiagonal reduction of (4/3)m³ flops, half of them memory-bound
///   matrix-vector products: the exact answer, and cheap only for small m.
enum Plan: Equatable {
    /// LAPACK (ssyevr, top k) on the Gram of the smaller side.
    case exact(GramSide)
    /// Block Krylov on the explicit Gram of the smaller side.
    case krylovGram(GramSide)
    /// Block Krylov in gene space with every product a pass over X (implicitly centred).
    case krylovDirect

    /// The largest m for which the randomized solver forms the Gram (128 MiB in Double at 4,096).
    static let gramLimit = 4096
    /// The largest m for which the exact solver runs (a 1.1 GiB Double Gram at 12,000).
    static let exactLimit = 12_000
    /// Sparse data sparser than this take direct passes even when the Gram would be small: a
    /// pass then costs ~2·nnz·l instead of the Gram's dense n·g·m.
    static let sparseDirectDensity = 0.02

    var solver: PCA.Solver {
        switch self { case .exact: .exact; case .krylovGram, .krylovDirect: .randomized }
    }

    static func choose(n: Int, g: Int, k: Int, solver: PCA.Solver, X: MatrixData, options: PCA.Options,
                       file: String?) throws -> Plan {
        try choose(n: n, g: g, k: k, solver: solver, isSparse: X.isSparse,
                   density: Double(X.storedCount) / max(1, Double(n) * Double(g)), options: options, file: file)
    }

    /// The plan from the shape and storage alone (a streamed source is not in memory).
    static func choose(n: Int, g: Int, k: Int, solver: PCA.Solver, isSparse: Bool, density: Double, options: PCA.Options,
                       file: String?) throws -> Plan {
        let m = min(n, g)
        let side: GramSide = g <= n ? .genes : .cells
        switch solver {
        case .exact:
            guard m <= exactLimit else {
                let gib = Double(m) * Double(m) * 8 / Double(1 << 30)
                throw LatentError.badInput(file, nil, "--solver exact needs the \(m) × \(m) Gram matrix (\((gib * 10).rounded() / 10) GiB) and its full eigendecomposition",
                                           hint: "use --solver randomized (or auto)")
            }
            return .exact(side)
        case .randomized:
            if m <= gramLimit && !(isSparse && density < sparseDirectDensity) { return .krylovGram(side) }
            return .krylovDirect
        case .auto:
            // Small problems, or k a large share of m (the Krylov basis would approach m anyway).
            if m <= 512 || 3 * (k + options.oversampling) >= m, m <= exactLimit { return .exact(side) }
            return try choose(n: n, g: g, k: k, solver: .randomized, isSparse: isSparse, density: density, options: options, file: file)
        }
    }
}
