import XCTest
@testable import LatentCore
@testable import LatentModels

final class SimulateStreamTests: XCTestCase {
    /// The per-cell sampler's zero test plus CDF walk is NB(λ, θ): P(0), mean and variance
    /// λ + λ²/θ against the closed forms, for a small, a moderate and a large mean.
    func testPerCellDrawIsNegativeBinomial() {
        var r = SeededRNG(seed: 11)
        for (lam, th) in [(0.05, 10.0), (3.0, 2.0), (40.0, 5.0)] {
            let n = 200_000
            var zeros = 0, sum = 0.0, sq = 0.0
            for _ in 0..<n {
                let u = r.uniform()
                var k = 0
                if u < lam {
                    let p0 = exp(-th * log1p(lam / th))
                    if u < 1 - p0 { k = Simulate.Stream.positiveNB(lam, th, p0: p0, &r) }
                }
                if k == 0 { zeros += 1 }
                sum += Double(k)
                sq += Double(k * k)
            }
            let mean = sum / Double(n), variance = sq / Double(n) - mean * mean
            let p0 = pow(1 + lam / th, -th), v = lam + lam * lam / th
            XCTAssertEqual(Double(zeros) / Double(n), p0, accuracy: 4 * (p0 * (1 - p0) / Double(n)).squareRoot() + 1e-4, "λ \(lam) θ \(th)")
            XCTAssertEqual(mean, lam, accuracy: 4 * (v / Double(n)).squareRoot(), "λ \(lam) θ \(th)")
            XCTAssertEqual(variance / v, 1, accuracy: 0.05, "λ \(lam) θ \(th)")
        }
    }

    /// In memory (`Simulate.run`) = the stream in one chunk = the stream in ragged chunks.
    func testChunksDoNotChangeTheCounts() throws {
        for sampler in Simulate.Sampler.allCases {
            var p = Simulate.Parameters()
            p.cells = 300; p.genes = 120; p.programs = 2; p.programSize = 10; p.sampler = sampler; p.batches = 2
            var rng = SeededRNG(seed: 5)
            let whole = try Simulate.run(p, rng: &rng).dataset
            var s = try Simulate.Stream(p, rng: SeededRNG(seed: 5))
            var blocks: [MatrixData] = []
            var k = 0
            while s.cell < s.cells { blocks.append(.sparse(s.next([1, 17, 64][k % 3], threads: 1 + k % 2))); k += 1 }
            XCTAssertEqual(MatrixData.stackRows(blocks), whole.X, "\(sampler)")
            XCTAssertEqual(s.obs, whole.obs)
        }
    }
}
