import ArgumentParser
import Foundation
import LatentCore
import LatentEnrich
import LatentIO

extension EnrichParameters.Method: ExpressibleByArgument {}

struct EnrichCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enrich",
        abstract: "Gene-set enrichment of every latent's gene loadings (GSEA, ORA or network projection).",
        discussion: """
        One TSV row per latent × gene set × direction, sorted by latent then p-value; `-o -` writes to stdout.
        --gene-sets takes a GMT path or a shipped collection: go_bp, go_mf, go_cc, positional, progeny_top100.
        Ensembl gene IDs are mapped to symbols with the shipped map unless --gene-names names a var column.

        Examples:
          latent enrich pca.h5ad --key varm/PCs --gene-sets go_bp -o enrich.tsv
          latent enrich vae.h5ad --key varm/vae_loadings --gene-sets go_bp --gene-sets progeny_top100 --top 10 -o -
          latent enrich loadings.tsv --gene-sets positional --method ora -o ora.tsv
        """
    )

    @Argument(help: "An .h5ad with loadings in varm, or a TSV of loadings (genes in rows, latents in columns).")
    var input: String

    @Option(help: "The loadings key in the h5ad, e.g. varm/PCs or varm/vae_loadings.")
    var key: String?

    @Option(name: .customLong("gene-sets"), help: "GMT file or shipped collection name (repeatable).")
    var geneSets: [String] = []

    @Option(help: "gsea | ora | projection.")
    var method: EnrichParameters.Method = .gsea

    @Option(help: "Permutations for the null distribution.")
    var permutations: Int = 1000

    @Option(name: .customLong("min-size"), help: "Smallest set size after matching.")
    var minSize: Int = 15

    @Option(name: .customLong("max-size"), help: "Largest set size after matching.")
    var maxSize: Int = 500

    @Option(help: "Keep only the best N rows per latent.")
    var top: Int?

    @Option(name: .customLong("ora-top"), help: "ORA: the N highest (and lowest) loading genes; default: beyond 2.5 SD (Tybalt).")
    var oraTop: Int?

    @Option(name: .customLong("gene-names"), help: "var column holding gene symbols (h5ad input), e.g. gene_short_name.")
    var geneNames: String?

    @Option(name: .customLong("id-map"), help: "Ensembl → symbol map (default: the shipped GeneSets/gene_id_map_human.tsv.gz).")
    var idMap: String?

    @Flag(name: .customLong("ignore-case"), help: "Match gene names case-insensitively.")
    var ignoreCase = false

    @Flag(name: .customLong("no-multilevel"), help: "Do not refine p-values below 1/permutations.")
    var noMultilevel = false

    @Option(help: "Also write the rows as JSON here.")
    var json: String?

    @Option(name: .shortAndLong, help: "Output TSV path, or - for stdout.")
    var output: String

    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if geneSets.isEmpty { throw ValidationError("give at least one --gene-sets FILE.gmt (or a shipped name such as go_bp)") }
        if permutations < 1 { throw ValidationError("--permutations must be at least 1") }
        if minSize < 1 || maxSize < minSize { throw ValidationError("need 1 ≤ --min-size ≤ --max-size") }
    }

    func run() throws {
        let run = global.run
        var p = EnrichParameters()
        p.method = method
        p.permutations = permutations
        p.minSize = minSize
        p.maxSize = maxSize
        p.ignoreCase = ignoreCase
        p.multilevel = !noMultilevel
        p.oraTop = oraTop
        p.top = top
        let source = EnrichStage.Source(input: input, key: key, geneNames: geneNames, idMap: idMap, geneSets: geneSets)
        let out = try EnrichStage.run(source, p, seed: run.seed, threads: run.threads)
        out.notes.forEach(global.note)
        let text = EnrichStage.tsv(out.rows, method: method)
        try AtomicOutput.write(Data(text.utf8), to: output)
        if let json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "NA")
            try AtomicOutput.write(try enc.encode(out.rows), to: json)
        }
        if output != "-" { print(output) }
    }
}
