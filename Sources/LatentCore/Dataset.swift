/// A value stored under `uns`: scalars, strings, numeric arrays, string arrays and nested dicts.
public indirect enum UnsValue: Equatable, Sendable {
    case string(String)
    case int(Int64)
    case double(Double)
    case bool(Bool)
    case strings([String])
    case numbers(NumericArray)
    case dict(OrderedDict)
}

/// A numeric n-dimensional array with its element type kept (uns arrays round-trip exactly).
public struct NumericArray: Equatable, Sendable {
    public enum Storage: Equatable, Sendable {
        case float64([Double]), float32([Float]), int64([Int64]), int32([Int32]), bool([Bool])
    }
    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }

    public var count: Int {
        switch storage {
        case .float64(let v): v.count
        case .float32(let v): v.count
        case .int64(let v): v.count
        case .int32(let v): v.count
        case .bool(let v): v.count
        }
    }
}

/// A dict that keeps insertion order, as anndata's nested `uns` does.
public struct OrderedDict: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: UnsValue] = [:]

    public init() {}
    public init(_ pairs: [(String, UnsValue)]) { for (k, v) in pairs { self[k] = v } }

    public subscript(key: String) -> UnsValue? {
        get { storage[key] }
        set {
            if let v = newValue {
                if storage[key] == nil { keys.append(key) }
                storage[key] = v
            } else {
                storage[key] = nil
                keys.removeAll { $0 == key }
            }
        }
    }

    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }
}

/// An ordered map of named matrices (layers, obsm, varm).
///
/// Each entry may remember where its values are still stored unchanged (`stored`, see
/// Dataset+Stored.swift); setting an entry through the subscript forgets that, so a changed
/// matrix is never carried over from the file it was read from.
public struct MatrixDict: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: MatrixData] = [:]
    /// Entries whose values are byte-for-byte what an HDF5 object still holds.
    public private(set) var stored: [String: StoredElement] = [:]

    public init() {}

    public subscript(key: String) -> MatrixData? {
        get { storage[key] }
        set {
            stored[key] = nil
            if let v = newValue {
                if storage[key] == nil { keys.append(key) }
                storage[key] = v
            } else {
                storage[key] = nil
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Records that entry `key` (already set) is stored unchanged at `element`; readers call this.
    public mutating func markStored(_ key: String, at element: StoredElement?) {
        guard storage[key] != nil else { return }
        stored[key] = element
    }

    /// Forgets every stored location (the next write encodes every entry).
    public mutating func forgetStored() { stored = [:] }

    public var isEmpty: Bool { keys.isEmpty }

    /// Equal when keys and values are; where the values are stored does not matter.
    public static func == (a: MatrixDict, b: MatrixDict) -> Bool { a.keys == b.keys && a.storage == b.storage }
}

/// The AnnData model in memory: X is observations (cells or samples) × variables (genes).
///
/// - `layers` have X's shape; `obsm` rows are observations; `varm` rows are variables.
/// - Everything numeric is Float32 (see DESIGN: Float32 storage, Double accumulation);
///   obs/var columns keep their own types.
///
/// A dataset read from an `.h5ad` remembers which of X, obs and var are still exactly as stored in
/// that file (`stored`); assigning or mutating one of them forgets it (the observers below), so
/// only unchanged elements are ever carried over as stored bytes. See Dataset+Stored.swift.
public struct Dataset: Equatable, Sendable {
    public var X: MatrixData { didSet { stored.X = nil } }
    public var obs: DataFrame { didSet { stored.obs = nil } }
    public var `var`: DataFrame { didSet { stored.var = nil } }
    /// Where X, obs and var are still stored unchanged (set by readers, cleared on mutation).
    public var stored = StoredElements()
    public var layers = MatrixDict()
    public var obsm = MatrixDict()
    public var varm = MatrixDict()
    public var uns = OrderedDict()

    public init(X: MatrixData, obs: DataFrame, `var` vars: DataFrame) {
        self.X = X
        self.obs = obs
        self.var = vars
    }

    /// Equal when the data are; where they are stored does not matter.
    public static func == (a: Dataset, b: Dataset) -> Bool {
        a.X == b.X && a.obs == b.obs && a.var == b.var && a.layers == b.layers && a.obsm == b.obsm
            && a.varm == b.varm && a.uns == b.uns
    }

    public var nObs: Int { X.rows }
    public var nVars: Int { X.cols }

    /// What is inconsistent between X, the annotations and the aligned matrices, if anything,
    /// as (key path, message) — e.g. ("obsm/X_pca", "has 10 rows, expected 271").
    public func shapeError() -> (path: String, message: String)? {
        if obs.count != nObs { return ("obs", "has \(obs.count) rows but X has \(nObs) rows") }
        if self.var.count != nVars { return ("var", "has \(self.var.count) rows but X has \(nVars) columns") }
        for k in layers.keys {
            let m = layers[k]!
            if m.rows != nObs || m.cols != nVars {
                return ("layers/\(k)", "is \(m.rows)×\(m.cols), expected \(nObs)×\(nVars)")
            }
        }
        for k in obsm.keys where obsm[k]!.rows != nObs {
            return ("obsm/\(k)", "has \(obsm[k]!.rows) rows, expected \(nObs)")
        }
        for k in varm.keys where varm[k]!.rows != nVars {
            return ("varm/\(k)", "has \(varm[k]!.rows) rows, expected \(nVars)")
        }
        return nil
    }
}
