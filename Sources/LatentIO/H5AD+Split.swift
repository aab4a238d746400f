import Foundation
import LatentCore

/// `latent split`: an .h5ad cut into shards of a fixed number of rows, streamed, for the sharded
/// workflow (map per shard, reduce of additive statistics, gather with `latent import`).
///
/// Shards start on multiples of `RowChunking.statBlock` rows, so per-block statistics of a shard
/// are exactly those of the whole file. Each shard holds its rows of X, layers, obs and obsm, and
/// the whole var, varm and uns; it is byte for byte what `H5AD.write` would write for that subset.
public enum H5ADSplit {
    /// The shard file name of shard `k`: shard_0000.h5ad, shard_0001.h5ad, …
    public static func shardName(_ k: Int) -> String {
        let s = String(k)
        return "shard_" + String(repeating: "0", count: max(0, 4 - s.count)) + s + ".h5ad"
    }

    /// Writes the shards into `directory` (which must exist) and returns their paths in order.
    /// `maxStored` bounds the stored entries held at once (chunks within a shard).
    public static func split(_ input: String, rows perShard: Int, into directory: String, compression: Compression = Compression(),
                             maxStored: Int, notes: inout [String]) throws -> [String] {
        precondition(perShard > 0 && perShard % RowChunking.statBlock == 0)
        let source = try H5ADMatrixSource(path: input)
        var warnings: [String] = []
        let ann = try H5AD.readAnnotations(input, warnings: &warnings)
        notes += warnings
        if ann.obs.count != source.rows {
            throw LatentError.badInput(input, "/obs", "has \(ann.obs.count) rows but X has \(source.rows) rows")
        }
        if ann.var.count != source.cols {
            throw LatentError.badInput(input, "/var", "has \(ann.var.count) rows but X has \(source.cols) columns")
        }
        let layerSources = try H5ADLayerNames.names(input).map { try H5ADMatrixSource(path: input, layer: $0) }
        var out: [String] = []
        // A failed split leaves no shards: a workflow must not see half of them.
        var done = false
        defer { if !done { for p in out { try? FileManager.default.removeItem(atPath: p) } } }
        var start = 0, k = 0
        repeat {
            let end = min(source.rows, start + perShard)
            let path = (directory as NSString).appendingPathComponent(shardName(k))
            let idx = Array(start..<end)
            var a = ann
            a.obs = ann.obs.subset(idx)
            var obsm = MatrixDict()
            for key in ann.obsm.keys { obsm[key] = ann.obsm[key]!.rowBlock(start..<end) }
            a.obsm = obsm
            let w = try H5ADStreamWriter(path: path, cols: source.cols, sparse: source.isSparse, compression: compression, annotations: a,
                                         layers: layerSources.map { (String($0.element.dropFirst("/layers/".count)), $0.isSparse) })
            let plan = RowChunking.plan(rows: end - start, maxStored: maxStored) { source.storedCount(($0.lowerBound + start)..<($0.upperBound + start)) }
            let shifted = plan.map { ($0.lowerBound + start)..<($0.upperBound + start) }
            try RowChunking.forEach(source, shifted, prefetch: true) { range, block in
                try w.append(block)
                for l in layerSources { try w.appendLayer(String(l.element.dropFirst("/layers/".count)), try l.read(range)) }
            }
            try w.finish()
            out.append(path)
            start = end
            k += 1
        } while start < source.rows
        done = true
        return out
    }
}

/// Names under /layers without reading them.
enum H5ADLayerNames {
    static func names(_ path: String) throws -> [String] {
        try HDF5Lock.run {
            let f = try H5File.open(path)
            guard f.root.kind(of: "layers") == .group else { return [] }
            return try f.root.group("layers").memberNames()
        }
    }
}
