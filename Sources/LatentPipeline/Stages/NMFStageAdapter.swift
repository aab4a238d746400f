import LatentCore
import LatentModels

/// `nmf`: non-negative matrix factorisation → nmf.h5ad (obsm X_nmf, varm NMF_loadings, uns nmf).
enum NMFStageAdapter: StageAdapter {
    static let type = "nmf"
    static let version = 1
    static let usesSeed = true
    static let threadSensitive = true
    static let parameters = [
        ParameterSpec("k", .int(min: 1, max: nil), default: .int(20)),
        ParameterSpec("solver", .choice(NMF.Solver.allCases.map(\.rawValue)), default: .string("cd")),
        ParameterSpec("init", .choice(NMF.Initialization.allCases.map(\.rawValue)), default: .string("nndsvda")),
        ParameterSpec("max-iter", .int(min: 1, max: nil), default: .int(200)),
        ParameterSpec("tol", .double(min: 0, max: nil), default: .double(1e-4)),
    ]
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let memoryInputs: Set<String> = ["input"]
    static let outputs = [OutputFile("nmf.h5ad", [.embedding, .dataset], loadingsKey: "varm/NMF_loadings", scoresKey: "obsm/X_nmf")]

    static func run(_ c: StageContext) throws {
        let source = try c.input("input")
        let input = source.path
        var p = NMFParameters()
        p.k = c.int("k")
        p.solver = try c.choice("solver")
        p.initialization = try c.choice("init")
        p.maxIter = c.int("max-iter")
        p.tol = c.double("tol")
        let out = try NMFStage.run(try StageIO.read(source, c), p, seed: c.seed, threads: c.threads, file: input)
        out.notes.forEach(c.note)
        try StageIO.write(out.dataset, "nmf.h5ad", c)
    }
}
