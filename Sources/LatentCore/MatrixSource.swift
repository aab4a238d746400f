import Dispatch

/// Where a stage's rows come from: a file read in row ranges, or a matrix already in memory.
///
/// Streaming needs one notion (DESIGN.md): a source that yields row chunks (CSR by indptr
/// ranges, dense by row blocks) and a sink that takes them. Stages are written against these,
/// so the in-memory, streamed and sharded runs share one code path.
public protocol MatrixSource: Sendable {
    var rows: Int { get }
    var cols: Int { get }
    var isSparse: Bool { get }
    /// Stored entries of rows `range` (non-zeros when sparse), for planning chunks to a budget.
    func storedCount(_ range: Range<Int>) -> Int
    /// Rows `range` as their own matrix (a sparse block's indptr starts at 0).
    func read(_ range: Range<Int>) throws -> MatrixData
}

/// Where a stage's rows go, in order.
public protocol MatrixSink {
    mutating func append(_ block: MatrixData) throws
    /// Called once after the last block; a file sink makes its output visible only here.
    mutating func finish() throws
}

/// A matrix already in memory, read back in row ranges without copying more than a chunk.
public struct InMemorySource: MatrixSource {
    public let data: MatrixData
    public init(_ data: MatrixData) { self.data = data }

    public var rows: Int { data.rows }
    public var cols: Int { data.cols }
    public var isSparse: Bool { data.isSparse }

    public func storedCount(_ range: Range<Int>) -> Int {
        switch data {
        case .dense(let m): return range.count * m.cols
        case .sparse(let s): return s.indptr[range.upperBound] - s.indptr[range.lowerBound]
        }
    }

    public func read(_ range: Range<Int>) throws -> MatrixData { data.rowBlock(range) }
}

/// Collects appended blocks into one in-memory matrix.
public struct InMemorySink: MatrixSink {
    public private(set) var blocks: [MatrixData] = []
    public init() {}
    public mutating func append(_ block: MatrixData) throws { blocks.append(block) }
    public mutating func finish() throws {}
    /// The blocks stacked by rows; nil when nothing was appended.
    public func stacked() -> MatrixData? { MatrixData.stackRows(blocks) }
}

extension MatrixData {
    /// Rows `range` as their own matrix.
    public func rowBlock(_ range: Range<Int>) -> MatrixData {
        // All rows: the matrix itself (copy on write), not a copy of it.
        if range == 0..<rows { return self }
        switch self {
        case .dense(let m):
            return .dense(Matrix(rows: range.count, cols: m.cols,
                                 values: Array(m.values[range.lowerBound * m.cols..<range.upperBound * m.cols])))
        case .sparse(let s):
            let lo = s.indptr[range.lowerBound], hi = s.indptr[range.upperBound]
            var indptr = [Int](repeating: 0, count: range.count + 1)
            for (k, i) in range.enumerated() { indptr[k + 1] = s.indptr[i + 1] - lo }
            return .sparse(SparseMatrix(rows: range.count, cols: s.cols, indptr: indptr,
                                        indices: Array(s.indices[lo..<hi]), values: Array(s.values[lo..<hi])))
        }
    }

    /// Blocks with equal column counts and kinds, stacked by rows.
    public static func stackRows(_ blocks: [MatrixData]) -> MatrixData? {
        guard let first = blocks.first else { return nil }
        switch first {
        case .dense(let m0):
            var values = [Float]()
            values.reserveCapacity(blocks.reduce(0) { $0 + $1.storedCount })
            var rows = 0
            for b in blocks {
                guard case .dense(let m) = b, m.cols == m0.cols else { preconditionFailure("stackRows: mixed blocks") }
                values += m.values
                rows += m.rows
            }
            return .dense(Matrix(rows: rows, cols: m0.cols, values: values))
        case .sparse(let s0):
            var indptr = [0], indices = [Int32](), values = [Float]()
            for b in blocks {
                guard case .sparse(let s) = b, s.cols == s0.cols else { preconditionFailure("stackRows: mixed blocks") }
                let base = indptr.last!
                for i in 0..<s.rows { indptr.append(base + s.indptr[i + 1]) }
                indices += s.indices
                values += s.values
            }
            return .sparse(SparseMatrix(rows: indptr.count - 1, cols: s0.cols, indptr: indptr, indices: indices, values: values))
        }
    }
}

/// How rows are cut into chunks. Chunk boundaries fall on multiples of `statBlock` counted from
/// row 0, so statistics formed per block (see `ExactSum`) do not depend on the chunk size, and
/// shards cut on block boundaries sum to the in-memory statistics exactly.
public enum RowChunking {
    /// Rows per canonical statistics block.
    public static let statBlock = 1024

    /// Consecutive ranges covering 0..<rows, each holding at most `maxStored` stored entries
    /// where a whole number of blocks allows it (a single block larger than that stays whole).
    public static func plan(_ source: some MatrixSource, maxStored: Int) -> [Range<Int>] {
        plan(rows: source.rows, maxStored: maxStored, storedCount: source.storedCount)
    }

    public static func plan(rows: Int, maxStored: Int, storedCount: (Range<Int>) -> Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        while start < rows {
            var end = min(rows, start + statBlock)
            while end < rows {
                let next = min(rows, end + statBlock)
                if storedCount(start..<next) > maxStored { break }
                end = next
            }
            out.append(start..<end)
            start = end
        }
        return out
    }

    /// Reads `plan`'s chunks in order and hands each to `body` with its row range. With
    /// `prefetch`, the next chunk is read on another thread while `body` works on this one, so
    /// a file's decompression overlaps the stage's compute; at most two chunks are in memory.
    public static func forEach(_ source: some MatrixSource, _ plan: [Range<Int>], prefetch: Bool = true,
                               _ body: (Range<Int>, MatrixData) throws -> Void) throws {
        guard !plan.isEmpty else { return }
        if !prefetch || plan.count == 1 {
            for r in plan { try body(r, try source.read(r)) }
            return
        }
        // The reader lets a read in flight finish before an error unwinds: a process that exits
        // (bad input: exit 2) while another thread is inside libhdf5 can crash there.
        let reader = PrefetchingReader(source, order: plan)
        defer { reader.finish() }
        for r in plan { try body(r, try reader.read(r)) }
    }
}

/// Reads chunks in an order known in advance — a streamed stage's passes, each over the same
/// plan — the next one on a background queue while the caller works on this one, so a file's
/// decompression overlaps the stage's serial parts across chunk and pass boundaries alike. A
/// range asked out of order is read at once, and the order resumes after it. At most two chunks
/// are in memory; `finish()` waits for a read in flight (before an error unwinds, see `forEach`).
public final class PrefetchingReader<S: MatrixSource>: @unchecked Sendable {
    private let source: S
    private let order: [Range<Int>]
    private var next = 0
    private var pending: (range: Range<Int>, read: Prefetch<S>)?
    private let queue = DispatchQueue(label: "latent.prefetch")

    public init(_ source: S, order: [Range<Int>]) {
        self.source = source
        self.order = order
    }

    public func read(_ r: Range<Int>) throws -> MatrixData {
        let data: MatrixData
        if let p = pending, p.range == r {
            pending = nil
            data = try p.read.wait()
        } else {
            finish()
            data = try source.read(r)
        }
        if let k = order[next...].firstIndex(of: r) { next = k + 1 }
        if next < order.count { pending = (order[next], Prefetch(source: source, range: order[next], queue: queue)) }
        return data
    }

    public func finish() {
        if let p = pending { _ = try? p.read.wait() }
        pending = nil
    }
}

/// One chunk being read on a background queue.
private final class Prefetch<S: MatrixSource>: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<MatrixData, Error>?

    init(source: S, range: Range<Int>, queue: DispatchQueue) {
        queue.async { [self] in
            result = Result { try source.read(range) }
            done.signal()
        }
    }

    func wait() throws -> MatrixData {
        done.wait()
        return try result!.get()
    }
}
