import LatentCore
import LatentIO

extension EnrichStage {
    /// Where the loadings and gene names come from, as `latent enrich`'s flags give them.
    public struct Source: Sendable {
        public var input: String
        public var key: String?
        public var geneNames: String?
        public var idMap: String?
        public var geneSets: [String]
        /// The h5ad at `input`, when the caller already holds it in memory (`latent run`).
        public var dataset: Dataset?

        public init(input: String, key: String?, geneNames: String?, idMap: String?, geneSets: [String], dataset: Dataset? = nil) {
            self.dataset = dataset
            self.input = input
            self.key = key
            self.geneNames = geneNames
            self.idMap = idMap
            self.geneSets = geneSets
        }
    }

    /// Reads the loadings (h5ad varm key or TSV), maps Ensembl IDs to symbols unless gene names
    /// are given, reads the GMTs and runs the test: `latent enrich` and the pipeline's enrich
    /// stage both call this, so they write the same table.
    public static func run(_ source: Source, _ p: EnrichParameters, seed: UInt64, threads: Int) throws -> Output {
        var loadings: Loadings
        var notes: [String] = []
        if source.input.hasSuffix(".h5ad") {
            guard let key = source.key else {
                throw LatentError.badInput(source.input, nil, "which loadings? give --key varm/NAME (e.g. varm/PCs)")
            }
            if let ds = source.dataset {
                loadings = try Loadings.from(ds, key: key, geneColumn: source.geneNames, path: source.input)
            } else {
                loadings = try Loadings.read(h5ad: source.input, key: key, geneColumn: source.geneNames)
            }
        } else {
            loadings = try Loadings.read(table: source.input)
        }
        if source.geneNames == nil, let mapped = try ensemblSymbols(loadings.genes, idMap: source.idMap, file: source.input) {
            notes.append(mapped.note)
            loadings.genes = mapped.symbols
        }
        var sets: [GeneSet] = []
        for g in source.geneSets { sets += try GMT.read(try Resources.resolveGeneSets(g)) }
        var out = try run(loadings, sets: sets, p, seed: seed, threads: threads)
        out.notes = notes + out.notes.map { "\(source.input): \($0)" }
        return out
    }

    /// The names gene sets are matched against, when `genes` are Ensembl IDs: their symbols from
    /// `idMap` (default: the shipped map), "" where unmapped; nil when they are not Ensembl IDs.
    /// `latent enrich` and `latent vae --programs` both resolve names here.
    public static func ensemblSymbols(_ genes: [String], idMap: String?, file: String) throws -> (symbols: [String], note: String)? {
        guard GeneIDMap.looksLikeEnsembl(genes) else { return nil }
        guard let mapPath = idMap ?? Resources.geneSetsDirectory().map({ $0 + "/gene_id_map_human.tsv.gz" }) else {
            throw LatentError.badInput(file, nil, "gene names are Ensembl IDs and no ID map was found", hint: "pass --id-map or --gene-names")
        }
        let symbols = try GeneIDMap.read(mapPath).symbols(for: genes)
        return (symbols, "\(file): Ensembl IDs mapped to symbols for \(symbols.filter { !$0.isEmpty }.count) of \(symbols.count) genes")
    }
}
