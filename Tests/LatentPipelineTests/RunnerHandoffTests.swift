import Foundation
import XCTest
import LatentCore
import LatentIO
@testable import LatentPipeline

/// Test stages for the in-memory hand-off: `dataset-test` writes a small dataset through
/// `StageIO.write` (inconsistent on purpose when `broken` is set, so its background write fails),
/// `consume-test` takes it through `StageIO.read` and says where it came from.
enum DatasetTestStage: StageAdapter {
    static let type = "dataset-test"
    static let version = 1
    static let usesSeed = false
    static let parameters = [ParameterSpec("value", .double(min: nil, max: nil), default: .double(1)),
                             ParameterSpec("broken", .bool, default: .bool(false))]
    static let inputs: [InputSlot] = []
    static let outputs = [OutputFile("d.h5ad", [.dataset])]
    static func run(_ c: StageContext) throws {
        let v = Float(c.double("value"))
        var ds = Dataset(X: .dense(Matrix(rows: 3, cols: 2, values: [v, 2 * v, 3 * v, 4 * v, 5 * v, 6 * v])),
                         obs: DataFrame(index: ["a", "b", "c"]), var: DataFrame(index: ["g1", "g2"]))
        if c.bool("broken") { ds.obs = DataFrame(index: ["a", "b"]) }   // 2 obs rows for 3 cells: the writer refuses it
        try StageIO.write(ds, "d.h5ad", c)
    }
}

enum ConsumeTestStage: StageAdapter {
    static let type = "consume-test"
    static let version = 1
    static let usesSeed = false
    static let parameters: [ParameterSpec] = []
    static let inputs = [InputSlot("input", accepts: .dataset)]
    static let memoryInputs: Set<String> = ["input"]
    static let outputs = [OutputFile("out.txt", [.table])]
    static func run(_ c: StageContext) throws {
        let input = try c.input("input")
        let ds = try StageIO.read(input, c)
        guard case .dense(let m) = ds.X else { throw LatentError.internalFailure("expected dense X") }
        let from = input.dataset != nil ? "memory" : "file"
        try Data("\(from) \(m.values.reduce(0, +))\n".utf8).write(to: URL(fileURLWithPath: c.output("out.txt")))
    }
}

final class RunnerHandoffTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        StageRegistry.register(DatasetTestStage.self)
        StageRegistry.register(ConsumeTestStage.self)
        dir = NSTemporaryDirectory() + "handoff-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func runner(_ yaml: String, keepGoing: Bool = false) throws -> (Runner, Cache) {
        let pipeline = try Pipeline.parse(yaml, file: dir + "/p.yaml")
        let cache = try Cache(dir + "/cache")
        let plan = try Plan(pipeline, hasher: FileHasher(memoDirectory: cache.hashes))
        var options = Runner.Options(results: dir + "/results")
        options.quiet = true
        options.keepGoing = keepGoing
        return (Runner(plan: plan, cache: cache, options: options), cache)
    }

    func testNextStageGetsTheDatasetInMemoryAndTheEntryEqualsIt() throws {
        let (r, _) = try runner("""
        stages:
          make: {stage: dataset-test, params: {value: 2}}
          use: {stage: consume-test, input: make}
        """)
        let rows = try r.run()
        XCTAssertEqual(rows.map(\.status), [.ran, .ran])
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/use/default/out.txt", encoding: .utf8), "memory 42.0\n")
        // The entry on disk holds what was handed over.
        var warnings: [String] = []
        let written = try H5AD.read(dir + "/results/make/default/d.h5ad", warnings: &warnings)
        XCTAssertEqual(written.X, .dense(Matrix(rows: 3, cols: 2, values: [2, 4, 6, 8, 10, 12])))
        let m = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: dir + "/results/make/default/manifest.json")))
        XCTAssertNotNil(m["write_s"]?.doubleValue)

        // Cached upstream, rerun downstream: now read from the file, the same values.
        let (again, _) = try runner("""
        stages:
          make: {stage: dataset-test, params: {value: 2}}
          use: {stage: consume-test, input: make}
        """)
        let rerun = try again.run()
        XCTAssertEqual(rerun.map(\.status), [.cached, .cached])
    }

    func testFailedBackgroundWriteFailsTheRunAndLeavesNoEntry() throws {
        let (r, cache) = try runner("""
        stages:
          make: {stage: dataset-test, params: {broken: true}}
          use: {stage: consume-test, input: make}
          other: {stage: dataset-test, params: {value: 3}}
        """, keepGoing: true)
        let (rows, error) = try r.runAll()
        let e = try XCTUnwrap(error as? LatentError)
        XCTAssertTrue(e.description.contains("refusing to write inconsistent data"), e.description)
        XCTAssertFalse(e.description.contains("\n"), "one line")
        let status = Dictionary(uniqueKeysWithValues: rows.map { ($0.instance.name, $0.status) })
        XCTAssertEqual(status["make"], .failed)
        XCTAssertEqual(status["use"], .skipped, "\(rows.map(\.reason))")
        XCTAssertEqual(status["other"], .ran, "--keep-going: the independent stage is written")
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0.instance.name, $0.instance.key) })
        XCTAssertFalse(cache.has(byName["make"]!))
        XCTAssertFalse(cache.has(byName["use"]!), "a stage that used the failed dataset is not committed")
        XCTAssertTrue(cache.has(byName["other"]!))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: cache.tmp), [], "no temporary debris")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/results/make/default"))
        // The lock was released: a second run can take it (and fails the same way).
        let lock = try EntryLock.tryAcquire(cache.lockPath(byName["make"]!))
        XCTAssertNotNil(lock)
        lock?.release()
    }
}
