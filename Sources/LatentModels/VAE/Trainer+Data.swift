import LatentCore

/// What the trainer reads: the input (and the likelihood's target) as row sources, in memory or
/// on disk, with the validation split already made and the validation cells' rows held in memory.
///
/// One code path: data in memory are an `InMemorySource` visited as one chunk and trained from
/// one window holding every row; data on disk are visited in chunks and trained from windows of
/// a few shuffle groups (`ChunkShuffle`). Both see the same rows in the same order.
public struct VAETrainingData: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let x: any MatrixSource
    public let target: (any MatrixSource)?
    /// Each cell's library size (nb/zinb), indexed by row.
    public var library: [Double]?
    public let trainCells: [Int]
    public let validationCells: [Int]
    /// The validation cells' rows, in `validationCells`' order.
    let validationX: MatrixData?
    let validationTarget: MatrixData?
    /// The whole input in memory: training reads no windows.
    let whole: TrainingWindow?
    /// Shuffle groups read at once when streaming (from the memory budget; no effect on results).
    public var windowGroups: Int
    /// Blocks per shuffle group (changes the order: a model parameter, not a budget).
    public var groupBlocks: Int
    /// Read the next window on a background thread while this one trains (no effect on results).
    public var prefetch = true

    public var isStreamed: Bool { whole == nil }

    /// The validation split: `validation` of the cells, drawn with stream 2 of `seed`; none when
    /// fewer than 2 would remain on either side.
    public static func split(rows n: Int, config: VAEParameters, seed: UInt64, file: String?) throws -> (train: [Int], validation: [Int]) {
        var rng = SeededRNG(seed: seed).stream(2)
        let order = rng.permutation(n)
        let nVal = config.validation > 0 ? Int((Double(n) * config.validation).rounded()) : 0
        let useVal = nVal >= 2 && n - nVal >= 2
        let val = useVal ? Array(order.prefix(nVal)).sorted() : []
        let train = useVal ? Array(order.dropFirst(nVal)).sorted() : Array(0..<n)
        guard train.count >= 2 else {
            throw LatentError.badInput(file, nil, "need at least 2 cells to train on, have \(train.count)")
        }
        return (train, val)
    }

    /// Data already in memory: one chunk, one window.
    public static func inMemory(_ input: MatrixData, target: MatrixData? = nil, library: [Double]? = nil,
                                config: VAEParameters, seed: UInt64, file: String? = nil,
                                visit: (Range<Int>, MatrixData, MatrixData?) throws -> Void = { _, _, _ in }) throws -> VAETrainingData {
        var d = try prepare(x: InMemorySource(input), target: target.map { InMemorySource($0) }, config: config, seed: seed,
                            whole: (input, target), maxStored: .max, windowGroups: 1, file: file, visit: visit)
        d.library = library
        return d
    }

    /// Data on disk (or any source): visited once in chunks of at most `maxStored` stored
    /// entries (the next chunk read while `visit` checks this one), keeping the validation rows.
    public static func streamed(x: any MatrixSource, target: (any MatrixSource)?, config: VAEParameters, seed: UInt64,
                                maxStored: Int, windowGroups: Int, file: String?,
                                visit: (Range<Int>, MatrixData, MatrixData?) throws -> Void) throws -> VAETrainingData {
        try prepare(x: x, target: target, config: config, seed: seed, whole: nil, maxStored: maxStored,
                    windowGroups: windowGroups, file: file, visit: visit)
    }

    private static func prepare(x: any MatrixSource, target: (any MatrixSource)?, config: VAEParameters, seed: UInt64,
                                whole: (MatrixData, MatrixData?)?, maxStored: Int, windowGroups: Int, file: String?,
                                visit: (Range<Int>, MatrixData, MatrixData?) throws -> Void) throws -> VAETrainingData {
        let (train, val) = try split(rows: x.rows, config: config, seed: seed, file: file)
        var vx: [MatrixData] = [], vt: [MatrixData] = []
        var next = 0
        func chunk(_ range: Range<Int>, _ xb: MatrixData, _ tb: MatrixData?) throws {
            try visit(range, xb, tb)
            var local: [Int] = []
            while next < val.count && val[next] < range.upperBound { local.append(val[next] - range.lowerBound); next += 1 }
            if local.isEmpty { return }
            vx.append(xb.selectingRows(local))
            if let tb { vt.append(tb.selectingRows(local)) }
        }
        if let whole {
            try chunk(0..<x.rows, whole.0, whole.1)
        } else {
            try RowChunking.forEach(x, RowChunking.plan(x, maxStored: maxStored)) { range, xb in
                try chunk(range, xb, try target?.read(range))
            }
        }
        let window = whole.map { TrainingWindow(pieces: [($0.0, $0.1, 0)], pieceOfBlock: nil) }
        return VAETrainingData(rows: x.rows, cols: x.cols, x: x, target: target, library: nil, trainCells: train, validationCells: val,
                               validationX: MatrixData.stackRows(vx), validationTarget: MatrixData.stackRows(vt), whole: window,
                               windowGroups: windowGroups, groupBlocks: ChunkShuffle.defaultGroupBlocks)
    }
}

extension MatrixData {
    /// The rows `rows` (in that order) as their own matrix.
    func selectingRows(_ rows: [Int]) -> MatrixData {
        switch self {
        case .dense(let m):
            var values = [Float]()
            values.reserveCapacity(rows.count * m.cols)
            for r in rows { values += m.values[(r * m.cols)..<((r + 1) * m.cols)] }
            return .dense(Matrix(rows: rows.count, cols: m.cols, values: values))
        case .sparse(let s):
            var indptr = [0], indices = [Int32](), values = [Float]()
            for r in rows {
                indices += s.indices[s.indptr[r]..<s.indptr[r + 1]]
                values += s.values[s.indptr[r]..<s.indptr[r + 1]]
                indptr.append(values.count)
            }
            return .sparse(SparseMatrix(rows: rows.count, cols: s.cols, indptr: indptr, indices: indices, values: values))
        }
    }
}

/// Copies rows of a dense or CSR matrix into a dense minibatch buffer.
enum RowCopy {
    @inline(__always)
    static func copy<T: NetScalar>(_ m: MatrixData, row i: Int, into dst: UnsafeMutablePointer<T>) {
        switch m {
        case .dense(let d):
            let g = d.cols
            d.values.withUnsafeBufferPointer { v in
                if T.self == Float.self {
                    UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self).update(from: v.baseAddress! + i * g, count: g)
                } else {
                    for j in 0..<g { dst[j] = T(v[i * g + j]) }
                }
            }
        case .sparse(let s):
            dst.update(repeating: 0, count: s.cols)
            s.indices.withUnsafeBufferPointer { ind in
                s.values.withUnsafeBufferPointer { val in
                    for p in s.indptr[i]..<s.indptr[i + 1] { dst[Int(ind[p])] = T(val[p]) }
                }
            }
        }
    }
}
