import LatentCore

extension PCAStatistics {
    /// The `kind` of a PCA statistics file (one pass: the Gram statistics are all PCA needs).
    public static let statsKind = "pca/1"

    /// What the statistics depend on besides the rows: the genes, by count and a digest of
    /// their names, so shards of different inputs (or of differently filtered genes) are never
    /// summed. The PCA options (k, solver, centring) act only after the merge.
    public static func statsParameters(geneNames: [String]) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for name in geneNames {
            for b in name.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
            h = (h ^ 0xff) &* 0x0000_0100_0000_01b3
        }
        let hex = String(h, radix: 16)
        return "{\"genes\":\(geneNames.count),\"var_names_fnv1a\":\"\(String(repeating: "0", count: 16 - hex.count) + hex)\"}"
    }

    /// These statistics as a stats file covering global rows `firstRow ..< firstRow + rows`.
    public func statsFile(firstRow: Int, geneNames: [String]) -> StatsFile {
        var f = StatsFile(kind: Self.statsKind, parameters: Self.statsParameters(geneNames: geneNames),
                          rows: firstRow..<(firstRow + rows))
        f.set("sum", sum)
        f.set("sum_squares", sumSquares)
        f.set("gram", gramSums, shape: [cols * (cols + 1) / 2])
        return f
    }

    /// The statistics a (merged) stats file holds; `file` names it in errors.
    public init(_ f: StatsFile, geneNames: [String], file: String) throws {
        guard f.kind == Self.statsKind else {
            throw LatentError.badInput(file, nil, "statistics of kind '\(f.kind)', not PCA's '\(Self.statsKind)'",
                                       hint: "give the merged output of `latent pca SHARD --map-stats`")
        }
        guard f.parameters == Self.statsParameters(geneNames: geneNames) else {
            throw LatentError.badInput(file, nil, "statistics of other genes than this input's \(geneNames.count) (\(f.parameters))",
                                       hint: "map every shard of the same normalised input")
        }
        guard let s = f.sums["sum"], let q = f.sums["sum_squares"], let g = f.sums["gram"] else {
            throw LatentError.badInput(file, nil, "PCA statistics without sum, sum_squares and gram")
        }
        try self.init(cols: geneNames.count, rows: f.rows.count, sum: s, sumSquares: q, gram: g)
    }
}
