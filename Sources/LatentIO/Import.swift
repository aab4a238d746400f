import Foundation
import LatentCore

/// Any supported input to a validated `Dataset`: the library side of `latent import`.
public enum Import {
    public enum Format: String, Sendable, CaseIterable {
        case auto, h5ad, csv, tsv
        case tenxMTX = "10x-mtx"
        case tenxH5 = "10x-h5"
    }

    public struct Options: Sendable {
        public var format: Format = .auto
        public var orientation: Orientation = .auto
        public var varNames: TenXVarNames = .geneSymbols
        /// Require non-negative integer counts in X.
        public var requireCounts = false
        public var threads = 1
        /// Sample sheet / gene annotation tables joined onto obs / var by name.
        public var obsTable: String? = nil
        public var varTable: String? = nil
        public init() {}
    }

    public struct Result: Sendable {
        public var dataset: Dataset
        public var format: Format
        /// Things the user should hear on stderr (orientation chosen, names made unique, skipped keys).
        public var notes: [String]
    }

    /// The format a path names: a directory is 10x MatrixMarket, then by extension (`.gz` stripped).
    public static func detectFormat(_ path: String) throws -> Format {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw LatentError.badInput(path, nil, "no such file or directory")
        }
        if isDir.boolValue { return .tenxMTX }
        var name = (path as NSString).lastPathComponent.lowercased()
        if name.hasSuffix(".gz") { name = String(name.dropLast(3)) }
        if name.hasSuffix(".h5ad") { return .h5ad }
        if name.hasSuffix(".h5") || name.hasSuffix(".hdf5") { return .tenxH5 }
        if name.hasSuffix(".mtx") { return .tenxMTX }
        if name.hasSuffix(".csv") { return .csv }
        if name.hasSuffix(".tsv") || name.hasSuffix(".txt") || name.hasSuffix(".tab") { return .tsv }
        throw LatentError.badInput(path, nil, "cannot tell the format from the name",
                                   hint: "use --format h5ad|csv|tsv|10x-mtx|10x-h5")
    }

    public static func read(_ path: String, options: Options = Options()) throws -> Result {
        let format = options.format == .auto ? try detectFormat(path) : options.format
        var notes: [String] = []
        var profile = StepProfile()
        var ds: Dataset
        switch format {
        case .h5ad:
            var warnings: [String] = []
            ds = try H5AD.read(path, warnings: &warnings)
            // Importing is re-storing: the output follows --compression, nothing is carried as stored.
            ds.forgetStored()
            notes += warnings
        case .csv, .tsv, .auto:
            var o = DelimitedTextOptions()
            o.orientation = options.orientation
            o.delimiter = format == .csv ? UInt8(ascii: ",") : (format == .tsv ? UInt8(ascii: "\t") : nil)
            o.threads = options.threads
            let r = try DelimitedText.read(path, options: o)
            ds = r.dataset
            notes.append(r.orientationNote)
            notes += r.warnings
        case .tenxMTX:
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
            let dir = isDir.boolValue ? path : (path as NSString).deletingLastPathComponent
            let (d, w) = try TenX.readMatrixMarketDirectory(dir.isEmpty ? "." : dir, varNames: options.varNames, threads: options.threads)
            ds = d
            notes += w
        case .tenxH5:
            let (d, w) = try AtomicOutput.decoding(path) { try TenX.readCellRangerH5(path, varNames: options.varNames) }
            ds = d
            notes += w
        }
        if let t = options.obsTable {
            if let n = try AnnotationTable.join(AnnotationTable.read(t), onto: &ds.obs, tablePath: t, what: "observation") { notes.append(n) }
        }
        if let t = options.varTable {
            if let n = try AnnotationTable.join(AnnotationTable.read(t), onto: &ds.var, tablePath: t, what: "variable") { notes.append(n) }
        }
        profile.step("read")
        try Validate.nonEmpty(ds, file: path)
        try Validate.finite(ds, file: path)
        try Validate.uniqueObsNames(ds, file: path)
        if let w = Validate.makeVarNamesUnique(&ds, file: path) { notes.append(w) }
        if options.requireCounts { try Validate.counts(ds, file: path, purpose: "--counts requires non-negative integer counts") }
        profile.step("validate")
        profile.report()
        return Result(dataset: ds, format: format, notes: notes)
    }
}
