import Dispatch
import Foundation
import LatentCore
import LatentIO

/// Runs a plan against a cache: skips instances whose entry exists, builds the rest in
/// dependency order (independent ones in parallel with `jobs`), and links every instance into
/// the results view.
public final class Runner: @unchecked Sendable {
    public struct Options: Sendable {
        public var results: String
        public var force: Set<String> = []
        public var jobs = 1
        /// Total threads, shared among the parallel jobs.
        public var threads = 1
        public var dryRun = false
        /// After a failure, go on with the instances that do not depend on it (Snakemake's
        /// --keep-going); otherwise start nothing new.
        public var keepGoing = false
        public var quiet = false
        public var toolVersion = "unknown"
        public init(results: String) { self.results = results }
    }

    public enum Status: String, Sendable {
        case cached, run, ran, failed, skipped
    }

    public struct Row: Sendable {
        public var instance: Plan.Instance
        public var status: Status
        public var reason: String
        public var path: String
        public var seconds: Double?
    }

    public let plan: Plan
    public let cache: Cache
    public let options: Options
    public var note: @Sendable (String) -> Void = { printError($0) }

    private let state = NSCondition()
    private var rows: [Row] = []
    private var started: Set<Int> = []
    private var finished: Set<Int> = []
    private var failed: Set<Int> = []
    private var forced: Set<Int> = []
    private var builtKeys: Set<String> = []
    private var failure: Error?

    public init(plan: Plan, cache: Cache, options: Options) {
        self.plan = plan
        self.cache = cache
        self.options = options
    }

    /// What would run and why, without running it.
    public func status() throws -> [Row] {
        let known = Set(plan.pipeline.stages.map(\.name))
        for f in options.force where !known.contains(f) {
            throw LatentError.badInput(plan.pipeline.file, nil, "--force \(f): no stage of that name", hint: "stages: \(known.sorted().joined(separator: ", "))")
        }
        let forced = plan.descendants(of: options.force)
        self.forced = forced
        var out: [Row] = []
        var willRun = Set<Int>()
        for inst in plan.instances {
            let path = cache.entry(inst.key)
            if forced.contains(inst.index) {
                let why = options.force.contains(inst.name) ? "forced (--force \(inst.name))" : "forced: downstream of --force \(options.force.sorted().joined(separator: ","))"
                out.append(Row(instance: inst, status: .run, reason: why, path: path))
                willRun.insert(inst.index)
            } else if cache.has(inst.key) {
                out.append(Row(instance: inst, status: .cached, reason: "entry exists", path: path))
            } else {
                out.append(Row(instance: inst, status: .run, reason: reason(inst, willRun: willRun), path: path))
                willRun.insert(inst.index)
            }
        }
        return out
    }

    /// Why an instance has no entry: compared with the entry the results view last linked for
    /// the same stage and grid values, when there is one.
    func reason(_ inst: Plan.Instance, willRun: Set<Int>) -> String {
        let link = options.results + "/" + inst.name + "/" + inst.resultName
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: link),
              let data = FileManager.default.contents(atPath: target + "/" + Manifest.fileName),
              let old = try? JSONValue.parse(data) else {
            return "not built before"
        }
        var why: [String] = []
        if old["stage"]?.stringValue != inst.type { why.append("stage type \(old["stage"]?.stringValue ?? "?") → \(inst.type)") }
        if let v = old["version"]?.intValue, v != Int64(StageRegistry.adapter(inst.type)?.version ?? 0) {
            why.append("stage version \(v) → \(StageRegistry.adapter(inst.type)?.version ?? 0)")
        }
        let oldParams = old["parameters"]?.objectValue ?? [:]
        let newParams = inst.parameters.filter { $0.value != .null }
        for k in Set(oldParams.keys).union(newParams.keys).sorted() where oldParams[k] != newParams[k] {
            why.append("\(k): \(oldParams[k]?.canonical ?? "unset") → \(newParams[k]?.canonical ?? "unset")")
        }
        for (slot, list) in inst.inputs.sorted(by: { $0.key < $1.key }) {
            for (i, input) in list.enumerated() {
                let name = i == 0 ? slot : "\(slot).\(i)"
                let was = old["inputs"]?[name]
                switch input {
                case .instance(let u):
                    if was?["key"]?.stringValue != plan.instances[u].key {
                        why.append(willRun.contains(u) ? "input \(name): \(plan.instances[u].display) reruns" : "input \(name): \(plan.instances[u].display) changed")
                    }
                case .file(let path, let sha):
                    if was?["sha256"]?.stringValue != sha { why.append("input \(name): \((path as NSString).lastPathComponent) changed") }
                }
            }
        }
        return why.isEmpty ? "no entry (removed from the cache)" : why.joined(separator: "; ")
    }

    /// Runs everything not cached. Returns one row per instance, in plan order; throws the
    /// first stage failure (see `runAll` for the rows of a failed run).
    public func run() throws -> [Row] {
        let (rows, error) = try runAll()
        if let error { throw error }
        return rows
    }

    /// Runs everything not cached; the rows say what ran, failed or was skipped because an
    /// input failed, and the error is the first failure.
    public func runAll() throws -> (rows: [Row], error: Error?) {
        let initial = try status()
        if options.dryRun { return (initial, nil) }
        cache.removeAbandoned()
        rows = initial
        let jobs = max(1, min(options.jobs, plan.instances.count))
        let threadsPerJob = Runner.threadsPerJob(threads: options.threads, jobs: options.jobs)
        Runtime.configureBLAS(threads: threadsPerJob)
        IOSettings.threads = threadsPerJob
        if jobs == 1 {
            worker(threads: threadsPerJob, measurePeak: true)
        } else {
            let group = DispatchGroup()
            for _ in 0..<jobs {
                group.enter()
                let t = Thread { [self] in
                    worker(threads: threadsPerJob, measurePeak: false)
                    group.leave()
                }
                t.stackSize = 16 << 20     // as the main thread's: stages may recurse (trees, sorts)
                t.start()
            }
            group.wait()
        }
        for i in rows.indices where !finished.contains(i) && rows[i].status != .failed {
            rows[i].status = .skipped
            rows[i].reason = "not started after a failure"
        }
        return (rows, failure)
    }

    /// Threads each parallel job gets: the total shared evenly, at least one.
    public static func threadsPerJob(threads: Int, jobs: Int) -> Int { max(1, threads / max(1, jobs)) }

    private func worker(threads: Int, measurePeak: Bool) {
        state.lock()
        while true {
            if (failure != nil && !options.keepGoing) || finished.count == rows.count { break }
            guard let next = rows.indices.first(where: { i in
                !started.contains(i) && rows[i].instance.dependencies.allSatisfy(finished.contains)
            }) else {
                state.wait()
                continue
            }
            started.insert(next)
            if let bad = rows[next].instance.dependencies.first(where: failed.contains) {
                rows[next].status = .skipped
                rows[next].reason = "input \(plan.instances[bad].display) failed"
                failed.insert(next)
                finished.insert(next)
                state.broadcast()
                continue
            }
            let row = rows[next]
            state.unlock()
            var result = row
            do {
                if row.status == .run {
                    result = try build(row, threads: threads, measurePeak: measurePeak)
                }
                try link(result.instance)
            } catch {
                state.lock()
                if failure == nil { failure = error }
                rows[next].status = .failed
                rows[next].reason = "\(error)"
                failed.insert(next)
                finished.insert(next)
                state.broadcast()
                continue
            }
            state.lock()
            rows[next] = result
            finished.insert(next)
            state.broadcast()
        }
        state.broadcast()
        state.unlock()
    }

    private func build(_ row: Row, threads: Int, measurePeak: Bool) throws -> Row {
        let inst = row.instance
        let adapter = StageRegistry.adapter(inst.type)!
        let lock = try EntryLock.acquire(cache.lockPath(inst.key))
        defer { lock.release() }
        state.lock()
        let builtHere = builtKeys.contains(inst.key)
        state.unlock()
        let forced = self.forced.contains(inst.index)
        if cache.has(inst.key) && (!forced || builtHere) {
            var r = row
            r.status = .cached
            r.reason = builtHere ? "built earlier in this run" : "built by another run meanwhile"
            return r
        }
        if !options.quiet && Runtime.stderrIsTerminal { note("latent run: \(inst.display) (\(inst.type)): \(row.reason)") }
        var inputs: [String: ResolvedInput] = [:]
        for slot in adapter.inputs {
            guard let list = inst.inputs[slot.name] else { continue }
            var paths: [String] = []
            var entries: [String] = []
            var stageType: String?
            var loadingsKey: String?
            var scoresKey: String?
            for input in list {
                switch input {
                case .file(let path, _): paths.append(path)
                case .instance(let u):
                    let up = plan.instances[u]
                    let upAdapter = StageRegistry.adapter(up.type)!
                    guard let out = upAdapter.outputs.first(where: { $0.kinds.contains(slot.accepts) }) else {
                        throw LatentError.badInput(plan.pipeline.file, "\(inst.line)", "stage '\(inst.name)' reads \(slot.accepts.rawValue) from '\(up.name)', which writes none")
                    }
                    paths.append(cache.entry(up.key) + "/" + out.name)
                    entries.append(cache.entry(up.key))
                    stageType = up.type
                    loadingsKey = out.loadingsKey
                    scoresKey = out.scoresKey
                }
            }
            inputs[slot.name] = ResolvedInput(paths: paths, entries: entries, stageType: stageType, loadingsKey: loadingsKey, scoresKey: scoresKey)
        }
        let seed = UInt64(inst.parameters["seed"]?.intValue ?? Int64(plan.pipeline.seed))
        let dir = try cache.makeTemporary(inst.key)
        let quiet = options.quiet
        let sink = note
        let label = "\(plan.pipeline.file):\(inst.line): stage \(inst.display)"
        let context = StageContext(directory: dir, parameters: inst.parameters, inputs: inputs, seed: seed, threads: threads,
                                   toolVersion: options.toolVersion, label: label,
                                   note: { msg in if !quiet { sink("\(inst.display): \(msg)") } })
        if measurePeak { ResourceUsage.resetPeak() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        do {
            try adapter.run(context)
        } catch let e as LatentError {
            try? FileManager.default.removeItem(atPath: dir)
            throw attribute(e, to: inst)
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let outputs = adapter.outputs.map(\.name)
        if let missing = outputs.first(where: { !FileManager.default.fileExists(atPath: dir + "/" + $0) }) {
            try? FileManager.default.removeItem(atPath: dir)
            throw LatentError.internalFailure("stage \(inst.display) (\(inst.type)) finished without writing \(missing)")
        }
        let manifest = Manifest.make(inst, plan: plan, outputs: outputs, version: adapter.version, toolVersion: options.toolVersion,
                                     threads: threads, wallSeconds: seconds, peakRSSMB: ResourceUsage.peakRSSMB())
        guard FileManager.default.createFile(atPath: dir + "/" + Manifest.fileName, contents: Data(manifest.pretty.utf8)) else {
            throw LatentError.internalFailure("cannot write the manifest in \(dir)")
        }
        try cache.commit(dir, key: inst.key)
        state.lock()
        builtKeys.insert(inst.key)
        state.unlock()
        if !options.quiet { note("latent run: \(inst.display): ran in \(String(format: "%.2f", seconds)) s") }
        var r = row
        r.status = .ran
        r.seconds = seconds
        return r
    }

    /// A stage's error as the user should read it: at the stage's line in the pipeline file
    /// when it names a cache path (meaningless to them) or no file, else at the external file
    /// it names, with the stage added.
    func attribute(_ e: LatentError, to inst: Plan.Instance) -> LatentError {
        var out = e
        if e.file == nil || e.file!.hasPrefix(cache.root + "/") {
            out.file = plan.pipeline.file
            out.place = "\(inst.line)"
            out.message = "stage \(inst.display): " + e.message
        } else {
            out.message = e.message + " (in stage \(inst.display), \(plan.pipeline.file):\(inst.line))"
        }
        return out
    }

    /// RESULTS/<name>/<grid values or "default"> → the entry, replaced atomically.
    private func link(_ inst: Plan.Instance) throws {
        let dir = options.results + "/" + inst.name
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw LatentError.badInput(options.results, nil, "cannot create the results directory", hint: "check --results")
        }
        let linkPath = dir + "/" + inst.resultName
        let tmp = dir + "/.\(inst.resultName).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard symlink(cache.entry(inst.key), tmp) == 0, rename(tmp, linkPath) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(tmp)
            throw LatentError.internalFailure("cannot link \(linkPath): \(reason)")
        }
    }
}
