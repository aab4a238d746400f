/// Stacking obs tables of several files (`latent import A B C …`, the gather of shards).
extension Column {
    /// The columns one after another; nil when their kinds differ (the caller drops the column
    /// and says so). Categoricals with different categories get the union, in first-seen order.
    public static func concatenated(_ parts: [Column]) -> Column? {
        guard let first = parts.first else { return nil }
        switch first {
        case .float64:
            var out: [Double] = []
            for p in parts { guard case .float64(let v) = p else { return nil }; out += v }
            return .float64(out)
        case .float32:
            var out: [Float] = []
            for p in parts { guard case .float32(let v) = p else { return nil }; out += v }
            return .float32(out)
        case .int64:
            var out: [Int64] = []
            for p in parts { guard case .int64(let v) = p else { return nil }; out += v }
            return .int64(out)
        case .int32:
            var out: [Int32] = []
            for p in parts { guard case .int32(let v) = p else { return nil }; out += v }
            return .int32(out)
        case .bool:
            var out: [Bool] = []
            for p in parts { guard case .bool(let v) = p else { return nil }; out += v }
            return .bool(out)
        case .string:
            var out: [String] = []
            for p in parts { guard case .string(let v) = p else { return nil }; out += v }
            return .string(out)
        case .categorical(_, let cats0, let ordered):
            var cats = cats0
            var position = Dictionary(cats0.enumerated().map { ($1, Int32($0)) }, uniquingKeysWith: { a, _ in a })
            var codes: [Int32] = []
            for p in parts {
                guard case .categorical(let c, let pc, _) = p else { return nil }
                if pc == cats0 { codes += c; continue }
                var map = [Int32](repeating: -1, count: pc.count)
                for (i, name) in pc.enumerated() {
                    if let at = position[name] { map[i] = at } else {
                        position[name] = Int32(cats.count)
                        map[i] = Int32(cats.count)
                        cats.append(name)
                    }
                }
                codes += c.map { $0 < 0 ? -1 : map[Int($0)] }
            }
            return .categorical(codes: codes, categories: cats, ordered: ordered)
        case .nullableInteger(_, _, let t):
            var v: [Int64] = [], m: [Bool] = []
            for p in parts { guard case .nullableInteger(let pv, let pm, let pt) = p, pt == t else { return nil }; v += pv; m += pm }
            return .nullableInteger(values: v, missing: m, type: t)
        case .nullableBool:
            var v: [Bool] = [], m: [Bool] = []
            for p in parts { guard case .nullableBool(let pv, let pm) = p else { return nil }; v += pv; m += pm }
            return .nullableBool(values: v, missing: m)
        case .nullableString:
            var v: [String] = [], m: [Bool] = []
            for p in parts { guard case .nullableString(let pv, let pm) = p else { return nil }; v += pv; m += pm }
            return .nullableString(values: v, missing: m)
        }
    }
}

extension DataFrame {
    /// Tables stacked by rows, keeping the columns every table has with one kind (in the first
    /// table's order) and the first table's index name; `dropped` names the others.
    public static func concatenated(_ frames: [DataFrame]) -> (frame: DataFrame, dropped: [String]) {
        guard let first = frames.first else { return (DataFrame(index: []), []) }
        var out = DataFrame(index: frames.flatMap(\.index), indexName: first.indexName)
        var dropped: [String] = []
        for name in first.columnNames {
            let parts = frames.compactMap { $0[name] }
            if parts.count == frames.count, let c = Column.concatenated(parts) { out.set(name, c) } else { dropped.append(name) }
        }
        for f in frames.dropFirst() { for n in f.columnNames where first[n] == nil && !dropped.contains(n) { dropped.append(n) } }
        return (out, dropped)
    }
}
