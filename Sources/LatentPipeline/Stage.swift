import Foundation
import LatentCore
import LatentIO

/// What a stage's output file is, so that an input slot can say what it accepts and a stage
/// reference can be resolved to one file of the upstream entry.
public enum ArtifactKind: String, Sendable, CaseIterable {
    /// An .h5ad with X (every h5ad a stage writes carries its input's X, obs and var).
    case dataset
    /// An .h5ad with gene loadings in varm (pca, ica, nmf, vae).
    case embedding
    /// A GMT of gene sets.
    case geneSets = "gene-sets"
    /// A tidy TSV table (enrich, metrics).
    case table
    /// Anything else: a model file, a history table, a report.
    case other
}

/// One file a stage writes into its entry, under a fixed name.
public struct OutputFile: Sendable {
    public var name: String
    public var kinds: [ArtifactKind]
    /// For embeddings: where the loadings are, e.g. "varm/PCs" (enrich's default --key).
    public var loadingsKey: String?
    /// For embeddings: where the cells' codes are, e.g. "obsm/X_pca" (metrics' default --key).
    public var scoresKey: String?

    public init(_ name: String, _ kinds: [ArtifactKind], loadingsKey: String? = nil, scoresKey: String? = nil) {
        self.name = name
        self.kinds = kinds
        self.loadingsKey = loadingsKey
        self.scoresKey = scoresKey
    }
}

/// A named input of a stage: the YAML key that holds it and what it accepts.
public struct InputSlot: Sendable {
    public var name: String
    public var accepts: ArtifactKind
    public var required: Bool
    /// Whether a plain file path may be given (else only another stage).
    public var allowsFile: Bool
    /// Whether a shipped gene-set name (go_bp, …) may be given.
    public var allowsShippedGeneSets: Bool
    /// Whether the slot takes a list (e.g. several GMTs).
    public var many: Bool
    /// Whether a stage named here contributes all its instances to one run of this stage (a
    /// report or summary over a whole sweep) instead of fanning this stage out over them.
    public var gathers: Bool

    public init(_ name: String, accepts: ArtifactKind, required: Bool = true, allowsFile: Bool = true,
                allowsShippedGeneSets: Bool = false, many: Bool = false, gathers: Bool = false) {
        self.name = name
        self.accepts = accepts
        self.required = required
        self.allowsFile = allowsFile
        self.allowsShippedGeneSets = allowsShippedGeneSets
        self.many = many || gathers
        self.gathers = gathers
    }
}

/// The type of one parameter; the spec checks YAML values against it before anything runs.
public indirect enum ParameterType: Sendable, Equatable {
    case int(min: Int64?, max: Int64?)
    case double(min: Double?, max: Double?)
    case string
    case bool
    case choice([String])
    case list(ParameterType)

    public var description: String {
        switch self {
        case .int(let lo, let hi): return "an integer" + ParameterType.range(lo.map(String.init), hi.map(String.init))
        case .double(let lo, let hi): return "a number" + ParameterType.range(lo.map { "\($0)" }, hi.map { "\($0)" })
        case .string: return "a string"
        case .bool: return "true or false"
        case .choice(let c): return "one of " + c.joined(separator: ", ")
        case .list(let t): return "a list of " + t.description.replacingOccurrences(of: "an ", with: "").replacingOccurrences(of: "a ", with: "") + "s"
        }
    }

    static func range(_ lo: String?, _ hi: String?) -> String {
        switch (lo, hi) {
        case let (l?, h?): return " from \(l) to \(h)"
        case let (l?, nil): return " ≥ \(l)"
        case let (nil, h?): return " ≤ \(h)"
        default: return ""
        }
    }
}

/// One parameter: its name as the subcommand's flag (without `--`), its type and default.
/// A nil default means "absent unless given" (the flag's optional form).
public struct ParameterSpec: Sendable {
    public var name: String
    public var type: ParameterType
    public var defaultValue: JSONValue?

    public init(_ name: String, _ type: ParameterType, default value: JSONValue? = nil) {
        self.name = name
        self.type = type
        self.defaultValue = value.map { ParameterSpec.coerce($0, to: type) }
    }

    /// A default as the file's value would be read: an integer default of a Double parameter
    /// becomes a Double, so giving the default explicitly keeps the key.
    static func coerce(_ v: JSONValue, to type: ParameterType) -> JSONValue {
        switch (type, v) {
        case (.double, .int(let i)): return .double(Double(i))
        case (.list(let element), .array(let a)): return .array(a.map { coerce($0, to: element) })
        default: return v
        }
    }
}

/// The defaults of a library parameter struct under flag names (`batchSize` → `batch-size`),
/// so an adapter takes them from the struct instead of repeating them.
public enum ParameterDefaults {
    public static func of<T: Encodable>(_ value: T) -> [String: JSONValue] {
        guard let data = try? JSONEncoder().encode(value), let o = (try? JSONValue.parse(data))?.objectValue else { return [:] }
        return Dictionary(uniqueKeysWithValues: o.map { (flagName($0.key), $0.value) })
    }

    /// The inverse: flag-named values (`seed` and unset ones left out) into the struct, for
    /// `check` and `run` of stages whose library takes a `Codable` parameter struct.
    public static func decode<T: Decodable>(_ type: T.Type, from parameters: [String: JSONValue], renaming: [String: String] = [:]) throws -> T {
        var o: [String: JSONValue] = [:]
        for (k, v) in parameters where k != "seed" && v != .null {
            o[renaming[k] ?? camelCase(k)] = v
        }
        return try JSONDecoder().decode(T.self, from: Data(JSONValue.object(o).canonical.utf8))
    }

    static func camelCase(_ s: String) -> String {
        let parts = s.split(whereSeparator: { $0 == "-" || $0 == "_" })
        guard let first = parts.first else { return s }
        return String(first) + parts.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func flagName(_ camel: String) -> String {
        var out = ""
        for ch in camel {
            if ch.isUppercase { out += "-" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}

/// A stage as the pipeline runner sees it: a pure function of its inputs and parameters that
/// writes fixed-name files into a fresh directory. One adapter type per stage, registered in
/// `StageRegistry`; it calls the same library function as the stage's subcommand.
public protocol StageAdapter {
    /// The stage type used in pipeline files (`stage: pca`) and in manifests.
    static var type: String { get }
    /// Bump when the same inputs and parameters would give different output bytes.
    static var version: Int { get }
    static var parameters: [ParameterSpec] { get }
    static var inputs: [InputSlot] { get }
    static var outputs: [OutputFile] { get }
    /// Whether a random seed changes the output (then `seed` is a parameter and enters the key).
    static var usesSeed: Bool { get }
    /// True when the outputs depend on the thread count (then it enters the cache key).
    static var threadSensitive: Bool { get }
    /// Input slots whose dataset the stage takes from memory (`ResolvedInput.dataset`, through
    /// `StageIO.read`) when the upstream stage ran in the same `latent run`; for the others the
    /// runner waits until the upstream entry is on disk. Default: none.
    static var memoryInputs: Set<String> { get }
    /// Problems no single parameter's type can express (min-size ≤ max-size), as a message;
    /// checked for every instance before anything runs.
    static func check(_ parameters: [String: JSONValue]) -> String?
    static func run(_ context: StageContext) throws
}

/// An input as the stage receives it: one or more files, and the stage that made them if any.
public struct ResolvedInput: Sendable {
    public var paths: [String]
    /// For stage inputs: the cache entry directories the files are in (with their manifest.json),
    /// one per path.
    public var entries: [String] = []
    /// The upstream stage type, or nil for files given in the pipeline.
    public var stageType: String?
    /// For embeddings from a known stage: its loadings and scores keys.
    public var loadingsKey: String?
    public var scoresKey: String?
    /// The dataset at `paths[0]`, in memory, when the stage that wrote it ran earlier in this
    /// process and the reading stage lists this slot in `memoryInputs`. Equal to what reading the
    /// file gives; the file itself may still be being written (see `EntryWriter`).
    public var dataset: Dataset?

    public var path: String { paths[0] }
}

/// The h5ad outputs a stage hands to the runner instead of writing them itself (see
/// `StageIO.write`): the runner keeps each dataset in memory for the stages downstream and writes
/// the file off the critical path, with the compression the stage asked for.
public final class StageOutputs: @unchecked Sendable {
    public struct Pending {
        public var name: String
        public var dataset: Dataset
        public var compression: Compression
    }
    private let lock = NSLock()
    private var items: [Pending] = []

    public init() {}

    public func add(_ name: String, _ dataset: Dataset, compression: Compression) {
        lock.lock(); defer { lock.unlock() }
        items.removeAll { $0.name == name }
        items.append(Pending(name: name, dataset: dataset, compression: compression))
    }

    public var pending: [Pending] {
        lock.lock(); defer { lock.unlock() }
        return items
    }
}

/// Everything a running stage may use. Stages write only inside `directory`.
public struct StageContext {
    public var directory: String
    public var parameters: [String: JSONValue]
    public var inputs: [String: ResolvedInput]
    public var seed: UInt64
    public var threads: Int
    /// `latent --version`, for files that record it (model.h5).
    public var toolVersion: String = "unknown"
    /// Where errors should point: "PIPELINE.yaml:LINE stage NAME [instance]".
    public var label: String
    public var note: (String) -> Void
    /// Where `StageIO.write` hands h5ad outputs to the runner; nil: written at once.
    public var outputs: StageOutputs? = nil

    public func output(_ name: String) -> String { directory + "/" + name }

    public func input(_ slot: String) throws -> ResolvedInput {
        guard let i = inputs[slot] else { throw LatentError.internalFailure("\(label): input '\(slot)' was not resolved") }
        return i
    }

    // Typed access; the spec has checked types and filled defaults, so a miss is our bug.
    public func int(_ name: String) -> Int { Int(parameters[name]?.intValue ?? 0) }
    public func optionalInt(_ name: String) -> Int? { parameters[name]?.intValue.map { Int($0) } }
    public func double(_ name: String) -> Double { parameters[name]?.doubleValue ?? 0 }
    public func optionalDouble(_ name: String) -> Double? { parameters[name]?.doubleValue }
    public func string(_ name: String) -> String { parameters[name]?.stringValue ?? "" }
    public func optionalString(_ name: String) -> String? { parameters[name]?.stringValue }
    public func bool(_ name: String) -> Bool { parameters[name]?.boolValue ?? false }
    public func strings(_ name: String) -> [String] { parameters[name]?.arrayValue?.compactMap(\.stringValue) ?? [] }
    public func ints(_ name: String) -> [Int] { parameters[name]?.arrayValue?.compactMap { $0.intValue.map { Int($0) } } ?? [] }
    public func choice<T: RawRepresentable>(_ name: String, _: T.Type = T.self) throws -> T where T.RawValue == String {
        guard let v = T(rawValue: string(name)) else { throw LatentError.internalFailure("\(label): bad value for \(name)") }
        return v
    }

    /// Decodes the parameters into a library `Codable` parameter struct whose fields are the
    /// camel-case forms of the flag names (`max-iter` → `maxIter`), for stages whose library
    /// entry point takes one.
    public func decode<T: Decodable>(_ type: T.Type, renaming: [String: String] = [:]) throws -> T {
        do {
            return try ParameterDefaults.decode(T.self, from: parameters, renaming: renaming)
        } catch {
            throw LatentError.internalFailure("\(label): parameters do not fit \(T.self): \(error)")
        }
    }
}

extension StageAdapter {
    public static var threadSensitive: Bool { false }
    public static var memoryInputs: Set<String> { [] }
    public static func check(_ parameters: [String: JSONValue]) -> String? { nil }

    static var allParameters: [ParameterSpec] {
        var all = parameters
        if usesSeed { all.append(ParameterSpec("seed", .int(min: 0, max: nil))) }
        if writesH5AD { all += compressionParameters }
        return all
    }

    /// Stages with an .h5ad output take the subcommands' `--compression` / `--compression-level`.
    static var writesH5AD: Bool { outputs.contains { $0.name.hasSuffix(".h5ad") } }
}

/// `compression` and `compression-level`: the same names, values and defaults as the flags.
let compressionParameters = [
    ParameterSpec("compression", .choice(["gzip", "none"]), default: .string("gzip")),
    ParameterSpec("compression-level", .int(min: 1, max: 9), default: .int(Int64(Compression.defaultLevel))),
]

extension StageContext {
    /// The h5ad compression the stage's `compression` / `compression-level` parameters ask for.
    public var compression: Compression {
        Compression(level: string("compression") == "none" ? 0 : int("compression-level"), threads: threads)
    }
}
