import Foundation
import LatentCore
import LatentIO
import LatentModels
import XCTest
@testable import LatentReport

/// The report's sections for `latent differential` and `latent consensus` tables found in a run
/// directory: the tables are attached, drawn and written beside the page.
final class ReportConsensusTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "latent-report-consensus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testDifferentialAndConsensusSections() throws {
        for (sub, seed) in [("s0", Int64(0)), ("s1", Int64(1))] {
            try FileManager.default.createDirectory(atPath: dir + "/" + sub, withIntermediateDirectories: true)
            try H5AD.write(ReportTests.vaeDataset(beta: 4, seed: seed), to: dir + "/\(sub)/embedding.h5ad")
        }
        // latent 0 follows obs "group" (B = 2 units above A): the test must call it
        let input = try DifferentialActivity.load(dir + "/s0")
        XCTAssertEqual(input.posterior.names, ["z0", "z1", "z2"])
        let grouping = try DifferentialActivity.grouping(input.dataset, column: "obs/group", file: input.path)
        let rows = try DifferentialActivity.test(input.posterior, grouping: grouping)
        XCTAssertEqual(rows.first { $0.group == "B" && $0.latent == 0 }?.direction, "up")
        try Data(DifferentialActivity.tsv(rows, groupby: grouping.column).utf8).write(to: URL(fileURLWithPath: dir + "/s0/differential.tsv"))

        let runs = try [dir + "/s0", dir + "/s1"].map { try Consensus.loadRun($0) }
        let consensus = try Consensus.compute(runs).rows
        XCTAssertEqual(consensus.count, 6)
        try Data(Consensus.tsv(consensus).utf8).write(to: URL(fileURLWithPath: dir + "/consensus.tsv"))

        let report = try Report.discover(dir)
        XCTAssertEqual(report.runs.map(\.id), ["s0", "s1"])
        XCTAssertEqual(report.runs[0].differential.count, rows.count)
        XCTAssertTrue(report.runs[1].differential.isEmpty)
        XCTAssertEqual(report.consensus.count, 6)
        let page = report.html()
        XCTAssertTrue(page.html.contains("<section id=\"consensus\">"))
        XCTAssertTrue(page.html.contains("href=\"#consensus\""))
        XCTAssertTrue(page.html.contains("<h4>Differential activity</h4>"))
        XCTAssertTrue(page.html.contains("log Bayes factor by group"))
        XCTAssertTrue(page.html.contains("Reproducibility across seeds: vae"))
        let names = page.tables.map(\.name)
        XCTAssertTrue(names.contains("consensus") && names.contains("differential"), "\(names)")
        XCTAssertEqual(page.tables.first { $0.name == "differential" }?.rows.count, rows.count)

        // without the tables: the consensus is computed from the runs found (the same numbers), and
        // there is no differential section
        try FileManager.default.removeItem(atPath: dir + "/consensus.tsv")
        try FileManager.default.removeItem(atPath: dir + "/s0/differential.tsv")
        let derived = try Report.discover(dir)
        XCTAssertEqual(derived.consensus.map(\.reproducibility), consensus.map(\.reproducibility))
        XCTAssertEqual(derived.consensus.map(\.consensus), consensus.map(\.consensus))
        XCTAssertEqual(derived.consensus.map(\.run), ["s0", "s0", "s0", "s1", "s1", "s1"])
        let plain = derived.html().html
        XCTAssertTrue(plain.contains("id=\"consensus\""))
        XCTAssertFalse(plain.contains("Differential activity"))
        // one seed only: no consensus
        try FileManager.default.removeItem(atPath: dir + "/s1")
        XCTAssertTrue(try Report.discover(dir).consensus.isEmpty)
        XCTAssertFalse(try Report.discover(dir).html().html.contains("id=\"consensus\""))
    }
}
