import LatentCore
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// MatrixMarket coordinate files as Cell Ranger writes them: genes × cells, 1-based
/// `gene cell value` lines. They are read straight into CSR cells × genes.
///
/// A 10x matrix.mtx holds tens of millions of lines, so the entries are parsed in place from
/// the inflated buffer, in blocks split at newlines over threads, without a String or an array
/// per line; the transpose is one counting sort by cell.
enum MatrixMarket {
    struct Header {
        var rows: Int
        var cols: Int
        var entries: Int
        /// Byte offset of the first entry line, and how many lines come before it.
        var dataStart: Int
        var linesBefore: Int
    }

    /// The banner, comments and size line.
    static func readHeader(_ bytes: [UInt8], path: String) throws -> Header {
        var pos = 0
        var line = 0
        func nextLine() -> Range<Int>? {
            guard pos < bytes.count else { return nil }
            let s = pos
            while pos < bytes.count && bytes[pos] != 10 { pos += 1 }
            var e = pos
            if pos < bytes.count { pos += 1 }
            line += 1
            if e > s && bytes[e - 1] == 13 { e -= 1 }
            return s..<e
        }
        guard let first = nextLine() else { throw LatentError.badInput(path, "line 1", "empty file") }
        let banner = String(decoding: bytes[first], as: UTF8.self).lowercased()
            .split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard banner.count >= 5, banner[0] == "%%matrixmarket", banner[1] == "matrix", banner[2] == "coordinate" else {
            throw LatentError.badInput(path, "line 1", "not a MatrixMarket coordinate file (expected '%%MatrixMarket matrix coordinate …')")
        }
        guard ["integer", "real"].contains(banner[3]), banner[4] == "general" else {
            throw LatentError.badInput(path, "line 1", "unsupported MatrixMarket field '\(banner[3]) \(banner[4])' (expected integer or real, general)")
        }
        while let r = nextLine() {
            let text = String(decoding: bytes[r], as: UTF8.self)
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) || text.hasPrefix("%") { continue }
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            let dims = fields.compactMap { Int($0) }
            guard fields.count == 3, dims.count == 3, dims.allSatisfy({ $0 >= 0 }) else {
                throw LatentError.badInput(path, "line \(line)", "expected the size line 'genes cells entries', found '\(text.prefix(60))'")
            }
            return Header(rows: dims[0], cols: dims[1], entries: dims[2], dataStart: pos, linesBefore: line)
        }
        throw LatentError.badInput(path, nil, "no size line 'genes cells entries' after the header")
    }

    /// One block's entries, in file order.
    struct Block {
        var genes: [Int32] = []
        var cells: [Int32] = []
        var values: [Float] = []
        var lines = 0
        /// The first bad line: its number within the block, and what is wrong.
        var error: (line: Int, message: String)? = nil
    }

    /// The entries as CSR cells × genes, columns sorted within each row, duplicates summed
    /// (scipy's `tocsr()` sums them too, so scanpy sees the same values).
    static func readEntries(_ bytes: [UInt8], header h: Header, path: String, threads: Int,
                            minBlockBytes: Int = 1 << 20) throws -> SparseMatrix {
        let start = h.dataStart, end = bytes.count
        let nBlocks = max(1, min(threads * 4, (end - start) / max(1, minBlockBytes) + 1))
        var blocks = [Block](repeating: Block(), count: nBlocks)
        bytes.withUnsafeBufferPointer { buf in
            guard let p = buf.baseAddress else { return }
            // Block k starts after the first newline at or past its even share of the bytes.
            var bounds = [Int](repeating: end, count: nBlocks + 1)
            bounds[0] = start
            for k in 1..<nBlocks {
                let guess = max(start + (end - start) * k / nBlocks, bounds[k - 1])
                bounds[k] = guess >= end ? end : (nextLineStart(p, from: guess, end: end))
            }
            let expectedPerByte = Double(h.entries) / Double(max(1, end - start))
            blocks.withUnsafeMutableBufferPointer { out in
                Runtime.parallelFor(nBlocks, threads: threads) { k in
                    // The header's count guides the reservation; a line takes at least 6 bytes, which caps it
                    // (a lying header must not allocate more than the file could hold).
                    let bytes = bounds[k + 1] - bounds[k]
                    let expected = min(Double(bytes) * expectedPerByte, Double(bytes / 6)) + 16
                    out[k] = parseBlock(p, bounds[k], bounds[k + 1], header: h, expected: Int(expected))
                }
            }
        }
        // Blocks stop at their first bad line, so the first block with an error holds the file's first.
        var linesBefore = h.linesBefore
        for b in blocks {
            if let e = b.error { throw LatentError.badInput(path, "line \(linesBefore + e.line)", e.message) }
            linesBefore += b.lines
        }
        let nnz = blocks.reduce(0) { $0 + $1.values.count }
        if nnz != h.entries {
            throw LatentError.badInput(path, nil, "header announces \(h.entries) entries, the file has \(nnz)")
        }
        return toCSR(blocks, cells: h.cols, genes: h.rows, nnz: nnz)
    }

    static func nextLineStart(_ p: UnsafePointer<UInt8>, from: Int, end: Int) -> Int {
        guard let nl = memchr(p + from, 10, end - from) else { return end }
        return UnsafeRawPointer(nl).assumingMemoryBound(to: UInt8.self) - p + 1
    }

    /// Lines [lo, hi) of the buffer.
    static func parseBlock(_ p: UnsafePointer<UInt8>, _ lo: Int, _ hi: Int, header h: Header, expected: Int) -> Block {
        var b = Block()
        b.genes.reserveCapacity(expected); b.cells.reserveCapacity(expected); b.values.reserveCapacity(expected)
        var i = lo
        while i < hi {
            var e = i
            while e < hi && p[e] != 10 { e += 1 }
            let next = e + 1
            if e > i && p[e - 1] == 13 { e -= 1 }
            b.lines += 1
            if let message = parseEntry(p, i, e, header: h, into: &b) {
                b.error = (b.lines, message)
                return b
            }
            i = next
        }
        return b
    }

    /// Appends one `gene cell value` line to `b`; returns what is wrong with it, if anything.
    @inline(__always)
    static func parseEntry(_ p: UnsafePointer<UInt8>, _ lo: Int, _ hi: Int, header h: Header, into b: inout Block) -> String? {
        var starts = (0, 0, 0), ends = (0, 0, 0)
        var n = 0
        var i = lo
        while i < hi && (p[i] == 32 || p[i] == 9) { i += 1 }
        if i < hi && p[i] == 37 { return nil }   // a '%' comment
        while i < hi {
            while i < hi && (p[i] == 32 || p[i] == 9) { i += 1 }
            if i >= hi { break }
            let s = i
            while i < hi && p[i] != 32 && p[i] != 9 { i += 1 }
            switch n {
            case 0: starts.0 = s; ends.0 = i
            case 1: starts.1 = s; ends.1 = i
            case 2: starts.2 = s; ends.2 = i
            default: break
            }
            n += 1
        }
        if n == 0 { return nil }   // a blank line
        guard n == 3 else { return "expected 'gene cell value', found \(n) field\(n == 1 ? "" : "s")" }
        guard let g = index(p, starts.0, ends.0), let c = index(p, starts.1, ends.1) else {
            return "coordinates must be whole numbers"
        }
        if g < 1 || g > h.rows { return "gene index \(g == Int.max ? "≥ 2⁶³" : String(g)) outside 1…\(h.rows)" }
        if c < 1 || c > h.cols { return "cell index \(c == Int.max ? "≥ 2⁶³" : String(c)) outside 1…\(h.cols)" }
        let v: Float
        if let small = index(p, starts.2, ends.2), small < 1 << 53 {
            v = Float(Double(small))
        } else {
            guard case .number(let d) = NumberParsing.parse(p, starts.2, ends.2), d.isFinite else {
                return "value '\(String(decoding: UnsafeBufferPointer(start: p + starts.2, count: min(30, ends.2 - starts.2)), as: UTF8.self))' is not a finite number"
            }
            v = Float(d)
            if !v.isFinite { return "value \(d) does not fit in Float32" }
        }
        b.genes.append(Int32(g - 1)); b.cells.append(Int32(c - 1)); b.values.append(v)
        return nil
    }

    /// Unsigned decimal digits only; Int.max when too long to hold; nil when not digits.
    @inline(__always)
    static func index(_ p: UnsafePointer<UInt8>, _ lo: Int, _ hi: Int) -> Int? {
        if lo >= hi { return nil }
        var v = 0
        for k in lo..<hi {
            let d = p[k] &- 48
            if d >= 10 { return nil }
            if v > (Int.max - 9) / 10 { v = Int.max } else if v != Int.max { v = v * 10 + Int(d) }
        }
        return v
    }

    /// Counting sort by cell (keeping file order), then each cell's genes sorted and duplicates summed.
    static func toCSR(_ blocks: [Block], cells: Int, genes: Int, nnz: Int) -> SparseMatrix {
        var indptr = [Int](repeating: 0, count: cells + 1)
        for b in blocks { for c in b.cells { indptr[Int(c) + 1] += 1 } }
        for c in 0..<cells { indptr[c + 1] += indptr[c] }
        var next = indptr
        var idx = [Int32](repeating: 0, count: nnz), val = [Float](repeating: 0, count: nnz)
        idx.withUnsafeMutableBufferPointer { idx in
            val.withUnsafeMutableBufferPointer { val in
                next.withUnsafeMutableBufferPointer { next in
                    for b in blocks {
                        b.cells.withUnsafeBufferPointer { bc in
                            b.genes.withUnsafeBufferPointer { bg in
                                b.values.withUnsafeBufferPointer { bv in
                                    for k in 0..<bc.count {
                                        let c = Int(bc[k])
                                        let q = next[c]
                                        idx[q] = bg[k]; val[q] = bv[k]
                                        next[c] = q + 1
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        // Cell Ranger writes genes in order within a cell; anything else is sorted here.
        var write = 0
        var outPtr = [Int](repeating: 0, count: cells + 1)
        for c in 0..<cells {
            let lo = indptr[c], hi = indptr[c + 1]
            var increasing = true
            var k = lo + 1
            while k < hi { if idx[k - 1] >= idx[k] { increasing = false; break }; k += 1 }
            if increasing {
                if write != lo { for q in lo..<hi { idx[write + q - lo] = idx[q]; val[write + q - lo] = val[q] } }
                write += hi - lo
            } else {
                let order = (lo..<hi).sorted { idx[$0] != idx[$1] ? idx[$0] < idx[$1] : $0 < $1 }
                let pairs = order.map { (idx[$0], val[$0]) }
                let rowStart = write
                for (g, v) in pairs {
                    if write > rowStart && idx[write - 1] == g { val[write - 1] += v } else { idx[write] = g; val[write] = v; write += 1 }
                }
            }
            outPtr[c + 1] = write
        }
        if write < nnz {
            idx.removeLast(nnz - write)
            val.removeLast(nnz - write)
        }
        return SparseMatrix(rows: cells, cols: genes, indptr: outPtr, indices: idx, values: val)
    }
}
