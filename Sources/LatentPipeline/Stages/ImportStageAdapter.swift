import Foundation
import LatentCore
import LatentIO

/// `import`: counts in any supported format → dataset.h5ad (as `latent import`).
enum ImportStageAdapter: StageAdapter {
    static let type = "import"
    static let version = 1
    static let usesSeed = false
    static let parameters = [
        ParameterSpec("format", .choice(Import.Format.allCases.map(\.rawValue)), default: .string("auto")),
        ParameterSpec("orient", .choice(Orientation.allCases.map(\.rawValue)), default: .string("auto")),
        ParameterSpec("var-names", .choice(TenXVarNames.allCases.map(\.rawValue)), default: .string("gene_symbols")),
        ParameterSpec("counts", .bool, default: .bool(false)),
    ]
    static let inputs = [
        InputSlot("input", accepts: .dataset),
        InputSlot("obs-table", accepts: .table, required: false),
        InputSlot("var-table", accepts: .table, required: false),
    ]
    static let outputs = [OutputFile("dataset.h5ad", [.dataset])]

    static func run(_ c: StageContext) throws {
        let input = try c.input("input").path
        var o = Import.Options()
        o.format = try c.choice("format")
        o.orientation = try c.choice("orient")
        o.varNames = try c.choice("var-names")
        o.requireCounts = c.bool("counts")
        o.obsTable = c.inputs["obs-table"]?.path
        o.varTable = c.inputs["var-table"]?.path
        o.threads = c.threads
        let result = try Import.read(input, options: o)
        result.notes.forEach(c.note)
        var ds = result.dataset
        // As `latent import` records it, so both write the same bytes.
        ds.uns["latent_import"] = .dict(OrderedDict([
            ("source", .string(input.split(separator: "/").last.map(String.init) ?? input)),
            ("format", .string(result.format.rawValue)),
        ]))
        try StageIO.write(ds, "dataset.h5ad", c)
    }
}
