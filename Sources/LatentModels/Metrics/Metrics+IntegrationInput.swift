import Foundation
import LatentCore

extension Metrics {
    /// What `latent metrics --batch/--labels/--subspace` and the pipeline's metrics stage ask for.
    public struct IntegrationRequest: Sendable, Equatable {
        /// obs columns (`obs/COL` or `COL`).
        public var batch: String?
        public var labels: String?
        /// The unintegrated reference for PCR comparison: `obsm/KEY` of the reference data set
        /// (the same file unless one is given); nil = a 50-component PCA of the file's X
        /// (scib-metrics' Benchmarker: `sc.tl.pca`, 50 components), when it has one.
        public var unintegrated: String?
        /// `obs/COL:i-j` (coordinates i…j, 0-based, inclusive): added to those `uns["<model>"]
        /// ["subspaces"]` names (a dict COL → its coordinates, as `latent vae --subspace` writes it).
        public var subspaces: [String] = []
        public init(batch: String? = nil, labels: String? = nil, unintegrated: String? = nil, subspaces: [String] = []) {
            self.batch = batch
            self.labels = labels
            self.unintegrated = unintegrated
            self.subspaces = subspaces
        }
        public var isEmpty: Bool { batch == nil && labels == nil && subspaces.isEmpty }
    }

    /// `obs/COL:i-j` → (COL, subspace).
    public static func parseSubspace(_ text: String, file: String?) throws -> (column: String, subspace: Subspace) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let range = parts.count == 2 ? parts[1].split(separator: "-").compactMap { Int($0) } : []
        guard parts.count == 2, !parts[0].isEmpty, range.count == 2 || (range.count == 1 && !parts[1].contains("-")),
              let a = range.first, let b = range.last, a >= 0, b >= a else {
            throw LatentError.badInput(file, text, "not a subspace (write obs/COL:i-j for latents i to j, 0-based, e.g. obs/cell_type:0-3)")
        }
        let col = parts[0].hasPrefix("obs/") ? String(parts[0].dropFirst(4)) : parts[0]
        return (col, Subspace(name: col, start: a, count: b - a + 1))
    }

    /// Subspaces recorded by the model: `uns[model]["subspaces"]` as COL → the latent coordinates
    /// reserved for it (what `latent vae --subspace obs/COL:D` writes: D consecutive indices).
    public static func recordedSubspaces(_ ds: Dataset, key: String) -> [Subspace] {
        let name = String(key.split(separator: "/").last ?? "")
        let model = name.hasPrefix("X_") ? String(name.dropFirst(2)) : name
        guard case .dict(let u)? = ds.uns[model], case .dict(let s)? = u["subspaces"] else { return [] }
        return s.keys.compactMap { col -> Subspace? in
            guard case .numbers(let a)? = s[col] else { return nil }
            let v: [Double]
            switch a.storage {
            case .float64(let d): v = d
            case .float32(let f): v = f.map(Double.init)
            case .int64(let i): v = i.map(Double.init)
            case .int32(let i): v = i.map(Double.init)
            case .bool: return nil
            }
            // `latent vae --subspace` reserves consecutive coordinates; anything else is not a subspace we can name i-j
            guard let first = v.first, first >= 0, v.enumerated().allSatisfy({ $0.element == first + Double($0.offset) }) else { return nil }
            let name = col.hasPrefix("obs/") ? String(col.dropFirst(4)) : col
            return Subspace(name: name, start: Int(first), count: v.count)
        }
    }

    /// Integration and subspace rows for the codes under `key`. `reference` holds the
    /// unintegrated data when it is another file (its cells in the same order). `xSource`: the
    /// reference's X read in row chunks within `budget`, as `latent pca` reads it (a file's, so
    /// that an atlas never sits in memory whole), instead of the dataset's X.
    public static func integration(_ ds: Dataset, key: String, request r: IntegrationRequest, reference: Dataset? = nil,
                                   parameters p: IntegrationParameters = .init(), threads: Int = 1, file: String,
                                   note: (String) -> Void = { _ in }, xSource: (any MatrixSource)? = nil,
                                   budget: MemoryBudget = .machineDefault) throws -> [Row] {
        let x = Points(columns: try codes(ds, key: key, file: file))
        func factor(_ col: String?) throws -> Factor? {
            guard let col else { return nil }
            let f = try factors(ds, columns: [col], file: file)[0]
            guard case .continuous(let v) = f.values else { return f }
            // integer codes (batch 1, 2, 3) are categories, as scib-metrics takes any labels
            guard v.allSatisfy({ $0 == $0.rounded() && abs($0) < 1e15 }) else {
                throw LatentError.badInput(file, "obs/\(f.name)", "a numeric column with fractions; batches and labels must be categorical",
                                           hint: "store it as strings, a categorical or integer codes")
            }
            let cats = Array(Set(v)).sorted()
            let index = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
            return Factor(name: f.name, values: .categorical(labels: v.map { index[$0]! }, categories: cats.map { String(Int($0)) }))
        }
        let batch = try factor(r.batch), labels = try factor(r.labels)
        var rows: [Row] = []
        if batch != nil || labels != nil {
            var pre: Points?
            let refDS = reference ?? ds
            if let u = r.unintegrated {
                pre = Points(columns: try codes(refDS, key: u, file: file))
            } else if batch != nil, case let src = xSource ?? InMemorySource(refDS.X), src.cols >= 2, src.rows == x.n {
                let k = min(50, src.rows - 1, src.cols)
                var rng = SeededRNG(seed: p.seed)
                let chunks = PCAStage.chunking(src, budget: budget)
                let pca = try PCA.fit(source: src, k: k, rng: &rng, threads: threads, maxStored: chunks.maxStored,
                                      keepChunks: chunks.keep, file: file)
                let s = pca.scores
                pre = Points(n: s.rows, d: s.cols, values: s.values.map(Double.init))
                note("PCR comparison against a \(k)-component PCA of X (give --unintegrated obsm/KEY for another reference)")
            } else if batch != nil {
                note("no X and no --unintegrated: PCR comparison is NA")
            }
            if let pre, pre.n != x.n {
                throw LatentError.badInput(file, r.unintegrated ?? "X", "the unintegrated reference has \(pre.n) cells, the codes \(x.n)")
            }
            rows += try integration(x, batch: batch, labels: labels, unintegrated: pre, parameters: p)
        }
        var subspaces: [(Subspace, Factor)] = []
        var seen = Set<String>()
        let given = try r.subspaces.map { try parseSubspace($0, file: file) }
        for s in given.map(\.subspace) + recordedSubspaces(ds, key: key) where !seen.contains(s.name) {
            seen.insert(s.name)
            guard s.start + s.count <= x.d else {
                throw LatentError.badInput(file, "\(s.name):\(s.start)-\(s.start + s.count - 1)", "the codes have only \(x.d) latents (0…\(x.d - 1))")
            }
            subspaces.append((s, try factors(ds, columns: [s.name], file: file)[0]))
        }
        if !subspaces.isEmpty {
            rows += try subspacePredictability(x, subspaces: subspaces, folds: p.folds, k: p.classifierNeighbors, seed: p.seed)
        }
        return rows
    }
}
