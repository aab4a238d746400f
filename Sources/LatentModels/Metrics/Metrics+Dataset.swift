import LatentCore

extension Metrics {
    /// Which model and settings a table's rows belong to, so that runs can be summarised across seeds.
    public struct RunLabel: Sendable, Equatable {
        public var model: String
        public var parameters: String
        public var seed: String
        public init(model: String, parameters: String, seed: String) {
            self.model = model
            self.parameters = parameters
            self.seed = seed
        }
    }

    /// The codes under `key` (`obsm/NAME`) as one array per latent.
    public static func codes(_ ds: Dataset, key: String, file: String) throws -> [[Double]] {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "obsm" else {
            throw LatentError.badInput(file, key, "codes live in obsm (cells × latents), e.g. --key obsm/X_vae or obsm/X_pca")
        }
        guard let m = ds.obsm[parts[1]] else {
            let have = ds.obsm.keys.isEmpty ? "none" : ds.obsm.keys.joined(separator: ", ")
            throw LatentError.badInput(file, "/" + key, "no such key (obsm has: \(have))")
        }
        let dense: Matrix
        switch m { case .dense(let d): dense = d; case .sparse(let s): dense = s.densified() }
        guard dense.cols >= 1, dense.rows >= 2 else { throw LatentError.badInput(file, "/" + key, "needs at least 2 cells and 1 latent") }
        var out = [[Double]](repeating: [Double](repeating: 0, count: dense.rows), count: dense.cols)
        for i in 0..<dense.rows {
            for k in 0..<dense.cols {
                let v = dense[i, k]
                guard v.isFinite else { throw LatentError.badInput(file, "/\(key)[\(i), \(k)]", "non-finite value \(v)") }
                out[k][i] = Double(v)
            }
        }
        return out
    }

    /// obs columns as factors: `columns` as given (`obs/COL` or `COL`), or every `factor_*`
    /// column (what `latent simulate` writes) when empty. Strings and bools are categorical.
    public static func factors(_ ds: Dataset, columns: [String], file: String) throws -> [Factor] {
        var names = columns.map { $0.hasPrefix("obs/") ? String($0.dropFirst(4)) : $0 }
        if names.isEmpty { names = ds.obs.columnNames.filter { $0.hasPrefix("factor_") } }
        return try names.map { name in
            guard let col = ds.obs[name] else {
                throw LatentError.badInput(file, "obs/\(name)", "no such obs column (obs has: \(ds.obs.columnNames.joined(separator: ", ")))")
            }
            switch col {
            case .categorical(let codes, let cats, _):
                return Factor(name: name, values: .categorical(labels: codes.map(Int.init), categories: cats))
            case .string(let s):
                let cats = Array(Set(s)).sorted()
                let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
                return Factor(name: name, values: .categorical(labels: s.map { index[$0]! }, categories: cats))
            case .bool(let b):
                return Factor(name: name, values: .categorical(labels: b.map { $0 ? 1 : 0 }, categories: ["False", "True"]))
            default:
                let v = col.doubles!
                if let i = v.firstIndex(where: { !$0.isFinite }) {
                    throw LatentError.badInput(file, "obs/\(name)[\(i)]", "non-finite value \(v[i])", hint: "drop or impute missing values first")
                }
                return Factor(name: name, values: .continuous(v))
            }
        }
    }

    /// The model and its settings from the embedding's uns entry (`uns["vae"]`: objective, β, γ,
    /// latents, likelihood, decoder, seed; PCA/ICA/NMF: the number of components).
    public static func runLabel(_ ds: Dataset, key: String) -> RunLabel {
        let name = String(key.split(separator: "/").last ?? "")
        let model = name.hasPrefix("X_") ? String(name.dropFirst(2)) : name
        let k = ds.obsm[name]?.cols ?? 0
        guard case .dict(let u)? = ds.uns[model] else { return RunLabel(model: model, parameters: "k=\(k)", seed: "NA") }
        func text(_ v: UnsValue?) -> String? {
            switch v {
            case .string(let s)?: s
            case .int(let i)?: String(i)
            case .double(let d)?: d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
            case .bool(let b)?: String(b)
            default: nil
            }
        }
        var parts: [String] = []
        if model == "vae" {
            // γ is FactorVAE's TC weight and the capacity objective's; runs differing in it are different models
            for f in ["objective", "beta", "gamma", "latent", "likelihood", "decoder"] { if let t = text(u[f]) { parts.append("\(f)=\(t)") } }
        } else {
            parts.append("k=\(k)")
        }
        return RunLabel(model: model, parameters: parts.joined(separator: ","), seed: text(u["seed"]) ?? "NA")
    }
}
