import XCTest
@testable import LatentCore

final class RNGTests: XCTestCase {
    func testSameSeedSameStream() {
        var a = SeededRNG(seed: 42), b = SeededRNG(seed: 42), c = SeededRNG(seed: 43)
        let xa = (0..<100).map { _ in a.next() }
        let xb = (0..<100).map { _ in b.next() }
        let xc = (0..<100).map { _ in c.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, xc)
    }

    /// The stream is part of our reproducibility contract: pin the first outputs for seed 0 so a
    /// change to the generator (which would change every seeded result) cannot slip in unnoticed.
    /// Reference values from the published xoshiro256** and splitmix64 algorithms, computed in Python.
    func testKnownValuesForSeedZero() {
        var r = SeededRNG(seed: 0)
        XCTAssertEqual([r.next(), r.next(), r.next()], RNGReference.seedZero)
    }

    func testStreamsAreIndependentAndDoNotAdvance() {
        let base = SeededRNG(seed: 7)
        var s1 = base.stream(1), s2 = base.stream(2), s1again = base.stream(1)
        XCTAssertNotEqual(s1.next(), s2.next())
        var s1b = base.stream(1)
        _ = s1again.next()
        XCTAssertEqual(s1b.next(), SeededRNG(seed: 7).stream(1).nextCopy())
    }

    func testBelowIsUniform() {
        var r = SeededRNG(seed: 1)
        var counts = [Int](repeating: 0, count: 10)
        let n = 100_000
        for _ in 0..<n { counts[r.below(10)] += 1 }
        // Chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile.
        let expected = Double(n) / 10
        let chi2 = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        XCTAssertLessThan(chi2, 27.9)
    }

    func testNormalMoments() {
        var r = SeededRNG(seed: 3)
        let n = 200_000
        var s = 0.0, s2 = 0.0
        for _ in 0..<n { let z = r.normal(); s += z; s2 += z * z }
        let mean = s / Double(n), v = s2 / Double(n) - mean * mean
        XCTAssertEqual(mean, 0, accuracy: 0.01)
        XCTAssertEqual(v, 1, accuracy: 0.02)
    }

    func testPermutation() {
        var r = SeededRNG(seed: 9)
        let p = r.permutation(1000)
        XCTAssertEqual(p.sorted(), Array(0..<1000))
        XCTAssertNotEqual(p, Array(0..<1000))
    }

    func testUniformRange() {
        var r = SeededRNG(seed: 5)
        for _ in 0..<10_000 {
            let u = r.uniform(), f = r.uniformFloat()
            XCTAssert(u >= 0 && u < 1)
            XCTAssert(f >= 0 && f < 1)
        }
    }
}

extension SeededRNG {
    func nextCopy() -> UInt64 { var c = self; return c.next() }
}

final class DistributionTests: XCTestCase {
    func moments(_ x: [Double]) -> (Double, Double) {
        let m = x.reduce(0, +) / Double(x.count)
        return (m, x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1))
    }

    func testGammaMoments() {
        var r = SeededRNG(seed: 11)
        for (shape, scale) in [(0.5, 2.0), (3.0, 1.5), (40.0, 0.1)] {
            let (m, v) = moments((0..<100_000).map { _ in r.gamma(shape: shape, scale: scale) })
            XCTAssertEqual(m, shape * scale, accuracy: 0.02 * shape * scale, "mean, shape \(shape)")
            XCTAssertEqual(v, shape * scale * scale, accuracy: 0.05 * shape * scale * scale, "variance, shape \(shape)")
        }
    }

    func testPoissonMoments() {
        var r = SeededRNG(seed: 12)
        for lambda in [0.3, 4.0, 29.5, 30.5, 250.0] {
            let (m, v) = moments((0..<100_000).map { _ in Double(r.poisson(lambda)) })
            XCTAssertEqual(m, lambda, accuracy: 0.02 * lambda + 0.005, "mean, λ \(lambda)")
            XCTAssertEqual(v, lambda, accuracy: 0.05 * lambda + 0.01, "variance, λ \(lambda)")
        }
        XCTAssertEqual(r.poisson(0), 0)
    }
}
