import LatentCore

/// The `nmf` stage's parameters, named as `latent nmf`'s flags are.
public struct NMFParameters: Codable, Sendable, Equatable {
    public var k = 20
    public var solver: NMF.Solver = .cd
    public var initialization: NMF.Initialization = .nndsvda
    public var maxIter = 200
    public var tol = 1e-4
    public init() {}
}

/// Fit and store in one call, shared by `latent nmf` and the pipeline runner.
public enum NMFStage {
    public struct Output {
        public var dataset: Dataset
        public var result: NMF.Result
        public var notes: [String]
    }

    public static func run(_ input: Dataset, _ p: NMFParameters, seed: UInt64, threads: Int, file: String) throws -> Output {
        try Validate.finite(input, file: file)
        var rng = SeededRNG(seed: seed)
        let r = try NMF.fit(input.X, k: p.k, solver: p.solver, initialization: p.initialization, maxIterations: p.maxIter,
                            tolerance: p.tol, rng: &rng, threads: threads, file: file)
        var notes: [String] = []
        if !r.converged { notes.append("\(file): NMF did not converge in \(p.maxIter) iterations (raise --max-iter)") }
        var ds = input
        ds.storeFactors(scores: r.scores, loadings: r.loadings, keys: .nmf, info: OrderedDict([
            ("reconstruction_err", .double(r.reconstructionError)),
            ("n_iter", .int(Int64(r.iterations))), ("converged", .bool(r.converged)),
            ("params", .dict(OrderedDict([("solver", .string(p.solver.rawValue)), ("init", .string(p.initialization.rawValue)),
                                          ("beta_loss", .string("frobenius")), ("tol", .double(p.tol))]))),
        ]))
        return Output(dataset: ds, result: r, notes: notes)
    }
}
