import LatentCore

/// Sample sheets and gene annotation tables (CSV/TSV, plain or gzip): the first column holds the
/// names, the other columns become obs/var columns with the types pandas would infer, and string
/// columns with repeated values become categoricals as anndata's `write_h5ad` makes them.
public enum AnnotationTable {
    public static func read(_ path: String) throws -> DataFrame {
        let bytes = try CompressedFile.readAll(path)
        let rows = try splitRows(bytes, path: path)
        guard let header = rows.first, header.count >= 1 else {
            throw LatentError.badInput(path, "line 1", "empty table")
        }
        var names = header
        let body = rows.dropFirst()
        // R's write.table omits the header cell above the row names.
        if let first = body.first, first.count == header.count + 1 { names.insert("", at: 0) }
        var index: [String] = []
        var cells = [[String]](repeating: [], count: max(0, names.count - 1))
        for (k, row) in body.enumerated() {
            if row.count != names.count {
                throw LatentError.badInput(path, "line \(k + 2)", "\(row.count) fields, expected \(names.count) like the header")
            }
            index.append(row[0])
            for j in 1..<row.count { cells[j - 1].append(row[j]) }
        }
        var df = DataFrame(index: index)
        for j in 1..<names.count { df.set(names[j], inferColumn(cells[j - 1])) }
        return df
    }

    /// pandas-like inference: int64, then float64 (empty = NaN), then bool, then string;
    /// strings with repeated values become categoricals with sorted categories.
    static func inferColumn(_ v: [String]) -> Column {
        if !v.isEmpty, v.allSatisfy({ Int64($0) != nil }) { return .int64(v.map { Int64($0)! }) }
        if !v.isEmpty, v.allSatisfy({ $0.isEmpty || Double($0) != nil || ["NA", "NaN", "nan"].contains($0) }),
           v.contains(where: { Double($0) != nil }) {
            return .float64(v.map { Double($0) ?? .nan })
        }
        let boolWords: [String: Bool] = ["True": true, "False": false, "TRUE": true, "FALSE": false, "true": true, "false": false]
        if !v.isEmpty, v.allSatisfy({ boolWords[$0] != nil }) { return .bool(v.map { boolWords[$0]! }) }
        let unique = Set(v)
        if unique.count < v.count {
            let cats = unique.sorted()
            let code = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, Int32($0)) })
            return .categorical(codes: v.map { code[$0]! }, categories: cats, ordered: false)
        }
        return .string(v)
    }

    /// Rows of fields; the delimiter is a tab when the first line has one, else a comma.
    /// Double-quoted fields may hold delimiters and doubled quotes.
    public static func splitRows(_ bytes: [UInt8], path: String) throws -> [[String]] {
        var start = 0
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { start = 3 }
        let firstLineEnd = bytes[start...].firstIndex(of: 10) ?? bytes.count
        let delim: UInt8 = bytes[start..<firstLineEnd].contains(9) ? 9 : 44
        var rows: [[String]] = []
        var row: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var i = start
        var line = 1
        while i < bytes.count {
            let b = bytes[i]
            if inQuotes {
                if b == 34 {
                    if i + 1 < bytes.count && bytes[i + 1] == 34 { field.append(34); i += 1 } else { inQuotes = false }
                } else {
                    if b == 10 { line += 1 }
                    field.append(b)
                }
            } else if b == 34 && field.isEmpty {
                inQuotes = true
            } else if b == delim {
                row.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true)
            } else if b == 10 || b == 13 {
                if b == 13 && i + 1 < bytes.count && bytes[i + 1] == 10 { i += 1 }
                row.append(String(decoding: field, as: UTF8.self)); field.removeAll(keepingCapacity: true)
                if !(row.count == 1 && row[0].isEmpty) { rows.append(row) }
                row = []
                line += 1
            } else {
                field.append(b)
            }
            i += 1
        }
        if inQuotes { throw LatentError.badInput(path, "line \(line)", "unterminated quoted field") }
        if !field.isEmpty || !row.isEmpty {
            row.append(String(decoding: field, as: UTF8.self))
            rows.append(row)
        }
        return rows
    }

    /// Joins `table`'s columns onto `df` by name. Every name of `df` must have a row.
    public static func join(_ table: DataFrame, onto df: inout DataFrame, tablePath: String, what: String) throws -> String? {
        var row: [String: Int] = [:]
        for (i, n) in table.index.enumerated() {
            if row[n] != nil { throw LatentError.badInput(tablePath, "row '\(n)'", "duplicate \(what) name in the table") }
            row[n] = i
        }
        var idx: [Int] = []
        idx.reserveCapacity(df.count)
        for n in df.index {
            guard let r = row[n] else {
                throw LatentError.badInput(tablePath, nil, "no row for \(what) '\(n)' of the data",
                                           hint: "the first column must hold the \(what) names")
            }
            idx.append(r)
        }
        let aligned = table.subset(idx)
        for name in aligned.columnNames { df.set(name, aligned[name]!) }
        let extra = table.count - df.count
        return extra > 0 ? "\(tablePath): \(extra) rows name no \(what) in the data and were ignored" : nil
    }
}
