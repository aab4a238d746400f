import Foundation
import LatentCore
import LatentIO

/// Using a trained model: embedding new data (`latent vae encode`) and decoding sweeps of one
/// latent (`latent traverse`).
public enum VAEApply {
    /// Encodes `data` with the model at `model`: the output is `data` restricted to the model's
    /// genes (in the model's order), with `obsm["X_vae"]`, `obsm["X_vae_logvar"]`,
    /// `varm["vae_loadings"]` and the model's `uns["vae"]` basics.
    ///
    /// A map over row chunks of at most a fifth of `budget` (X is never held whole): when the
    /// data have exactly the model's genes, X and the layers are carried into the output as
    /// stored; otherwise the chunks' model columns are streamed into the output
    /// (`H5ADStreamWriter`), layers likewise. The same bytes for any budget.
    public static func encode(model: String, data: String, output: String, options: RunOptions,
                              compression: Compression = Compression(), budget: MemoryBudget = .machineDefault) throws {
        let m = try VAEModelFile.read(model)
        var warnings: [String] = []
        var ds = try H5AD.read(data, options: .init(readMatrices: false), warnings: &warnings)
        let source = try VAEStage.rowSource(data)
        var columns: [Int]? = nil
        if ds.var.index != m.genes {
            var position: [String: Int] = [:]
            for (i, g) in ds.var.index.enumerated() { position[g] = i }
            var cols: [Int] = []
            for g in m.genes {
                guard let i = position[g] else {
                    throw LatentError.badInput(data, "var '\(g)'", "gene of the model missing from the data (\(m.genes.count) model genes)",
                                               hint: "encode data with the genes the model was trained on")
                }
                cols.append(i)
            }
            columns = cols
        }
        let names = Validate.Names(obs: ds.obs.index, vars: ds.var.index)
        let modelNames = Validate.Names(obs: ds.obs.index, vars: m.genes)
        // MARK: covariates
        let side = try m.covariates.map { try $0.sideInputs(ds.obs, file: data) }
        Runtime.configureBLAS(threads: options.threads)
        let c = Compression(level: compression.level, threads: options.threads)
        let maxStored = min(budget.chunkEntries(bytesPerEntry: source.isSparse ? 8 : 4, share: 0.2), 8 << 20)
        let writer = try columns.map { _ in
            try H5ADStreamWriter(path: output, cols: m.genes.count, sparse: source.isSparse, compression: c,
                                 layers: try ds.layers.keys.map { ($0, try VAEStage.rowSource(data, layer: $0).isSparse) })
        }
        let (mean, logvar) = try m.network.encode(source: source, maxStored: maxStored, side: side) { range, block in
            try Validate.finite(block, first: range.lowerBound, names: names, file: data)
            let x = columns.map { block.subset(cols: $0) } ?? block
            if m.parameters.likelihood == .bernoulli {
                try Validate.within(x, first: range.lowerBound, names: modelNames, lower: 0, upper: 1, file: data,
                                    purpose: "but the model was trained on values in [0, 1]",
                                    hint: "scale as the training data were (`latent normalize --scale minmax`)")
            }
            try writer?.append(x)
            return x
        }
        if let columns { ds = ds.subset(obs: nil, vars: columns) }
        ds.obsm["X_vae"] = .dense(mean)
        ds.obsm["X_vae_logvar"] = .dense(logvar)
        ds.varm["vae_loadings"] = .dense(m.loadings)
        ds.uns["vae"] = .dict(OrderedDict([
            ("objective", .string(m.parameters.objective.rawValue)), ("beta", .double(m.parameters.beta)),
            ("latent", .int(Int64(m.parameters.latent))), ("likelihood", .string(m.parameters.likelihood.rawValue)),
            ("decoder", .string(m.parameters.decoder.rawValue)), ("model", .string(model)),
        ]))
        guard let writer, let columns else {
            try H5AD.writeCarryingMatrices(ds, to: output, compression: c)
            return
        }
        for key in ds.layers.keys {
            let layer = try VAEStage.rowSource(data, layer: key)
            try RowChunking.forEach(layer, RowChunking.plan(layer, maxStored: maxStored)) { _, block in
                try writer.appendLayer(key, block.subset(cols: columns))
            }
        }
        writer.annotations = H5AD.Annotations(obs: ds.obs, var: ds.var, obsm: ds.obsm, varm: ds.varm, uns: ds.uns)
        try writer.finish()
    }

    /// Decodes the latent codes in `data`'s `key` (cells × K, e.g. obsm/X_vae from `encode`):
    /// the output has the data's cells, the model's genes and X = the decoded mean expression
    /// (Gaussian mean, Bernoulli probability, or NB mean at the median training library).
    ///
    /// A model with covariates reads them from the data's obs; `transformBatch` decodes every cell
    /// as if it came from that batch (counterfactual, batch-corrected expression).
    public static func decode(model: String, data: String, key: String, output: String, options: RunOptions,
                              transformBatch: String? = nil, compression: Compression = Compression(),
                              budget: MemoryBudget = .machineDefault) throws {
        let m = try VAEModelFile.read(model)
        // MARK: covariates
        if let b = transformBatch, m.covariates?.batchKey == nil {
            throw LatentError.badInput(model, nil, "--transform-batch '\(b)' but the model has no batch key", hint: "train with --batch-key obs/COL")
        }
        var warnings: [String] = []
        let ds = try H5AD.read(data, options: .init(readMatrices: false), warnings: &warnings)
        let name = key.hasPrefix("obsm/") ? String(key.dropFirst(5)) : key
        guard let codes = ds.obsm[name] else {
            throw LatentError.badInput(data, "obsm/\(name)", "missing", hint: "pass --key obsm/NAME with the latent codes (e.g. obsm/X_vae)")
        }
        guard codes.cols == m.parameters.latent else {
            throw LatentError.badInput(data, "obsm/\(name)", "has \(codes.cols) columns, the model has \(m.parameters.latent) latents")
        }
        let z: Matrix
        switch codes {
        case .dense(let d): z = d
        case .sparse(let s): z = s.densified()
        }
        if let bad = z.values.firstIndex(where: { !$0.isFinite }) {
            throw LatentError.badInput(data, "obsm/\(name)[\(bad / z.cols), \(bad % z.cols)]", "non-finite latent value")
        }
        let side = try m.covariates.map { try $0.sideInputs(ds.obs, file: data, transformBatch: transformBatch) }
        Runtime.configureBLAS(threads: options.threads)
        // The decoded matrix is cells × genes, dense: written in row chunks of whole blocks within
        // a fifth of the budget, never held whole.
        let writer = try H5ADStreamWriter(path: output, cols: m.genes.count, sparse: false,
                                          compression: Compression(level: compression.level, threads: options.threads))
        let block = RowChunking.statBlock
        let chunkRows = max(1, budget.chunkEntries(bytesPerEntry: 4, share: 0.2) / max(1, m.genes.count) / block) * block
        var first = 0
        while first < z.rows {
            let range = first..<min(z.rows, first + chunkRows)
            try writer.append(.dense(m.network.decode(z, rows: range, scaleFactor: m.scaleFactor, side: side)))
            first = range.upperBound
        }
        var obsm = MatrixDict()
        obsm[name] = codes
        var info = OrderedDict([("decoded_from", .string("obsm/\(name)")), ("model", .string(model)),
                                ("likelihood", .string(m.parameters.likelihood.rawValue))])
        if let b = transformBatch { info["transform_batch"] = .string(b) }
        writer.annotations = H5AD.Annotations(obs: ds.obs, var: DataFrame(index: m.genes, indexName: ds.var.indexName), obsm: obsm,
                                              uns: OrderedDict([("vae", .dict(info))]))
        try writer.finish()
    }

    /// Decodes latent `j` swept over `steps` values from −range to +range standard deviations of
    /// the cells' posterior means, the other latents at their means: a genes × steps TSV whose
    /// header gives each step's value in standard deviations.
    public static func traverse(model: String, latent j: Int, steps: Int = 13, range: Double = 3) throws -> String {
        let m = try VAEModelFile.read(model)
        let k = m.parameters.latent
        guard (0..<k).contains(j) else {
            throw LatentError.badInput(model, nil, "--latent \(j) is outside 0…\(k - 1) (the model has \(k) latents, numbered from 0)")
        }
        guard steps >= 2, range > 0 else { throw LatentError.badInput(nil, nil, "--steps must be at least 2 and --range positive") }
        let values = (0..<steps).map { -range + 2 * range * Double($0) / Double(steps - 1) }
        var z = Matrix(rows: steps, cols: k)
        for s in 0..<steps {
            for c in 0..<k { z[s, c] = Float(m.latentMean[c]) }
            z[s, j] = Float(m.latentMean[j] + values[s] * m.latentStd[j])
        }
        // A model with covariates decodes the sweep at each covariate's first category and at
        // the continuous covariates' means.
        let side = m.covariates.map { d -> Matrix in
            var s = Matrix(rows: steps, cols: d.width)
            var offset = 0
            for c in d.categorical { for r in 0..<steps { s[r, offset] = 1 }; offset += c.categories.count }
            return s
        }
        let decoded = m.network.decode(z, scaleFactor: m.scaleFactor, side: side)
        var out = "gene"
        for v in values { out += "\t" + label(v) }
        out += "\n"
        for (g, name) in m.genes.enumerated() {
            out += name
            for s in 0..<steps { out += "\t\(decoded[s, g])" }
            out += "\n"
        }
        return out
    }

    static func label(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) : "\(r)"
    }
}
