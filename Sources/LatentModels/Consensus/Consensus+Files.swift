import Foundation
import LatentCore
import LatentIO

/// Runs read from model outputs (an .h5ad, or a directory holding one, as `latent vae -o DIR`
/// and `latent run`'s results write them), enrichment tables reduced to each latent's top set,
/// and the tidy table the summary writes and the report reads back.
extension Consensus {
    public static let columns = ["model", "parameters", "seed", "run", "latent", "name", "consensus", "seeds", "reproducibility",
                                 "min_match", "top_set", "top_set_direction", "recurrence", "stable"]

    /// The model file of `path`: the path itself when it is an .h5ad, else the one model .h5ad in
    /// the directory (embedding.h5ad first).
    public static func modelFile(_ path: String) throws -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw LatentError.badInput(path, nil, "no such file or directory")
        }
        guard isDir.boolValue else { return path }
        let dir = path.hasSuffix("/") ? String(path.dropLast()) : path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".h5ad") && !$0.hasPrefix(".") }.sorted()
        if names.contains("embedding.h5ad") { return dir + "/embedding.h5ad" }
        let models = names.filter { ["pca.h5ad", "ica.h5ad", "nmf.h5ad"].contains($0) }
        if models.count == 1 { return dir + "/" + models[0] }
        if names.count == 1 { return dir + "/" + names[0] }
        throw LatentError.badInput(path, nil, names.isEmpty ? "no .h5ad in this directory" : "\(names.count) .h5ad files here; which is the model?",
                                   hint: "name the model's .h5ad")
    }

    /// A run from a model .h5ad (or its directory): loadings from `key` (varm/NAME) or the first
    /// model output found (vae, nmf, ica, pca), the label as `latent metrics` writes it.
    public static func loadRun(_ path: String, key: String? = nil, enrichment: String? = nil, fdr: Double = 0.05) throws -> Run {
        let file = try modelFile(path)
        var warnings: [String] = []
        let ds = try H5AD.read(file, warnings: &warnings)
        let keys: EmbeddingKeys
        if let key {
            let name = key.hasPrefix("varm/") ? String(key.dropFirst(5)) : key
            keys = [EmbeddingKeys.vae, .nmf, .ica, .pca].first { $0.loadings == name } ?? EmbeddingKeys(scores: "X_" + name, loadings: name, uns: name)
        } else {
            guard let k = [EmbeddingKeys.vae, .nmf, .ica, .pca].first(where: { ds.varm[$0.loadings] != nil }) else {
                throw LatentError.badInput(file, "/varm", "no loadings (none of vae_loadings, NMF_loadings, ICs, PCs)", hint: "give --key varm/NAME")
            }
            keys = k
        }
        guard let m = ds.varm[keys.loadings] else {
            throw LatentError.badInput(file, "varm/\(keys.loadings)", "missing (varm has: \(ds.varm.keys.joined(separator: ", ")))")
        }
        let loadings: Matrix
        switch m { case .dense(let d): loadings = d; case .sparse(let s): loadings = s.densified() }
        guard loadings.cols >= 1 else { throw LatentError.badInput(file, "varm/\(keys.loadings)", "no latents") }
        if let bad = loadings.values.firstIndex(where: { !$0.isFinite }) {
            throw LatentError.badInput(file, "varm/\(keys.loadings)[\(bad / loadings.cols), \(bad % loadings.cols)]", "non-finite loading")
        }
        var names: [String]? = nil
        if case .dict(let u)? = ds.uns[keys.uns] {
            for k in DifferentialActivity.nameKeys {
                if case .strings(let s)? = u[k], s.count == loadings.cols { names = s; break }
            }
        }
        var label = Metrics.runLabel(ds, key: "obsm/" + keys.scores)
        if ds.obsm[keys.scores] == nil { label.parameters = "k=\(loadings.cols)" }
        var run = Run(id: path, label: label, genes: ds.var.index, loadings: loadings, names: names)
        if let enrichment {
            run.topSets = try topSets(enrichmentTable: enrichment, latents: loadings.cols, fdr: fdr)
        }
        return run
    }

    /// Each latent's top significant set in an enrichment table (`latent enrich`'s columns
    /// latent, gene_set, direction, nes, padj): least FDR, then largest |NES|, then name.
    public static func topSets(enrichmentTable path: String, latents k: Int, fdr: Double) throws -> [TopSet?] {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw LatentError.badInput(path, nil, "cannot read this file as UTF-8 text")
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map {
            (($0.hasSuffix("\r") ? $0.dropLast() : Substring($0))).split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        guard let header = lines.first else { return [TopSet?](repeating: nil, count: k) }
        func col(_ n: String) throws -> Int {
            guard let i = header.firstIndex(of: n) else { throw LatentError.badInput(path, "line 1", "an enrichment table needs a '\(n)' column") }
            return i
        }
        let (lc, gc, dc, nc, pc) = (try col("latent"), try col("gene_set"), try col("direction"), try col("nes"), try col("padj"))
        var best = [(set: TopSet, nes: Double)?](repeating: nil, count: k)
        for (i, f) in lines.dropFirst().enumerated() {
            guard f.count == header.count else { throw LatentError.badInput(path, "line \(i + 2)", "\(f.count) fields, expected \(header.count)") }
            guard let j = Int(f[lc]), (0..<k).contains(j) else {
                throw LatentError.badInput(path, "line \(i + 2)", "latent '\(f[lc])' is not one of the model's 0…\(k - 1)", hint: "pair each model with its own enrichment table")
            }
            guard let padj = Double(f[pc]), padj < fdr else { continue }
            let nes = abs(Double(f[nc]) ?? 0)
            let candidate = (set: TopSet(name: f[gc], direction: f[dc], padj: padj), nes: nes)
            if let cur = best[j] {
                let better = padj < cur.set.padj || (padj == cur.set.padj && (nes > cur.nes || (nes == cur.nes && f[gc] < cur.set.name)))
                if !better { continue }
            }
            best[j] = candidate
        }
        return best.map { $0?.set }
    }

    static func format(_ x: Double?) -> String {
        guard let x else { return "NA" }
        if x.isNaN { return "NA" }
        return "\(x)"
    }

    public static func tsv(_ rows: [Row]) -> String {
        var out = columns.joined(separator: "\t") + "\n"
        for r in rows {
            out += [r.model, r.parameters, r.seed, r.run, String(r.latent), r.name, r.consensus.map(String.init) ?? "NA", String(r.seeds),
                    format(r.reproducibility), format(r.minMatch), r.topSet?.name ?? "NA", r.topSet?.direction ?? "NA",
                    format(r.recurrence), r.stable ? "true" : "false"].joined(separator: "\t") + "\n"
        }
        return out
    }

    /// Reads back what `tsv` wrote.
    public static func parse(_ text: String, file: String) throws -> [Row] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        guard let header = lines.first, header == columns else {
            throw LatentError.badInput(file, "line 1", "not a consensus table (expected the header \(columns.joined(separator: " ")))")
        }
        func number(_ s: String) -> Double? { s == "NA" ? nil : Double(s) }
        return try lines.dropFirst().enumerated().map { i, f in
            guard f.count == columns.count, let latent = Int(f[4]), let seeds = Int(f[7]) else {
                throw LatentError.badInput(file, "line \(i + 2)", "malformed row (\(f.count) fields, expected \(columns.count))")
            }
            return Row(model: f[0], parameters: f[1], seed: f[2], run: f[3], latent: latent, name: f[5], consensus: Int(f[6]), seeds: seeds,
                       reproducibility: number(f[8]) ?? .nan, minMatch: number(f[9]) ?? .nan,
                       topSet: f[10] == "NA" ? nil : TopSet(name: f[10], direction: f[11], padj: .nan),
                       recurrence: number(f[12]), stable: f[13] == "true")
        }
    }
}

extension Consensus {
    /// The enrichment table beside a model file, as `latent report` attaches them: the only
    /// `enrich*.tsv` in a directory with one model, else the one whose name holds the model
    /// file's stem (enrich_pca.tsv for pca.h5ad); nil when there is none or it is ambiguous.
    public static func enrichmentBeside(_ modelFile: String) -> String? {
        let url = URL(fileURLWithPath: modelFile)
        let dir = url.deletingLastPathComponent().path
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
        let tables = names.filter { $0.hasPrefix("enrich") && $0.hasSuffix(".tsv") }
        let models = names.filter { $0.hasSuffix(".h5ad") }
        if tables.count == 1 && models.count == 1 { return dir + "/" + tables[0] }
        let stem = url.deletingPathExtension().lastPathComponent.lowercased()
        let named = tables.filter { $0.dropLast(4).lowercased().contains(stem) }
        return named.count == 1 ? dir + "/" + named[0] : nil
    }
}
