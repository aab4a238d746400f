/// What `latent inspect` and `latent import` report about a dataset: shape, storage, value type
/// and the keys a later stage might need.
public struct DatasetSummary: Sendable, Equatable, Codable {
    public enum ValueType: String, Sendable, Codable {
        case integerCounts = "integer counts"
        case nonNegativeReal = "non-negative, not integer (normalized, FPKM/TPM or log scale)"
        case real = "real, with negative values (scaled or log-ratio data)"
    }

    public var nObs: Int
    public var nVars: Int
    public var storage: String          // "dense" or "csr"
    public var stored: Int
    public var nonzero: Int
    public var density: Double
    public var valueType: ValueType
    public var min: Float
    public var max: Float
    public var obsColumns: [String: String]
    public var obsColumnOrder: [String]
    public var varColumns: [String: String]
    public var varColumnOrder: [String]
    public var layers: [String]
    public var obsm: [String: [Int]]
    public var varm: [String: [Int]]
    public var uns: [String]
    public var obsExamples: [String]
    public var varExamples: [String]

    public init(_ ds: Dataset) {
        nObs = ds.nObs
        nVars = ds.nVars
        storage = ds.X.isSparse ? "csr" : "dense"
        stored = ds.X.storedCount
        let values = ds.X.storedValues
        var nz = 0, allInt = true, neg = false
        var lo = Float.infinity, hi = -Float.infinity
        values.withUnsafeBufferPointer { v in
            for x in v {
                if x != 0 { nz += 1 }
                if x < 0 { neg = true }
                if allInt && x.rounded(.towardZero) != x { allInt = false }
                lo = Swift.min(lo, x)
                hi = Swift.max(hi, x)
            }
        }
        if ds.X.isSparse && stored < nObs * nVars { lo = Swift.min(lo, 0); hi = Swift.max(hi, 0) }
        nonzero = nz
        density = nObs * nVars == 0 ? 0 : Double(nz) / (Double(nObs) * Double(nVars))
        valueType = neg ? .real : (allInt ? .integerCounts : .nonNegativeReal)
        min = lo.isFinite ? lo : 0
        max = hi.isFinite ? hi : 0
        obsColumnOrder = ds.obs.columnNames
        obsColumns = Dictionary(uniqueKeysWithValues: ds.obs.columnNames.map { ($0, ds.obs[$0]!.typeName) })
        varColumnOrder = ds.var.columnNames
        varColumns = Dictionary(uniqueKeysWithValues: ds.var.columnNames.map { ($0, ds.var[$0]!.typeName) })
        layers = ds.layers.keys
        obsm = Dictionary(uniqueKeysWithValues: ds.obsm.keys.map { ($0, [ds.obsm[$0]!.rows, ds.obsm[$0]!.cols]) })
        varm = Dictionary(uniqueKeysWithValues: ds.varm.keys.map { ($0, [ds.varm[$0]!.rows, ds.varm[$0]!.cols]) })
        uns = ds.uns.keys
        obsExamples = Array(ds.obs.index.prefix(3))
        varExamples = Array(ds.var.index.prefix(3))
    }

    /// The one-screen text form.
    public func render(title: String) -> String {
        func group(_ n: Int) -> String {
            let s = String(n)
            var out = ""
            for (i, ch) in s.reversed().enumerated() {
                if i > 0 && i % 3 == 0 { out.append(",") }
                out.append(ch)
            }
            return String(out.reversed())
        }
        func pct(_ x: Double) -> String {
            let v = (x * 1000).rounded() / 10
            return "\(v)%"
        }
        func cols(_ order: [String], _ types: [String: String]) -> String {
            order.isEmpty ? "(none)" : order.map { "\($0) (\(types[$0] ?? "?"))" }.joined(separator: ", ")
        }
        func shapes(_ d: [String: [Int]]) -> String {
            d.isEmpty ? "(none)" : d.keys.sorted().map { "\($0) \(d[$0]!.map(String.init).joined(separator: "×"))" }.joined(separator: ", ")
        }
        var lines: [String] = []
        lines.append(title)
        lines.append("  shape      \(group(nObs)) observations × \(group(nVars)) variables")
        let storageText = storage == "csr" ? "sparse CSR, \(group(stored)) stored" : "dense"
        lines.append("  X          \(storageText); \(group(nonzero)) non-zero (\(pct(density)))")
        lines.append("  values     \(valueType.rawValue); range \(min) … \(max)")
        lines.append("  obs names  \(obsExamples.joined(separator: ", "))\(nObs > 3 ? ", …" : "")")
        lines.append("  var names  \(varExamples.joined(separator: ", "))\(nVars > 3 ? ", …" : "")")
        lines.append("  obs        \(cols(obsColumnOrder, obsColumns))")
        lines.append("  var        \(cols(varColumnOrder, varColumns))")
        lines.append("  layers     \(layers.isEmpty ? "(none)" : layers.joined(separator: ", "))")
        lines.append("  obsm       \(shapes(obsm))")
        lines.append("  varm       \(shapes(varm))")
        lines.append("  uns        \(uns.isEmpty ? "(none)" : uns.joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}
