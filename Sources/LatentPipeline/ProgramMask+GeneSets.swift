import LatentCore
import LatentEnrich
import LatentIO
import LatentModels

extension ProgramMask {
    /// The resolver `VAEStage.run` takes for `--programs`: reads the GMT (a path or a shipped
    /// name), takes the gene names from the var index or the `geneNames` column, and matches
    /// them with `latent enrich`'s rules (`ProgramSets`).
    public static func resolver(source: String, geneNames: String?, idMap: String?, ignoreCase: Bool,
                                minGenes: Int, maxGenes: Int?, file: String) -> (Dataset) throws -> ProgramMask {
        return { ds in
            var names = ds.var.index
            if let col = geneNames {
                guard let c = ds.var[col] else {
                    throw LatentError.badInput(file, "var/\(col)", "no such var column for --gene-names",
                                               hint: "var has: " + ds.var.columnNames.joined(separator: ", "))
                }
                names = c.strings
            }
            let sets = try GMT.read(Resources.geneSetPath(source))
            let m = try ProgramSets.match(names: names, namesAreSymbols: geneNames != nil, sets: sets, idMap: idMap,
                                          ignoreCase: ignoreCase, minGenes: minGenes, maxGenes: maxGenes, file: file)
            return ProgramMask(names: m.names, rows: m.rows, coverageTSV: m.coverageTSV(), notes: m.notes.map { "\(file): \($0)" })
        }
    }
}
