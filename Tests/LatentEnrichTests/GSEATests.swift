import XCTest
@testable import LatentCore
@testable import LatentEnrich
@testable import LatentIO

final class GSEATests: XCTestCase {
    /// Brute force over all N positions: the textbook running sum.
    func bruteES(_ scores: [Float], _ set: Set<Int>) -> Double {
        let ranked = GSEA.RankedList(scores: scores)
        let n = scores.count, k = set.count
        let nr = set.reduce(0.0) { $0 + Double(abs(scores[$1])) }
        var run = 0.0, best = 0.0
        for r in 0..<n {
            let g = Int(ranked.order[r])
            run += set.contains(g) ? Double(abs(scores[g])) / nr : -1.0 / Double(n - k)
            if abs(run) > abs(best) { best = run }
        }
        return best
    }

    func testScoreMatchesRunningSum() {
        var rng = SeededRNG(seed: 1)
        for trial in 0..<50 {
            let n = 200
            let scores = (0..<n).map { _ in Float(rng.normal()) }
            var set = Set<Int>()
            let k = 5 + trial % 40
            while set.count < k { set.insert(rng.below(n)) }
            let ranked = GSEA.RankedList(scores: scores)
            let pos = set.map { ranked.position[$0] }.sorted()
            let es = ranked.weight.withUnsafeBufferPointer { w in pos.withUnsafeBufferPointer { GSEA.score($0, w, n: n).es } }
            XCTAssertEqual(es, bruteES(scores, set), accuracy: 1e-12)
        }
    }

    func testBenjaminiHochbergByHand() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "BH") = 0.04 0.0533 0.0533 0.5
        let q = benjaminiHochberg([0.01, 0.04, 0.03, 0.5])
        XCTAssertEqual(q[0], 0.04, accuracy: 1e-12)
        XCTAssertEqual(q[1], 0.04 * 4 / 3, accuracy: 1e-12)
        XCTAssertEqual(q[2], 0.04 * 4 / 3, accuracy: 1e-12)
        XCTAssertEqual(q[3], 0.5, accuracy: 1e-12)
    }

    func testHypergeometricTailByHand() {
        // P(X ≥ 2), N = 10, K = 4, n = 3: [C(4,2)C(6,1) + C(4,3)]/C(10,3) = (36 + 4)/120.
        XCTAssertEqual(ORA.hypergeometricUpperTail(2, N: 10, K: 4, n: 3), 40.0 / 120, accuracy: 1e-12)
        XCTAssertEqual(ORA.hypergeometricUpperTail(0, N: 10, K: 4, n: 3), 1)
        XCTAssertEqual(ORA.hypergeometricUpperTail(4, N: 10, K: 4, n: 3), 0)
    }

    /// Loadings that shift one known set up (or down) must return it first with padj < 1e-3.
    func plantedLoadings(shift: Float, seed: UInt64) -> (Loadings, [GeneSet]) {
        var rng = SeededRNG(seed: seed)
        let n = 2000
        let genes = (0..<n).map { "G\($0)" }
        var sets: [GeneSet] = []
        for s in 0..<40 {
            var members = Set<Int>()
            while members.count < 30 + s { members.insert(rng.below(n)) }
            sets.append(GeneSet(name: "SET\(s)", genes: members.sorted().map { genes[$0] }))
        }
        var values = [Float](repeating: 0, count: n * 2)
        let planted = Set(sets[7].genes)
        for g in 0..<n {
            values[g * 2] = Float(rng.normal()) + (planted.contains(genes[g]) ? shift : 0)
            values[g * 2 + 1] = Float(rng.normal())
        }
        return (Loadings(genes: genes, latents: ["0", "1"], values: Matrix(rows: n, cols: 2, values: values)), sets)
    }

    func testPlantedSetComesFirstBothDirections() throws {
        for shift: Float in [1.5, -1.5] {
            let (l, sets) = plantedLoadings(shift: shift, seed: 3)
            for method in EnrichParameters.Method.allCases {
                var p = EnrichParameters()
                p.method = method
                p.permutations = method == .projection ? 50 : 1000
                p.oraTop = 100
                let out = try EnrichStage.run(l, sets: sets, p, seed: 1, threads: 2)
                let first = out.rows.first { $0.latent == "0" }!
                XCTAssertEqual(first.geneSet, "SET7", "\(method) \(shift)")
                XCTAssertEqual(first.direction, shift > 0 ? "up" : "down", "\(method)")
                if method != .projection { XCTAssertLessThan(first.padj, 1e-3, "\(method) \(shift)") }
                // Latent 1 is noise: nothing should be that significant there.
                let noise = out.rows.filter { $0.latent == "1" }.map(\.padj).min()!
                XCTAssertGreaterThan(noise, 1e-3, "\(method)")
            }
        }
    }

    func testResultsRepeatExactlyForASeedAndAnyThreadCount() throws {
        let (l, sets) = plantedLoadings(shift: 0.5, seed: 4)
        var p = EnrichParameters()
        p.permutations = 200
        let a = EnrichStage.tsv(try EnrichStage.run(l, sets: sets, p, seed: 9, threads: 1).rows, method: .gsea)
        let b = EnrichStage.tsv(try EnrichStage.run(l, sets: sets, p, seed: 9, threads: 2).rows, method: .gsea)
        let c = EnrichStage.tsv(try EnrichStage.run(l, sets: sets, p, seed: 10, threads: 2).rows, method: .gsea)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
    }

    /// Permutation p-values of the shared null agree with an independent brute-force null.
    func testSharedNullMatchesIndependentSampling() {
        var rng = SeededRNG(seed: 5)
        let n = 500, k = 25
        let scores = (0..<n).map { _ in Float(rng.normal()) }
        let ranked = GSEA.RankedList(scores: scores)
        var r1 = SeededRNG(seed: 6)
        let shared = GSEA.nullScores(ranked, sizes: [10, k, 60], permutations: 4000, rng: &r1)[k]!
        var independent: [Double] = []
        var pos = [Int32](repeating: 0, count: k)
        for _ in 0..<4000 {
            GSEA.randomSortedSet(k: k, n: n, into: &pos, rng: &r1)
            independent.append(ranked.weight.withUnsafeBufferPointer { w in pos.withUnsafeBufferPointer { GSEA.score($0, w, n: n).es } })
        }
        independent.sort()
        // Two-sample Kolmogorov–Smirnov statistic; 0.04 is well beyond the 0.999 critical value (≈0.034).
        var d = 0.0
        for v in shared + independent {
            let f1 = Double(GSEA.upperBound(shared, v)) / 4000, f2 = Double(GSEA.upperBound(independent, v)) / 4000
            d = max(d, abs(f1 - f2))
        }
        XCTAssertLessThan(d, 0.04)
    }

    /// Multilevel p-values agree with brute-force permutation p-values within their confidence intervals.
    func testMultilevelAgreesWithBruteForce() {
        var rng = SeededRNG(seed: 11)
        let n = 1000, k = 20
        let scores = (0..<n).map { _ in Float(rng.normal()) }
        let ranked = GSEA.RankedList(scores: scores)
        // A set drawn from the top third of the ranks: ES in the tail (p ~ 1e-4).
        var set = Set<Int>()
        while set.count < k { set.insert(Int(ranked.order[rng.below(420)])) }
        let pos = set.map { ranked.position[$0] }.sorted()
        let es = ranked.weight.withUnsafeBufferPointer { w in pos.withUnsafeBufferPointer { GSEA.score($0, w, n: n).es } }
        XCTAssertGreaterThan(es, 0)
        let draws = 300_000
        var hits = 0, nonNeg = 0
        var buf = [Int32](repeating: 0, count: k)
        var r2 = SeededRNG(seed: 12)
        ranked.weight.withUnsafeBufferPointer { w in
            for _ in 0..<draws {
                GSEA.randomSortedSet(k: k, n: n, into: &buf, rng: &r2)
                let e = buf.withUnsafeBufferPointer { GSEA.score($0, w, n: n).es }
                if e >= 0 { nonNeg += 1 }
                if e >= es { hits += 1 }
            }
        }
        let brute = Double(hits) / Double(nonNeg)
        XCTAssertGreaterThan(hits, 20, "the test set should have a p-value brute force can estimate")
        var r3 = SeededRNG(seed: 13)
        var estimates: [Double] = []
        for _ in 0..<5 {
            let (logP, _) = GSEA.multilevelLogP(target: es, k: k, weight: ranked.weight, n: n, rng: &r3)
            let pSign = GSEA.signProbability(k: k, weight: ranked.weight, n: n, samples: 2001, rng: &r3)
            estimates.append(exp(logP) / pSign)
        }
        let logMean = estimates.map { log($0) }.reduce(0, +) / 5
        // The multilevel estimator's spread is about a factor 1.5 at this depth; a factor 2 on the
        // mean of five runs is far outside its interval if the estimator were biased.
        XCTAssertLessThan(abs(logMean - log(brute)), log(2.0), "multilevel \(exp(logMean)) vs brute force \(brute)")
    }
}

#if canImport(Glibc)
import Glibc
#endif

final class GeneSetMatchingTests: XCTestCase {
    /// A GMT whose symbols differ from the model's only in case: not matched unless asked, and the
    /// report says why and what to do.
    func testCaseOnlyMatchesNeedIgnoreCase() {
        let genes = (0..<40).map { "Gene\($0)" }
        let sets = [GeneSet(name: "S", genes: genes.prefix(20).map { $0.uppercased() })]
        var o = GeneSetIndex.Options()
        o.minSize = 5
        let strict = GeneSetIndex(sets: sets, modelGenes: genes, options: o)
        XCTAssertTrue(strict.sets.isEmpty)
        XCTAssertTrue(strict.report.contains { $0.contains("20 gene-set entries match model genes only when case is ignored") })
        o.ignoreCase = true
        let folded = GeneSetIndex(sets: sets, modelGenes: genes, options: o)
        XCTAssertEqual(folded.sets.first?.members.count, 20)
    }

    /// Duplicate gene rows are scored once, with the largest-magnitude loading; unmapped rows are left out.
    func testDuplicatesAndUnmappedGenes() {
        let idx = GeneSetIndex(sets: [GeneSet(name: "S", genes: ["A", "B"])], modelGenes: ["A", "B", "A", ""], options: {
            var o = GeneSetIndex.Options(); o.minSize = 1; return o
        }())
        XCTAssertEqual(idx.genes, ["A", "B"])
        XCTAssertEqual(idx.geneScores { [0.5, 1, -2, 9][$0] }, [-2, 1])
        XCTAssertTrue(idx.report.contains { $0.contains("1 gene names occur on several rows") })
    }

    /// Tied loadings are ranked by gene order, so ties never make results depend on the run.
    func testTiesAreBrokenByGeneIndex() {
        let r = GSEA.RankedList(scores: [1, 2, 2, 0, 2])
        XCTAssertEqual(r.order, [1, 2, 4, 0, 3])
    }
}
