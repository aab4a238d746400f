import Foundation
import LatentCore
import LatentEnrich
import Yams

/// A pipeline file, read and checked: every stage's type, inputs and parameters are known and
/// well-typed before anything runs, and every error names FILE:LINE.
///
/// ```yaml
/// seed: 0                        # default for stages that draw random numbers
/// stages:
///   import:
///     input: ../Examples/hsmm/hsmm_trapnell2014.h5ad   # paths are relative to this file
///   normalize:
///     input: import              # a stage name: that stage's output
///     params: {method: log1p, min-cells: 3, hvg: 2000}
///   pca:
///     input: normalize
///     grid: {k: [10, 20]}        # one instance per value; downstream stages fan out with it
/// ```
/// A stage's type is its name unless `stage:` says otherwise, so one type can appear twice.
public struct Pipeline: Sendable {
    public struct Reference: Sendable, Equatable {
        public enum Target: Sendable, Equatable {
            case stage(String)
            case file(String)
        }
        public var target: Target
        /// As written in the file (for messages).
        public var text: String
        public var line: Int
    }

    public struct Stage: Sendable {
        public var name: String
        public var type: String
        public var line: Int
        /// Slot name → what feeds it (one entry, or several for list slots).
        public var inputs: [String: [Reference]]
        /// Given parameters (typed and checked), by canonical name.
        public var parameters: [String: JSONValue]
        public var parameterLines: [String: Int]
        /// Grid axes in file order: one stage instance per combination.
        public var grid: [(name: String, values: [JSONValue], line: Int)]
    }

    public var file: String
    public var directory: String
    public var seed: UInt64
    /// Whether the file sets `seed:` (else `latent run --seed` gives it).
    public var seedInFile = false
    /// In file order.
    public var stages: [Stage]

    public func stage(_ name: String) -> Stage? { stages.first { $0.name == name } }

    /// Reads and checks a pipeline file: types, parameters, inputs, cycles.
    public static func load(_ path: String) throws -> Pipeline {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LatentError.badInput(path, nil, "cannot read the pipeline file", hint: "check the path")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw LatentError.badInput(path, nil, "the pipeline file is not UTF-8 text")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> Pipeline {
        let root: Node
        do {
            guard let r = try Yams.compose(yaml: text) else {
                throw LatentError.badInput(file, "1", "the pipeline file is empty", hint: "it needs a 'stages:' mapping")
            }
            root = r
        } catch let e as YamlError {
            throw yamlError(e, file: file)
        }
        let dir = URL(fileURLWithPath: file).deletingLastPathComponent().path
        var p = Pipeline(file: file, directory: dir, seed: 0, stages: [])
        let top = try mapping(root, file: file, what: "the pipeline file")
        var stagesNode: Node?
        for (k, v) in top {
            switch k.value {
            case "seed":
                guard case .int(let s) = try convert(v, .int(min: 0, max: nil), file: file, what: "seed") else { continue }
                p.seed = UInt64(s)
                p.seedInFile = true
            case "stages": stagesNode = v
            case "name", "description": _ = try scalarString(v, file: file, what: k.value)
            default:
                throw LatentError.badInput(file, "\(k.line)", "unknown key '\(k.value)' at the top level",
                                           hint: "the top level holds name, description, seed and stages")
            }
        }
        guard let stagesNode else {
            throw LatentError.badInput(file, "\(line(root))", "no 'stages:' mapping", hint: "list the stages under 'stages:'")
        }
        let stageEntries = try mapping(stagesNode, file: file, what: "'stages'")
        if stageEntries.isEmpty { throw LatentError.badInput(file, "\(line(stagesNode))", "'stages' is empty") }
        let names = Set(stageEntries.map(\.key.value))
        for (k, v) in stageEntries {
            p.stages.append(try parseStage(name: k.value, line: k.line, v, stageNames: names, file: file, directory: dir))
        }
        try p.checkCycles()
        try p.checkKinds()
        return p
    }

    /// A stage reference must point at a stage that writes what the slot reads (enrich needs
    /// loadings, not a normalised matrix).
    func checkKinds() throws {
        for s in stages {
            let adapter = StageRegistry.adapter(s.type)!
            for slot in adapter.inputs {
                for r in s.inputs[slot.name] ?? [] {
                    guard case .stage(let up) = r.target, let u = stage(up), let ua = StageRegistry.adapter(u.type) else { continue }
                    if !ua.outputs.contains(where: { $0.kinds.contains(slot.accepts) }) {
                        let writes = ua.outputs.map(\.name).joined(separator: ", ")
                        throw LatentError.badInput(file, "\(r.line)", "'\(slot.name)' of stage '\(s.name)' needs \(slot.accepts.rawValue), but stage '\(up)' (\(u.type)) writes \(writes)",
                                                   hint: slot.accepts == .embedding ? "read a pca, ica, nmf or vae stage" : nil)
                    }
                }
            }
        }
    }

    // MARK: one stage

    static func parseStage(name: String, line: Int, _ node: Node, stageNames: Set<String>, file: String, directory: String) throws -> Stage {
        guard name.range(of: #"^[A-Za-z0-9_.-]+$"#, options: .regularExpression) != nil else {
            throw LatentError.badInput(file, "\(line)", "stage name '\(name)' may only hold letters, digits, '_', '-' and '.'")
        }
        let entries: [(key: (value: String, line: Int), value: Node)]
        if case .scalar(let s) = node, s.string.isEmpty || s.string == "~" || s.string == "null" {
            entries = []
        } else {
            entries = try mapping(node, file: file, what: "stage '\(name)'")
        }
        var type = name
        if let t = entries.first(where: { $0.key.value == "stage" }) {
            type = try scalarString(t.value, file: file, what: "'stage'")
        }
        guard let adapter = StageRegistry.adapter(type) else {
            let known = StageRegistry.all.map { $0.type }.sorted().joined(separator: ", ")
            let at = entries.first(where: { $0.key.value == "stage" }).map { Pipeline.line($0.value) } ?? line
            throw LatentError.badInput(file, "\(at)", "unknown stage '\(type)'",
                                       hint: entries.contains { $0.key.value == "stage" } ? "known stages: \(known)" : "name a known stage, or give its type with 'stage:' (known: \(known))")
        }
        var stage = Stage(name: name, type: type, line: line, inputs: [:], parameters: [:], parameterLines: [:], grid: [])
        let specs = Dictionary(uniqueKeysWithValues: adapter.allParameters.map { ($0.name, $0) })
        let slots = Dictionary(uniqueKeysWithValues: adapter.inputs.map { ($0.name, $0) })
        func spec(_ raw: String, at l: Int) throws -> ParameterSpec {
            if let s = specs[canonicalName(raw)] { return s }
            let known = adapter.allParameters.map(\.name).joined(separator: ", ")
            throw LatentError.badInput(file, "\(l)", "unknown parameter '\(raw)' for stage '\(name)' (\(type))",
                                       hint: known.isEmpty ? "\(type) takes no parameters" : "known: \(known)")
        }
        for (k, v) in entries {
            switch k.value {
            case "stage": continue
            case "params":
                for (pk, pv) in try mapping(v, file: file, what: "params of '\(name)'") {
                    let s = try spec(pk.value, at: pk.line)
                    if stage.parameters[s.name] != nil {
                        throw LatentError.badInput(file, "\(pk.line)", "parameter '\(s.name)' of stage '\(name)' is given twice")
                    }
                    stage.parameters[s.name] = try convert(pv, s.type, file: file, what: "parameter '\(s.name)' of stage '\(name)'")
                    stage.parameterLines[s.name] = pk.line
                }
            case "grid":
                for (gk, gv) in try mapping(v, file: file, what: "grid of '\(name)'") {
                    let s = try spec(gk.value, at: gk.line)
                    guard case .sequence(let seq) = gv, !seq.isEmpty else {
                        throw LatentError.badInput(file, "\(gk.line)", "grid '\(s.name)' of stage '\(name)' must be a non-empty list of values",
                                                   hint: "e.g. \(s.name): [1, 2, 3]")
                    }
                    var values: [JSONValue] = []
                    for item in seq {
                        let value = try convert(item, s.type, file: file, what: "grid value of '\(s.name)' in stage '\(name)'")
                        if values.contains(value) {
                            throw LatentError.badInput(file, "\(Pipeline.line(item))", "grid '\(s.name)' of stage '\(name)' lists \(value.canonical) twice")
                        }
                        values.append(value)
                    }
                    if stage.grid.contains(where: { $0.name == s.name }) {
                        throw LatentError.badInput(file, "\(gk.line)", "grid '\(s.name)' of stage '\(name)' is given twice")
                    }
                    stage.grid.append((s.name, values, gk.line))
                }
            default:
                guard let slot = slots[k.value] ?? slots[k.value.replacingOccurrences(of: "_", with: "-")] else {
                    let keys = (["stage", "params", "grid"] + adapter.inputs.map(\.name)).joined(separator: ", ")
                    if specs[canonicalName(k.value)] != nil {
                        throw LatentError.badInput(file, "\(k.line)", "'\(k.value)' of stage '\(name)' is a parameter", hint: "put it under 'params:'")
                    }
                    throw LatentError.badInput(file, "\(k.line)", "unknown key '\(k.value)' in stage '\(name)' (\(type))", hint: "known keys: \(keys)")
                }
                stage.inputs[slot.name] = try references(v, slot: slot, stage: name, stageNames: stageNames, file: file, directory: directory)
            }
        }
        for g in stage.grid where stage.parameters[g.name] != nil {
            throw LatentError.badInput(file, "\(g.line)", "'\(g.name)' of stage '\(name)' is both a parameter and a grid", hint: "give it in one place")
        }
        for slot in adapter.inputs where slot.required && stage.inputs[slot.name] == nil {
            throw LatentError.badInput(file, "\(line)", "stage '\(name)' (\(type)) needs '\(slot.name):'",
                                       hint: slot.allowsFile ? "name a stage or a file" : "name the stage whose output it reads")
        }
        return stage
    }

    static func references(_ node: Node, slot: InputSlot, stage: String, stageNames: Set<String>, file: String, directory: String) throws -> [Reference] {
        var items: [Node]
        if case .sequence(let seq) = node {
            guard slot.many else {
                throw LatentError.badInput(file, "\(line(node))", "'\(slot.name)' of stage '\(stage)' takes one input, not a list")
            }
            items = Array(seq)
        } else {
            items = [node]
        }
        if items.isEmpty { throw LatentError.badInput(file, "\(line(node))", "'\(slot.name)' of stage '\(stage)' is an empty list") }
        return try items.map { item in
            let text = try scalarString(item, file: file, what: "'\(slot.name)' of stage '\(stage)'")
            let l = line(item)
            if stageNames.contains(text) {
                if text == stage { throw LatentError.badInput(file, "\(l)", "cycle: stage '\(stage)' reads its own output") }
                return Reference(target: .stage(text), text: text, line: l)
            }
            guard slot.allowsFile else {
                throw LatentError.badInput(file, "\(l)", "missing input: no stage named '\(text)' for '\(slot.name)' of stage '\(stage)'",
                                           hint: "stages: \(stageNames.sorted().joined(separator: ", "))")
            }
            let path = text.hasPrefix("/") ? text : directory + "/" + text
            if FileManager.default.fileExists(atPath: path) {
                return Reference(target: .file(URL(fileURLWithPath: path).standardizedFileURL.path), text: text, line: l)
            }
            var shippedProblem = ""
            if slot.allowsShippedGeneSets {
                do {
                    let shipped = try Resources.resolveGeneSets(text)
                    if shipped != text, FileManager.default.fileExists(atPath: shipped) {
                        return Reference(target: .file(shipped), text: text, line: l)
                    }
                } catch let e as LatentError {
                    shippedProblem = "; as a shipped collection: " + e.message
                }
            }
            throw LatentError.badInput(file, "\(l)", "missing input: '\(text)' for '\(slot.name)' of stage '\(stage)' is neither a stage nor an existing file" + shippedProblem,
                                       hint: "paths are relative to the pipeline file's directory" + (slot.allowsShippedGeneSets ? "; shipped gene sets: go_bp, go_mf, go_cc, positional, progeny_top100" : ""))
        }
    }

    // MARK: cycles

    func checkCycles() throws {
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0.name, $0) })
        var state: [String: Int] = [:]   // 1 = on the current path, 2 = done
        var path: [String] = []
        func visit(_ name: String) throws {
            if state[name] == 2 { return }
            if state[name] == 1 {
                let cycle = path.drop { $0 != name } + [name]
                let s = byName[name]!
                throw LatentError.badInput(file, "\(s.line)", "cycle: " + cycle.joined(separator: " → "),
                                           hint: "a stage cannot depend on its own output")
            }
            state[name] = 1
            path.append(name)
            for refs in byName[name]!.inputs.values.sorted(by: { $0.first?.line ?? 0 < $1.first?.line ?? 0 }) {
                for r in refs { if case .stage(let up) = r.target { try visit(up) } }
            }
            path.removeLast()
            state[name] = 2
        }
        for s in stages { try visit(s.name) }
    }

    // MARK: YAML helpers

    /// The flag spelling is canonical (`min-cells`); `min_cells` is accepted as the same name.
    static func canonicalName(_ s: String) -> String { s.replacingOccurrences(of: "_", with: "-") }

    static func line(_ n: Node) -> Int { n.mark?.line ?? 1 }

    static func mapping(_ n: Node, file: String, what: String) throws -> [(key: (value: String, line: Int), value: Node)] {
        guard case .mapping(let m) = n else {
            throw LatentError.badInput(file, "\(line(n))", "\(what) must be a mapping (key: value lines)")
        }
        var out: [(key: (value: String, line: Int), value: Node)] = []
        var seen: [String: Int] = [:]
        for (k, v) in m {
            let key = try scalarString(k, file: file, what: "a key in \(what)")
            if let first = seen[key] {
                throw LatentError.badInput(file, "\(line(k))", "'\(key)' appears twice in \(what) (first on line \(first))")
            }
            seen[key] = line(k)
            out.append(((key, line(k)), v))
        }
        return out
    }

    static func scalarString(_ n: Node, file: String, what: String) throws -> String {
        guard case .scalar(let s) = n else {
            throw LatentError.badInput(file, "\(line(n))", "\(what) must be a single value")
        }
        return s.string
    }

    /// A YAML value as the parameter's exact type. Quoted scalars are strings, so `"10"` is not
    /// accepted where an integer is expected.
    static func convert(_ n: Node, _ type: ParameterType, file: String, what: String) throws -> JSONValue {
        func bad(_ shown: String) -> LatentError {
            LatentError.badInput(file, "\(line(n))", "\(what) must be \(type.description), not \(shown)")
        }
        if case .list(let element) = type {
            let items: [Node]
            if case .sequence(let seq) = n { items = Array(seq) } else { items = [n] }
            return .array(try items.map { try convert($0, element, file: file, what: what) })
        }
        guard case .scalar(let s) = n else { throw bad(n.mapping != nil ? "a mapping" : "a list") }
        let plain = s.style == .plain
        let text = s.string
        if plain && (text == "~" || text == "null" || text.isEmpty) { return .null }
        switch type {
        case .int(let lo, let hi):
            guard plain, let v = Int64(text) else { throw bad("'\(text)'") }
            if let lo, v < lo { throw bad("\(v)") }
            if let hi, v > hi { throw bad("\(v)") }
            return .int(v)
        case .double(let lo, let hi):
            guard plain, let v = Double(text), v.isFinite else { throw bad("'\(text)'") }
            if let lo, v < lo { throw bad("\(text)") }
            if let hi, v > hi { throw bad("\(text)") }
            return .double(v)
        case .bool:
            guard plain else { throw bad("'\(text)'") }
            switch text.lowercased() {
            case "true", "yes", "on": return .bool(true)
            case "false", "no", "off": return .bool(false)
            default: throw bad("'\(text)'")
            }
        case .string:
            return .string(text)
        case .choice(let options):
            guard options.contains(text) else { throw bad("'\(text)'") }
            return .string(text)
        case .list:
            fatalError("handled above")
        }
    }

    static func yamlError(_ e: YamlError, file: String) -> LatentError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return LatentError.badInput(file, "\(mark.line)", "not valid YAML: \(problem)")
        case .reader(let problem, _, _, _):
            return LatentError.badInput(file, nil, "not valid YAML: \(problem)")
        default:
            return LatentError.badInput(file, nil, "not valid YAML: \(e)")
        }
    }
}
