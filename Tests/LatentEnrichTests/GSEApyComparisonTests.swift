import Foundation
import XCTest
@testable import LatentCore
@testable import LatentEnrich
@testable import LatentIO

/// latent's GSEA against GSEApy's prerank on the same real ranked lists and GMT (Fixtures/,
/// made by make_gsea_fixtures.py): identical enrichment scores, concordant NES, the same sets
/// significant except at the margin.
final class GSEApyComparisonTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Ref { var es: Double; var nes: Double; var p: Double; var fdr: Double; var lead: [String] }

    func reference() throws -> [String: [String: Ref]] {
        let text = try String(contentsOf: Self.fixtures.appendingPathComponent("gseapy_prerank.tsv"), encoding: .utf8)
        var out: [String: [String: Ref]] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            out[f[0], default: [:]][f[1]] = Ref(es: Double(f[2])!, nes: Double(f[3])!, p: Double(f[4])!, fdr: Double(f[5])!,
                                                 lead: f[6].split(separator: ";").map(String.init))
        }
        return out
    }

    func spearman(_ a: [Double], _ b: [Double]) -> Double {
        func ranks(_ x: [Double]) -> [Double] {
            let order = x.indices.sorted { x[$0] < x[$1] }
            var r = [Double](repeating: 0, count: x.count)
            for (k, i) in order.enumerated() { r[i] = Double(k) }
            return r
        }
        let ra = ranks(a), rb = ranks(b)
        let n = Double(a.count)
        let d2 = zip(ra, rb).reduce(0.0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        return 1 - 6 * d2 / (n * (n * n - 1))
    }

    func testAgainstGSEApyPrerank() throws {
        let loadings = try Loadings.read(table: Self.fixtures.appendingPathComponent("hsmm_pca_loadings.tsv").path)
        let sets = try GMT.read(Self.fixtures.appendingPathComponent("hsmm_sets.gmt").path)
        var p = EnrichParameters()
        p.permutations = 1000
        let rows = try EnrichStage.run(loadings, sets: sets, p, seed: 0, threads: 2).rows
        var ref = try reference()
        // GSEApy's "FDR q-val" is the GSEA paper's NES-based estimate, ours is Benjamini–Hochberg:
        // compare like with like by applying BH to GSEApy's nominal permutation p-values too.
        for (latent, sets) in ref {
            let names = Array(sets.keys)
            let q = benjaminiHochberg(names.map { max(sets[$0]!.p, 1.0 / 1001) })
            for (i, n) in names.enumerated() { ref[latent]![n]!.fdr = q[i] }
        }
        var ours: [Double] = [], theirs: [Double] = []
        var onlyOurs: [String] = [], onlyTheirs: [String] = []
        var compared = 0
        for r in rows {
            guard let g = ref[r.latent]?[r.geneSet] else { continue }
            compared += 1
            // Same ranked list, same weights: the enrichment score must agree to rounding.
            XCTAssertEqual(r.es!, g.es, accuracy: 1e-6, "\(r.latent) \(r.geneSet) ES")
            XCTAssertEqual(Set(r.leadingEdge), Set(g.lead), "\(r.latent) \(r.geneSet) leading edge")
            ours.append(r.nes!)
            theirs.append(g.nes)
            let sigOurs = r.padj < 0.05, sigTheirs = g.fdr < 0.05
            if sigOurs && !sigTheirs { onlyOurs.append("\(r.latent)/\(r.geneSet) ours \(r.padj) theirs \(g.fdr)") }
            if !sigOurs && sigTheirs { onlyTheirs.append("\(r.latent)/\(r.geneSet) ours \(r.padj) theirs \(g.fdr)") }
        }
        XCTAssertGreaterThanOrEqual(compared, 200, "every GSEApy row should have a latent counterpart")
        XCTAssertGreaterThanOrEqual(spearman(ours, theirs), 0.99, "NES rank correlation")
        // Two independent permutation nulls: calls may differ near 0.05, nowhere else. Every
        // disagreement has both adjusted p-values within [0.005, 0.25], and there are few.
        for d in onlyOurs + onlyTheirs {
            let values = d.split(separator: " ").compactMap { Double($0) }
            XCTAssertTrue(values.allSatisfy { $0 > 0.005 && $0 < 0.25 }, "disagreement away from the margin: \(d)")
        }
        XCTAssertLessThanOrEqual(onlyOurs.count + onlyTheirs.count, compared / 10,
                                 "significance calls differ for: \(onlyOurs + onlyTheirs)")
    }
}
