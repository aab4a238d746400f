/// The values of one obs/var annotation column.
///
/// The cases mirror anndata's column encodings so that a file read and written back keeps
/// its column types: float and integer widths are kept, strings, categoricals and bools too.
public enum Column: Equatable, Sendable {
    case float64([Double])
    case float32([Float])
    case int64([Int64])
    case int32([Int32])
    case bool([Bool])
    case string([String])
    /// Codes index `categories`; -1 is a missing value, as in pandas.
    case categorical(codes: [Int32], categories: [String], ordered: Bool)
    /// pandas' nullable integers (Int8 … UInt64; anndata's `nullable-integer`): `missing[i]`
    /// marks NA, where `values[i]` means nothing. `type` is the stored width, kept on writing.
    case nullableInteger(values: [Int64], missing: [Bool], type: IntegerType)
    /// pandas' nullable `boolean` (anndata's `nullable-boolean`).
    case nullableBool(values: [Bool], missing: [Bool])
    /// pandas' `string` dtype with NA (anndata's `nullable-string-array`).
    case nullableString(values: [String], missing: [Bool])

    /// An integer element type as numpy/pandas name it.
    public enum IntegerType: String, Sendable, CaseIterable {
        case int8, int16, int32, int64, uint8, uint16, uint32, uint64

        public var isSigned: Bool { !rawValue.hasPrefix("u") }
        public var byteWidth: Int {
            switch self {
            case .int8, .uint8: 1
            case .int16, .uint16: 2
            case .int32, .uint32: 4
            case .int64, .uint64: 8
            }
        }

        public init?(byteWidth: Int, signed: Bool) {
            guard let t = Self.allCases.first(where: { $0.byteWidth == byteWidth && $0.isSigned == signed }) else { return nil }
            self = t
        }

        /// pandas' name of the nullable dtype: "Int64", "UInt8", …
        public var pandasName: String { rawValue.hasPrefix("u") ? "UInt" + rawValue.dropFirst(4) : "Int" + rawValue.dropFirst(3) }
    }

    public var count: Int {
        switch self {
        case .float64(let v): v.count
        case .float32(let v): v.count
        case .int64(let v): v.count
        case .int32(let v): v.count
        case .bool(let v): v.count
        case .string(let v): v.count
        case .categorical(let c, _, _): c.count
        case .nullableInteger(let v, _, _): v.count
        case .nullableBool(let v, _): v.count
        case .nullableString(let v, _): v.count
        }
    }

    /// A short name of the type for summaries: "float64", "int64", "bool", "string", "categorical(3)".
    public var typeName: String {
        switch self {
        case .float64: "float64"
        case .float32: "float32"
        case .int64: "int64"
        case .int32: "int32"
        case .bool: "bool"
        case .string: "string"
        case .categorical(_, let cats, _): "categorical(\(cats.count))"
        case .nullableInteger(_, _, let t): t.pandasName
        case .nullableBool: "boolean"
        case .nullableString: "string (nullable)"
        }
    }

    /// Values as Double when the column is numeric or bool; nil otherwise.
    public var doubles: [Double]? {
        switch self {
        case .float64(let v): v
        case .float32(let v): v.map(Double.init)
        case .int64(let v): v.map(Double.init)
        case .int32(let v): v.map(Double.init)
        case .bool(let v): v.map { $0 ? 1 : 0 }
        case .nullableInteger(let v, let m, _): zip(v, m).map { $1 ? .nan : Double($0) }
        case .nullableBool(let v, let m): zip(v, m).map { $1 ? .nan : ($0 ? 1 : 0) }
        default: nil
        }
    }

    /// Values rendered as strings (categoricals through their categories; missing as "").
    public var strings: [String] {
        switch self {
        case .float64(let v): v.map { "\($0)" }
        case .float32(let v): v.map { "\($0)" }
        case .int64(let v): v.map { "\($0)" }
        case .int32(let v): v.map { "\($0)" }
        case .bool(let v): v.map { $0 ? "True" : "False" }
        case .string(let v): v
        case .categorical(let codes, let cats, _): codes.map { $0 >= 0 && Int($0) < cats.count ? cats[Int($0)] : "" }
        case .nullableInteger(let v, let m, _): zip(v, m).map { $1 ? "" : "\($0)" }
        case .nullableBool(let v, let m): zip(v, m).map { $1 ? "" : ($0 ? "True" : "False") }
        case .nullableString(let v, let m): zip(v, m).map { $1 ? "" : $0 }
        }
    }

    /// The rows at `idx`, same type.
    public func subset(_ idx: [Int]) -> Column {
        switch self {
        case .float64(let v): .float64(idx.map { v[$0] })
        case .float32(let v): .float32(idx.map { v[$0] })
        case .int64(let v): .int64(idx.map { v[$0] })
        case .int32(let v): .int32(idx.map { v[$0] })
        case .bool(let v): .bool(idx.map { v[$0] })
        case .string(let v): .string(idx.map { v[$0] })
        case .categorical(let c, let cats, let o): .categorical(codes: idx.map { c[$0] }, categories: cats, ordered: o)
        case .nullableInteger(let v, let m, let t): .nullableInteger(values: idx.map { v[$0] }, missing: idx.map { m[$0] }, type: t)
        case .nullableBool(let v, let m): .nullableBool(values: idx.map { v[$0] }, missing: idx.map { m[$0] })
        case .nullableString(let v, let m): .nullableString(values: idx.map { v[$0] }, missing: idx.map { m[$0] })
        }
    }
}

/// An obs or var table: an index of unique names and ordered, typed columns.
public struct DataFrame: Equatable, Sendable {
    public var index: [String]
    /// Name of the index column as anndata records it (`_index` attribute); "_index" by default.
    public var indexName: String
    public private(set) var columnNames: [String]
    public private(set) var columns: [String: Column]

    public init(index: [String], indexName: String = "_index") {
        self.index = index
        self.indexName = indexName
        self.columnNames = []
        self.columns = [:]
    }

    public var count: Int { index.count }

    public subscript(name: String) -> Column? { columns[name] }

    /// Adds or replaces a column; a new one goes last. The length must match the index.
    public mutating func set(_ name: String, _ column: Column) {
        precondition(column.count == index.count, "column \(name): \(column.count) values for \(index.count) rows")
        if columns[name] == nil { columnNames.append(name) }
        columns[name] = column
    }

    public mutating func remove(_ name: String) {
        columns[name] = nil
        columnNames.removeAll { $0 == name }
    }

    public func subset(_ idx: [Int]) -> DataFrame {
        var out = DataFrame(index: idx.map { index[$0] }, indexName: indexName)
        for name in columnNames { out.set(name, columns[name]!.subset(idx)) }
        return out
    }
}

extension DataFrame {
    /// Makes index names unique the way anndata's `var_names_make_unique` does: the second
    /// occurrence of "A" becomes "A-1", the third "A-2", skipping names already taken.
    /// Returns the names that were duplicated, in first-seen order.
    @discardableResult
    public mutating func makeIndexUnique(separator: String = "-") -> [String] {
        let (names, dups) = Self.uniqued(index, separator: separator)
        index = names
        return dups
    }

    /// The unique-making rule on a plain array, and the names that occurred more than once.
    public static func uniqued(_ names: [String], separator: String = "-") -> (names: [String], duplicated: [String]) {
        var seen = Set<String>()
        var dupOrder: [String] = []
        var dupSeen = Set<String>()
        var isRepeat = [Bool](repeating: false, count: names.count)
        for (i, n) in names.enumerated() where !seen.insert(n).inserted {
            isRepeat[i] = true
            if dupSeen.insert(n).inserted { dupOrder.append(n) }
        }
        if dupOrder.isEmpty { return (names, []) }
        var taken = seen
        var counter: [String: Int] = [:]
        var out = names
        for i in names.indices where isRepeat[i] {
            let n = names[i]
            while true {
                let k = counter[n, default: 0] + 1
                counter[n] = k
                let candidate = "\(n)\(separator)\(k)"
                if taken.insert(candidate).inserted { out[i] = candidate; break }
            }
        }
        return (out, dupOrder)
    }
}
