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
    /// Finishes entries in the background (see `EntryWriter`).
    private let writer = EntryWriter()
    /// Datasets a finished stage wrote (file name → dataset), kept for the stages downstream
    /// until every one of them has started; indexed by instance.
    private var memory: [Int: [String: Dataset]] = [:]
    /// For each instance, the instances that read it.
    private var dependents: [Int: [Int]] = [:]
    /// Background writes that failed (or were abandoned after an upstream one failed): the row's
    /// final status and reason, applied when the writer has drained.
    private var writeOutcomes: [Int: (Status, String)] = [:]

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
        dependents = [:]
        for inst in plan.instances {
            for d in inst.dependencies { dependents[d, default: []].append(inst.index) }
        }
        defer { memory = [:] }
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
        // Every entry is on disk (or failed) before the run reports anything.
        writer.drain()
        state.lock()
        for (i, outcome) in writeOutcomes {
            rows[i].status = outcome.0
            rows[i].reason = outcome.1
        }
        writeOutcomes = [:]
        state.unlock()
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
                // A built entry is linked by its background write, once it is in place.
                if result.status != .ran { try link(result.instance) }
            } catch let e as UpstreamWriteFailed {
                state.lock()
                rows[next].status = .skipped
                rows[next].reason = "input \(plan.instances[e.instance].display) failed"
                failed.insert(next)
                finished.insert(next)
                releaseMemory(after: next)
                state.broadcast()
                continue
            } catch {
                state.lock()
                if failure == nil { failure = error }
                rows[next].status = .failed
                rows[next].reason = "\(error)"
                failed.insert(next)
                finished.insert(next)
                releaseMemory(after: next)
                state.broadcast()
                continue
            }
            state.lock()
            rows[next] = result
            finished.insert(next)
            releaseMemory(after: next)
            state.broadcast()
        }
        state.broadcast()
        state.unlock()
    }

    /// Datasets of `upstream` nobody downstream still has to start with: dropped (the writer
    /// keeps its own reference until the file is written). Called under `state`.
    private func releaseMemory(after index: Int) {
        for d in plan.instances[index].dependencies where memory[d] != nil {
            if (dependents[d] ?? []).allSatisfy(finished.contains) { memory[d] = nil }
        }
    }

    /// An input's entry could not be written in the background, so this stage cannot start.
    struct UpstreamWriteFailed: Error { var instance: Int }

    /// Runs the stage in a fresh directory and hands the entry to the background writer, which
    /// writes its h5ad outputs, the manifest, renames it into place and links it, while this
    /// thread goes on to the next stage with the outputs in memory. The entry's lock is held
    /// until the rename (the writer releases it), so another run waiting for it finds it whole.
    private func build(_ row: Row, threads: Int, measurePeak: Bool) throws -> Row {
        let inst = row.instance
        let adapter = StageRegistry.adapter(inst.type)!
        let lock = try EntryLock.acquire(cache.lockPath(inst.key))
        var lockHandedOver = false
        defer { if !lockHandedOver { lock.release() } }
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
        var upstreamKeys: [String] = []
        for slot in adapter.inputs {
            guard let list = inst.inputs[slot.name] else { continue }
            var paths: [String] = []
            var entries: [String] = []
            var stageType: String?
            var loadingsKey: String?
            var scoresKey: String?
            var dataset: Dataset?
            for input in list {
                switch input {
                case .file(let path, _): paths.append(path)
                case .instance(let u):
                    let up = plan.instances[u]
                    let upAdapter = StageRegistry.adapter(up.type)!
                    guard let out = upAdapter.outputs.first(where: { $0.kinds.contains(slot.accepts) }) else {
                        throw LatentError.badInput(plan.pipeline.file, "\(inst.line)", "stage '\(inst.name)' reads \(slot.accepts.rawValue) from '\(up.name)', which writes none")
                    }
                    upstreamKeys.append(up.key)
                    state.lock()
                    let kept = list.count == 1 && adapter.memoryInputs.contains(slot.name) ? memory[u]?[out.name] : nil
                    state.unlock()
                    if let kept {
                        dataset = kept
                    } else {
                        // Read from disk: wait until the upstream entry is there.
                        do { try writer.waitCommitted(up.key) } catch { throw UpstreamWriteFailed(instance: u) }
                    }
                    paths.append(cache.entry(up.key) + "/" + out.name)
                    entries.append(cache.entry(up.key))
                    stageType = up.type
                    loadingsKey = out.loadingsKey
                    scoresKey = out.scoresKey
                }
            }
            inputs[slot.name] = ResolvedInput(paths: paths, entries: entries, stageType: stageType, loadingsKey: loadingsKey,
                                              scoresKey: scoresKey, dataset: dataset)
        }
        let seed = UInt64(inst.parameters["seed"]?.intValue ?? Int64(plan.pipeline.seed))
        let dir = try cache.makeTemporary(inst.key)
        let quiet = options.quiet
        let sink = note
        let label = "\(plan.pipeline.file):\(inst.line): stage \(inst.display)"
        let produced = StageOutputs()
        var context = StageContext(directory: dir, parameters: inst.parameters, inputs: inputs, seed: seed, threads: threads,
                                   toolVersion: options.toolVersion, label: label,
                                   note: { msg in if !quiet { sink("\(inst.display): \(msg)") } })
        context.outputs = produced
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
        let peakRSS = ResourceUsage.peakRSSMB()
        let pending = produced.pending
        let entry = cache.entry(inst.key)
        if !(dependents[inst.index] ?? []).isEmpty && !pending.isEmpty {
            state.lock()
            memory[inst.index] = Dictionary(pending.map { ($0.name, StageIO.handoff($0.dataset, storedAt: entry + "/" + $0.name)) },
                                            uniquingKeysWith: { a, _ in a })
            state.unlock()
        }
        let index = inst.index
        let outputs = adapter.outputs.map(\.name)
        let manifestThreads = threads
        let job = EntryWriter.Job(key: inst.key, dependsOn: upstreamKeys, body: { [self] in
            let w0 = DispatchTime.now().uptimeNanoseconds
            for p in pending {
                do {
                    try H5AD.write(StageIO.resolveStored(p.dataset), to: dir + "/" + p.name, compression: p.compression)
                } catch let e as LatentError {
                    throw attribute(e, to: inst)
                }
            }
            let writeSeconds = Double(DispatchTime.now().uptimeNanoseconds - w0) / 1e9
            if let missing = outputs.first(where: { !FileManager.default.fileExists(atPath: dir + "/" + $0) }) {
                throw LatentError.internalFailure("stage \(inst.display) (\(inst.type)) finished without writing \(missing)")
            }
            var manifest = Manifest.make(inst, plan: plan, outputs: outputs, version: adapter.version, toolVersion: options.toolVersion,
                                         threads: manifestThreads, wallSeconds: seconds, peakRSSMB: peakRSS)
            if case .object(var o) = manifest {
                // The h5ad writes, done in the background while later stages ran.
                o["write_s"] = .double((writeSeconds * 1000).rounded() / 1000)
                manifest = .object(o)
            }
            guard FileManager.default.createFile(atPath: dir + "/" + Manifest.fileName, contents: Data(manifest.pretty.utf8)) else {
                throw LatentError.internalFailure("cannot write the manifest in \(dir)")
            }
            try cache.commit(dir, key: inst.key)
            state.lock()
            builtKeys.insert(inst.key)
            state.unlock()
            try link(inst)
        }, done: { [self] error, abandoned in
            defer { lock.release() }
            guard let error else { return }
            try? FileManager.default.removeItem(atPath: dir)
            state.lock()
            if let abandoned, let u = plan.instances.first(where: { $0.key == abandoned }) {
                writeOutcomes[index] = (.skipped, "input \(u.display) failed")
            } else {
                writeOutcomes[index] = (.failed, "\(error)")
                if failure == nil { failure = error }
            }
            failed.insert(index)
            state.broadcast()
            state.unlock()
        })
        lockHandedOver = true
        writer.enqueue(job)
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
