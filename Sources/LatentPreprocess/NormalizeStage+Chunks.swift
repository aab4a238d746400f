import LatentCore

extension NormalizeStage {
    /// Bytes the stage holds per stored entry of its input: the counts (value and index), the
    /// normalised copy and the kept-gene copies — what `--memory` is compared with.
    public static let bytesPerStoredEntry = 24

    /// The stage over row chunks of `input` (each a multiple of `RowChunking.statBlock` rows but
    /// the last): every statistics pass maps each chunk and merges, then each chunk is normalised
    /// with the merged statistics and the results are stacked. This is the sharded workflow in
    /// one process, and gives the bytes of `run(input, p)`.
    public static func runInChunks(_ input: Dataset, _ p: NormalizeParameters, file: String, threads: Int = 1,
                                   plan: [Range<Int>]) throws -> Output {
        var outs: [Dataset] = []
        let notes = try runStreamed(p, file: file, threads: threads, plan: plan,
                                    chunk: { input.subset(obs: Array($0)) }, emit: { outs.append($0) })
        return Output(dataset: try stack(outs), notes: notes, phases: [], stats: nil)
    }

    /// The streamed stage: `chunk(range)` gives the input rows `range` as a dataset (X rows, obs
    /// rows, all of var and uns), `emit` takes each chunk's output in order. Every statistics
    /// pass reads every chunk once; the last read normalises. Returns the stage's notes.
    public static func runStreamed(_ p: NormalizeParameters, file: String, threads: Int = 1, plan: [Range<Int>],
                                   chunk: (Range<Int>) throws -> Dataset, emit: (Dataset) throws -> Void) throws -> [String] {
        if let why = p.shardingProblem() { throw LatentError.badInput(nil, nil, why) }
        var p = p
        var files: [StatsFile] = []
        var restarted: String? = nil
        while files.count < p.passes.count {
            var parts: [StatsFile] = []
            for r in plan {
                parts.append(try run(try chunk(r), p, file: file, threads: threads, offset: r.lowerBound,
                                     globals: files, mapStats: true).stats!)
            }
            files.append(try StatsFile.merge(parts, names: plan.map { "\(file):rows \($0.lowerBound)..<\($0.upperBound)" }))
            // The counts pass found values that are not counts: seurat's moments cannot be summed
            // from them (NormalizeStage.run), so the passes start again with the hvg pass among them.
            if files.count == 1, p.unloggedMomentsPass != nil, files[0].sums["cells"]!.values[3] != 0 {
                p.inputType = .linear
                files = []
                restarted = "\(file): X holds values that are not counts: seurat's statistics took a pass of their own"
            }
        }
        var notes: [String]? = nil
        for r in plan {
            let out = try run(try chunk(r), p, file: file, threads: threads, offset: r.lowerBound, globals: files)
            if notes == nil { notes = (restarted.map { [$0] } ?? []) + out.notes }
            try emit(out.dataset)
        }
        return notes ?? []
    }

    /// Chunk outputs stacked by rows: X, layers and obs concatenated; var, uns and varm as the
    /// first chunk has them (every chunk writes the same, from the merged statistics).
    public static func stack(_ parts: [Dataset]) throws -> Dataset {
        guard var out = parts.first else { throw LatentError.internalFailure("no chunks to stack") }
        if parts.count == 1 { return out }
        out.X = MatrixData.stackRows(parts.map(\.X))!
        for k in out.layers.keys { out.layers[k] = MatrixData.stackRows(parts.map { $0.layers[k]! })! }
        (out.obs, out.obsm) = try stackRowAnnotations(parts)
        return out
    }

    /// obs and obsm of chunk outputs stacked by rows (what a streamed output keeps in memory
    /// while X and layers go to the file chunk by chunk).
    public static func stackRowAnnotations(_ parts: [Dataset]) throws -> (obs: DataFrame, obsm: MatrixDict) {
        guard let first = parts.first else { throw LatentError.internalFailure("no chunks to stack") }
        if parts.count == 1 { return (first.obs, first.obsm) }
        var obs = DataFrame(index: parts.flatMap(\.obs.index), indexName: first.obs.indexName)
        for name in first.obs.columnNames {
            guard let c = Column.concatenated(parts.map { $0.obs[name]! }) else {
                throw LatentError.internalFailure("cannot stack obs column '\(name)' across chunks (types differ)")
            }
            obs.set(name, c)
        }
        var obsm = first.obsm
        for k in obsm.keys { obsm[k] = MatrixData.stackRows(parts.map { $0.obsm[k]! })! }
        return (obs, obsm)
    }
}
