import LatentCore

/// The `ica` stage's parameters, named as `latent ica`'s flags are.
public struct ICAParameters: Codable, Sendable, Equatable {
    public var k = 20
    public var maxIter = 200
    public var tol = 1e-4
    public init() {}
}

/// Fit and store in one call, shared by `latent ica` and the pipeline runner.
public enum ICAStage {
    public struct Output {
        public var dataset: Dataset
        public var result: ICA.Result
        public var notes: [String]
    }

    public static func run(_ input: Dataset, _ p: ICAParameters, seed: UInt64, threads: Int, file: String) throws -> Output {
        try Validate.finite(input, file: file)
        var rng = SeededRNG(seed: seed)
        let r = try ICA.fit(input.X, k: p.k, maxIterations: p.maxIter, tolerance: p.tol, rng: &rng, threads: threads, file: file)
        var notes: [String] = []
        if !r.converged { notes.append("\(file): FastICA did not converge in \(p.maxIter) iterations (raise --max-iter)") }
        var ds = input
        ds.storeFactors(scores: r.sources, loadings: r.loadings, keys: .ica, info: OrderedDict([
            ("n_iter", .int(Int64(r.iterations))), ("converged", .bool(r.converged)),
            ("params", .dict(OrderedDict([("fun", .string("logcosh")), ("algorithm", .string("parallel")),
                                          ("whiten", .string("unit-variance")), ("tol", .double(p.tol))]))),
        ]))
        return Output(dataset: ds, result: r, notes: notes)
    }
}
