import LatentCore
import LatentModels

/// `pca`: principal components → pca.h5ad (obsm X_pca, varm PCs, uns pca).
enum PCAStageAdapter: StageAdapter {
    static let type = "pca"
    static let version = 1
    static let usesSeed = true
    static let threadSensitive = true
    static let parameters = [
        ParameterSpec("k", .int(min: 1, max: nil), default: .int(50)),
        ParameterSpec("solver", .choice(PCA.Solver.allCases.map(\.rawValue)), default: .string("auto")),
        ParameterSpec("no-center", .bool, default: .bool(false)),
        ParameterSpec("tol", .double(min: 0, max: 1), default: .double(1e-3)),
        ParameterSpec("oversampling", .int(min: 0, max: nil), default: .int(10)),
    ]
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let memoryInputs: Set<String> = ["input"]
    static let outputs = [OutputFile("pca.h5ad", [.embedding, .dataset], loadingsKey: "varm/PCs", scoresKey: "obsm/X_pca")]

    static func run(_ c: StageContext) throws {
        let source = try c.input("input")
        let input = source.path
        var p = PCAParameters()
        p.k = c.int("k")
        p.solver = try c.choice("solver")
        p.center = !c.bool("no-center")
        p.tol = c.double("tol")
        p.oversampling = c.int("oversampling")
        let out = try PCAStage.run(try StageIO.read(source, c), p, seed: c.seed, threads: c.threads, file: input)
        out.notes.forEach(c.note)
        try StageIO.write(out.dataset, "pca.h5ad", c)
    }
}
