import Foundation
import XCTest
import LatentCore
@testable import LatentPipeline

/// Two tiny stages registered only here: `emit` writes its parameter, `sum` gathers every
/// `emit` instance of a sweep into one total. They exercise the runner without h5ad files.
enum EmitTestStage: StageAdapter {
    static let type = "emit-test"
    static let version = 1
    static let usesSeed = false
    static let parameters = [ParameterSpec("value", .int(min: nil, max: nil), default: .int(0))]
    static let inputs: [InputSlot] = []
    static let outputs = [OutputFile("value.txt", [.table])]
    static func run(_ c: StageContext) throws {
        try Data("\(c.int("value"))\n".utf8).write(to: URL(fileURLWithPath: c.output("value.txt")))
    }
}

enum SumTestStage: StageAdapter {
    static let type = "sum-test"
    static let version = 1
    static let usesSeed = false
    static let parameters: [ParameterSpec] = []
    static let inputs = [InputSlot("inputs", accepts: .table, allowsFile: false, gathers: true)]
    static let outputs = [OutputFile("sum.txt", [.table])]
    static func run(_ c: StageContext) throws {
        let input = try c.input("inputs")
        XCTAssertEqual(input.entries.count, input.paths.count)
        for e in input.entries { XCTAssertTrue(FileManager.default.fileExists(atPath: e + "/manifest.json")) }
        let total = try input.paths.map { Int(try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))! }.reduce(0, +)
        try Data("\(total)\n".utf8).write(to: URL(fileURLWithPath: c.output("sum.txt")))
    }
}

final class RunnerTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        StageRegistry.register(EmitTestStage.self)
        StageRegistry.register(SumTestStage.self)
        dir = NSTemporaryDirectory() + "runner-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func run(_ values: [Int], force: Set<String> = []) throws -> [Runner.Row] {
        let yaml = """
        stages:
          emit:
            stage: emit-test
            grid: {value: [\(values.map(String.init).joined(separator: ", "))]}
          total:
            stage: sum-test
            inputs: emit
        """
        let pipeline = try Pipeline.parse(yaml, file: dir + "/p.yaml")
        let cache = try Cache(dir + "/cache")
        let plan = try Plan(pipeline, hasher: FileHasher(memoDirectory: cache.hashes))
        var options = Runner.Options(results: dir + "/results")
        options.quiet = true
        options.force = force
        options.jobs = 2
        return try Runner(plan: plan, cache: cache, options: options).run()
    }

    func status(_ rows: [Runner.Row]) -> [String: Runner.Status] {
        Dictionary(uniqueKeysWithValues: rows.map { ($0.instance.display, $0.status) })
    }

    func testGatherRunsOnceOverTheWholeSweepAndReruns() throws {
        let first = try run([1, 2, 3])
        XCTAssertEqual(status(first), ["emit [value=1]": .ran, "emit [value=2]": .ran, "emit [value=3]": .ran, "total": .ran])
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/total/default/sum.txt", encoding: .utf8), "6\n")
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/emit/value=2/value.txt", encoding: .utf8), "2\n")

        XCTAssertEqual(Set(status(try run([1, 2, 3])).values), [.cached])

        let grown = try run([1, 2, 3, 10])
        XCTAssertEqual(status(grown), ["emit [value=1]": .cached, "emit [value=2]": .cached, "emit [value=3]": .cached,
                                       "emit [value=10]": .ran, "total": .ran])
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/total/default/sum.txt", encoding: .utf8), "16\n")

        let forced = try run([1, 2, 3, 10], force: ["total"])
        XCTAssertEqual(forced.filter { $0.status == .ran }.map(\.instance.name), ["total"])
    }

    func testManifestRecordsWhatMadeTheEntry() throws {
        let rows = try run([5])
        let total = try XCTUnwrap(rows.first { $0.instance.name == "total" })
        let m = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: total.path + "/manifest.json")))
        XCTAssertEqual(m["stage"], .string("sum-test"))
        XCTAssertEqual(m["name"], .string("total"))
        XCTAssertEqual(m["key"], .string(total.instance.key))
        XCTAssertEqual(m["outputs"], .array([.string("sum.txt")]))
        let emitKey = try XCTUnwrap(rows.first { $0.instance.name == "emit" }?.instance.key)
        XCTAssertEqual(m["inputs"]?["inputs"]?["key"], .string(emitKey))
        XCTAssertNotNil(m["wall_s"]?.doubleValue)
        XCTAssertNotNil(m["peak_rss_mb"]?.doubleValue)
        let emit = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: rows[0].path + "/manifest.json")))
        XCTAssertEqual(emit["instance"], .string("value=5"))
        XCTAssertEqual(emit["parameters"]?["value"], .int(5))
    }

    func testUnknownForceIsBadInput() throws {
        XCTAssertThrowsError(try run([1], force: ["nope"])) { e in
            XCTAssertTrue((e as? LatentError)?.description.contains("--force nope: no stage of that name") == true, "\(e)")
        }
    }

    func testAbandonedBuildsOfDeadProcessesAreRemoved() throws {
        let cache = try Cache(dir + "/cache")
        // pid 2^22 + 1 is above Linux's pid_max default (4,194,304), so no process has it.
        let dead = cache.tmp + "/abc.4194305.1"
        try FileManager.default.createDirectory(atPath: dead, withIntermediateDirectories: true)
        let mine = try cache.makeTemporary("def")
        XCTAssertEqual(cache.removeAbandoned(), 1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
        XCTAssertTrue(FileManager.default.fileExists(atPath: mine), "this process's own build stays")
    }
}
