import Foundation
import LatentCore

/// A pipeline expanded into stage instances (one per grid combination, fanned out downstream),
/// in an order where every instance comes after its inputs, each with its cache key.
public struct Plan: Sendable {
    /// A grid value an instance carries: set on `origin` (the stage that declared the grid),
    /// inherited by everything downstream.
    public struct Binding: Sendable, Equatable {
        public var origin: String
        public var parameter: String
        public var value: JSONValue
    }

    public enum Input: Sendable, Equatable {
        case instance(Int)
        case file(path: String, sha256: String)
    }

    public struct Instance: Sendable {
        public var index: Int
        public var name: String
        public var type: String
        public var line: Int
        public var bindings: [Binding]
        /// "beta=4,seed=0", or "" without a grid.
        public var label: String
        /// Every parameter with defaults filled in (null = not set), plus `seed` where it matters.
        public var parameters: [String: JSONValue]
        public var inputs: [String: [Input]]
        public var key: String
        public var dependencies: [Int] {
            inputs.values.flatMap { $0 }.compactMap { if case .instance(let i) = $0 { return i } else { return nil } }
        }
        /// For messages: `normalize`, `vae [beta=4,seed=0]`.
        public var display: String { label.isEmpty ? name : "\(name) [\(label)]" }
        public var resultName: String { label.isEmpty ? "default" : label.replacingOccurrences(of: "/", with: "_") }
    }

    public var pipeline: Pipeline
    public var instances: [Instance]

    /// Expands the grids and computes every key. External files are content-hashed (through
    /// `hasher`'s memo, so an unchanged file is not read again).
    /// `threads`: the threads each stage will run with. Stages whose outputs depend on the thread
    /// count (BLAS-heavy models: OpenBLAS's results differ in the last bits between thread
    /// counts) carry it in their key, so a cache never mixes them.
    public init(_ pipeline: Pipeline, hasher: FileHasher, threads: Int? = nil) throws {
        self.pipeline = pipeline
        self.instances = []
        var byStage: [String: [Int]] = [:]
        for stage in try Plan.order(pipeline) {
            let adapter = StageRegistry.adapter(stage.type)!
            // Every choice of one upstream instance per stage reference, kept only when the
            // instances agree on the grid values they share (so a stage reading two branches of
            // the same sweep pairs them instead of crossing them).
            var combos: [(inputs: [String: [Input]], bindings: [Binding])] = [([:], [])]
            for slot in adapter.inputs {
                guard let refs = stage.inputs[slot.name] else { continue }
                for ref in refs {
                    switch ref.target {
                    case .file(let path):
                        let sha = try hasher.hash(path, file: pipeline.file, line: ref.line)
                        for c in combos.indices { combos[c].inputs[slot.name, default: []].append(.file(path: path, sha256: sha)) }
                    case .stage(let up) where slot.gathers:
                        // Every instance of the upstream stage, in plan order, without its grid values.
                        for c in combos.indices {
                            combos[c].inputs[slot.name, default: []] += (byStage[up] ?? []).map { .instance($0) }
                        }
                    case .stage(let up):
                        var next: [(inputs: [String: [Input]], bindings: [Binding])] = []
                        for c in combos {
                            for u in byStage[up] ?? [] {
                                guard let merged = Plan.merge(c.bindings, instances[u].bindings) else { continue }
                                var ins = c.inputs
                                ins[slot.name, default: []].append(.instance(u))
                                next.append((ins, merged))
                            }
                        }
                        combos = next
                    }
                }
            }
            // Then this stage's own grid, in file order (the last axis varies fastest).
            for axis in stage.grid {
                combos = combos.flatMap { c in
                    axis.values.map { v in (c.inputs, c.bindings + [Binding(origin: stage.name, parameter: axis.name, value: v)]) }
                }
            }
            for c in combos {
                var params: [String: JSONValue] = [:]
                for spec in adapter.allParameters { params[spec.name] = spec.defaultValue ?? .null }
                if adapter.usesSeed { params["seed"] = .int(Int64(pipeline.seed)) }
                for (k, v) in stage.parameters { params[k] = v }
                for b in c.bindings where b.origin == stage.name { params[b.parameter] = b.value }
                if let problem = adapter.check(params) {
                    let label = Plan.label(c.bindings)
                    throw LatentError.badInput(pipeline.file, "\(stage.line)", "stage '\(stage.name)'\(label.isEmpty ? "" : " [\(label)]"): \(problem)")
                }
                var inst = Instance(index: instances.count, name: stage.name, type: stage.type, line: stage.line,
                                    bindings: c.bindings, label: Plan.label(c.bindings), parameters: params,
                                    inputs: c.inputs, key: "")
                inst.key = Plan.key(type: adapter.type, version: adapter.version, parameters: params,
                                    threads: adapter.threadSensitive ? threads : nil,
                                    inputs: inst.inputs.mapValues { $0.map { input in
                                        switch input {
                                        case .instance(let i): return .object(["key": .string(instances[i].key)])
                                        case .file(_, let sha): return .object(["sha256": .string(sha)])
                                        }
                                    } })
                byStage[stage.name, default: []].append(inst.index)
                instances.append(inst)
            }
        }
    }

    /// The key: SHA-256 of the canonical JSON of what determines the output bytes. The stage's
    /// name in the file is not part of it (renaming a stage keeps its cache), nor the tool version
    /// (the stage version covers it); threads only for the stages whose outputs depend on them.
    public static func key(type: String, version: Int, parameters: [String: JSONValue], threads: Int? = nil,
                           inputs: [String: [JSONValue]]) -> String {
        var fields: [String: JSONValue] = [
            "stage": .string(type),
            "version": .int(Int64(version)),
            "parameters": .object(parameters.filter { $0.value != .null }),
            "inputs": .object(inputs.mapValues { .array($0) }),
        ]
        if let threads { fields["threads"] = .int(Int64(threads)) }
        let doc = JSONValue.object(fields)
        return SHA256.hex(Array(doc.canonical.utf8))
    }

    static func merge(_ a: [Binding], _ b: [Binding]) -> [Binding]? {
        var out = a
        for x in b {
            if let y = a.first(where: { $0.origin == x.origin && $0.parameter == x.parameter }) {
                if y.value != x.value { return nil }
            } else {
                out.append(x)
            }
        }
        return out
    }

    static func label(_ bindings: [Binding]) -> String {
        let counts = Dictionary(bindings.map { ($0.parameter, 1) }, uniquingKeysWith: +)
        return bindings.map { b in
            (counts[b.parameter]! > 1 ? "\(b.origin).\(b.parameter)" : b.parameter) + "=" + b.value.label
        }.joined(separator: ",")
    }

    /// Stages ordered so that inputs come first; ties keep file order.
    static func order(_ p: Pipeline) throws -> [Pipeline.Stage] {
        var done = Set<String>()
        var out: [Pipeline.Stage] = []
        var remaining = p.stages
        while !remaining.isEmpty {
            guard let i = remaining.firstIndex(where: { s in
                s.inputs.values.allSatisfy { $0.allSatisfy { r in
                    if case .stage(let up) = r.target { return done.contains(up) } else { return true }
                } }
            }) else {
                throw LatentError.badInput(p.file, "\(remaining[0].line)", "cycle among stages " + remaining.map(\.name).joined(separator: ", "))
            }
            let s = remaining.remove(at: i)
            done.insert(s.name)
            out.append(s)
        }
        return out
    }

    /// Instances of the named stages and everything downstream of them.
    public func descendants(of names: Set<String>) -> Set<Int> {
        var out = Set<Int>()
        for inst in instances where names.contains(inst.name) || inst.dependencies.contains(where: out.contains) {
            out.insert(inst.index)
        }
        return out
    }
}
