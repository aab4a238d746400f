import Foundation
import LatentCore
import LatentIO
import LatentModels

/// What `latent report` shows, gathered from a run directory or a pipeline cache: every model run
/// (PCA, ICA, NMF, VAE) with the tables that belong to it (training history, enrichment, metrics,
/// traversals). Discovery only reads; rendering is in Report+HTML.swift and Report+Tables.swift.
public struct Report: Sendable {
    public struct Options: Sendable {
        /// FDR below which a gene set counts as significant.
        public var fdr = 0.05
        public var topGenes = 10
        public var topSets = 10
        /// obs column to colour latent distributions by; default: the first categorical column
        /// with 2–8 categories.
        public var colorBy: String? = nil
        public var title = "latent report"
        public init() {}
    }

    public struct History: Sendable {
        public var columns: [String]
        public var values: [String: [Double]]
        public func column(_ name: String) -> [Double]? { values[name] }
        public var epochs: [Double] { values["epoch"] ?? (0..<(values.values.first?.count ?? 0)).map(Double.init) }
        public func last(_ name: String) -> Double? { values[name]?.last { $0.isFinite } }
    }

    public struct VAEInfo: Sendable {
        /// The weight a sweep varies: β, except for FactorVAE, whose TC weight is γ (β stays 1).
        public var strength: Double? { objective == "factor" ? (gamma ?? beta) : beta }
        public var objective: String?
        public var beta: Double?
        public var gamma: Double?
        public var klPerLatent: [Double]?
        public var activeLatents: [Int]?
        public var epochsRun: Int?
        public var likelihood: String?
    }

    public struct EnrichmentRow: Sendable {
        public var latent: String, geneSet: String, direction: String
        public var size: Int, nes: Double, pval: Double, padj: Double
    }

    public struct Traversal: Sendable {
        public var latent: Int
        public var genes: [String]
        public var steps: [Double]
        /// genes × steps
        public var values: [[Double]]
    }

    public struct Run: Sendable {
        public var id: String
        public var model: String
        public var parameters: String
        public var seed: String
        public var source: String
        public var nCells: Int, nGenes: Int
        /// one array per latent: its score in every cell
        public var scores: [[Double]]
        /// one array per latent: its loading on every gene (nil when the file has none)
        public var loadings: [[Double]]?
        public var genes: [String]
        public var obs: DataFrame
        public var vae: VAEInfo?
        public var varianceRatio: [Double]?
        public var history: History?
        public var enrichment: [EnrichmentRow] = []
        public var metrics: [Metrics.TableRow] = []
        public var traversals: [Traversal] = []
        public var files: [String] = []
        /// The gene programs `latent simulate` planted (uns["simulation"]["programs"]), if any.
        public var plantedPrograms: [String] = []
        /// Latents the model reserved for obs covariates (uns[model]["subspaces"]).
        public var subspaces: [Metrics.Subspace] = []
        /// Differential activity tables beside the model (`differential*.tsv`).
        public var differential: [DifferentialActivity.TableRow] = []

        public var latentCount: Int { scores.count }
        /// Active latents: as the VAE recorded them, else (a VAE without the record) variance of the
        /// posterior means above 0.01. Collapse to the prior is a VAE's failure mode; PCA, ICA and NMF
        /// scores have their own scales, so all their latents count as active.
        public var activeLatents: [Int] {
            if let a = vae?.activeLatents { return a }
            if model == "vae" { return scores.indices.filter { Metrics.variance(scores[$0]) > 0.01 } }
            return Array(scores.indices)
        }
        public func metric(_ name: String, factor: String = "all") -> Double? {
            metrics.first { $0.row.metric == name && $0.row.latent == "all" && $0.row.factor == factor }?.row.value
        }
    }

    public var source: String
    public var runs: [Run]
    public var notes: [String]
    public var options: Options
    /// Stability across seeds (`consensus*.tsv`, or consensus entries of a pipeline cache).
    public var consensus: [Consensus.Row] = []

    /// The known model outputs, in the order a file holding several is attributed (a later stage first).
    static let embeddingKeys: [EmbeddingKeys] = [.vae, .nmf, .ica, .pca]

    /// Reads a run directory (walked recursively, symlinks followed), a pipeline cache (directories
    /// holding manifest.json), or one .h5ad.
    public static func discover(_ path: String, options: Options = .init()) throws -> Report {
        try discover([path], options: options)
    }

    /// The same over several inputs (a pipeline's report stage passes the entry directories it
    /// gathered; entries they name as inputs are found beside them in the cache).
    public static func discover(_ paths: [String], options: Options = .init()) throws -> Report {
        var notes: [String] = []
        var runs: [Run] = []
        var dirs: [(dir: String, root: String)] = []
        for path in paths {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                throw LatentError.badInput(path, nil, "no such file or directory")
            }
            if isDir.boolValue {
                dirs += walk(path).map { ($0, path) }
                continue
            }
            guard path.hasSuffix(".h5ad") else { throw LatentError.badInput(path, nil, "give a run directory, a pipeline cache or an .h5ad") }
            guard let r = try readRun(path, id: URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent, hint: path) else {
                throw LatentError.badInput(path, "/obsm", "no model output here (obsm has none of X_pca, X_ica, X_nmf, X_vae)")
            }
            runs.append(r)
        }
        let manifests = dirs.filter { FileManager.default.fileExists(atPath: $0.dir + "/manifest.json") }
        if !manifests.isEmpty {
            runs += try fromCache(manifests.map(\.dir), notes: &notes)
        } else {
            for root in paths where dirs.contains(where: { $0.root == root }) {
                runs += try fromDirectories(dirs.filter { $0.root == root }.map(\.dir), root: root, notes: &notes)
            }
        }
        let path = paths.joined(separator: ", ")
        runs.sort { naturalLess($0.id, $1.id) }
        if runs.isEmpty {
            throw LatentError.badInput(path, nil, "found no model output (an .h5ad with obsm X_pca, X_ica, X_nmf or X_vae)",
                                       hint: "run latent pca/ica/nmf/vae first, or point at the directory holding their outputs")
        }
        // A pipeline's report stage gathers many entries: name their cache, not each of them.
        var source = path
        if paths.count > 3 {
            let parents = Set(paths.map { URL(fileURLWithPath: $0).deletingLastPathComponent().path })
            source = parents.count == 1 ? "\(paths.count) entries of \(parents.first!)" : "\(paths.count) inputs"
        }
        var consensus = try consensusTables(manifests.isEmpty ? dirs.map(\.dir) : manifests.filter { readManifest($0.dir)?.stage == "consensus" }.map(\.dir), notes: &notes)
        if consensus.isEmpty { consensus = derivedConsensus(runs, fdr: options.fdr) }
        return Report(source: source, runs: runs, notes: notes, options: options, consensus: consensus)
    }

    /// "b2" before "b16": runs of a sweep in the order of their numbers.
    static func naturalLess(_ a: String, _ b: String) -> Bool {
        func parts(_ s: String) -> [(String, Double?)] {
            var out: [(String, Double?)] = []
            var cur = "", digits = false
            for c in s {
                let d = c.isNumber || (c == "." && digits)
                if !cur.isEmpty && d != digits { out.append((cur, digits ? Double(cur) : nil)); cur = "" }
                digits = d
                cur.append(c)
            }
            if !cur.isEmpty { out.append((cur, digits ? Double(cur) : nil)) }
            return out
        }
        let (x, y) = (parts(a), parts(b))
        for (p, q) in zip(x, y) {
            if let u = p.1, let v = q.1 { if u != v { return u < v } } else if p.0 != q.0 { return p.0 < q.0 }
        }
        return x.count != y.count ? x.count < y.count : a < b
    }

    /// Every directory under `root` (itself included), each once by its resolved path, sorted.
    static func walk(_ root: String) -> [String] {
        var seen = Set<String>()
        var out: [String] = []
        func visit(_ dir: String, depth: Int) {
            let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
            guard depth < 12, seen.insert(real).inserted else { return }
            out.append(dir)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
            for n in names.sorted() where !n.hasPrefix(".") && n != "report_tables" {
                var d: ObjCBool = false
                let p = dir + "/" + n
                if FileManager.default.fileExists(atPath: p, isDirectory: &d), d.boolValue { visit(p, depth: depth + 1) }
            }
        }
        visit(root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root, depth: 0)
        return out
    }

    static func files(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    // MARK: run directories

    static func fromDirectories(_ dirs: [String], root: String, notes: inout [String]) throws -> [Run] {
        var runs: [Run] = []
        let rootPath = URL(fileURLWithPath: root).standardizedFileURL.path
        for dir in dirs {
            let names = files(in: dir)
            var here: [Run] = []
            for n in names where n.hasSuffix(".h5ad") {
                // the id is the file's path below the root, without .h5ad (and without /embedding for a VAE)
                let full = URL(fileURLWithPath: dir + "/" + n).standardizedFileURL.path
                let rel = String(full.hasPrefix(rootPath) ? full.dropFirst(rootPath.count) : Substring(n)).trimmingCharacters(in: CharacterSet(charactersIn: "/"))
                var id = String(rel.dropLast(5))
                if n == "embedding.h5ad" { id = String(id.dropLast("embedding".count)).trimmingCharacters(in: CharacterSet(charactersIn: "/")) }
                if id.isEmpty { id = URL(fileURLWithPath: dir).lastPathComponent }
                if let r = try readRun(dir + "/" + n, id: id, hint: n) { here.append(r) }
            }
            guard !here.isEmpty else { continue }
            // sidecar tables: to the only run here, else to the run whose file stem (or model) the name contains
            for n in names where n.hasSuffix(".tsv") {
                let kind = ["history", "enrich", "metrics", "traverse", "differential"].first { n.hasPrefix($0) }
                guard let kind else { continue }
                var target: Int? = here.count == 1 ? 0 : nil
                if target == nil {
                    let stem = n.dropLast(4).lowercased()
                    let byFile = here.indices.filter { i in
                        let s = URL(fileURLWithPath: here[i].source).deletingPathExtension().lastPathComponent.lowercased()
                        return stem.contains(s)
                    }
                    let byModel = here.indices.filter { stem.contains(here[$0].model) }
                    target = byFile.count == 1 ? byFile[0] : byModel.count == 1 ? byModel[0] : nil
                }
                guard let t = target else { notes.append("\(dir)/\(n): could not tell which model it belongs to (name it after the model file, e.g. enrich_pca.tsv)"); continue }
                try attach(kind: kind, path: dir + "/" + n, latentHint: nil, to: &here[t], notes: &notes)
            }
            runs += here
        }
        return runs
    }

    // MARK: pipeline cache

    struct Manifest {
        var dir: String, stage: String, name: String, instance: String, key: String
        var inputKeys: [String]
        var parameters: [String: Any]
    }

    static func readManifest(_ d: String) -> Manifest? {
        guard let data = FileManager.default.contents(atPath: d + "/manifest.json"),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let stage = obj["stage"] as? String else { return nil }
        let inputs = (obj["inputs"] as? [String: Any] ?? [:]).sorted { $0.key < $1.key }.compactMap { ($0.value as? [String: Any])?["key"] as? String }
        return Manifest(dir: d, stage: stage, name: obj["name"] as? String ?? stage, instance: obj["instance"] as? String ?? "",
                        key: obj["key"] as? String ?? d, inputKeys: inputs, parameters: obj["parameters"] as? [String: Any] ?? [:])
    }

    static func fromCache(_ dirs: [String], notes: inout [String]) throws -> [Run] {
        var manifests: [String: Manifest] = [:]
        var order: [String] = []
        for d in dirs {
            guard let m = readManifest(d) else {
                notes.append("\(d)/manifest.json: not a readable manifest, skipped")
                continue
            }
            if manifests[m.key] == nil { order.append(m.key) }
            manifests[m.key] = m
        }
        // inputs named by key but not among the given directories: look beside the entry (CACHE/entries/<key>)
        var pending = order
        var loadedFrom = Set(dirs.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        while let key = pending.popLast() {
            guard let m = manifests[key] else { continue }
            for k in m.inputKeys where manifests[k] == nil {
                let sibling = URL(fileURLWithPath: m.dir).deletingLastPathComponent().appendingPathComponent(k).standardizedFileURL.path
                guard loadedFrom.insert(sibling).inserted, let mm = readManifest(sibling) else { continue }
                manifests[k] = mm
                order.append(k)
                pending.append(k)
            }
        }
        let modelFiles = ["pca": "pca.h5ad", "ica": "ica.h5ad", "nmf": "nmf.h5ad", "vae": "embedding.h5ad"]
        var runs: [Run] = []
        var runIndex: [String: Int] = [:]
        for key in order {
            let m = manifests[key]!
            guard let file = modelFiles[m.stage] else { continue }
            let path = m.dir + "/" + file
            guard FileManager.default.fileExists(atPath: path) else { notes.append("\(m.dir): \(m.stage) entry without \(file), skipped"); continue }
            let id = m.instance.isEmpty ? m.name : "\(m.name) [\(m.instance)]"
            guard var r = try readRun(path, id: id, hint: file) else { continue }
            if FileManager.default.fileExists(atPath: m.dir + "/history.tsv") {
                try attach(kind: "history", path: m.dir + "/history.tsv", latentHint: nil, to: &r, notes: &notes)
            }
            runIndex[key] = runs.count
            runs.append(r)
        }
        // downstream entries: follow inputs upwards to the model entry they came from
        func modelKey(_ key: String, depth: Int = 0) -> String? {
            guard depth < 20, let m = manifests[key] else { return nil }
            for k in m.inputKeys {
                if runIndex[k] != nil { return k }
                if let found = modelKey(k, depth: depth + 1) { return found }
            }
            return nil
        }
        for key in order {
            let m = manifests[key]!
            let kind: String
            switch m.stage { case "enrich": kind = "enrich"; case "metrics": kind = "metrics"; case "traverse": kind = "traverse"; case "differential": kind = "differential"; default: continue }
            guard let mk = modelKey(key), let i = runIndex[mk] else { notes.append("\(m.dir): \(m.stage) entry whose model is not in the cache, skipped"); continue }
            let file = m.dir + "/" + kind + ".tsv"
            guard FileManager.default.fileExists(atPath: file) else { continue }
            let latent = (m.parameters["latent"] as? Int) ?? (m.parameters["latent"] as? NSNumber)?.intValue
            try attach(kind: kind, path: file, latentHint: latent, to: &runs[i], notes: &notes)
        }
        return runs
    }

    // MARK: reading

    static let symbolColumns = ["gene_symbol", "gene_symbols", "symbol", "gene_short_name", "gene_name", "feature_name"]

    /// A model run from an .h5ad, or nil when it holds no model output (a dataset, a normalized matrix).
    static func readRun(_ path: String, id: String, hint: String) throws -> Run? {
        var warnings: [String] = []
        let ds = try H5AD.read(path, warnings: &warnings)
        let present = embeddingKeys.filter { ds.obsm[$0.scores] != nil }
        guard !present.isEmpty else { return nil }
        let lower = hint.lowercased()
        let keys = present.first { lower.contains($0.uns) } ?? present[0]
        let codes = try Metrics.codes(ds, key: "obsm/" + keys.scores, file: path)
        let label = Metrics.runLabel(ds, key: "obsm/" + keys.scores)
        var loadings: [[Double]]? = nil
        if let m = ds.varm[keys.loadings] {
            let d: Matrix
            switch m { case .dense(let x): d = x; case .sparse(let s): d = s.densified() }
            loadings = (0..<d.cols).map { k in (0..<d.rows).map { Double(d[$0, k]) } }
        }
        var genes = ds.var.index
        if let c = symbolColumns.first(where: { ds.var[$0] != nil }) { genes = ds.var[c]!.strings }
        var run = Run(id: id, model: label.model, parameters: label.parameters, seed: label.seed, source: path,
                      nCells: ds.nObs, nGenes: ds.nVars, scores: codes, loadings: loadings, genes: genes, obs: ds.obs)
        if case .dict(let u)? = ds.uns[keys.uns] {
            if keys == .vae {
                run.vae = VAEInfo(objective: string(u["objective"]), beta: number(u["beta"]), gamma: number(u["gamma"]), klPerLatent: numbers(u["kl_per_latent"]),
                                  activeLatents: numbers(u["active_latents"])?.map { Int($0) }, epochsRun: number(u["epochs_run"]).map { Int($0) },
                                  likelihood: string(u["likelihood"]))
            }
            run.varianceRatio = numbers(u["variance_ratio"])
        }
        run.subspaces = Metrics.recordedSubspaces(ds, key: "obsm/" + keys.scores)
        if case .dict(let sim)? = ds.uns["simulation"], case .dict(let programs)? = sim["programs"] { run.plantedPrograms = programs.keys }
        run.files.append(path)
        return run
    }

    static func string(_ v: UnsValue?) -> String? { if case .string(let s)? = v { s } else { nil } }
    static func number(_ v: UnsValue?) -> Double? {
        switch v {
        case .double(let d)?: d
        case .int(let i)?: Double(i)
        case .numbers(let a)? where a.count == 1: numbers(v)?.first
        default: nil
        }
    }
    static func numbers(_ v: UnsValue?) -> [Double]? {
        guard case .numbers(let a)? = v else { return nil }
        switch a.storage {
        case .float64(let x): return x
        case .float32(let x): return x.map(Double.init)
        case .int64(let x): return x.map(Double.init)
        case .int32(let x): return x.map(Double.init)
        case .bool(let x): return x.map { $0 ? 1 : 0 }
        }
    }

    static func attach(kind: String, path: String, latentHint: Int?, to run: inout Run, notes: inout [String]) throws {
        let text = try readText(path)
        switch kind {
        case "history": run.history = try parseHistory(text, file: path)
        case "enrich": run.enrichment += try parseEnrichment(text, file: path)
        case "metrics":
            if text.hasPrefix(Metrics.columns.joined(separator: "\t")) { run.metrics += try Metrics.parse(text, file: path) } else {
                notes.append("\(path): not a per-run metrics table, skipped")
                return
            }
        case "differential": run.differential += try DifferentialActivity.parse(text, file: path)
        case "traverse":
            var latent = latentHint
            if latent == nil {
                let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                let digits = stem.reversed().prefix { $0.isNumber }
                latent = digits.isEmpty ? nil : Int(String(digits.reversed()))
            }
            guard let j = latent else { notes.append("\(path): which latent? name it traverse_zJ.tsv"); return }
            run.traversals.append(try parseTraversal(text, latent: j, file: path))
        default: return
        }
        run.files.append(path)
    }

    static func readText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let s = String(data: data, encoding: .utf8) else {
            throw LatentError.badInput(path, nil, "cannot read this file as UTF-8 text")
        }
        return s
    }

    static func table(_ text: String) -> [[String]] {
        text.split(separator: "\n", omittingEmptySubsequences: true).map { line in
            var l = Substring(line)
            if l.hasSuffix("\r") { l = l.dropLast() }
            return l.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
    }

    static func value(_ s: String) -> Double {
        switch s {
        case "NA", "nan", "NaN", "": .nan
        case "inf": .infinity
        case "-inf": -.infinity
        default: Double(s) ?? .nan
        }
    }

    static func parseHistory(_ text: String, file: String) throws -> History {
        let rows = table(text)
        guard let header = rows.first, header.contains("epoch") else {
            throw LatentError.badInput(file, "line 1", "a training history needs a header with an epoch column")
        }
        var values: [String: [Double]] = [:]
        for h in header { values[h] = [] }
        for (i, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else { throw LatentError.badInput(file, "line \(i + 2)", "\(r.count) fields, expected \(header.count)") }
            for (h, v) in zip(header, r) { values[h]!.append(value(v)) }
        }
        return History(columns: header, values: values)
    }

    static func parseEnrichment(_ text: String, file: String) throws -> [EnrichmentRow] {
        let rows = table(text)
        guard let header = rows.first else { return [] }
        func col(_ n: String) throws -> Int {
            guard let i = header.firstIndex(of: n) else { throw LatentError.badInput(file, "line 1", "an enrichment table needs a '\(n)' column") }
            return i
        }
        let (l, g, d, s, ne, p, q) = (try col("latent"), try col("gene_set"), try col("direction"), try col("size"), try col("nes"), try col("pval"), try col("padj"))
        return try rows.dropFirst().enumerated().map { i, r in
            guard r.count == header.count else { throw LatentError.badInput(file, "line \(i + 2)", "\(r.count) fields, expected \(header.count)") }
            return EnrichmentRow(latent: r[l], geneSet: r[g], direction: r[d], size: Int(r[s]) ?? 0, nes: value(r[ne]), pval: value(r[p]), padj: value(r[q]))
        }
    }

    static func parseTraversal(_ text: String, latent: Int, file: String) throws -> Traversal {
        let rows = table(text)
        guard let header = rows.first, header.count >= 2, header[0] == "gene" else {
            throw LatentError.badInput(file, "line 1", "a traversal needs a header 'gene' then one column per latent value")
        }
        let steps = header.dropFirst().map(value)
        var genes: [String] = [], values: [[Double]] = []
        for (i, r) in rows.dropFirst().enumerated() {
            guard r.count == header.count else { throw LatentError.badInput(file, "line \(i + 2)", "\(r.count) fields, expected \(header.count)") }
            genes.append(r[0])
            values.append(r.dropFirst().map(value))
        }
        return Traversal(latent: latent, genes: genes, steps: Array(steps), values: values)
    }
}
