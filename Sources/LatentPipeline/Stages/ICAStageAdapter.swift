import LatentCore
import LatentModels

/// `ica`: FastICA → ica.h5ad (obsm X_ica, varm ICs, uns ica).
enum ICAStageAdapter: StageAdapter {
    static let type = "ica"
    static let version = 1
    static let usesSeed = true
    static let threadSensitive = true
    static let parameters = [
        ParameterSpec("k", .int(min: 1, max: nil), default: .int(20)),
        ParameterSpec("max-iter", .int(min: 1, max: nil), default: .int(200)),
        ParameterSpec("tol", .double(min: 0, max: nil), default: .double(1e-4)),
    ]
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let memoryInputs: Set<String> = ["input"]
    static let outputs = [OutputFile("ica.h5ad", [.embedding, .dataset], loadingsKey: "varm/ICs", scoresKey: "obsm/X_ica")]

    static func run(_ c: StageContext) throws {
        let source = try c.input("input")
        let input = source.path
        var p = ICAParameters()
        p.k = c.int("k")
        p.maxIter = c.int("max-iter")
        p.tol = c.double("tol")
        let out = try ICAStage.run(try StageIO.read(source, c), p, seed: c.seed, threads: c.threads, file: input)
        out.notes.forEach(c.note)
        try StageIO.write(out.dataset, "ica.h5ad", c)
    }
}
