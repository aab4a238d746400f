import LatentCore
import LatentIO

/// Gene loadings of a model: genes × latents, with names. Read from an h5ad key (`varm/PCs`,
/// `varm/vae_loadings`, …) or from a plain TSV (genes in rows, latents in columns), as Tybalt and
/// BioBombe write them.
public struct Loadings: Sendable {
    public var genes: [String]
    public var latents: [String]
    /// genes × latents, row-major.
    public var values: Matrix

    public init(genes: [String], latents: [String], values: Matrix) {
        self.genes = genes
        self.latents = latents
        self.values = values
    }

    /// From an h5ad: `key` is `varm/NAME` (or `obsm/NAME` is refused: scores are not loadings).
    /// `geneColumn` names a var column holding the symbols to match gene sets with.
    public static func read(h5ad path: String, key: String, geneColumn: String?) throws -> Loadings {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "varm" else {
            throw LatentError.badInput(path, key, "loadings live in varm (genes × latents), e.g. --key varm/PCs or varm/vae_loadings")
        }
        var warnings: [String] = []
        return try from(try H5AD.read(path, warnings: &warnings), key: key, geneColumn: geneColumn, path: path)
    }

    /// The same from a dataset already in memory (`latent run` hands one stage's result to the
    /// next); `path` is the file it stands for, for messages.
    public static func from(_ ds: Dataset, key: String, geneColumn: String?, path: String) throws -> Loadings {
        let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "varm" else {
            throw LatentError.badInput(path, key, "loadings live in varm (genes × latents), e.g. --key varm/PCs or varm/vae_loadings")
        }
        guard let m = ds.varm[parts[1]] else {
            let have = ds.varm.keys.isEmpty ? "none" : ds.varm.keys.joined(separator: ", ")
            throw LatentError.badInput(path, "/" + key, "no such key (varm has: \(have))")
        }
        var genes = ds.var.index
        if let col = geneColumn {
            guard let c = ds.var[col] else { throw LatentError.badInput(path, "var/\(col)", "no such var column for --gene-names") }
            genes = c.strings
        }
        let dense: Matrix
        switch m { case .dense(let d): dense = d; case .sparse(let s): dense = s.densified() }
        return Loadings(genes: genes, latents: (0..<dense.cols).map(String.init), values: dense)
    }

    /// From a TSV/CSV: header = (gene column label, latent names…); one row per gene.
    public static func read(table path: String) throws -> Loadings {
        let rows = try AnnotationTable.splitRows(try CompressedFile.readAll(path), path: path)
        guard let header = rows.first, header.count >= 2, rows.count >= 2 else {
            throw LatentError.badInput(path, "line 1", "a loadings table needs a header and one row per gene, genes in the first column")
        }
        var latents = Array(header.dropFirst())
        var body = rows.dropFirst()
        if let first = body.first, first.count == header.count + 1 { latents = header }
        var genes: [String] = []
        var values: [Float] = []
        for (k, row) in body.enumerated() {
            guard row.count == latents.count + 1 else {
                throw LatentError.badInput(path, "line \(k + 2)", "\(row.count) fields, expected \(latents.count + 1) like the header")
            }
            genes.append(row[0])
            for (j, cell) in row.dropFirst().enumerated() {
                guard let v = Float(cell), v.isFinite else {
                    throw LatentError.badInput(path, "line \(k + 2), column \(j + 2)", "not a finite number: '\(cell.prefix(30))'")
                }
                values.append(v)
            }
        }
        body = []
        return Loadings(genes: genes, latents: latents, values: Matrix(rows: genes.count, cols: latents.count, values: values))
    }

    /// Latent j's loading of every gene row.
    public func column(_ j: Int) -> [Float] {
        (0..<values.rows).map { values[$0, j] }
    }
}

/// Ensembl gene IDs (with or without version suffix) to symbols, from the shipped map.
public struct GeneIDMap: Sendable {
    public var ensemblToSymbol: [String: String]

    /// Reads `gene_id_map_human.tsv.gz` (symbol, entrez_id, ensembl_gene_id, gene_type);
    /// an Ensembl ID listed with several symbols maps to the first one.
    public static func read(_ path: String) throws -> GeneIDMap {
        let rows = try AnnotationTable.splitRows(try CompressedFile.readAll(path), path: path)
        guard let header = rows.first, let e = header.firstIndex(of: "ensembl_gene_id"), let s = header.firstIndex(of: "symbol") else {
            throw LatentError.badInput(path, "line 1", "expected columns symbol and ensembl_gene_id")
        }
        var map: [String: String] = [:]
        for row in rows.dropFirst() where row.count > max(e, s) && !row[e].isEmpty {
            if map[row[e]] == nil { map[row[e]] = row[s] }
        }
        return GeneIDMap(ensemblToSymbol: map)
    }

    public static func stripVersion(_ id: String) -> String {
        if id.hasPrefix("ENS"), let dot = id.firstIndex(of: ".") { return String(id[..<dot]) }
        return id
    }

    public static func looksLikeEnsembl(_ names: [String]) -> Bool {
        let sample = names.prefix(200)
        return !sample.isEmpty && sample.filter { $0.hasPrefix("ENS") && $0.contains("G0") }.count * 2 > sample.count
    }

    /// Symbols for `ids`; unmapped IDs become "" (left out of the analysis).
    public func symbols(for ids: [String]) -> [String] {
        ids.map { ensemblToSymbol[Self.stripVersion($0)] ?? "" }
    }
}
