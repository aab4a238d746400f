import XCTest
@testable import LatentCore
@testable import LatentModels

/// PCA over a MatrixSource (issue 16): chunked, sharded and in-memory runs give the same bytes,
/// and the Gram statistics' centring is as accurate as a Float64 reference with explicit centring.
final class PCAStreamTests: XCTestCase {
    /// Tall log-normalised-like data with a few programs: genes-side Gram (n > g).
    static func data(n: Int = 3000, g: Int = 40, seed: UInt64 = 11, density: Double = 1) -> Matrix {
        var r = SeededRNG(seed: seed)
        var x = Matrix(rows: n, cols: g)
        let programs = (0..<3).map { _ in (0..<g).map { _ in r.uniform() < 0.4 ? Float(2 * r.uniform()) : 0 } }
        for i in 0..<n {
            let u = (0..<3).map { _ in Float(r.normal()) }
            for j in 0..<g {
                guard density >= 1 || r.uniform() < density else { continue }
                let v = 2 + u[0] * programs[0][j] + u[1] * programs[1][j] + u[2] * programs[2][j] + 0.3 * Float(r.normal())
                x[i, j] = max(0, v)
            }
        }
        return x
    }

    func fit(_ source: some MatrixSource, maxStored: Int = .max, keep: Bool = true, solver: PCA.Solver = .auto,
             center: Bool = true, threads: Int = 2) throws -> PCA.Result {
        var rng = SeededRNG(seed: 3)
        return try PCA.fit(source: source, k: 6, solver: solver, center: center, rng: &rng, threads: threads,
                           maxStored: maxStored, keepChunks: keep)
    }

    func assertSame(_ a: PCA.Result, _ b: PCA.Result, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.loadings, b.loadings, "loadings: \(what)", file: file, line: line)
        XCTAssertEqual(a.scores, b.scores, "scores: \(what)", file: file, line: line)
        XCTAssertEqual(a.variance, b.variance, "variance: \(what)", file: file, line: line)
        XCTAssertEqual(a.varianceRatio, b.varianceRatio, "variance ratio: \(what)", file: file, line: line)
    }

    /// Any chunk size, kept or re-read chunks, one or two threads: the same bytes as one chunk.
    func testChunkedEqualsInMemory() throws {
        let x = Self.data()
        for solver in [PCA.Solver.exact, .randomized] {
            for center in [true, false] {
                let whole = try fit(InMemorySource(.dense(x)), solver: solver, center: center)
                XCTAssertEqual(whole.solver, solver)
                for (maxStored, keep) in [(1, true), (2048 * 40, false), (5000 * 40, true)] {
                    let chunked = try fit(InMemorySource(.dense(x)), maxStored: maxStored, keep: keep, solver: solver, center: center)
                    assertSame(chunked, whole, "\(solver) center \(center) maxStored \(maxStored) keep \(keep)")
                }
                let oneThread = try fit(InMemorySource(.dense(x)), maxStored: 1, solver: solver, center: center, threads: 1)
                assertSame(oneThread, whole, "\(solver) center \(center), 1 thread against 2")
            }
        }
        // `fit` on a matrix is the same code with one chunk.
        var rng = SeededRNG(seed: 3)
        let viaMatrix = try PCA.fit(.dense(x), k: 6, rng: &rng, threads: 2)
        assertSame(viaMatrix, try fit(InMemorySource(.dense(x)), maxStored: 1), "PCA.fit(MatrixData)")
    }

    /// Sparse data with no Gram statistics (density under 2 %: direct Krylov passes) that do not
    /// fit: randomized passes over the rows. The same bytes for any chunking and thread count;
    /// the in-memory direct solver's components (|cos| ≥ 0.9999), variances and scores.
    func testStreamedKrylovMatchesInMemoryForAnyChunkingAndThreads() throws {
        var dense = Self.data(n: 2500, g: 300, seed: 5, density: 0.012)
        for i in 0..<dense.rows where i % 7 == 0 { dense[i, i % 300] += 3 }
        let x = MatrixData.sparse(SparseMatrix(dense: dense))
        for center in [true, false] {
            let whole = try fit(InMemorySource(x), solver: .randomized, center: center)
            XCTAssertTrue(whole.method.contains("passes over"), whole.method)
            let streamed = try fit(InMemorySource(x), maxStored: 3000, keep: false, solver: .randomized, center: center)
            XCTAssertTrue(streamed.method.contains("streamed"), streamed.method)
            XCTAssertTrue(streamed.converged)
            for (maxStored, threads) in [(1, 1), (100_000, 2), (3000, 3)] {
                let other = try fit(InMemorySource(x), maxStored: maxStored, keep: false, solver: .randomized, center: center,
                                    threads: threads)
                assertSame(other, streamed, "center \(center), maxStored \(maxStored), \(threads) threads")
            }
            for c in 0..<6 {
                var dot = 0.0, na = 0.0, nb = 0.0
                for j in 0..<300 {
                    let a = Double(whole.loadings[j, c]), b = Double(streamed.loadings[j, c])
                    dot += a * b; na += a * a; nb += b * b
                }
                XCTAssertGreaterThanOrEqual(abs(dot) / (na * nb).squareRoot(), 0.9999, "component \(c), center \(center)")
                XCTAssertEqual(streamed.variance[c], whole.variance[c], accuracy: 1e-3 * whole.variance[c])
                // Same sign convention, so the scores agree too.
                for i in stride(from: 0, to: 2500, by: 97) {
                    XCTAssertEqual(streamed.scores[i, c], whole.scores[i, c], accuracy: 1e-2 * (1 + abs(whole.scores[i, c])))
                }
            }
            XCTAssertEqual(streamed.totalVariance, whole.totalVariance, accuracy: 1e-6 * whole.totalVariance)
        }
    }

    /// Shards cut on statistics blocks: their statistics merge (in any order) to the whole
    /// matrix's exactly, and fit + per-shard scores equal the single run's bytes.
    func testShardsMergeToTheSingleRun() throws {
        let x = Self.data(n: 3500)
        let whole = try fit(InMemorySource(.dense(x)), maxStored: 1)
        let cuts = [0..<1024, 1024..<3072, 3072..<3500]
        var parts: [PCAStatistics] = []
        for r in cuts {
            var s = PCAStatistics(cols: x.cols)
            try s.add(MatrixData.dense(x).rowBlock(r), firstRow: r.lowerBound, threads: 2)
            parts.append(s)
        }
        var forward = PCAStatistics(cols: x.cols), backward = PCAStatistics(cols: x.cols)
        parts.forEach { forward.merge($0) }
        parts.reversed().forEach { backward.merge($0) }
        var all = PCAStatistics(cols: x.cols)
        try all.add(.dense(x), firstRow: 0, threads: 1)
        XCTAssertEqual(forward, all)
        XCTAssertEqual(backward, all)
        var rng = SeededRNG(seed: 3)
        let fitted = try PCA.fit(statistics: forward, k: 6, rng: &rng)
        var scores = Matrix(rows: x.rows, cols: 6)
        for r in cuts {
            var shard = Matrix(rows: r.count, cols: 6)
            fitted.scores(MatrixData.dense(x).rowBlock(r), into: &shard, at: 0)
            for i in 0..<r.count { for c in 0..<6 { scores[r.lowerBound + i, c] = shard[i, c] } }
        }
        assertSame(fitted.result(scores: scores), whole, "sharded")
    }

    /// CSR blocks are densified into the same buffer before the same products: identical
    /// statistics to the dense copy, and scores within Float32 rounding.
    func testSparseStatisticsEqualDense() throws {
        let x = Self.data(n: 2100, density: 0.3)
        var a = PCAStatistics(cols: x.cols), b = PCAStatistics(cols: x.cols)
        try a.add(.dense(x), firstRow: 0, threads: 2)
        try b.add(.sparse(SparseMatrix(dense: x)), firstRow: 0, threads: 2)
        XCTAssertEqual(a, b)
        let d = try fit(InMemorySource(.dense(x))), s = try fit(InMemorySource(.sparse(SparseMatrix(dense: x))), maxStored: 5000)
        XCTAssertEqual(d.loadings, s.loadings)
        let scale = d.scores.values.map(abs).max() ?? 1
        XCTAssertLessThan(zip(d.scores.values, s.scores.values).map { abs($0 - $1) }.max() ?? 1, 1e-5 * scale)
    }

    /// The covariance from block-centred Float32 Grams and exact sums against a Float64
    /// reference with explicit centring, on data whose means are large against their spread
    /// (mean/sd ≈ 30), where an uncentred Float32 Gram would lose about 3 digits.
    func testCentredGramMatchesFloat64Reference() throws {
        var x = Self.data(n: 2500, g: 30)
        for i in x.values.indices { x.values[i] += 20 }
        var stats = PCAStatistics(cols: 30)
        try stats.add(.dense(x), firstRow: 0, threads: 2)
        let c = stats.gramMatrix(center: true)
        let n = x.rows, g = x.cols
        var mean = [Double](repeating: 0, count: g)
        for i in 0..<n { for j in 0..<g { mean[j] += Double(x[i, j]) } }
        for j in 0..<g { mean[j] /= Double(n) }
        var worst = 0.0, scale = 0.0
        for a in 0..<g {
            for b in 0...a {
                var s = 0.0
                for i in 0..<n { s += (Double(x[i, a]) - mean[a]) * (Double(x[i, b]) - mean[b]) }
                worst = max(worst, abs(Double(c[a, b]) - s))
                scale = max(scale, abs(s))
            }
        }
        XCTAssertLessThan(worst / scale, 2e-6, "covariance entries, relative to the largest")
        let variance = stats.geneVariance
        for j in 0..<g {
            var s = 0.0
            for i in 0..<n { s += (Double(x[i, j]) - mean[j]) * (Double(x[i, j]) - mean[j]) }
            XCTAssertEqual(variance[j], s / Double(n - 1), accuracy: 1e-9 * s / Double(n - 1))
        }
    }

    func testNonFiniteValueIsNamedWithItsGlobalRow() throws {
        var x = Self.data(n: 2100, g: 8)
        x[1500, 3] = .nan
        var rng = SeededRNG(seed: 0)
        XCTAssertThrowsError(try PCA.fit(source: InMemorySource(.dense(x)), k: 2, rng: &rng, maxStored: 1, file: "n.h5ad")) { e in
            XCTAssertTrue("\(e)".hasPrefix("n.h5ad:X[row 1501, column 4]: non-finite value NaN"), "\(e)")
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
        // The same through the streamed randomized passes (sparse, under 2 % dense, not kept).
        var dense = Self.data(n: 2500, g: 300, seed: 5, density: 0.012)
        dense[2100, 17] = .infinity
        let sparse = MatrixData.sparse(SparseMatrix(dense: dense))
        XCTAssertThrowsError(try PCA.fit(source: InMemorySource(sparse), k: 3, solver: .randomized, rng: &rng, maxStored: 3000,
                                         keepChunks: false, file: "s.h5ad")) { e in
            XCTAssertTrue("\(e)".hasPrefix("s.h5ad:X[row 2101, column 18]: non-finite value Inf"), "\(e)")
            XCTAssertEqual((e as? LatentError)?.exitCode, 2)
        }
    }
}
