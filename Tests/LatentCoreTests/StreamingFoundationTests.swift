import XCTest
import Foundation
@testable import LatentCore

final class StreamingFoundationTests: XCTestCase {
    func testExactSumIsOrderIndependent() {
        var rng = SeededRNG(seed: 7)
        let xs = (0..<5000).map { _ in (rng.uniform() - 0.5) * pow(10, Double(Int(rng.next() % 12)) - 4) }
        var a = ExactSum(), b = ExactSum()
        for x in xs { a.add(x) }
        for x in xs.reversed() { b.add(x) }
        XCTAssertEqual(a, b)
        // Split into two halves summed separately, then merged: still the same bits.
        var h1 = ExactSum(), h2 = ExactSum()
        for x in xs[..<1234] { h1.add(x) }
        for x in xs[1234...] { h2.add(x) }
        h1.add(h2)
        XCTAssertEqual(h1, a)
        let plain = xs.reduce(0, +)
        XCTAssertEqual(a.value, plain, accuracy: 1e-9 * xs.map(abs).reduce(0, +))
        let (hi, lo) = a.halves, (fh, fl) = a.fineHalves
        XCTAssertEqual(ExactSum(high: hi, low: lo, fineHigh: fh, fineLow: fl), a)
        var neg = ExactSum(); neg.add(-3.25)
        XCTAssertEqual(ExactSum(high: neg.halves.high, low: neg.halves.low).value, -3.25)
        // Values far below the coarse grid (FPKM tables hold 1e-38) are kept, not rounded away.
        var tiny = ExactSum(), tinyRev = ExactSum()
        let small: [Double] = [1.1786e-38, 3.5e-30, 2.0e-20, 7.25e-17, 1.5]
        for x in small { tiny.add(Double(Float(x))) }
        for x in small.reversed() { tinyRev.add(Double(Float(x))) }
        XCTAssertEqual(tiny, tinyRev)
        var one = ExactSum(); one.add(Double(Float(1.1786e-38)))
        XCTAssertEqual(one.value, Double(Float(1.1786e-38)))
        var bad = ExactSum()
        XCTAssertFalse(bad.add(.nan))
        XCTAssertFalse(bad.add(1e30))
        XCTAssertEqual(bad.raw, 0)
    }

    /// The fast Int128 → Double conversion rounds as Swift's generic one: every magnitude, both
    /// signs, exact halfway cases and values just beside them.
    func testInt128ToDoubleMatchesTheGenericConversion() {
        var rng = SeededRNG(seed: 11)
        var cases: [Int128] = [0, 1, -1, Int128(Int64.max), Int128(Int64.min), Int128(Int64.max) + 1, Int128(Int64.min) - 1,
                               Int128.max, Int128.min + 1]
        for shift in 0..<126 {
            let hi = Int128(Int64(bitPattern: rng.next())) << 64 | Int128(rng.next())
            let v = hi >> (127 - shift - 1)
            cases += [v, -v, v | 1, (v >> 11) << 11, ((v >> 11) << 11) | (1 << 10), ((v >> 11) << 11) | (1 << 10) | 1]
        }
        for shift in 53..<126 {
            // An odd 54-bit mantissa: exactly halfway between two doubles, ties to even.
            let half = (Int128(1) << 53 | 1) << (shift - 53)
            cases += [half, -half, half + 1, half - 1]
        }
        for v in cases { XCTAssertEqual(ExactSum.double(v), Double(v), "\(v)") }
    }

    func testChunkPlanFallsOnBlocksAndCoversRows() {
        let rows = 5000, cols = 3
        let src = InMemorySource(.dense(Matrix(rows: rows, cols: cols)))
        for maxStored in [1, 3 * 1024, 3 * 2500, 1 << 30] {
            let plan = RowChunking.plan(src, maxStored: maxStored)
            XCTAssertEqual(plan.first?.lowerBound, 0)
            XCTAssertEqual(plan.last?.upperBound, rows)
            for (a, b) in zip(plan, plan.dropFirst()) { XCTAssertEqual(a.upperBound, b.lowerBound) }
            for r in plan.dropLast() { XCTAssertEqual(r.upperBound % RowChunking.statBlock, 0) }
        }
        XCTAssertEqual(RowChunking.plan(src, maxStored: 1).count, 5)
        XCTAssertEqual(RowChunking.plan(src, maxStored: 1 << 30).count, 1)
    }

    func testPrefetchedChunksRebuildTheMatrix() throws {
        var rng = SeededRNG(seed: 3)
        let rows = 3000, cols = 17
        var indptr = [0], indices = [Int32](), values = [Float]()
        for _ in 0..<rows {
            for j in 0..<cols where rng.next() % 4 == 0 { indices.append(Int32(j)); values.append(rng.uniformFloat()) }
            indptr.append(values.count)
        }
        let m = MatrixData.sparse(SparseMatrix(rows: rows, cols: cols, indptr: indptr, indices: indices, values: values))
        let src = InMemorySource(m)
        var sink = InMemorySink()
        var seen: [Range<Int>] = []
        try RowChunking.forEach(src, RowChunking.plan(src, maxStored: 2000)) { r, block in
            seen.append(r)
            XCTAssertEqual(block.rows, r.count)
            try sink.append(block)
        }
        try sink.finish()
        XCTAssertGreaterThan(seen.count, 2)
        XCTAssertEqual(sink.stacked(), m)
    }

    func testMemoryBudgetParsing() {
        XCTAssertEqual(MemoryBudget(parsing: "4G")?.bytes, 4 << 30)
        XCTAssertEqual(MemoryBudget(parsing: "512m")?.bytes, 512 << 20)
        XCTAssertEqual(MemoryBudget(parsing: "1.5G")?.bytes, 3 << 29)
        XCTAssertEqual(MemoryBudget(parsing: "2000000")?.bytes, 2_000_000)
        XCTAssertNil(MemoryBudget(parsing: "lots"))
        XCTAssertNil(MemoryBudget(parsing: "-1G"))
        XCTAssertNil(MemoryBudget(parsing: "4GB"))
        XCTAssertGreaterThan(MemoryBudget.machineDefault.bytes, 1 << 20)
    }
}
