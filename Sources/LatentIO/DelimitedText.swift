import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Which axis of a text table holds the observations.
public enum Orientation: String, Sendable, CaseIterable {
    case auto
    /// Rows are cells or samples, columns are genes (scanpy's orientation).
    case cellsByGenes = "cells-by-genes"
    /// Rows are genes (how bulk count tables usually come).
    case genesByCells = "genes-by-cells"
}

public struct DelimitedTextOptions: Sendable {
    public var orientation: Orientation = .auto
    /// nil: by extension (.csv comma; .tsv/.tab/.txt tab), else by the header line.
    public var delimiter: UInt8? = nil
    public var threads = 1
    /// Rows are parsed in blocks of at least this many bytes (tests lower it to exercise blocks).
    var minBlockBytes = 1 << 18

    public init(orientation: Orientation = .auto, delimiter: UInt8? = nil, threads: Int = 1) {
        self.orientation = orientation
        self.delimiter = delimiter
        self.threads = threads
    }
}

public struct DelimitedTextResult: Sendable {
    public var dataset: Dataset
    /// Which orientation was chosen and why, for the user.
    public var orientationNote: String
    public var warnings: [String]
}

/// CSV/TSV count tables, plain or gzip: a header line of column names, then one row per
/// observation or per gene with its name in the first column and numbers after it.
///
/// Goals in order: every malformed table fails with its line and column; values equal what
/// pandas reads (then cast to Float32); then speed — the file is inflated once into memory,
/// parsed in place over threads, and non-zeros go straight into CSR (a sparse table is never
/// densified; a dense one is stored dense).
public enum DelimitedText {
    public static func read(_ path: String, options: DelimitedTextOptions = .init()) throws -> DelimitedTextResult {
        var bytes = try CompressedFile.readAll(path)
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { bytes.removeFirst(3) }
        if bytes.last != 10 { bytes.append(10) }
        let lines = lineStarts(bytes)
        guard lines.count >= 1 else { throw LatentError.badInput(path, nil, "empty file") }
        let delimiter = options.delimiter ?? guessDelimiter(path: path, header: bytes[lines[0]..<(lineEnd(bytes, lines[0]))])
        let header = try splitFields(bytes, from: lines[0], delimiter: delimiter, path: path, line: 1)
        var columnNames = Array(header.dropFirst())
        let dataLines = Array(lines.dropFirst()).filter { !isBlank(bytes, $0) }
        guard !dataLines.isEmpty else {
            throw LatentError.badInput(path, nil, "empty matrix: a header but no data rows")
        }
        // R's write.table leaves out the header cell above the row names.
        let firstRowFields = try splitFields(bytes, from: dataLines[0], delimiter: delimiter, path: path,
                                             line: lineNumber(lines, dataLines[0])).count
        let rStyleHeader = firstRowFields == header.count + 1
        if rStyleHeader { columnNames = header }
        let nCols = columnNames.count
        guard nCols > 0 else { throw LatentError.badInput(path, "line 1", "empty matrix: no data columns after the row names") }

        let parsed = try parseRows(bytes, lines: dataLines, firstLineNumber: { lineNumber(lines, dataLines[$0]) },
                                   nCols: nCols, delimiter: delimiter, path: path, threads: options.threads,
                                   minBlockBytes: options.minBlockBytes)
        var csr = parsed.matrix
        let rowNames = parsed.names

        let (rowsAreGenes, reason) = decideOrientation(rowNames: rowNames, columnNames: columnNames, requested: options.orientation)
        var warnings: [String] = []
        var obsNames = rowNames, varNames = columnNames
        var obsLines: [Int]? = parsed.lineNumbers
        if rowsAreGenes {
            csr = csr.transposed()
            swap(&obsNames, &varNames)
            obsLines = nil
        }
        let note = rowsAreGenes
            ? "\(path): orientation: rows are genes, columns are samples/cells (\(reason)); override with --orient"
            : "\(path): orientation: rows are samples/cells, columns are genes (\(reason)); override with --orient"
        // Duplicate observation names are an error; duplicate genes are made unique (by the caller's rule).
        var seen: [String: Int] = [:]
        for (i, n) in obsNames.enumerated() {
            if let j = seen[n] {
                // Observations in the header: column numbers of the header line.
                let shift = rStyleHeader ? 1 : 2
                let place = obsLines.map { "line \($0[i])" } ?? "line 1, column \(i + shift)"
                let first = obsLines.map { "line \($0[j])" } ?? "column \(j + shift)"
                throw LatentError.badInput(path, place, "duplicate observation name '\(n)' (first at \(first))")
            }
            seen[n] = i
        }
        var vars = DataFrame(index: varNames)
        let dups = vars.makeIndexUnique()
        if !dups.isEmpty {
            warnings.append("\(path): \(dups.count) duplicated gene name\(dups.count == 1 ? "" : "s") (\(dups.prefix(5).joined(separator: ", "))\(dups.count > 5 ? ", …" : "")) made unique by appending -1, -2, … as anndata's var_names_make_unique does")
        }
        let X: MatrixData = Double(csr.nnz) > 0.5 * Double(csr.rows) * Double(csr.cols) ? .dense(csr.densified()) : .sparse(csr)
        let ds = Dataset(X: X, obs: DataFrame(index: obsNames), var: vars)
        return DelimitedTextResult(dataset: ds, orientationNote: note, warnings: warnings)
    }

    // MARK: lines and fields

    /// Where each line starts (`b` ends with a newline). memchr finds newlines many bytes at a time.
    static func lineStarts(_ b: [UInt8]) -> [Int] {
        var starts = [0]
        b.withUnsafeBufferPointer { buf in
            guard let p = buf.baseAddress else { return }
            var i = 0
            let last = buf.count - 1
            while i < last, let nl = memchr(p + i, 10, last - i) {
                i = UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - p + 1
                starts.append(i)
            }
        }
        return starts
    }

    static func lineEnd(_ b: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < b.count && b[i] != 10 { i += 1 }
        if i > start && b[i - 1] == 13 { return i - 1 }
        return i
    }

    static func isBlank(_ b: [UInt8], _ start: Int) -> Bool {
        // Almost every line starts with a name: decide on the first byte without scanning the line.
        let c = b[start]
        if c != 10 && c != 13 && c != 32 && c != 9 { return false }
        let e = lineEnd(b, start)
        return b[start..<e].allSatisfy { $0 == 32 || $0 == 9 }
    }

    static func lineNumber(_ all: [Int], _ start: Int) -> Int {
        var lo = 0, hi = all.count
        while lo < hi { let m = (lo + hi) / 2; if all[m] < start { lo = m + 1 } else { hi = m } }
        return lo + 1
    }

    static func guessDelimiter(path: String, header: ArraySlice<UInt8>) -> UInt8 {
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name = String(name.dropLast(3)) }
        if name.hasSuffix(".csv") { return 44 }
        if name.hasSuffix(".tsv") || name.hasSuffix(".tab") || name.hasSuffix(".txt") { return 9 }
        let tabs = header.filter { $0 == 9 }.count, commas = header.filter { $0 == 44 }.count
        return tabs >= commas ? 9 : 44
    }

    /// Fields of one line, unquoting "double-quoted" fields (with "" for a quote).
    static func splitFields(_ b: [UInt8], from start: Int, delimiter: UInt8, path: String, line: Int) throws -> [String] {
        let end = lineEnd(b, start)
        var fields: [String] = []
        var i = start
        while true {
            var field: [UInt8] = []
            if i < end && b[i] == 34 {
                i += 1
                var closed = false
                while i < end {
                    if b[i] == 34 {
                        if i + 1 < end && b[i + 1] == 34 { field.append(34); i += 2; continue }
                        closed = true
                        i += 1
                        break
                    }
                    field.append(b[i]); i += 1
                }
                if !closed { throw LatentError.badInput(path, "line \(line)", "unterminated quoted field (quoted fields may not span lines)") }
                while i < end && b[i] != delimiter { i += 1 }
            } else {
                while i < end && b[i] != delimiter { field.append(b[i]); i += 1 }
            }
            fields.append(String(decoding: field, as: UTF8.self))
            if i >= end { break }
            i += 1
            if i == end { fields.append(""); break }
        }
        return fields
    }

    // MARK: parsing the numbers

    struct Block {
        var indptr: [Int] = [0]
        var indices: [Int32] = []
        var values: [Float] = []
        var names: [String] = []
        var error: LatentError? = nil
        var errorRow = Int.max
    }

    struct Parsed {
        var matrix: SparseMatrix
        var names: [String]
        var lineNumbers: [Int]
    }

    static func parseRows(_ b: [UInt8], lines: [Int], firstLineNumber: (Int) -> Int, nCols: Int, delimiter: UInt8,
                          path: String, threads: Int, minBlockBytes: Int) throws -> Parsed {
        let n = lines.count
        // Enough blocks to share the work, none much smaller than minBlockBytes (wide tables have few rows).
        let nBlocks = max(1, min(threads * 4, n, b.count / max(1, minBlockBytes) + 1))
        var blocks = [Block](repeating: Block(), count: nBlocks)
        let lineNos = (0..<n).map(firstLineNumber)
        b.withUnsafeBufferPointer { buf in
            let p = buf.baseAddress!
            blocks.withUnsafeMutableBufferPointer { out in
                Runtime.parallelFor(nBlocks, threads: threads) { k in
                    let lo = n * k / nBlocks, hi = n * (k + 1) / nBlocks
                    var blk = Block()
                    blk.values.reserveCapacity((hi - lo) * 16)
                    blk.indices.reserveCapacity((hi - lo) * 16)
                    for r in lo..<hi {
                        do {
                            try parseLine(p, count: buf.count, start: lines[r], line: lineNos[r], nCols: nCols,
                                          delimiter: delimiter, path: path, into: &blk)
                        } catch let e as LatentError {
                            blk.error = e
                            blk.errorRow = r
                            break
                        } catch {}
                        blk.indptr.append(blk.values.count)
                    }
                    out[k] = blk
                }
            }
        }
        if let bad = blocks.filter({ $0.error != nil }).min(by: { $0.errorRow < $1.errorRow }), let e = bad.error { throw e }
        var indptr = [Int](), indices = [Int32](), values = [Float](), names = [String]()
        let nnz = blocks.reduce(0) { $0 + $1.values.count }
        indptr.reserveCapacity(n + 1); indices.reserveCapacity(nnz); values.reserveCapacity(nnz); names.reserveCapacity(n)
        indptr.append(0)
        for blk in blocks {
            let base = values.count
            for q in blk.indptr.dropFirst() { indptr.append(base + q) }
            indices.append(contentsOf: blk.indices)
            values.append(contentsOf: blk.values)
            names.append(contentsOf: blk.names)
        }
        return Parsed(matrix: SparseMatrix(rows: n, cols: nCols, indptr: indptr, indices: indices, values: values),
                      names: names, lineNumbers: lineNos)
    }

    /// One data line: the name, then exactly `nCols` numbers; non-zeros appended to `blk`.
    @inline(__always)
    static func parseLine(_ p: UnsafePointer<UInt8>, count: Int, start: Int, line: Int, nCols: Int, delimiter: UInt8,
                          path: String, into blk: inout Block) throws {
        var end = start
        while end < count && p[end] != 10 { end += 1 }
        if end > start && p[end - 1] == 13 { end -= 1 }
        // The name (possibly quoted).
        var i = start
        var name: String
        if i < end && p[i] == 34 {
            var bytes: [UInt8] = []
            i += 1
            var closed = false
            while i < end {
                if p[i] == 34 {
                    if i + 1 < end && p[i + 1] == 34 { bytes.append(34); i += 2; continue }
                    closed = true; i += 1; break
                }
                bytes.append(p[i]); i += 1
            }
            if !closed { throw LatentError.badInput(path, "line \(line)", "unterminated quoted field (quoted fields may not span lines)") }
            name = String(decoding: bytes, as: UTF8.self)
            while i < end && p[i] != delimiter { i += 1 }
        } else {
            let s = i
            while i < end && p[i] != delimiter { i += 1 }
            name = String(decoding: UnsafeBufferPointer(start: p + s, count: i - s), as: UTF8.self)
        }
        blk.names.append(name)
        var col = 0
        while i < end {
            i += 1   // past the delimiter
            let s = i
            while i < end && p[i] != delimiter { i += 1 }
            if col >= nCols {
                var fields = nCols + 1
                var k = i
                while k < end { if p[k] == delimiter { fields += 1 }; k += 1 }
                throw LatentError.badInput(path, "line \(line)", "\(fields + 1) fields, expected \(nCols + 1) like the header")
            }
            // The common case in count tables: a lone "0".
            if i - s == 1 && p[s] == 48 { col += 1; continue }
            var fs = s, fe = i
            if fe > fs && p[fs] == 34 && p[fe - 1] == 34 && fe - fs >= 2 { fs += 1; fe -= 1 }
            while fs < fe && p[fs] == 32 { fs += 1 }
            while fe > fs && p[fe - 1] == 32 { fe -= 1 }
            switch NumberParsing.parse(p, fs, fe) {
            case .number(let v):
                let f = Float(v)
                if !f.isFinite { throw badValue(path, line, col, p, fs, fe, number: v) }
                if f != 0 {
                    blk.indices.append(Int32(col))
                    blk.values.append(f)
                }
            case .notANumber:
                throw badValue(path, line, col, p, fs, fe, number: nil)
            }
            col += 1
        }
        if col != nCols {
            throw LatentError.badInput(path, "line \(line)", "\(col + 1) fields, expected \(nCols + 1) like the header")
        }
    }

    /// What is wrong with a cell that is not a finite Float32: `number` is its value when it
    /// parsed as one (an overflow like 1e400, or 1e39 which only Double holds).
    static func badValue(_ path: String, _ line: Int, _ col: Int, _ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int,
                         number: Double?) -> LatentError {
        let text = String(decoding: UnsafeBufferPointer(start: p + s, count: e - s), as: UTF8.self)
        let place = "line \(line), column \(col + 2)"
        if let v = number {
            let shown = text.count > 30 ? String(text.prefix(30)) + "…" : text
            return v.isFinite
                ? LatentError.badInput(path, place, "value '\(shown)' is too large for Float32 (largest 3.4e38)")
                : LatentError.badInput(path, place, "non-finite value '\(shown)'")
        }
        switch text.lowercased() {
        case "": return LatentError.badInput(path, place, "missing value (empty field)", hint: "impute or drop it before import")
        case "na", "nan", "n/a", "null", "none":
            return LatentError.badInput(path, place, "missing value '\(text)'", hint: "impute or drop it before import")
        case "inf", "-inf", "+inf", "infinity", "-infinity":
            return LatentError.badInput(path, place, "non-finite value '\(text)'")
        default:
            // Control characters (a stray CR, binary junk) would break the one-line message.
            let clean = String(String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? "?" : $0 }))
            let shown = clean.count > 30 ? String(clean.prefix(30)) + "…" : clean
            return LatentError.badInput(path, place, "non-numeric value '\(shown)'")
        }
    }

    // MARK: orientation

    static func isEnsemblGene(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count >= 10, u[0] == 69, u[1] == 78, u[2] == 83 else { return false }   // "ENS"
        var i = 3
        while i < u.count && u[i] >= 65 && u[i] <= 90 && u[i] != 71 { i += 1 }   // species letters
        guard i < u.count && u[i] == 71 else { return false }                    // "G"
        i += 1
        var digits = 0
        while i < u.count && u[i] >= 48 && u[i] <= 57 { digits += 1; i += 1 }
        return digits >= 6 && (i == u.count || u[i] == 46)
    }

    static func isBarcode(_ s: String) -> Bool {
        let u = Array(s.utf8)
        var i = 0
        while i < u.count && [65, 67, 71, 84, 78].contains(u[i]) { i += 1 }
        guard i >= 8 else { return false }
        if i == u.count { return true }
        guard u[i] == 45, i + 1 < u.count else { return false }
        return u[(i + 1)...].allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    static func share(_ names: [String], _ test: (String) -> Bool) -> Double {
        let sample = names.count <= 500 ? names : stride(from: 0, to: names.count, by: names.count / 500).map { names[$0] }
        return sample.isEmpty ? 0 : Double(sample.filter(test).count) / Double(sample.count)
    }

    /// Rows are genes when their names look like gene IDs and the header's do not (or the header
    /// looks like cell barcodes); otherwise, when names do not decide, the longer axis is genes.
    static func decideOrientation(rowNames: [String], columnNames: [String], requested: Orientation) -> (Bool, String) {
        switch requested {
        case .cellsByGenes: return (false, "as --orient says")
        case .genesByCells: return (true, "as --orient says")
        case .auto: break
        }
        let rowEns = share(rowNames, isEnsemblGene), colEns = share(columnNames, isEnsemblGene)
        if colEns > 0.5 && rowEns < 0.5 { return (false, "the header names look like Ensembl gene IDs") }
        if rowEns > 0.5 && colEns < 0.5 { return (true, "the row names look like Ensembl gene IDs") }
        let rowBar = share(rowNames, isBarcode), colBar = share(columnNames, isBarcode)
        if rowBar > 0.5 && colBar < 0.5 { return (false, "the row names look like cell barcodes") }
        if colBar > 0.5 && rowBar < 0.5 { return (true, "the header names look like cell barcodes") }
        if rowNames.count > columnNames.count {
            return (true, "names do not tell; there are more rows (\(rowNames.count)) than columns (\(columnNames.count)), and tables have more genes than samples")
        }
        return (false, "names do not tell; there are more columns (\(columnNames.count)) than rows (\(rowNames.count)), and tables have more genes than samples")
    }
}
