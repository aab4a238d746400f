import Foundation
import LatentCore
import LatentReport

/// `report`: one HTML page over every entry it gathers (enrich and metrics tables, and the
/// models they came from, found in the cache through their manifests) → report.html and
/// report_tables/ (as `latent report`).
enum ReportStageAdapter: StageAdapter {
    static let type = "report"
    static let version = 1
    static let usesSeed = false
    static let parameters = [
        ParameterSpec("fdr", .double(min: 0, max: 1), default: .double(0.05)),
        ParameterSpec("top-genes", .int(min: 1, max: nil), default: .int(10)),
        ParameterSpec("top-sets", .int(min: 1, max: nil), default: .int(10)),
        ParameterSpec("color-by", .string),
        ParameterSpec("title", .string, default: .string("latent report")),
    ]
    static let inputs = [
        InputSlot("input", accepts: .table, allowsFile: false, gathers: true),
        InputSlot("models", accepts: .embedding, required: false, allowsFile: false, gathers: true),
    ]
    static let outputs = [OutputFile("report.html", [.other])]

    static func run(_ c: StageContext) throws {
        var entries = try c.input("input").entries
        if let models = c.inputs["models"] { entries += models.entries }
        var o = Report.Options()
        o.fdr = c.double("fdr")
        o.topGenes = c.int("top-genes")
        o.topSets = c.int("top-sets")
        o.colorBy = c.optionalString("color-by")
        o.title = c.string("title")
        let report = try Report.discover(entries, options: o)
        report.notes.forEach(c.note)
        _ = try report.write(to: c.output("report.html"), generator: "latent \(c.toolVersion)")
    }
}
