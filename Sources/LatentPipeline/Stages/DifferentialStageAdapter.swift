import Foundation
import LatentCore
import LatentIO
import LatentModels

/// `differential`: which latents change between the groups of an obs column → differential.tsv
/// (as `latent differential`). `key` defaults to the codes of the stage it reads (obsm/X_vae
/// after vae, whose variances are in obsm/X_vae_logvar).
enum DifferentialStageAdapter: StageAdapter {
    static let type = "differential"
    static let version = 1
    static let usesSeed = true
    static let parameters = [
        ParameterSpec("groupby", .string),
        ParameterSpec("group", .list(.string), default: .array([])),
        ParameterSpec("reference", .string, default: .string("rest")),
        ParameterSpec("key", .string),
        ParameterSpec("mode", .choice(DifferentialActivity.Mode.allCases.map(\.rawValue)), default: .string("exact")),
        ParameterSpec("pairs", .int(min: 1, max: nil), default: .int(5000)),
        ParameterSpec("directions", .choice(DifferentialActivity.Directions.allCases.map(\.rawValue)), default: .string("auto")),
        ParameterSpec("threshold", .double(min: 0, max: nil), default: .double(2.3)),
    ]
    static let inputs = [InputSlot("input", accepts: .embedding)]
    static let outputs = [OutputFile("differential.tsv", [.table])]

    static func check(_ p: [String: JSONValue]) -> String? {
        guard let g = p["groupby"]?.stringValue, !g.isEmpty else { return "differential needs the obs column to group by: params: {groupby: obs/COL}" }
        let reference = p["reference"]?.stringValue ?? "rest"
        if p["group"]?.arrayValue?.contains(where: { $0.stringValue == reference }) == true { return "group and reference name the same group '\(reference)'" }
        return nil
    }

    static func run(_ c: StageContext) throws {
        let input = try c.input("input")
        let data = try DifferentialActivity.load(input.path, key: c.optionalString("key") ?? input.scoresKey ?? "obsm/X_vae",
                                                 directions: try c.choice("directions"))
        let grouping = try DifferentialActivity.grouping(data.dataset, column: c.string("groupby"), file: input.path)
        var p = DifferentialActivity.Parameters()
        p.pairs = c.int("pairs")
        p.mode = try c.choice("mode")
        p.threshold = c.double("threshold")
        p.seed = c.seed
        let groups = c.strings("group")
        let reference = c.string("reference")
        let rows: [DifferentialActivity.Row]
        do {
            rows = try DifferentialActivity.test(data.posterior, grouping: grouping, groups: groups.isEmpty ? nil : groups,
                                                 reference: reference == "rest" ? nil : reference, parameters: p)
        } catch let e as LatentError {
            throw e.inFile(input.path)
        }
        guard !rows.isEmpty else { throw LatentError.badInput(input.path, "obs/\(grouping.column)", "nothing to compare: fewer than two groups with cells") }
        try AtomicOutput.write(Data(DifferentialActivity.tsv(rows, groupby: grouping.column).utf8), to: c.output("differential.tsv"))
    }
}
