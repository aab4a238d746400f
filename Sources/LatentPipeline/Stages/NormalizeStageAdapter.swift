import LatentCore
import LatentPreprocess

/// `normalize`: QC, filters, normalisation, HVGs, scaling → normalized.h5ad.
enum NormalizeStageAdapter: StageAdapter {
    static let type = "normalize"
    static let version = 2     // 2: seurat after total takes its moments from the counts (HVG.Unlogged): other last bits in var
    static let usesSeed = false
    static let parameters = [
        ParameterSpec("method", .choice(NormalizeParameters.Method.allCases.map(\.rawValue)), default: .string("total")),
        ParameterSpec("input-type", .choice(NormalizeParameters.InputType.allCases.map(\.rawValue)), default: .string("auto")),
        ParameterSpec("target-sum", .double(min: 0, max: nil)),
        ParameterSpec("min-counts", .double(min: 0, max: nil)),
        ParameterSpec("min-genes", .int(min: 0, max: nil)),
        ParameterSpec("min-cells", .int(min: 0, max: nil)),
        ParameterSpec("max-mito", .double(min: 0, max: 1)),
        ParameterSpec("hvg", .int(min: 1, max: nil)),
        ParameterSpec("hvg-flavor", .choice(HVG.Flavor.allCases.map(\.rawValue)), default: .string("seurat")),
        ParameterSpec("batch-key", .string),
        ParameterSpec("scale", .choice(Scale.Method.allCases.map(\.rawValue)), default: .string("none")),
        ParameterSpec("max-value", .double(min: 0, max: nil)),
        ParameterSpec("theta", .double(min: 0, max: nil), default: .double(100)),
        ParameterSpec("clip", .double(min: 0, max: nil)),
    ]
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let memoryInputs: Set<String> = ["input"]
    static let outputs = [OutputFile("normalized.h5ad", [.dataset])]

    static func run(_ c: StageContext) throws {
        let source = try c.input("input")
        let input = source.path
        var p = NormalizeParameters()
        p.method = try c.choice("method")
        p.inputType = try c.choice("input-type")
        p.targetSum = c.optionalDouble("target-sum")
        p.minCounts = c.optionalDouble("min-counts")
        p.minGenes = c.optionalInt("min-genes")
        p.minCells = c.optionalInt("min-cells")
        p.maxMito = c.optionalDouble("max-mito")
        p.hvg = c.optionalInt("hvg")
        p.hvgFlavor = try c.choice("hvg-flavor")
        p.batchKey = c.optionalString("batch-key")
        p.scale = try c.choice("scale")
        p.maxValue = c.optionalDouble("max-value")
        p.theta = c.double("theta")
        p.clip = c.optionalDouble("clip")
        let out = try NormalizeStage.run(try StageIO.read(source, c), p, file: input, threads: c.threads)
        out.notes.forEach(c.note)
        try StageIO.write(out.dataset, "normalized.h5ad", c)
    }
}
