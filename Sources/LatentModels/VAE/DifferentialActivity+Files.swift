import Foundation
import LatentCore
import LatentIO

/// Reading a trained model's output for the test (a `latent vae` directory or any embedding
/// .h5ad), the obs column that groups cells, and the tidy table the test writes.
extension DifferentialActivity {
    public static let columns = ["groupby", "group", "reference", "latent", "name", "n_group", "n_reference", "mean_group",
                                 "mean_reference", "difference", "sign", "pairs", "probability", "log_bayes_factor", "direction"]

    /// Keys of `uns[model]` that may name the latents, first match wins: `latent_names` (what
    /// gene-program decoders write: one string per latent, the programs then `free_0`, …), else
    /// `program_names` when it has exactly one name per latent (no free latents).
    public static let nameKeys = ["latent_names", "program_names"]

    public struct Input: Sendable {
        public var path: String
        public var dataset: Dataset
        public var posterior: Posterior
        /// Whether the names came from the file (gene programs) rather than z0, z1, …
        public var named: Bool
        public var directions: Directions
    }

    /// `path` is a directory holding `embedding.h5ad` (what `latent vae -o DIR` writes) or an
    /// .h5ad. `key` names the posterior means (obsm/X_vae); the variances come from
    /// `obsm[<name>_logvar]` when present (a VAE's), else the scores are point estimates.
    public static func load(_ path: String, key: String = "obsm/X_vae", directions: Directions = .auto) throws -> Input {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw LatentError.badInput(path, nil, "no such file or directory")
        }
        var file = path
        if isDir.boolValue {
            file = (path.hasSuffix("/") ? String(path.dropLast()) : path) + "/embedding.h5ad"
            guard FileManager.default.fileExists(atPath: file) else {
                throw LatentError.badInput(path, nil, "no embedding.h5ad in this directory", hint: "give the directory `latent vae -o DIR` wrote, or an .h5ad")
            }
        }
        var warnings: [String] = []
        let ds = try H5AD.read(file, warnings: &warnings)
        let name = key.hasPrefix("obsm/") ? String(key.dropFirst(5)) : key
        guard let m = ds.obsm[name] else {
            let have = ds.obsm.keys.isEmpty ? "none" : ds.obsm.keys.joined(separator: ", ")
            throw LatentError.badInput(file, "obsm/\(name)", "missing (obsm has: \(have))", hint: "pass --key obsm/NAME with the latent codes")
        }
        let mean = dense(m)
        guard mean.rows >= 2, mean.cols >= 1 else { throw LatentError.badInput(file, "obsm/\(name)", "needs at least 2 cells and 1 latent") }
        try finite(mean, file: file, key: "obsm/\(name)")
        var variance: Matrix? = nil
        if let lv = ds.obsm[name + "_logvar"] {
            var v = dense(lv)
            guard v.rows == mean.rows, v.cols == mean.cols else {
                throw LatentError.badInput(file, "obsm/\(name)_logvar", "shape \(v.rows) × \(v.cols) differs from obsm/\(name)'s \(mean.rows) × \(mean.cols)")
            }
            try finite(v, file: file, key: "obsm/\(name)_logvar")
            for i in v.values.indices { v.values[i] = Float(_exp(Double(v.values[i]))) }
            variance = v
        }
        let model = name.hasPrefix("X_") ? String(name.dropFirst(2)) : name
        var names: [String]? = nil
        var inactive: [Int] = []
        if case .dict(let u)? = ds.uns[model] {
            for k in nameKeys {
                if case .strings(let s)? = u[k], s.count == mean.cols { names = s; break }
            }
            // programs the group lasso switched off (the first P latents are the programs)
            if case .numbers(let a)? = u["program_active"], case .bool(let active) = a.storage, active.count <= mean.cols {
                inactive = active.indices.filter { !active[$0] }
            }
        }
        let method: Directions = directions == .auto ? (names != nil ? .sum : .none) : directions
        var signs: [Double]? = nil
        if method != .none {
            let loadingsKey = [EmbeddingKeys.vae, .pca, .ica, .nmf].first { $0.scores == name }?.loadings ?? "\(model)_loadings"
            guard let l = ds.varm[loadingsKey] else {
                throw LatentError.badInput(file, "varm/\(loadingsKey)", "missing: --directions \(method.rawValue) reads the loadings", hint: "use --directions none")
            }
            let loadings = dense(l)
            guard loadings.cols == mean.cols else {
                throw LatentError.badInput(file, "varm/\(loadingsKey)", "has \(loadings.cols) columns for \(mean.cols) latents")
            }
            signs = DifferentialActivity.directions(loadings: loadings, method: method)
        }
        if !inactive.isEmpty {
            // as expiMap zeroes deactivated terms: an inactive program is not tested (p = ½, log BF 0)
            var s = signs ?? [Double](repeating: 1, count: mean.cols)
            for j in inactive { s[j] = 0 }
            signs = s
        }
        return Input(path: file, dataset: ds, posterior: Posterior(mean: mean, variance: variance, names: names, signs: signs),
                     named: names != nil, directions: method)
    }

    /// The groups of an obs column (`obs/COL` or `COL`): categorical, string, bool or integer
    /// columns; floats are refused (cut them into categories first). Missing values (code −1,
    /// empty strings) belong to no group.
    public static func grouping(_ ds: Dataset, column: String, file: String) throws -> Grouping {
        let name = column.hasPrefix("obs/") ? String(column.dropFirst(4)) : column
        guard let col = ds.obs[name] else {
            let have = ds.obs.columnNames.isEmpty ? "none" : ds.obs.columnNames.joined(separator: ", ")
            throw LatentError.badInput(file, "obs/\(name)", "no such obs column (obs has: \(have))", hint: "give --groupby obs/COL with a categorical column")
        }
        switch col {
        case .categorical(let codes, let cats, _):
            return Grouping(column: name, categories: cats, labels: codes.map { $0 >= 0 && Int($0) < cats.count ? Int($0) : -1 })
        case .string(let s):
            let cats = Array(Set(s.filter { !$0.isEmpty })).sorted()
            let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return Grouping(column: name, categories: cats, labels: s.map { index[$0] ?? -1 })
        case .bool(let b):
            return Grouping(column: name, categories: ["False", "True"], labels: b.map { $0 ? 1 : 0 })
        case .int64, .int32:
            let v = col.doubles!.map { Int64($0) }
            let cats = Array(Set(v)).sorted()
            guard cats.count <= 1000 else {
                throw LatentError.badInput(file, "obs/\(name)", "\(cats.count) distinct integers: not a grouping", hint: "give a categorical column")
            }
            let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return Grouping(column: name, categories: cats.map(String.init), labels: v.map { index[$0]! })
        case .nullableBool(let b, let missing):
            return Grouping(column: name, categories: ["False", "True"], labels: zip(b, missing).map { $1 ? -1 : ($0 ? 1 : 0) })
        case .nullableString(let s, let missing):
            let cats = Array(Set(zip(s, missing).filter { !$1 && !$0.isEmpty }.map(\.0))).sorted()
            let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return Grouping(column: name, categories: cats, labels: zip(s, missing).map { $1 ? -1 : (index[$0] ?? -1) })
        case .nullableInteger(let v, let missing, _):
            let cats = Array(Set(zip(v, missing).filter { !$1 }.map(\.0))).sorted()
            guard cats.count <= 1000 else {
                throw LatentError.badInput(file, "obs/\(name)", "\(cats.count) distinct integers: not a grouping", hint: "give a categorical column")
            }
            let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return Grouping(column: name, categories: cats.map(String.init), labels: zip(v, missing).map { $1 ? -1 : index[$0]! })
        case .float32, .float64:
            throw LatentError.badInput(file, "obs/\(name)", "is continuous (\(col.typeName)); groups need a categorical, string, bool or integer column",
                                       hint: "cut it into categories first")
        }
    }

    static func format(_ x: Double) -> String {
        if x.isNaN { return "NA" }
        if x.isInfinite { return x > 0 ? "inf" : "-inf" }
        return "\(x)"
    }

    /// The tidy TSV: one row per group × latent.
    public static func tsv(_ rows: [Row], groupby: String) -> String {
        var out = columns.joined(separator: "\t") + "\n"
        for r in rows {
            out += [groupby, r.group, r.reference, String(r.latent), r.name, String(r.nGroup), String(r.nReference),
                    format(r.meanGroup), format(r.meanReference), format(r.meanGroup - r.meanReference), format(r.sign),
                    String(r.pairs), format(r.probability), format(r.logBayesFactor), r.direction].joined(separator: "\t") + "\n"
        }
        return out
    }

    static func dense(_ m: MatrixData) -> Matrix {
        switch m { case .dense(let d): d; case .sparse(let s): s.densified() }
    }

    static func finite(_ m: Matrix, file: String, key: String) throws {
        if let bad = m.values.firstIndex(where: { !$0.isFinite }) {
            throw LatentError.badInput(file, "\(key)[\(bad / m.cols), \(bad % m.cols)]", "non-finite value")
        }
    }
}

extension DifferentialActivity {
    /// A parsed row of the table (what `tsv` wrote), with the obs column it grouped by.
    public struct TableRow: Sendable, Equatable {
        public var groupby: String
        public var row: Row
    }

    public static func parse(_ text: String, file: String) throws -> [TableRow] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header == columns else {
            throw LatentError.badInput(file, "line 1", "not a differential activity table (expected the header \(columns.joined(separator: " ")))")
        }
        func number(_ s: String) -> Double {
            switch s { case "NA": .nan; case "inf": .infinity; case "-inf": -.infinity; default: Double(s) ?? .nan }
        }
        return try lines.dropFirst().enumerated().map { i, f in
            guard f.count == columns.count, let latent = Int(f[3]), let na = Int(f[5]), let nb = Int(f[6]), let pairs = Int(f[11]) else {
                throw LatentError.badInput(file, "line \(i + 2)", "malformed row (\(f.count) fields, expected \(columns.count))")
            }
            return TableRow(groupby: f[0], row: Row(latent: latent, name: f[4], group: f[1], reference: f[2], nGroup: na, nReference: nb,
                                                    meanGroup: number(f[7]), meanReference: number(f[8]), sign: number(f[10]), pairs: pairs,
                                                    probability: number(f[12]), logBayesFactor: number(f[13]), direction: f[14]))
        }
    }
}
