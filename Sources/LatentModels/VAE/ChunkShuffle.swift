import Dispatch
import LatentCore

/// The order in which an epoch visits the training cells: shuffled by chunks, as loaders that
/// train from disk must (BPCells, scDataLoader), and defined so that it depends on nothing but
/// the seed, the epoch, the number of rows and the validation split.
///
/// Epoch e, all draws from one stream (1000 + e):
/// 1. the canonical row blocks (`RowChunking.statBlock` = 1,024 rows, numbered from row 0, the
///    last one possibly short) are permuted;
/// 2. consecutive runs of `groupBlocks` permuted blocks form *groups* (the last may be smaller);
/// 3. group after group, the group's training cells (its blocks in permuted order, ascending
///    rows within a block) are shuffled together.
///
/// The epoch's sequence is the groups' sequences concatenated; minibatches are cut from it in
/// `batch`-cell pieces (a last piece of one cell is dropped), so a minibatch may span two
/// groups. A group is the unit of mixing: `groupBlocks` blocks drawn from anywhere in the file,
/// so that a minibatch is not one sample of a file sorted by sample. How many groups are read at
/// once (the *window*, sized from `--memory`) only changes the I/O, never the order; data held
/// in memory are visited in exactly the same order, which is why the streamed and the
/// in-memory runs give the same bytes.
public struct ChunkShuffle: Sendable {
    /// Blocks whose cells are shuffled together: 8,192 cells, read as 8 scattered blocks.
    public static let defaultGroupBlocks = 8

    public let rows: Int
    public let groupBlocks: Int
    /// Training cells, ascending.
    public let trainCells: [Int]

    public struct Group: Sendable, Equatable {
        /// The group's blocks (block b holds rows b·statBlock ..< (b+1)·statBlock).
        public var blocks: [Int]
        /// Its training cells in visiting order.
        public var cells: [Int]
    }

    public init(rows: Int, trainCells: [Int], groupBlocks: Int = defaultGroupBlocks) {
        precondition(groupBlocks >= 1)
        self.rows = rows
        self.trainCells = trainCells
        self.groupBlocks = groupBlocks
    }

    public static var block: Int { RowChunking.statBlock }
    public var blockCount: Int { (rows + Self.block - 1) / Self.block }

    /// The groups of one epoch; `rng` is the epoch's stream.
    public func epoch(_ rng: inout SeededRNG) -> [Group] {
        let b = Self.block
        // Training cells of each block, ascending (trainCells is sorted).
        var start = [Int](repeating: 0, count: blockCount + 1)
        for c in trainCells { start[c / b + 1] += 1 }
        for i in 0..<blockCount { start[i + 1] += start[i] }
        let order = rng.permutation(blockCount)
        var groups: [Group] = []
        groups.reserveCapacity((blockCount + groupBlocks - 1) / groupBlocks)
        var i = 0
        while i < order.count {
            let blocks = Array(order[i..<min(order.count, i + groupBlocks)])
            var cells: [Int] = []
            for blk in blocks { cells += trainCells[start[blk]..<start[blk + 1]] }
            rng.shuffle(&cells)
            groups.append(Group(blocks: blocks, cells: cells))
            i += groupBlocks
        }
        return groups
    }

    /// The minibatches of an epoch as ranges of positions in the concatenated sequence.
    public static func batches(count: Int, batch: Int) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < count {
            let j = min(i + batch, count)
            if j - i >= 2 { out.append(i..<j) }
            i = j
        }
        return out
    }
}

/// Rows of the input (and the likelihood's target) held for training: either the whole matrix
/// in memory, or the blocks of a few groups read from a source.
struct TrainingWindow: @unchecked Sendable {
    var pieces: [(x: MatrixData, target: MatrixData?, first: Int)] = []
    /// Per block, its piece (−1: not in this window); nil: piece 0 holds every row.
    var pieceOfBlock: [Int32]?
    /// Seconds the read took (on the loader's thread).
    var readSeconds = 0.0

    /// The piece holding global row `i` and the row's index in it.
    @inline(__always) func locate(_ i: Int) -> (Int, Int) {
        guard let pieceOfBlock else { return (0, i) }
        let p = Int(pieceOfBlock[i / RowChunking.statBlock])
        precondition(p >= 0, "row \(i) is not in the window")
        return (p, i - pieces[p].first)
    }

    /// Reads the blocks of `groups` from the sources, consecutive blocks as one read.
    static func read(_ groups: ArraySlice<ChunkShuffle.Group>, x: any MatrixSource, target: (any MatrixSource)?,
                     blockCount: Int) throws -> TrainingWindow {
        let clock = Stopwatch()
        let blocks = groups.flatMap(\.blocks).sorted()
        var w = TrainingWindow()
        var map = [Int32](repeating: -1, count: blockCount)
        var k = 0
        while k < blocks.count {
            var e = k + 1
            while e < blocks.count && blocks[e] == blocks[e - 1] + 1 { e += 1 }
            let lo = blocks[k] * RowChunking.statBlock, hi = min(x.rows, (blocks[e - 1] + 1) * RowChunking.statBlock)
            let xb = try x.read(lo..<hi)
            let tb = try target?.read(lo..<hi)
            for b in blocks[k..<e] { map[b] = Int32(w.pieces.count) }
            w.pieces.append((xb, tb, lo))
            k = e
        }
        w.pieceOfBlock = map
        w.readSeconds = clock.lap()
        return w
    }
}

/// Serves an epoch's minibatches from `TrainingWindow`s: with `prefetch`, the next window is read
/// on a background queue while the current one trains (the next epoch's first window while the
/// last one does), and the time spent waiting for a window is counted (`waitSeconds`: the loader
/// stalling the training; ideally zero after the first window). Without, each window is read when
/// training reaches it (all of it then counts as waiting). Either way the same batches.
final class ChunkLoader: @unchecked Sendable {
    let shuffle: ChunkShuffle
    let x: any MatrixSource
    let target: (any MatrixSource)?
    /// The whole input in memory (then no window is ever read).
    let whole: TrainingWindow?
    /// Groups per window.
    let windowGroups: Int
    private(set) var waitSeconds = 0.0
    /// Seconds the loader's thread spent reading the windows training used.
    private(set) var readSeconds = 0.0
    private(set) var windowsRead = 0
    private let queue = DispatchQueue(label: "latent.vae.loader")
    private var pending: (key: Int, job: WindowJob)?

    let prefetch: Bool

    init(shuffle: ChunkShuffle, x: any MatrixSource, target: (any MatrixSource)?, whole: TrainingWindow?, windowGroups: Int,
         prefetch: Bool = true) {
        self.prefetch = prefetch
        self.shuffle = shuffle
        self.x = x
        self.target = target
        self.whole = whole
        self.windowGroups = max(1, windowGroups)
    }

    /// The window of `groups[w·windowGroups…]`, from the prefetch when it was asked for.
    private func window(_ groups: [ChunkShuffle.Group], _ w: Int, key: Int) throws -> TrainingWindow {
        if let whole { return whole }
        let job: WindowJob
        if let p = pending, p.key == key { job = p.job } else { job = start(groups, w) }
        pending = nil
        let clock = Stopwatch()
        let window = try job.wait()
        waitSeconds += clock.lap()
        readSeconds += window.readSeconds
        return window
    }

    /// Waits for a window still being read (training stopped early), so that no read outlives
    /// the training.
    func drain() {
        if let p = pending { _ = try? p.job.wait(); pending = nil }
    }

    private func start(_ groups: [ChunkShuffle.Group], _ w: Int) -> WindowJob {
        let slice = groups[(w * windowGroups)..<min(groups.count, (w + 1) * windowGroups)]
        windowsRead += 1
        return WindowJob(queue: queue) { [x, target, n = shuffle.blockCount] in try TrainingWindow.read(slice, x: x, target: target, blockCount: n) }
    }

    /// Visits the minibatches of the epoch whose groups are `groups`: `load` copies cell `i`
    /// (global row) from `window` at local row `r` into the batch's row `slot`; `body` then trains
    /// on the batch (its cells, global rows, in order). `next` (the following epoch's groups)
    /// is prefetched during this epoch's last window. `epoch` keys the prefetch.
    func forEachBatch(epoch: Int, _ groups: [ChunkShuffle.Group], next: [ChunkShuffle.Group]?, batch: Int,
                      load: (_ piece: (x: MatrixData, target: MatrixData?, first: Int), _ row: Int, _ slot: Int, _ cell: Int) -> Void,
                      body: (_ batchIndex: Int, _ cells: ArraySlice<Int>) throws -> Void) throws {
        let cells = groups.flatMap(\.cells)
        // For each position of the sequence, its window: groups are windowGroups at a time.
        var windowEnd: [Int] = []
        var acc = 0
        for (gi, g) in groups.enumerated() {
            acc += g.cells.count
            if (gi + 1) % windowGroups == 0 || gi + 1 == groups.count { windowEnd.append(acc) }
        }
        let windows = windowEnd.count
        var current = -1
        var win = TrainingWindow()
        func advance() throws {
            current += 1
            win = TrainingWindow()          // release the previous window before waiting for the next
            win = try window(groups, current, key: epoch * 1_000_000 + current)
            guard whole == nil, prefetch else { return }
            if current + 1 < windows {
                pending = (epoch * 1_000_000 + current + 1, start(groups, current + 1))
            } else if let next, !next.isEmpty {
                pending = ((epoch + 1) * 1_000_000, start(next, 0))
            }
        }
        do {
            for (bi, range) in ChunkShuffle.batches(count: cells.count, batch: batch).enumerated() {
                for (slot, p) in range.enumerated() {
                    while current < 0 || p >= windowEnd[current] { try advance() }
                    let (piece, row) = win.locate(cells[p])
                    load(win.pieces[piece], row, slot, cells[p])
                }
                try body(bi, cells[range])
            }
        } catch {
            // The window in flight finishes before the error unwinds (a process exiting while
            // another thread is inside libhdf5 can crash there).
            drain()
            throw error
        }
    }
}

/// One window being read on the loader's queue.
private final class WindowJob: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<TrainingWindow, Error>?

    init(queue: DispatchQueue, _ read: @escaping @Sendable () throws -> TrainingWindow) {
        queue.async { [self] in
            result = Result { try read() }
            done.signal()
        }
    }

    func wait() throws -> TrainingWindow {
        done.wait()
        return try result!.get()
    }
}
