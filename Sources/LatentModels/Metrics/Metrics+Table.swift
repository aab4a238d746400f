import Foundation
import LatentCore

extension Metrics {
    public static let columns = ["model", "parameters", "seed", "metric", "latent", "factor", "value"]

    static func format(_ x: Double) -> String {
        if x.isNaN { return "NA" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        return "\(x)"
    }

    /// The tidy TSV: one row per metric × latent × factor ("all" where a score covers all of them).
    public static func tsv(_ rows: [Row], run: RunLabel) -> String {
        var out = columns.joined(separator: "\t") + "\n"
        for r in rows {
            out += [run.model, run.parameters, run.seed, r.metric, r.latent, r.factor, format(r.value)].joined(separator: "\t") + "\n"
        }
        return out
    }

    /// A parsed metrics table row (what `tsv` wrote).
    public struct TableRow: Sendable, Equatable {
        public var run: RunLabel
        public var row: Row
    }

    public static func parse(_ text: String, file: String) throws -> [TableRow] {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header == columns else {
            throw LatentError.badInput(file, "line 1", "not a metrics table (expected the header \(columns.joined(separator: " ")))")
        }
        lines.removeFirst()
        return try lines.enumerated().map { (i, f) in
            guard f.count == columns.count else { throw LatentError.badInput(file, "line \(i + 2)", "\(f.count) fields, expected \(columns.count)") }
            let v: Double
            switch f[6] {
            case "NA": v = .nan
            case "inf": v = .infinity
            case "-inf": v = -.infinity
            default:
                guard let d = Double(f[6]) else { throw LatentError.badInput(file, "line \(i + 2), column 7", "not a number: '\(f[6].prefix(30))'") }
                v = d
            }
            return TableRow(run: RunLabel(model: f[0], parameters: f[1], seed: f[2]), row: Row(f[3], latent: f[4], factor: f[5], v))
        }
    }

    public static let summaryColumns = ["model", "parameters", "metric", "factor", "runs", "mean", "sd", "min", "max", "seeds"]

    /// Mean and spread across runs that differ only in seed (Locatello et al.: seeds matter as much
    /// as models). Only scores over all latents are summarised: latent k of one seed is not latent
    /// k of another. sd is the sample standard deviation (NA for one run); NaN values are left out.
    public static func summary(_ tables: [[TableRow]]) -> String {
        struct Key: Hashable { var model, parameters, metric, factor: String }
        var order: [Key] = []
        var values: [Key: [Double]] = [:]
        var seeds: [Key: [String]] = [:]
        for t in tables {
            for r in t where r.row.latent == "all" {
                let k = Key(model: r.run.model, parameters: r.run.parameters, metric: r.row.metric, factor: r.row.factor)
                if values[k] == nil { order.append(k); values[k] = []; seeds[k] = [] }
                if !r.row.value.isNaN { values[k]!.append(r.row.value) }
                seeds[k]!.append(r.run.seed)
            }
        }
        var out = summaryColumns.joined(separator: "\t") + "\n"
        for k in order {
            let v = values[k]!
            let m = v.isEmpty ? Double.nan : mean(v)
            let sd = v.count > 1 ? variance(v, ddof: 1).squareRoot() : Double.nan
            out += [k.model, k.parameters, k.metric, k.factor, String(v.count), format(m), format(sd),
                    format(v.min() ?? .nan), format(v.max() ?? .nan), seeds[k]!.joined(separator: ";")].joined(separator: "\t") + "\n"
        }
        return out
    }

    /// The summary of metrics tables given as files or directories (searched recursively for
    /// `metrics*.tsv`, as run directories and pipeline caches hold them).
    public static func summary(paths: [String]) throws -> (text: String, files: [String]) {
        var files: [String] = []
        let fm = FileManager.default
        for p in paths {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: p, isDirectory: &isDir) else { throw LatentError.badInput(p, nil, "no such file or directory") }
            if !isDir.boolValue { files.append(p); continue }
            let found = (fm.enumerator(atPath: p)?.allObjects as? [String] ?? [])
                .filter { let n = ($0 as NSString).lastPathComponent; return n.hasPrefix("metrics") && n.hasSuffix(".tsv") }
                .sorted().map { p + "/" + $0 }
            // a summary written earlier into the same tree is not a run
            files += found.filter { (try? String(contentsOfFile: $0, encoding: .utf8))?.hasPrefix(columns.joined(separator: "\t")) == true }
        }
        guard !files.isEmpty else { throw LatentError.badInput(paths.joined(separator: ", "), nil, "no metrics tables found (metrics*.tsv)") }
        var tables: [[TableRow]] = []
        for f in files {
            guard let data = fm.contents(atPath: f), let text = String(data: data, encoding: .utf8) else {
                throw LatentError.badInput(f, nil, "cannot read this file as UTF-8 text")
            }
            tables.append(try parse(text, file: f))
        }
        return (summary(tables), files)
    }
}
