import XCTest
@testable import LatentCore
@testable import LatentModels

/// The chunk-shuffling loader: its order is a function of the seed and the split only, whatever
/// the window (groups read at once) or whether the data are in memory.
final class VAEChunkShuffleTests: XCTestCase {
    /// A dense and a CSR matrix whose value at (i, j) identifies its row: i·cols + j (sparse:
    /// every third entry stored).
    func matrices(rows: Int, cols: Int) -> (dense: MatrixData, sparse: MatrixData) {
        var m = Matrix(rows: rows, cols: cols)
        for i in 0..<rows { for j in 0..<cols { m[i, j] = Float(i * cols + j) } }
        var indptr = [0], indices = [Int32](), values = [Float]()
        for i in 0..<rows {
            for j in stride(from: i % 3, to: cols, by: 3) { indices.append(Int32(j)); values.append(Float(i * cols + j)) }
            indptr.append(values.count)
        }
        return (.dense(m), .sparse(SparseMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: values)))
    }

    func testAnEpochVisitsEveryTrainingCellOnceGroupByGroup() {
        let rows = 5_500
        let train = (0..<rows).filter { $0 % 7 != 3 }
        let shuffle = ChunkShuffle(rows: rows, trainCells: train, groupBlocks: 2)
        var rng = SeededRNG(seed: 9).stream(1000)
        let groups = shuffle.epoch(&rng)
        XCTAssertEqual(shuffle.blockCount, 6)
        XCTAssertEqual(groups.count, 3)
        XCTAssertEqual(groups.flatMap(\.blocks).sorted(), Array(0..<6))
        let cells = groups.flatMap(\.cells)
        XCTAssertEqual(cells.sorted(), train, "each training cell exactly once, no validation cell")
        for g in groups {
            XCTAssertTrue(g.cells.allSatisfy { g.blocks.contains($0 / 1024) }, "a group's cells come from its blocks")
        }
        XCTAssertNotEqual(cells, train, "shuffled")
        var again = SeededRNG(seed: 9).stream(1000)
        XCTAssertEqual(shuffle.epoch(&again), groups, "the same seed gives the same order")
        var other = SeededRNG(seed: 9).stream(1001)
        XCTAssertNotEqual(shuffle.epoch(&other).flatMap(\.cells), cells, "another epoch another order")
        XCTAssertEqual(ChunkShuffle.batches(count: 65, batch: 32), [0..<32, 32..<64], "a last batch of one cell is dropped")
    }

    /// The minibatches (cells and the gathered rows) of two epochs through windows of 1 and 2
    /// groups read from a source, and from the whole matrix in memory.
    func batches(_ data: MatrixData, windowGroups: Int?, train: [Int], prefetch: Bool = true) throws -> [[Float]] {
        let shuffle = ChunkShuffle(rows: data.rows, trainCells: train, groupBlocks: 2)
        let whole = windowGroups == nil ? TrainingWindow(pieces: [(data, nil, 0)], pieceOfBlock: nil) : nil
        let loader = ChunkLoader(shuffle: shuffle, x: InMemorySource(data), target: nil, whole: whole, windowGroups: windowGroups ?? 1,
                                 prefetch: prefetch)
        let g = data.cols, batch = 50
        let buf = UnsafeMutablePointer<Float>.allocate(capacity: batch * g)
        defer { buf.deallocate() }
        var out: [[Float]] = []
        func order(_ e: Int) -> [ChunkShuffle.Group] { var r = SeededRNG(seed: 4).stream(1000 + UInt64(e)); return shuffle.epoch(&r) }
        for e in 0..<2 {
            try loader.forEachBatch(epoch: e, order(e), next: e == 0 ? order(1) : nil, batch: batch,
                                    load: { piece, row, slot, _ in RowCopy.copy(piece.x, row: row, into: buf + slot * g) }) { _, cells in
                out.append(cells.map(Float.init) + Array(UnsafeBufferPointer(start: buf, count: cells.count * g)))
            }
        }
        if windowGroups != nil { XCTAssertGreaterThan(loader.windowsRead, 2, "several windows were read") }
        return out
    }

    func testTheOrderIsTheSameForAnyWindowAndInMemory() throws {
        let rows = 4_700, cols = 7
        let train = (0..<rows).filter { $0 % 10 != 0 }
        for m in [matrices(rows: rows, cols: cols).dense, matrices(rows: rows, cols: cols).sparse] {
            let one = try batches(m, windowGroups: 1, train: train)
            let two = try batches(m, windowGroups: 2, train: train)
            let whole = try batches(m, windowGroups: nil, train: train)
            let inTurn = try batches(m, windowGroups: 1, train: train, prefetch: false)
            XCTAssertEqual(one.count, 2 * ((train.count + 49) / 50))
            XCTAssertEqual(one, two)
            XCTAssertEqual(one, inTurn)
            XCTAssertEqual(one, whole)
            // The gathered rows are the rows of the cells named (row i holds i·cols + j).
            let b = one[5]
            let n = b.count / (cols + 1)
            for (slot, cell) in b.prefix(n).enumerated() {
                let row = Array(b[(n + slot * cols)..<(n + (slot + 1) * cols)])
                let expected = (0..<cols).map { j -> Float in
                    if case .sparse = m, (j - Int(cell) % 3) % 3 != 0 || j < Int(cell) % 3 { return 0 }
                    return Float(Int(cell) * cols + j)
                }
                XCTAssertEqual(row, expected)
            }
        }
    }

    /// Training streamed from a source in windows of one group gives the bytes of training on
    /// the same matrix in memory (parameters, history, split).
    func testStreamedTrainingEqualsInMemoryTraining() throws {
        let (_, x) = matrices(rows: 3_100, cols: 12)
        let scaled: MatrixData
        if case .sparse(var s) = x { s.values = s.values.map { Float(Int($0) % 97) / 50 }; scaled = .sparse(s) } else { fatalError() }
        var c = VAEParameters()
        c.latent = 3; c.hidden = [8]; c.epochs = 2; c.batchSize = 64
        var memory = try VAETrainingData.inMemory(scaled, config: c, seed: 3)
        var streamed = try VAETrainingData.streamed(x: InMemorySource(scaled), target: nil, config: c, seed: 3, maxStored: 500,
                                                    windowGroups: 1, file: nil, visit: { _, _, _ in })
        memory.groupBlocks = 1
        streamed.groupBlocks = 1
        XCTAssertTrue(streamed.isStreamed)
        XCTAssertEqual(memory.validationCells, streamed.validationCells)
        let a = try VAETrainer.train(Float.self, data: memory, config: c, seed: 3)
        let b = try VAETrainer.train(Float.self, data: streamed, config: c, seed: 3)
        XCTAssertEqual(a.network.parameters.allValues, b.network.parameters.allValues)
        XCTAssertEqual(a.history, b.history)
        XCTAssertGreaterThanOrEqual(b.windowsRead, 8, "4 groups a epoch, 2 epochs")
        XCTAssertEqual(a.windowsRead, 0)
    }
}
