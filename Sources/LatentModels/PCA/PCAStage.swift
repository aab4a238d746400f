import LatentCore

/// The `pca` stage's parameters, named as `latent pca`'s flags are.
public struct PCAParameters: Codable, Sendable, Equatable {
    public var k = 50
    public var solver: PCA.Solver = .auto
    public var center = true
    public var tol = 1e-3
    public var oversampling = 10
    public init() {}
}

/// Fit and store in one call, shared by `latent pca` and the pipeline runner so both write the
/// same file for the same parameters and seed.
public enum PCAStage {
    public struct Output {
        public var dataset: Dataset
        public var result: PCA.Result
        public var notes: [String]
        /// Seconds spent reading what is not streamed (annotations, opening X); X itself is read
        /// during the fit, overlapped with it.
        public var readSeconds: Double = 0
    }

    public static func run(_ input: Dataset, _ p: PCAParameters, seed: UInt64, threads: Int, file: String) throws -> Output {
        try Validate.finite(input, file: file)
        var rng = SeededRNG(seed: seed)
        let r = try PCA.fit(input.X, k: p.k, solver: p.solver, center: p.center,
                            options: PCA.Options(oversampling: p.oversampling, tolerance: p.tol),
                            rng: &rng, threads: threads, file: file)
        var ds = input
        r.store(into: &ds)
        return Output(dataset: ds, result: r, notes: notes(r, p, file: file))
    }
}

extension PCAStage {
    static func notes(_ r: PCA.Result, _ p: PCAParameters, file: String) -> [String] {
        guard !r.converged else { return [] }
        return ["\(file): the randomized solver stopped at its block limit with relative residual \(r.residual) above --tol \(p.tol); the smallest components are approximate (try --solver exact)"]
    }
}
