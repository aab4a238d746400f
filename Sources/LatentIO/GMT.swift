import LatentCore

/// A named gene set as MSigDB/Enrichr GMT files store it.
public struct GeneSet: Sendable, Equatable {
    public var name: String
    public var description: String
    public var genes: [String]

    public init(name: String, description: String = "", genes: [String]) {
        self.name = name
        self.description = description
        self.genes = genes
    }
}

/// GMT: one set per line, `NAME<TAB>DESCRIPTION<TAB>GENE<TAB>GENE…`, plain or gzip.
public enum GMT {
    /// Reads every set. Blank lines are skipped; a line with fewer than two fields, an empty name,
    /// or a name seen before is an error naming the line. Duplicate genes within a set are dropped
    /// (kept once); empty gene fields (trailing tabs) are ignored.
    public static func read(_ path: String) throws -> [GeneSet] {
        let bytes = try CompressedFile.readAll(path)
        var sets: [GeneSet] = []
        var seen = Set<String>()
        var lineNo = 0
        for rawLine in bytes.split(separator: 10, omittingEmptySubsequences: false) {
            lineNo += 1
            var line = rawLine
            if line.last == 13 { line = line.dropLast() }
            if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
            let fields = line.split(separator: 9, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            guard fields.count >= 2 else {
                throw LatentError.badInput(path, "line \(lineNo)", "a GMT line needs a name, a description and genes, separated by tabs")
            }
            let name = fields[0].trimmingSpaces
            guard !name.isEmpty else { throw LatentError.badInput(path, "line \(lineNo)", "empty gene-set name") }
            guard seen.insert(name).inserted else {
                throw LatentError.badInput(path, "line \(lineNo)", "gene set '\(name)' appears twice")
            }
            var genes: [String] = []
            var inSet = Set<String>()
            for g in fields.dropFirst(2) {
                let t = g.trimmingSpaces
                if !t.isEmpty && inSet.insert(t).inserted { genes.append(t) }
            }
            sets.append(GeneSet(name: name, description: fields[1], genes: genes))
        }
        if sets.isEmpty { throw LatentError.badInput(path, nil, "no gene sets in the file") }
        return sets
    }

    /// The GMT text of `sets` (what GSEApy and fgsea read).
    public static func render(_ sets: [GeneSet]) -> String {
        var out = ""
        for s in sets {
            out += ([s.name, s.description.isEmpty ? "na" : s.description] + s.genes).joined(separator: "\t")
            out += "\n"
        }
        return out
    }

    public static func write(_ sets: [GeneSet], to path: String) throws {
        try AtomicOutput.write(Array(render(sets).utf8).withUnsafeBufferPointer { Data($0) }, to: path)
    }
}

import struct Foundation.Data

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f == " " { s = s.dropFirst() }
        while let l = s.last, l == " " { s = s.dropLast() }
        return String(s)
    }
}
