import Foundation
import LatentCore
import LatentEnrich
import LatentIO

/// `enrich`: gene-set tests of every latent's loadings → enrich.tsv (as `latent enrich`).
/// `key` defaults to the loadings of the stage it reads (varm/PCs after pca, …).
enum EnrichStageAdapter: StageAdapter {
    static let type = "enrich"
    static let version = 1
    static let usesSeed = true
    static let parameters = [
        ParameterSpec("key", .string),
        ParameterSpec("method", .choice(EnrichParameters.Method.allCases.map(\.rawValue)), default: .string("gsea")),
        ParameterSpec("permutations", .int(min: 1, max: nil), default: .int(1000)),
        ParameterSpec("min-size", .int(min: 1, max: nil), default: .int(15)),
        ParameterSpec("max-size", .int(min: 1, max: nil), default: .int(500)),
        ParameterSpec("top", .int(min: 1, max: nil)),
        ParameterSpec("ora-top", .int(min: 1, max: nil)),
        ParameterSpec("gene-names", .string),
        ParameterSpec("ignore-case", .bool, default: .bool(false)),
        ParameterSpec("no-multilevel", .bool, default: .bool(false)),
    ]
    static let inputs = [
        InputSlot("input", accepts: .embedding),
        InputSlot("gene-sets", accepts: .geneSets, allowsShippedGeneSets: true, many: true),
        InputSlot("id-map", accepts: .table, required: false),
    ]
    static let outputs = [OutputFile("enrich.tsv", [.table])]
    static let memoryInputs: Set<String> = ["input"]

    static func check(_ p: [String: JSONValue]) -> String? {
        (p["min-size"]?.intValue ?? 0) <= (p["max-size"]?.intValue ?? 0) ? nil : "min-size must not exceed max-size"
    }

    static func run(_ c: StageContext) throws {
        let input = try c.input("input")
        guard let key = c.optionalString("key") ?? input.loadingsKey ?? (input.path.hasSuffix(".h5ad") ? nil : "") else {
            throw LatentError.badInput(nil, nil, "which loadings? give params: {key: varm/NAME}")
        }
        var p = EnrichParameters()
        p.method = try c.choice("method")
        p.permutations = c.int("permutations")
        p.minSize = c.int("min-size")
        p.maxSize = c.int("max-size")
        p.top = c.optionalInt("top")
        p.oraTop = c.optionalInt("ora-top")
        p.ignoreCase = c.bool("ignore-case")
        p.multilevel = !c.bool("no-multilevel")
        let source = EnrichStage.Source(input: input.path, key: key.isEmpty ? nil : key, geneNames: c.optionalString("gene-names"),
                                        idMap: c.inputs["id-map"]?.path, geneSets: try c.input("gene-sets").paths,
                                        dataset: input.dataset)
        let out = try EnrichStage.run(source, p, seed: c.seed, threads: c.threads)
        out.notes.forEach(c.note)
        try AtomicOutput.write(Data(EnrichStage.tsv(out.rows, method: p.method).utf8), to: c.output("enrich.tsv"))
    }
}
