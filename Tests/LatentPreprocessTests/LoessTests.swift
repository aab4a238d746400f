import Foundation
import XCTest
@testable import LatentCore
@testable import LatentPreprocess

/// Our LOESS against skmisc.loess (the netlib dloess code scanpy calls), fixtures in Fixtures/.
final class LoessTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func load(_ name: String) throws -> (x: [Double], y: [Double], fitted: [Double]) {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("loess_\(name).tsv"), encoding: .utf8)
        var x: [Double] = [], y: [Double] = [], f: [Double] = []
        for line in text.split(separator: "\n").dropFirst() {
            let c = line.split(separator: "\t").map { Double($0)! }
            x.append(c[0]); y.append(c[1]); f.append(c[2])
        }
        return (x, y, f)
    }

    func maxRelativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) / max(abs($1), 1e-12) }.max() ?? 0
    }

    func testMatchesSkmisc() throws {
        for (name, degree) in [("synthetic_deg2", 2), ("synthetic_deg1", 1), ("ties_deg2", 2), ("geuvadis_meanvar", 2)] {
            let d = try load(name)
            let ours = try Loess.fit(x: d.x, y: d.y, span: 0.3, degree: degree)
            let diff = maxRelativeDifference(ours, d.fitted)
            XCTAssertLessThan(diff, 1e-9, "\(name): max relative difference \(diff)")
        }
    }

    /// The direct surface against a brute-force weighted least squares written out here.
    func testDirectAgainstBruteForce() throws {
        var rng = SeededRNG(seed: 2)
        let n = 120
        let x = (0..<n).map { _ in rng.uniform() * 4 }, y = x.map { $0 * $0 - $0 + rng.normal() * 0.1 }
        let fit = try Loess.fit(x: x, y: y, span: 0.4, degree: 2, surface: .direct)
        let nf = Int(Double(n) * 0.4)
        for i in stride(from: 0, to: n, by: 7) {
            let q = x[i]
            let d = x.map { abs($0 - q) }
            let h = d.sorted()[nf - 1]
            var m = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3), r = [Double](repeating: 0, count: 3)
            for j in 0..<n where d[j] < h {
                let u = d[j] / h
                let w = pow(1 - u * u * u, 3)
                let phi = [1, x[j] - q, (x[j] - q) * (x[j] - q)]
                for a in 0..<3 { r[a] += w * phi[a] * y[j]; for b in 0..<3 { m[a][b] += w * phi[a] * phi[b] } }
            }
            // Solve the 3×3 normal equations by Cramer's rule.
            func det(_ a: [[Double]]) -> Double {
                a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                    + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
            }
            var m0 = m
            for a in 0..<3 { m0[a][0] = r[a] }
            XCTAssertEqual(fit[i], det(m0) / det(m), accuracy: 1e-8)
        }
    }

    func testRejectsBadInput() {
        XCTAssertThrowsError(try Loess.fit(x: [1], y: [1]))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2, .nan], y: [1, 2, 3]))
        XCTAssertThrowsError(try Loess.fit(x: [1, 2, 3, 4], y: [1, 2, 3, 4], span: 0.3))
    }
}
