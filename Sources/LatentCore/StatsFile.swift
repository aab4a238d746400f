/// Additive statistics of one row range of a matrix, as a sharded stage's map step writes them
/// and `latent stats merge` sums them (issue 16).
///
/// Why a file of its own: a stage run over shards must reach the statistics of the whole matrix
/// exactly. Sums are kept as `ExactSums` (formed per canonical `RowChunking.statBlock` block, so
/// a shard must start on a block boundary), which add in any order to the same bits; a few
/// statistics are not sums but still combine exactly (maxima, minima, per-row values such as cell
/// totals whose median a stage needs), and travel beside them.
///
/// `kind` names the stage and pass ("normalize/1"); `parameters` is the canonical JSON of what
/// shaped the statistics (the stage's options, and for later passes a digest of the earlier
/// passes' statistics), so shards computed under different options can never be summed.
public struct StatsFile: Equatable, Sendable {
    public var kind: String
    public var parameters: String
    /// Global rows covered, `start ..< end`; `start` is a multiple of `RowChunking.statBlock`.
    public var rows: Range<Int>
    /// Exact sums with their shapes (row-major), by name.
    public var sums: [String: ExactSums] = [:]
    public var shapes: [String: [Int]] = [:]
    /// Element-wise maxima and minima, by name (merged with max / min: exact in any order).
    public var maxima: [String: [Double]] = [:]
    public var minima: [String: [Double]] = [:]
    /// Values in row order (one or more per covered row, as the stage defines); merged by
    /// concatenation in row order.
    public var perRow: [String: [Double]] = [:]

    public init(kind: String, parameters: String, rows: Range<Int>) {
        self.kind = kind
        self.parameters = parameters
        self.rows = rows
    }

    /// Adds a named sum with its shape (default: a vector).
    public mutating func set(_ name: String, _ s: ExactSums, shape: [Int]? = nil) {
        sums[name] = s
        shapes[name] = shape ?? [s.count]
    }

    /// The statistics' names, each kind in sorted order: a stable summary and file layout.
    public var names: [String] {
        (sums.keys.sorted() + maxima.keys.sorted() + minima.keys.sorted() + perRow.keys.sorted())
    }

    /// Checks the invariants a file read from disk must hold; the message says what is wrong.
    public func problem() -> String? {
        if rows.lowerBound < 0 { return "row range starts below 0" }
        if rows.lowerBound % RowChunking.statBlock != 0 {
            return "row range starts at \(rows.lowerBound), not a multiple of \(RowChunking.statBlock) (shards must be cut on statistics blocks)"
        }
        for (k, s) in sums {
            guard let shape = shapes[k] else { return "sum '\(k)' has no shape" }
            if shape.reduce(1, *) != s.count { return "sum '\(k)' has \(s.count) values but shape \(shape)" }
        }
        for (k, a) in maxima where minima[k].map({ $0.count != a.count }) ?? false {
            return "maximum and minimum '\(k)' differ in length"
        }
        return nil
    }

    /// The statistics of the union of `parts`' row ranges, which must agree in kind and
    /// parameters and cover contiguous, non-overlapping ranges (in any order given).
    /// Throws a bad-input error naming the offending file (`names[i]` is part i's name).
    public static func merge(_ parts: [StatsFile], names: [String]) throws -> StatsFile {
        precondition(parts.count == names.count)
        guard !parts.isEmpty else { throw LatentError.badInput(nil, nil, "nothing to merge", hint: "give at least one .stats file") }
        let order = parts.indices.sorted { parts[$0].rows.lowerBound < parts[$1].rows.lowerBound || (parts[$0].rows.lowerBound == parts[$1].rows.lowerBound && $0 < $1) }
        let first = parts[order[0]]
        var out = first
        for (pos, i) in order.enumerated().dropFirst() {
            let p = parts[i], name = names[i], firstName = names[order[0]]
            func bad(_ what: String, _ hint: String) -> LatentError { .badInput(name, nil, what, hint: hint) }
            if p.kind != first.kind {
                throw bad("statistics of kind '\(p.kind)', but \(firstName) holds '\(first.kind)'", "merge only the files of one stage and pass")
            }
            if p.parameters != first.parameters {
                throw bad("statistics computed with other parameters than \(firstName) (\(p.parameters) vs \(first.parameters))",
                          "run every shard's map step with the same options and earlier statistics")
            }
            let prev = names[order[pos - 1]]
            if p.rows.lowerBound < out.rows.upperBound {
                throw bad("rows \(p.rows.lowerBound)..<\(p.rows.upperBound) overlap \(prev)'s rows (up to \(out.rows.upperBound))",
                          "give each shard's statistics once")
            }
            if p.rows.lowerBound > out.rows.upperBound {
                throw bad("rows \(p.rows.lowerBound)..<\(p.rows.upperBound) leave a gap after row \(out.rows.upperBound) (\(prev))",
                          "merge the statistics of every shard")
            }
            if Set(p.sums.keys) != Set(out.sums.keys) || Set(p.maxima.keys) != Set(out.maxima.keys)
                || Set(p.minima.keys) != Set(out.minima.keys) || Set(p.perRow.keys) != Set(out.perRow.keys) {
                throw bad("holds the statistics \(p.names) but \(firstName) holds \(first.names)", "merge files of one stage and pass")
            }
            for (k, s) in p.sums {
                guard p.shapes[k] == out.shapes[k] else {
                    throw bad("'\(k)' has shape \(p.shapes[k] ?? []) but \(out.shapes[k] ?? []) in \(firstName)", "merge files of one input")
                }
                out.sums[k]!.add(s)
            }
            for (k, a) in p.maxima {
                guard a.count == out.maxima[k]!.count else { throw bad("'\(k)' has \(a.count) values, \(firstName) \(out.maxima[k]!.count)", "merge files of one input") }
                for j in a.indices where a[j] > out.maxima[k]![j] || out.maxima[k]![j].isNaN { out.maxima[k]![j] = a[j] }
            }
            for (k, a) in p.minima {
                guard a.count == out.minima[k]!.count else { throw bad("'\(k)' has \(a.count) values, \(firstName) \(out.minima[k]!.count)", "merge files of one input") }
                for j in a.indices where a[j] < out.minima[k]![j] || out.minima[k]![j].isNaN { out.minima[k]![j] = a[j] }
            }
            for (k, a) in p.perRow { out.perRow[k]! += a }
            out.rows = out.rows.lowerBound..<p.rows.upperBound
        }
        return out
    }

    /// A stable digest of everything in the file (FNV-1a 64 over a canonical serialisation), so
    /// that a later pass's parameters can name the statistics it was computed from.
    public var digest: String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        @inline(__always) func eat(_ x: UInt64) {
            var v = x
            for _ in 0..<8 { h = (h ^ (v & 0xff)) &* 0x0000_0100_0000_01b3; v >>= 8 }
        }
        func eat(_ s: String) { for b in s.utf8 { eat(UInt64(b)) }; eat(UInt64(0xff)) }
        eat(kind); eat(parameters); eat(UInt64(rows.lowerBound)); eat(UInt64(rows.upperBound))
        for k in sums.keys.sorted() {
            eat("s:" + k)
            for d in shapes[k]! { eat(UInt64(d)) }
            for s in sums[k]!.sums {
                let (hi, lo) = s.halves, (fh, fl) = s.fineHalves
                eat(UInt64(bitPattern: hi)); eat(lo); eat(UInt64(bitPattern: fh)); eat(fl)
            }
        }
        for (tag, dict) in [("max:", maxima), ("min:", minima), ("row:", perRow)] {
            for k in dict.keys.sorted() {
                eat(tag + k)
                eat(UInt64(dict[k]!.count))
                for v in dict[k]! { eat(v.bitPattern) }
            }
        }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
