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
        var files: [StatsFile] = []
        for _ in p.passes {
            var parts: [StatsFile] = []
            for r in plan {
                parts.append(try run(try chunk(r), p, file: file, threads: threads, offset: r.lowerBound,
                                     globals: files, mapStats: true).stats!)
            }
            files.append(try StatsFile.merge(parts, names: plan.map { "\(file):rows \($0.lowerBound)..<\($0.upperBound)" }))
        }
        var notes: [String]? = nil
        for r in plan {
            let out = try run(try chunk(r), p, file: file, threads: threads, offset: r.lowerBound, globals: files)
            if notes == nil { notes = out.notes }
            try emit(out.dataset)
        }
        return notes ?? []
    }

    /// Chunk outputs stacked by rows: X, layers and obs concatenated; var, uns and varm as the
    /// first chunk has them (every chunk writes the same, from the merged statistics).
    static func stack(_ parts: [Dataset]) throws -> Dataset {
        guard var out = parts.first else { throw LatentError.internalFailure("no chunks to stack") }
        if parts.count == 1 { return out }
        out.X = MatrixData.stackRows(parts.map(\.X))!
        for k in out.layers.keys { out.layers[k] = MatrixData.stackRows(parts.map { $0.layers[k]! })! }
        var obs = DataFrame(index: parts.flatMap(\.obs.index), indexName: out.obs.indexName)
        for name in out.obs.columnNames {
            obs.set(name, try Column.concatenated(parts.map { $0.obs[name]! }))
        }
        out.obs = obs
        for k in out.obsm.keys { out.obsm[k] = MatrixData.stackRows(parts.map { $0.obsm[k]! })! }
        return out
    }
}

extension Column {
    /// Columns of one type, one after another (categoricals must share their categories).
    static func concatenated(_ cs: [Column]) throws -> Column {
        func bad() -> LatentError { .internalFailure("cannot stack obs columns of different types across chunks") }
        switch cs[0] {
        case .float64: return .float64(try cs.flatMap { c -> [Double] in guard case .float64(let v) = c else { throw bad() }; return v })
        case .float32: return .float32(try cs.flatMap { c -> [Float] in guard case .float32(let v) = c else { throw bad() }; return v })
        case .int64: return .int64(try cs.flatMap { c -> [Int64] in guard case .int64(let v) = c else { throw bad() }; return v })
        case .int32: return .int32(try cs.flatMap { c -> [Int32] in guard case .int32(let v) = c else { throw bad() }; return v })
        case .bool: return .bool(try cs.flatMap { c -> [Bool] in guard case .bool(let v) = c else { throw bad() }; return v })
        case .string: return .string(try cs.flatMap { c -> [String] in guard case .string(let v) = c else { throw bad() }; return v })
        case .categorical(_, let cats, let ordered):
            return .categorical(codes: try cs.flatMap { c -> [Int32] in
                guard case .categorical(let v, let k, _) = c, k == cats else { throw bad() }
                return v
            }, categories: cats, ordered: ordered)
        case .nullableInteger(_, _, let t):
            var v: [Int64] = [], m: [Bool] = []
            for c in cs { guard case .nullableInteger(let a, let b, _) = c else { throw bad() }; v += a; m += b }
            return .nullableInteger(values: v, missing: m, type: t)
        case .nullableBool:
            var v: [Bool] = [], m: [Bool] = []
            for c in cs { guard case .nullableBool(let a, let b) = c else { throw bad() }; v += a; m += b }
            return .nullableBool(values: v, missing: m)
        case .nullableString:
            var v: [String] = [], m: [Bool] = []
            for c in cs { guard case .nullableString(let a, let b) = c else { throw bad() }; v += a; m += b }
            return .nullableString(values: v, missing: m)
        }
    }
}
