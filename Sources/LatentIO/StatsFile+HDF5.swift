@preconcurrency import CHDF5
import LatentCore

extension UInt64: H5Element {
    static var fileType: hid_t { lh5_std_int_le(8, 0) }
    static var memType: hid_t { lh5_native_uint64() }
}

/// `.stats` files: HDF5, so any HDF5 client can look inside.
///
/// Layout: root attributes `format` ("latent-stats"), `version` (1), `kind`, `parameters`
/// (canonical JSON) and `rows` ([start, end]); `/sums/NAME/high` (int64) and `/low` (uint64),
/// the two halves of each 128-bit fixed-point `ExactSum`, with a `shape` attribute on the group;
/// `/max/NAME`, `/min/NAME` and `/rows/NAME` as float64.
extension StatsFile {
    static let format = "latent-stats"
    static let version: Int64 = 1

    public func write(to path: String) throws {
        if let p = problem() { throw LatentError.internalFailure("statistics to write are inconsistent: \(p)", file: path) }
        try AtomicOutput.write(to: path) { tmp in
            let f = try H5File.create(tmp, displayName: path)
            let root = f.root
            try root.setAttribute("format", string: Self.format)
            try root.setAttribute("version", int64s: [Self.version])
            try root.setAttribute("kind", string: kind)
            try root.setAttribute("parameters", string: parameters)
            try root.setAttribute("rows", int64s: [Int64(rows.lowerBound), Int64(rows.upperBound)])
            let sg = try root.createGroup("sums")
            for k in sums.keys.sorted() {
                let g = try sg.createGroup(k)
                let s = sums[k]!.sums
                try g.writeArray("high", s.map { $0.halves.high }, compression: .none)
                try g.writeArray("low", s.map { $0.halves.low }, compression: .none)
                try g.writeArray("fine_high", s.map { $0.fineHalves.high }, compression: .none)
                try g.writeArray("fine_low", s.map { $0.fineHalves.low }, compression: .none)
                try g.setAttribute("shape", int64s: shapes[k]!.map(Int64.init))
            }
            for (group, dict) in [("max", maxima), ("min", minima), ("rows", perRow)] {
                let g = try root.createGroup(group)
                for k in dict.keys.sorted() { try g.writeArray(k, dict[k]!, compression: .none) }
            }
            try f.flush()
        }
    }

    public static func read(_ path: String) throws -> StatsFile {
        let f = try H5File.open(path)
        let root = f.root
        func bad(_ what: String, _ place: String? = nil) -> LatentError {
            .badInput(path, place, what, hint: "give a .stats file written by a `--map-stats` step or `latent stats merge`")
        }
        guard try root.stringAttribute("format") == format else { throw bad("not a latent statistics file (no format \"\(format)\" attribute)") }
        guard let v = try root.int64sAttribute("version"), v == [version] else { throw bad("unsupported statistics file version") }
        guard let kind = try root.stringAttribute("kind"), let params = try root.stringAttribute("parameters"),
              let r = try root.int64sAttribute("rows"), r.count == 2, r[0] >= 0, r[1] >= r[0] else {
            throw bad("missing or malformed kind, parameters or rows attribute")
        }
        var out = StatsFile(kind: kind, parameters: params, rows: Int(r[0])..<Int(r[1]))
        if root.kind(of: "sums") == .group {
            let sg = try root.group("sums")
            for k in try sg.memberNames() {
                let g = try sg.group(k)
                let high = try g.dataset("high").readInt64s()
                let lowDS = try g.dataset("low")
                guard lowDS.elementCount == high.count, lowDS.shape.count == 1 else { throw bad("high and low halves differ in length", g.path) }
                func unsigned(_ ds: H5Dataset) throws -> [UInt64] {
                    guard ds.elementCount == high.count, ds.shape.count == 1 else { throw bad("the parts of a sum differ in length", g.path) }
                    var out = [UInt64](repeating: 0, count: high.count)
                    try out.withUnsafeMutableBytes { try ds.readSlice(offset: 0, count: high.count, memType: lh5_native_uint64(), into: $0.baseAddress!) }
                    return out
                }
                let low = try unsigned(lowDS)
                let fineHigh = try g.dataset("fine_high").readInt64s()
                guard fineHigh.count == high.count else { throw bad("the parts of a sum differ in length", g.path) }
                let fineLow = try unsigned(try g.dataset("fine_low"))
                guard let shape = try g.int64sAttribute("shape") else { throw bad("missing shape attribute", g.path) }
                out.sums[k] = ExactSums(high.indices.map { ExactSum(high: high[$0], low: low[$0], fineHigh: fineHigh[$0], fineLow: fineLow[$0]) })
                out.shapes[k] = shape.map(Int.init)
            }
        }
        for group in ["max", "min", "rows"] where root.kind(of: group) == .group {
            let g = try root.group(group)
            for k in try g.memberNames() {
                let values = try g.dataset(k).readDoubles()
                switch group {
                case "max": out.maxima[k] = values
                case "min": out.minima[k] = values
                default: out.perRow[k] = values
                }
            }
        }
        if let p = out.problem() { throw bad(p) }
        return out
    }
}
