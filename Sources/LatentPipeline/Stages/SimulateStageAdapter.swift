import LatentCore
import LatentEnrich
import LatentIO
import LatentModels

/// `simulate`: counts with known programs → sim.h5ad and sim.programs.gmt (as `latent simulate -o sim.h5ad`).
enum SimulateStageAdapter: StageAdapter {
    static let type = "simulate"
    static let version = 1
    static let usesSeed = true
    static let parameters = [
        ParameterSpec("cells", .int(min: 2, max: nil), default: .int(2000)),
        ParameterSpec("genes", .int(min: 2, max: nil), default: .int(2000)),
        ParameterSpec("programs", .int(min: 1, max: nil), default: .int(8)),
        ParameterSpec("program-size", .int(min: 1, max: nil), default: .int(40)),
        ParameterSpec("effect", .double(min: nil, max: nil), default: .double(1.0)),
        ParameterSpec("factors", .choice(Simulate.FactorKind.allCases.map(\.rawValue)), default: .string("mixed")),
        ParameterSpec("theta", .double(min: 0, max: nil), default: .double(10)),
        // MARK: covariates
        // No defaults: an instance without them keeps its cache key (1 batch, effect 0.5).
        ParameterSpec("batches", .int(min: 1, max: nil)),
        ParameterSpec("batch-effect", .double(min: 0, max: nil)),
    ]
    static let inputs = [InputSlot("gene-sets", accepts: .geneSets, required: false, allowsShippedGeneSets: true)]
    static let outputs = [OutputFile("sim.h5ad", [.dataset]), OutputFile("sim.programs.gmt", [.geneSets])]

    static func check(_ p: [String: JSONValue]) -> String? {
        (p["theta"]?.doubleValue ?? 0) > 0 ? nil : "theta must be positive"
    }

    static func run(_ c: StageContext) throws {
        var p = Simulate.Parameters()
        p.cells = c.int("cells"); p.genes = c.int("genes"); p.programs = c.int("programs")
        p.programSize = c.int("program-size"); p.effect = c.double("effect"); p.theta = c.double("theta")
        p.factorKind = try c.choice("factors")
        p.batches = c.optionalInt("batches") ?? 1; p.batchEffect = c.optionalDouble("batch-effect") ?? 0.5
        var sets: [(name: String, genes: [String])]? = nil
        if let g = c.inputs["gene-sets"] { sets = try GMT.read(g.path).map { ($0.name, $0.genes) } }
        var rng = SeededRNG(seed: c.seed)
        let result = try Simulate.run(p, geneSets: sets, rng: &rng)
        try StageIO.write(result.dataset, "sim.h5ad", c)
        try GMT.write(result.programs.map { GeneSet(name: $0.name, description: "latent simulate", genes: $0.genes) },
                      to: c.output("sim.programs.gmt"))
    }
}
