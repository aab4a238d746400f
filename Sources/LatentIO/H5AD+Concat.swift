import Foundation
import LatentCore

/// `latent import A B C … -o all.h5ad`: many inputs concatenated by rows, streamed.
///
/// Two modes:
/// - With a batch key (many samples in): every input may be a 10x directory, a Cell Ranger .h5
///   or an .h5ad. Genes are aligned by ID (var `gene_ids` when every input has it, else the var
///   names) and the output keeps the genes **every** input has (the intersection: anndata's
///   `concat` default `join="inner"`, which is what scanpy users and nf-core/scrnaseq's merged
///   output expect), in the first input's order. Cell names become `<name>-<sample>` and
///   obs[key] holds the sample (a categorical in input order). obs columns every input has with
///   one type are kept; uns is empty but for the import record, as anndata's default.
/// - Without a batch key (the gather step of a sharded workflow): .h5ad inputs with identical
///   var and cell names unique across inputs; X, layers, obs and obsm rows are stacked, var, varm
///   and uns are the first input's. The result is byte for byte what one process would have written
///   for the same rows (see `H5ADStreamWriter`).
///
/// .h5ad inputs are streamed in row chunks; 10x inputs are read one at a time into memory (one
/// sample fits) — twice, once for their genes and once for their counts.
public enum H5ADConcat {
    public struct Input: Sendable {
        public var sample: String
        public var path: String
        public init(sample: String, path: String) { self.sample = sample; self.path = path }

        /// `name=path`, or a path whose sample name is its file name without extensions (a 10x
        /// `outs/filtered_feature_bc_matrix` directory is named by the directory above `outs`).
        public static func parse(_ arg: String) -> Input {
            if let eq = arg.firstIndex(of: "="), !arg[..<eq].contains("/"), eq != arg.startIndex {
                return Input(sample: String(arg[..<eq]), path: String(arg[arg.index(after: eq)...]))
            }
            var parts = arg.split(separator: "/").map(String.init)
            while let last = parts.last, parts.count > 1,
                  ["filtered_feature_bc_matrix", "raw_feature_bc_matrix", "outs", "filtered_gene_bc_matrices", "."].contains(last)
                    || last.hasSuffix("_feature_bc_matrix.h5") && parts.count > 2 && parts[parts.count - 2] == "outs" {
                parts.removeLast()
            }
            var name = parts.last ?? arg
            for ext in [".gz", ".h5ad", ".h5", ".hdf5"] where name.hasSuffix(ext) { name = String(name.dropLast(ext.count)) }
            return Input(sample: name, path: arg)
        }
    }

    public struct Options: Sendable {
        public var batchKey: String? = nil
        public var compression = Compression()
        public var maxStored = 1 << 26
        public var importOptions = Import.Options()
        public init() {}
    }

    /// One input opened for reading: an .h5ad streamed from disk, or anything else in memory.
    struct Opened {
        var source: any MatrixSource
        var annotations: H5AD.Annotations
        var format: Import.Format
    }

    static func open(_ input: Input, options: Options, notes: inout [String]) throws -> Opened {
        var io = options.importOptions
        let format = io.format == .auto ? try Import.detectFormat(input.path) : io.format
        if format == .h5ad, let src = try streamable(input.path, inMemoryAllowed: options.batchKey != nil) {
            var w: [String] = []
            let a = try H5AD.readAnnotations(input.path, warnings: &w)
            notes += w
            if a.obs.count != src.rows { throw LatentError.badInput(input.path, "/obs", "has \(a.obs.count) rows but X has \(src.rows) rows") }
            if a.var.count != src.cols { throw LatentError.badInput(input.path, "/var", "has \(a.var.count) rows but X has \(src.cols) columns") }
            return Opened(source: src, annotations: a, format: format)
        }
        guard options.batchKey != nil else {
            throw LatentError.badInput(input.path, nil, "concatenating without --batch-key takes .h5ad shards only",
                                       hint: "give --batch-key sample to combine samples of other formats")
        }
        io.format = format
        let r = try HDF5Lock.run { try Import.read(input.path, options: io) }
        notes += r.notes
        return Opened(source: InMemorySource(r.dataset.X), annotations: H5AD.Annotations(r.dataset), format: format)
    }

    /// The .h5ad's X as a row source; nil for a CSC X when a sample may be read whole instead
    /// (one sample fits in memory; a shard being gathered must be CSR).
    static func streamable(_ path: String, inMemoryAllowed: Bool) throws -> H5ADMatrixSource? {
        do { return try H5ADMatrixSource(path: path) } catch let e as LatentError where inMemoryAllowed && e.message.hasPrefix("CSC") {
            return nil
        }
    }

    /// Writes the concatenation to `output`; returns notes for stderr.
    public static func run(_ inputs: [Input], to output: String, options: Options) throws -> [String] {
        precondition(inputs.count >= 1)
        var notes: [String] = []
        if options.batchKey != nil {
            var seen = Set<String>()
            for i in inputs where !seen.insert(i.sample).inserted {
                throw LatentError.badInput(i.path, nil, "sample name '\(i.sample)' is used by two inputs",
                                           hint: "name them: NAME=PATH")
            }
        }
        // Pass 1: annotations of every input (10x inputs are read and dropped).
        var anns: [H5AD.Annotations] = []
        var sparse = true
        for (k, input) in inputs.enumerated() {
            let o = try open(input, options: options, notes: &notes)
            anns.append(o.annotations)
            if k == 0 { sparse = o.source.isSparse }
        }
        let first = anns[0]
        // Gene alignment: output genes and, per input, its column → output column (-1: dropped).
        var outVar: DataFrame
        var maps: [[Int]?] = []
        if options.batchKey == nil {
            for (k, a) in anns.enumerated().dropFirst() where a.var != first.var {
                throw LatentError.badInput(inputs[k].path, "/var", "differs from \(inputs[0].path)'s var (without --batch-key inputs must have identical genes)",
                                           hint: "give --batch-key to align genes of different samples")
            }
            outVar = first.var
            maps = Array(repeating: nil, count: anns.count)
        } else {
            func keys(_ v: DataFrame) -> [String] {
                if anns.allSatisfy({ $0.var["gene_ids"] != nil }), let ids = v["gene_ids"] { return ids.strings }
                return v.index
            }
            let keyLists = anns.map { keys($0.var) }
            var common = Set(keyLists[0])
            for kl in keyLists.dropFirst() { common.formIntersection(kl) }
            var firstPos: [String: Int] = [:]
            var keep: [Int] = []
            for (j, key) in keyLists[0].enumerated() where common.contains(key) && firstPos[key] == nil {
                firstPos[key] = keep.count
                keep.append(j)
            }
            if keep.isEmpty { throw LatentError.badInput(inputs.last!.path, "/var", "no gene in common with the other inputs (genes are aligned by ID)") }
            outVar = first.var.subset(keep)
            for kl in keyLists {
                var m = [Int](repeating: -1, count: kl.count)
                var used = Set<Int>()
                for (j, key) in kl.enumerated() { if let p = firstPos[key], used.insert(p).inserted { m[j] = p } }
                maps.append(m)
            }
            let dropped = keyLists.map(\.count).max()! - keep.count
            if dropped > 0 { notes.append("\(keep.count) genes in every input kept, \(dropped) not in all inputs dropped (inner join, as anndata.concat)") }
        }
        // obs, obsm, uns.
        var frames = anns.map(\.obs)
        if let key = options.batchKey {
            for k in frames.indices {
                frames[k].index = frames[k].index.map { "\($0)-\(inputs[k].sample)" }
                frames[k].remove(key)
            }
        }
        var (obs, droppedCols) = DataFrame.concatenated(frames)
        if !droppedCols.isEmpty { notes.append("obs columns not in every input (or of different types) dropped: \(droppedCols.joined(separator: ", "))") }
        if let key = options.batchKey {
            var codes: [Int32] = []
            for (k, a) in anns.enumerated() { codes += [Int32](repeating: Int32(k), count: a.obs.count) }
            obs.set(key, .categorical(codes: codes, categories: inputs.map(\.sample), ordered: false))
        }
        var seen = Set<String>()
        seen.reserveCapacity(obs.count)
        var offset = 0
        for (k, a) in anns.enumerated() {
            for (i, name) in a.obs.index.enumerated() where !seen.insert(obs.index[offset + i]).inserted {
                throw LatentError.badInput(inputs[k].path, "/obs", "cell name '\(name)' also occurs in an earlier input",
                                           hint: options.batchKey == nil ? "give --batch-key to make names unique with the sample" : "name the samples differently")
            }
            offset += a.obs.count
        }
        var ann = H5AD.Annotations(obs: obs, var: outVar)
        if let key = options.batchKey {
            ann.uns["latent_import"] = .dict(OrderedDict([("batch_key", .string(key)), ("samples", .strings(inputs.map(\.sample))),
                                                          ("join", .string("inner"))]))
        } else {
            ann.uns = first.uns
            ann.varm = first.varm
            for key in first.obsm.keys {
                let parts = anns.compactMap { $0.obsm[key] }
                if parts.count == anns.count, parts.allSatisfy({ !$0.isSparse && $0.cols == parts[0].cols }), let m = MatrixData.stackRows(parts) {
                    ann.obsm[key] = m
                } else {
                    notes.append("obsm/\(key): not in every input with one shape, dropped")
                }
            }
        }
        // Layers (gather only): those every input has, each stored one way.
        var layerNames: [(name: String, sparse: Bool)] = []
        if options.batchKey == nil {
            let perInput = try inputs.map { try H5ADLayerNames.names($0.path) }
            for name in perInput[0] {
                let kinds = try inputs.map { try H5ADMatrixSource(path: $0.path, layer: name).isSparse }
                if perInput.allSatisfy({ $0.contains(name) }) && Set(kinds).count == 1 { layerNames.append((name, kinds[0])) } else {
                    notes.append("layers/\(name): not in every input stored one way, dropped")
                }
            }
        }
        // Pass 2: the rows.
        let w = try H5ADStreamWriter(path: output, cols: outVar.count, sparse: sparse, compression: options.compression, annotations: ann,
                                     layers: layerNames)
        for (k, input) in inputs.enumerated() {
            var ignored: [String] = []
            let o = try open(input, options: options, notes: &ignored)
            if o.source.isSparse != sparse {
                throw LatentError.badInput(input.path, "/X", "is \(o.source.isSparse ? "sparse" : "dense") but \(inputs[0].path)'s X is not",
                                           hint: "store every input's X the same way")
            }
            let map = maps[k]
            let layerSources = try layerNames.map { try H5ADMatrixSource(path: input.path, layer: $0.name) }
            try RowChunking.forEach(o.source, RowChunking.plan(o.source, maxStored: options.maxStored), prefetch: true) { range, block in
                try w.append(map.map { remap(block, $0, cols: outVar.count) } ?? block)
                for (l, src) in zip(layerNames, layerSources) { try w.appendLayer(l.name, try src.read(range)) }
            }
        }
        try w.finish()
        return notes
    }

    /// A block's columns moved to their output positions (dropped where -1), rows kept sorted.
    static func remap(_ block: MatrixData, _ map: [Int], cols: Int) -> MatrixData {
        switch block {
        case .dense(let m):
            var out = Matrix(rows: m.rows, cols: cols)
            for i in 0..<m.rows { for j in 0..<m.cols where map[j] >= 0 { out.values[i * cols + map[j]] = m.values[i * m.cols + j] } }
            return .dense(out)
        case .sparse(let s):
            var indptr = [0], indices: [Int32] = [], values: [Float] = []
            indices.reserveCapacity(s.nnz)
            values.reserveCapacity(s.nnz)
            var row: [(Int32, Float)] = []
            for i in 0..<s.rows {
                row.removeAll(keepingCapacity: true)
                var sorted = true
                for p in s.indptr[i]..<s.indptr[i + 1] {
                    let to = map[Int(s.indices[p])]
                    if to < 0 { continue }
                    if let last = row.last, last.0 > Int32(to) { sorted = false }
                    row.append((Int32(to), s.values[p]))
                }
                if !sorted { row.sort { $0.0 < $1.0 } }
                for (j, v) in row { indices.append(j); values.append(v) }
                indptr.append(indices.count)
            }
            return .sparse(SparseMatrix(rows: s.rows, cols: cols, indptr: indptr, indices: indices, values: values))
        }
    }
}
