import Foundation
import XCTest
@testable import LatentCore
@testable import LatentPreprocess

/// Our LOESS against skmisc.loess (the netlib dloess code scanpy calls). The fixtures come from
/// Fixtures/make_loess_fixtures.py.
final class LoessTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// What we must reach; on the fixtures we get about 1e-13.
    static let tolerance = 1e-7

    func loadTSV(_ name: String) throws -> (x: [Double], y: [Double], fitted: [Double]) {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("loess_\(name).tsv"), encoding: .utf8)
        var x: [Double] = [], y: [Double] = [], f: [Double] = []
        for line in text.split(separator: "\n").dropFirst() {
            let c = line.split(separator: "\t").map { Double($0)! }
            x.append(c[0]); y.append(c[1]); f.append(c[2])
        }
        return (x, y, f)
    }

    /// max |a − b| / max(|b|, 1e-12) over the points, and where it occurs.
    func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> (value: Double, at: Int) {
        var worst = (value: 0.0, at: 0)
        for i in b.indices {
            let r = abs(a[i] - b[i]) / max(abs(b[i]), 1e-12)
            if !(r <= worst.value) { worst = (r, i) }
        }
        return worst
    }

    func testMatchesSkmiscFixtures() throws {
        let cases: [(String, Int, Loess.Surface)] = [
            ("synthetic_deg2", 2, .interpolate), ("synthetic_deg1", 1, .interpolate),
            ("synthetic_direct", 2, .direct), ("ties_deg2", 2, .interpolate), ("ties_deg1", 1, .interpolate),
            ("geuvadis_meanvar", 2, .interpolate),
        ]
        for (name, degree, surface) in cases {
            let d = try loadTSV(name)
            let ours = try Loess.fit(x: d.x, y: d.y, span: 0.3, degree: degree, surface: surface)
            let diff = maxRelativeDifference(ours, d.fitted)
            print("loess \(name) (n = \(d.x.count)): max relative difference \(diff.value) at x = \(d.x[diff.at])")
            XCTAssertLessThanOrEqual(diff.value, Self.tolerance, "\(name): at x = \(d.x[diff.at]), ours \(ours[diff.at]) vs \(d.fitted[diff.at])")
        }
    }

    /// The interpolated surface is not the direct fit: the difference must be visible, or the
    /// fixtures would not tell the two apart.
    func testInterpolateDiffersFromDirect() throws {
        let d = try loadTSV("synthetic_deg2")
        let direct = try Loess.fit(x: d.x, y: d.y, surface: .direct)
        XCTAssertGreaterThan(maxRelativeDifference(direct, d.fitted).value, 1e-5)
    }

    struct Case: Decodable {
        var name: String
        var span: Double
        var degree: Int
        var surface: String
        var x: [Double]
        var y: [Double]
        var fitted: [Double]?
        var trace: Double?
        var error: String?
    }

    /// Cases with skmisc's fitted values (and trace of the operator, where it computes it
    /// exactly) or the error it raised: we must match the former and throw for the latter.
    func checkCases(_ url: URL) throws {
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: url))
        XCTAssertFalse(cases.isEmpty)
        var worst = (value: 0.0, name: "")
        defer { print("loess \(url.lastPathComponent): \(cases.count) cases, max relative difference \(worst.value) (\(worst.name))") }
        for c in cases {
            let surface: Loess.Surface = c.surface == "direct" ? .direct : .interpolate
            let result = Result { try Loess.fitWithTrace(x: c.x, y: c.y, span: c.span, degree: c.degree, surface: surface) }
            if case .success(let ours) = result, let trace = c.trace {
                // The trace decides skmisc's "Chernobyl" errors, so it must be right too.
                XCTAssertEqual(ours.trace ?? .nan, trace, accuracy: 1e-9 * trace, "\(c.name): trace")
            }
            switch (result.map(\.fitted), c.fitted) {
            case (.success(let ours), let fitted?):
                let diff = maxRelativeDifference(ours, fitted)
                if diff.value > worst.value { worst = (diff.value, "\(c.name) at x = \(c.x[diff.at]): \(ours[diff.at]) vs \(fitted[diff.at])") }
                XCTAssertLessThanOrEqual(diff.value, Self.tolerance, "\(c.name): at x = \(c.x[diff.at]), ours \(ours[diff.at]) vs \(fitted[diff.at])")
            case (.failure(let e), let fitted?):
                XCTFail("\(c.name): skmisc fits (first value \(fitted.first ?? .nan)) but we throw: \(e)")
            case (.success, nil):
                // Where the surface interpolates the data, trace = n up to rounding, and rounding
                // decides whether skmisc raises "Chernobyl! trL>n"; we fit (see checkTrace).
                if (c.error ?? "").hasPrefix("Chernobyl"), case .success(let ours) = result, let trace = ours.trace,
                   abs(trace - Double(c.x.count)) <= 1e-9 * trace || abs(trace - Double(c.degree + 1)) <= 1e-9 * trace {
                    continue
                }
                XCTFail("\(c.name): skmisc raises \"\(c.error ?? "")\" but we fit")
            case (.failure(let e), nil):
                XCTAssert(e is LatentError, "\(c.name): \(e)")
            }
        }
    }

    func testSmallCasesMatchSkmisc() throws {
        try checkCases(Self.fixtures.appendingPathComponent("loess_cases.json"))
    }

    /// Cases written by `make_loess_fixtures.py --random PATH` (not committed: large).
    func testExtraCasesFromEnvironment() throws {
        guard let path = ProcessInfo.processInfo.environment["LOESS_EXTRA_CASES"] else {
            throw XCTSkip("set LOESS_EXTRA_CASES to a file from make_loess_fixtures.py --random")
        }
        try checkCases(URL(fileURLWithPath: path))
    }

    /// The direct surface against a brute-force weighted least squares written out here:
    /// tricube weights over the ⌊n·span⌋ nearest points, normal equations solved by Cramer's rule.
    func testDirectAgainstBruteForce() throws {
        var rng = SeededRNG(seed: 2)
        let n = 150
        let x = (0..<n).map { _ in (rng.uniform() * 40).rounded() / 10 }   // ties on a 0.1 grid
        let y = x.map { $0 * $0 - $0 + rng.normal() * 0.1 }
        for (span, degree) in [(0.4, 2), (0.3, 1), (1.0, 2)] {
            let fit = try Loess.fit(x: x, y: y, span: span, degree: degree, surface: .direct)
            let nf = Int(Double(n) * span + 1e-5)
            let k = degree + 1
            for i in 0..<n {
                let q = x[i]
                let d = x.map { abs($0 - q) }
                let h = d.sorted()[nf - 1]
                var m = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
                var r = [Double](repeating: 0, count: k)
                for j in 0..<n where d[j] < h {
                    let u = d[j] / h
                    let w = pow(1 - u * u * u, 3)
                    let phi = [1, x[j] - q, (x[j] - q) * (x[j] - q)]
                    for a in 0..<k { r[a] += w * phi[a] * y[j]; for b in 0..<k { m[a][b] += w * phi[a] * phi[b] } }
                }
                func det(_ a: [[Double]]) -> Double {
                    a.count == 2 ? a[0][0] * a[1][1] - a[0][1] * a[1][0]
                        : a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                        + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
                }
                var m0 = m
                for a in 0..<k { m0[a][0] = r[a] }
                XCTAssertEqual(fit[i], det(m0) / det(m), accuracy: 1e-9, "span \(span) degree \(degree) x = \(q)")
            }
        }
    }

    /// A fit of a polynomial of the local degree reproduces it exactly, on both surfaces (the
    /// Hermite interpolant of a quadratic's values and slopes is the quadratic itself).
    func testReproducesPolynomials() throws {
        var rng = SeededRNG(seed: 5)
        let x = (0..<300).map { _ in rng.uniform() * 10 - 3 }
        let quadratic = x.map { 2 - 0.5 * $0 + 0.25 * $0 * $0 }, line = x.map { 1 + 3 * $0 }
        for surface in [Loess.Surface.interpolate, .direct] {
            let f2 = try Loess.fit(x: x, y: quadratic, degree: 2, surface: surface)
            let f1 = try Loess.fit(x: x, y: line, degree: 1, surface: surface)
            for i in x.indices {
                XCTAssertEqual(f2[i], quadratic[i], accuracy: 1e-10)
                XCTAssertEqual(f1[i], line[i], accuracy: 1e-10)
            }
        }
    }

    /// The result follows the input order, whatever it is.
    func testInputOrderDoesNotMatter() throws {
        let d = try loadTSV("ties_deg2")
        var g = SeededRNG(seed: 11)
        let perm = Array(d.x.indices).shuffled(using: &g)
        let fit = try Loess.fit(x: perm.map { d.x[$0] }, y: perm.map { d.y[$0] })
        let reference = try Loess.fit(x: d.x, y: d.y)
        for (k, i) in perm.enumerated() { XCTAssertEqual(fit[k], reference[i], accuracy: 1e-12 * max(1, abs(reference[i]))) }
    }

    func testRejectsBadInput() {
        XCTAssertThrowsError(try Loess.fit(x: [1], y: [1]))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2], y: [1]))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2, .nan, 4, 5, 6], y: [1, 2, 3, 4, 5, 6], span: 1))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2, 3, 4, 5, 6], y: [1, 2, .infinity, 4, 5, 6], span: 1))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2, 3, 4], y: [1, 2, 3, 4], span: 0.3))
        let x = (0..<50).map(Double.init)
        XCTAssertThrowsError(try Loess.fit(x: x, y: x, span: 0))
        XCTAssertThrowsError(try Loess.fit(x: x, y: x, span: 1.5))
        XCTAssertThrowsError(try Loess.fit(x: x, y: x, degree: 0))
        XCTAssertThrowsError(try Loess.fit(x: x, y: x, degree: 3))
        XCTAssertThrowsError(try Loess.fit(x: [Double](repeating: 3, count: 50), y: x))
        XCTAssertThrowsError(try Loess.fit(x: [Double](repeating: 3, count: 50), y: x, surface: .direct))
        // ⌊0.3·14⌋ = 4 neighbours is the least degree 2 accepts.
        XCTAssertNoThrow(try Loess.fit(x: Array(x.prefix(14)), y: Array(x.prefix(14)).map { $0 * $0 }))
    }

    /// 30,000 points, as many genes as a large data set keeps: the fit must stay fast.
    func testLargeInputTiming() throws {
        var rng = SeededRNG(seed: 9)
        let x = (0..<30_000).map { _ in rng.normal() * 1.5 - 1 }
        let y = x.map { 1.2 * $0 + 0.1 * $0 * $0 + rng.normal() * 0.3 }
        let start = Date()
        let fit = try Loess.fit(x: x, y: y)
        let seconds = Date().timeIntervalSince(start)
        print("loess: 30,000 points in \(Int(seconds * 1000)) ms (this build's configuration)")
        XCTAssertEqual(fit.count, x.count)
        XCTAssert(fit.allSatisfy(\.isFinite))
    }
}
