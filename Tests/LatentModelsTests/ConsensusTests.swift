import Foundation
import LatentCore
import XCTest
@testable import LatentModels

/// Latents matched across seeds: the Hungarian assignment against brute force, and a planted
/// permutation with sign flips recovered exactly while a noise latent scores low.
final class ConsensusTests: XCTestCase {
    /// Every permutation of 0..<n (n ≤ 6).
    static func permutations(_ n: Int) -> [[Int]] {
        if n == 0 { return [[]] }
        return permutations(n - 1).flatMap { p in (0...p.count).map { i in var q = p; q.insert(n - 1, at: i); return q } }
    }

    func testAssignmentIsTheMinimumOverAllPermutations() {
        var rng = SeededRNG(seed: 5)
        for trial in 0..<40 {
            let r = 1 + trial % 5, c = r + trial % 3
            let cost = (0..<(r * c)).map { _ in (rng.uniform() * 10).rounded() / 2 }   // ties on purpose
            let got = Assignment.minimumCost(cost, rows: r, cols: c)
            XCTAssertEqual(Set(got).count, r, "one column per row")
            let total = got.enumerated().reduce(0.0) { $0 + cost[$1.offset * c + $1.element] }
            // brute force: choose which columns, in every order
            var best = Double.infinity
            for perm in Self.permutations(c) {
                best = min(best, (0..<r).reduce(0.0) { $0 + cost[$1 * c + perm[$1]] })
            }
            XCTAssertEqual(total, best, accuracy: 1e-9, "trial \(trial): \(r) × \(c)")
        }
    }

    /// Three seeds; latents 0–2 planted in each (permuted, sign-flipped, a little noise), latent 3
    /// fresh noise every time.
    static func plantedRuns(withEnrichment: Bool) -> (runs: [Consensus.Run], perms: [[Int]], signs: [[Float]]) {
        var rng = SeededRNG(seed: 9)
        let g = 300, k = 4
        let genes = (0..<g).map { "G\($0)" }
        let truth = (0..<3).map { _ in (0..<g).map { _ in Float(rng.normal()) } }
        let perms = [[0, 1, 2, 3], [2, 0, 3, 1], [3, 2, 1, 0]]   // perms[s][j]: the column of seed s holding planted latent j (3 = noise)
        let signs: [[Float]] = [[1, 1, 1, 1], [-1, 1, -1, 1], [1, -1, 1, 1]]
        var runs: [Consensus.Run] = []
        for s in 0..<3 {
            var l = Matrix(rows: g, cols: k)
            var top = [Consensus.TopSet?](repeating: nil, count: k)
            for j in 0..<k {
                let col = perms[s][j]
                for gi in 0..<g {
                    l[gi, col] = j < 3 ? signs[s][j] * (truth[j][gi] + 0.1 * Float(rng.normal())) : Float(rng.normal())
                }
                if j < 3 {
                    top[col] = Consensus.TopSet(name: "SET_\(j)", direction: signs[s][j] > 0 ? "up" : "down", padj: 0.001)
                } else {
                    top[col] = Consensus.TopSet(name: "NOISE_\(s)", direction: "up", padj: 0.01)
                }
            }
            runs.append(Consensus.Run(id: "seed\(s)", label: Metrics.RunLabel(model: "vae", parameters: "beta=4", seed: "\(s * 10)"),
                                      genes: s == 1 ? genes.reversed() : genes,   // gene order must not matter
                                      loadings: s == 1 ? Self.reversedRows(l) : l, topSets: withEnrichment ? top : nil))
        }
        return (runs, perms, signs)
    }

    static func reversedRows(_ m: Matrix) -> Matrix {
        var out = Matrix(rows: m.rows, cols: m.cols)
        for i in 0..<m.rows { for j in 0..<m.cols { out[i, j] = m[m.rows - 1 - i, j] } }
        return out
    }

    func testPlantedPermutationAndSignFlipsAreRecovered() throws {
        let (runs, perms, _) = Self.plantedRuns(withEnrichment: true)
        // give the runs out of seed order: the first seed (0) is still the anchor
        let (rows, notes) = try Consensus.compute([runs[2], runs[0], runs[1]])
        XCTAssertEqual(notes, [])
        XCTAssertEqual(rows.count, 12)
        XCTAssertEqual(Array(Set(rows.map(\.seed))).sorted(), ["0", "10", "20"])
        XCTAssertEqual(rows.prefix(4).map(\.seed), ["0", "0", "0", "0"])
        for s in 0..<3 {
            for j in 0..<4 {
                let row = rows.first { $0.run == "seed\(s)" && $0.latent == perms[s][j] }!
                XCTAssertEqual(row.seeds, 2)
                if j < 3 {
                    XCTAssertEqual(row.consensus, j, "seed \(s) column \(perms[s][j]) is planted latent \(j)")
                    XCTAssertGreaterThan(row.reproducibility, 0.97)
                    XCTAssertTrue(row.stable)
                    XCTAssertEqual(row.recurrence, 1, "SET_\(j) in the matched latent of both other seeds, directions through the flips")
                    XCTAssertEqual(row.topSet?.name, "SET_\(j)")
                } else {
                    XCTAssertEqual(row.consensus, 3, "the noise latents are what is left to pair")
                    XCTAssertLessThan(row.reproducibility, 0.3)
                    XCTAssertFalse(row.stable)
                    XCTAssertEqual(row.recurrence, 0)
                }
            }
        }
        // deterministic, and the table reads back
        let again = try Consensus.compute([runs[2], runs[0], runs[1]]).rows
        XCTAssertEqual(again, rows)
        let text = Consensus.tsv(rows)
        let back = try Consensus.parse(text, file: "c.tsv")
        XCTAssertEqual(back.map(\.reproducibility), rows.map(\.reproducibility))
        XCTAssertEqual(back.map(\.consensus), rows.map(\.consensus))
        XCTAssertEqual(back.map(\.recurrence), rows.map(\.recurrence))
    }

    func testWithoutEnrichmentAndGrouping() throws {
        var (runs, _, _) = Self.plantedRuns(withEnrichment: false)
        // a fourth run of another model is left alone with a note, not mixed in
        var other = runs[0]
        other.label = Metrics.RunLabel(model: "vae", parameters: "beta=1", seed: "0")
        runs.append(other)
        let (rows, notes) = try Consensus.compute(runs)
        XCTAssertEqual(rows.count, 12)
        XCTAssertTrue(rows.allSatisfy { $0.recurrence == nil && $0.topSet == nil })
        XCTAssertEqual(notes.count, 1)
        XCTAssertTrue(notes[0].contains("beta=1"), notes[0])
        // a negated copy matches perfectly under both similarities
        var neg = runs[0]
        for i in neg.loadings.values.indices { neg.loadings.values[i] = -neg.loadings.values[i] }
        neg.label.seed = "1"
        neg.id = "neg"
        var p = Consensus.Parameters()
        p.similarity = .cosine
        let pair = try Consensus.compute([runs[0], neg], parameters: p).rows
        XCTAssertEqual(pair.map(\.consensus), [0, 1, 2, 3, 0, 1, 2, 3])
        for r in pair { XCTAssertEqual(r.reproducibility, 1, accuracy: 1e-5) }
    }

    func testEnrichmentTableTopSets() throws {
        let path = NSTemporaryDirectory() + "latent-consensus-\(UUID().uuidString).tsv"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = """
        latent\tgene_set\tdirection\tsize\tes\tnes\tpval\tpadj\tnull
        0\tB_SET\tup\t20\t0.5\t2.0\t0.001\t0.01\tx
        0\tA_SET\tdown\t20\t-0.5\t-2.5\t0.001\t0.01\tx
        0\tC_SET\tup\t20\t0.5\t1.0\t0.0001\t0.2\tx
        1\tC_SET\tup\t20\t0.5\t1.0\t0.0001\t0.2\tx
        2\tD_SET\tup\t20\t0.5\t1.0\t0.0001\t0.001\tx

        """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let top = try Consensus.topSets(enrichmentTable: path, latents: 3, fdr: 0.05)
        XCTAssertEqual(top.map { $0?.name }, ["A_SET", nil, "D_SET"], "least FDR, then largest |NES|; latent 1 has nothing significant")
        XCTAssertEqual(top[0]?.direction, "down")
        XCTAssertThrowsError(try Consensus.topSets(enrichmentTable: path, latents: 2, fdr: 0.05)) { e in
            XCTAssertTrue("\(e)".contains("latent '2'"), "\(e)")
        }
    }
}
