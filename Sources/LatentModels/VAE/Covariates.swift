import LatentCore

// MARK: covariates

/// The covariate flags of `latent vae` (and the pipeline's vae stage keys), held in
/// `VAEParameters.covariates`: nil for a model without covariates, so that its parameters (and
/// their JSON in outputs) are exactly what they were before covariates existed.
public struct CovariateParameters: Codable, Sendable, Equatable {
    public enum Dispersion: String, Codable, Sendable, CaseIterable {
        /// One NB dispersion θ per gene.
        case gene
        /// One θ per gene and batch (scVI's "gene-batch"); needs a batch key.
        case geneBatch = "gene-batch"
    }

    /// A supervised subspace: `dims` latent coordinates reserved for the obs column `key`.
    public struct Subspace: Codable, Sendable, Equatable {
        public var key: String
        public var dims: Int
        public init(key: String, dims: Int) {
            self.key = key
            self.dims = dims
        }
    }

    /// obs column of the batch (categorical); also the dispersion groups of gene-batch.
    public var batchKey: String? = nil
    /// Further categorical obs columns (one-hot).
    public var categorical: [String] = []
    /// Continuous obs columns (standardised with the training data's mean and sd).
    public var continuous: [String] = []
    /// Also feed the covariates to the encoder's first layer (the decoder always gets them).
    public var encodeCovariates: Bool = false
    public var dispersion: Dispersion = .gene
    public var subspaces: [Subspace] = []
    /// Weight of the triplet terms (one per subspace) in the loss. The reconstruction term is a
    /// sum over genes (hundreds of nats per cell), the triplet term at most a few nats per cell:
    /// at weight ~1 it is drowned out (measured on 200 genes: the subspace stays at chance),
    /// at 50–500 it separates the labels at no visible cost in reconstruction.
    public var tripletWeight: Double = 100
    /// Weight of the HSIC term between each subspace's coordinates and the free ones (one
    /// `HSICTerm` per subspace, the program decoders' term): the triplet term alone shapes the
    /// subspace but does not stop the free coordinates from encoding the label too (measured:
    /// the label stayed predictable from the free coordinates). nil: `defaultSubspaceHSICPerGene` × genes;
    /// optional so that parameters written before it existed still decode.
    public var subspaceHSIC: Double? = nil
    /// The default weight per gene: the reconstruction term it competes with is a sum over genes,
    /// so a fixed weight is too strong on few genes (measured: at 200 genes 100,000 collapsed a
    /// one-coordinate subspace) and too weak on many. 100 per gene is the weight measured to keep
    /// the label out of the free coordinates at 1,000 genes (Benchmarks/results/subspaces.md).
    public static let defaultSubspaceHSICPerGene: Double = 100
    /// The HSIC weight in force (0 without subspaces or without free coordinates).
    public func subspaceHSICWeight(latent: Int, genes: Int) -> Double {
        let reserved = subspaces.reduce(0) { $0 + $1.dims }
        return subspaces.isEmpty || reserved >= latent ? 0 : (subspaceHSIC ?? Self.defaultSubspaceHSICPerGene * Double(max(1, genes)))
    }

    public init() {}

    /// obs columns entering the network, categorical first (the batch key leading).
    public var categoricalColumns: [String] { (batchKey.map { [$0] } ?? []) + categorical }
    public var hasSideInputs: Bool { batchKey != nil || !categorical.isEmpty || !continuous.isEmpty }

    public func problems(latent: Int, likelihood: VAEParameters.Likelihood) -> [String] {
        var p: [String] = []
        let all = categoricalColumns + continuous
        if let dup = all.first(where: { c in all.filter { $0 == c }.count > 1 }) {
            p.append("covariate obs/\(dup) is named twice (--batch-key, --covariates, --continuous-covariates)")
        }
        if all.contains(where: { $0.isEmpty }) { p.append("covariate names must not be empty (obs/COL)") }
        if dispersion == .geneBatch {
            if batchKey == nil { p.append("--dispersion gene-batch needs --batch-key") }
            if likelihood != .nb && likelihood != .zinb { p.append("--dispersion applies to --likelihood nb or zinb only") }
        }
        if subspaces.contains(where: { $0.dims < 1 }) { p.append("--subspace obs/COL:D needs D ≥ 1") }
        let reserved = subspaces.reduce(0) { $0 + $1.dims }
        if reserved > latent { p.append("--subspace reserves \(reserved) coordinates but --latent is \(latent)") }
        if let dup = subspaces.first(where: { s in subspaces.filter { $0.key == s.key }.count > 1 }) {
            p.append("--subspace obs/\(dup.key) is given twice")
        }
        if !(tripletWeight >= 0 && tripletWeight.isFinite) { p.append("--triplet-weight must be 0 or more") }
        if let h = subspaceHSIC, !(h >= 0 && h.isFinite) { p.append("--subspace-hsic must be 0 or more") }
        return p
    }

    /// Latent coordinates of each subspace, in order from coordinate 0; the rest are free.
    public var subspaceRanges: [(key: String, range: Range<Int>)] {
        var start = 0
        return subspaces.map { s in
            defer { start += s.dims }
            return (s.key, start..<(start + s.dims))
        }
    }

    /// A name for every latent coordinate: "<column>_<i>" inside a subspace, "z<j>" for free ones.
    public func latentNames(latent: Int) -> [String] {
        var names = (0..<latent).map { "z\($0)" }
        for (key, range) in subspaceRanges { for (i, j) in range.enumerated() { names[j] = "\(key)_\(i)" } }
        return names
    }
}

/// The covariates as fitted to the training data and recorded in the model file: each
/// categorical column's categories (in one-hot order) and each continuous column's mean and sd.
/// It turns any dataset's obs into the side-input matrix the network reads.
public struct CovariateDesign: Codable, Sendable, Equatable {
    public struct Categorical: Codable, Sendable, Equatable {
        public var column: String
        public var categories: [String]
    }
    public struct Continuous: Codable, Sendable, Equatable {
        public var column: String
        public var mean: Double
        public var sd: Double
    }

    /// Batch key first when there is one.
    public var categorical: [Categorical]
    public var continuous: [Continuous]
    public var batchKey: String?

    /// Side-input columns: every category, then every continuous covariate.
    public var width: Int { categorical.reduce(0) { $0 + $1.categories.count } + continuous.count }
    public var batchCategories: [String] { batchKey != nil ? categorical[0].categories : [] }

    /// Categories and scalings from the training data's obs.
    public static func fit(_ p: CovariateParameters, obs: DataFrame, file: String) throws -> CovariateDesign {
        var cats: [Categorical] = []
        for col in p.categoricalColumns {
            let values = try categoricalValues(obs, col, file: file)
            var seen = Set<String>(), order: [String] = []
            if case .categorical(_, let declared, _)? = obs[col] {
                // The column's own category order, keeping only categories that occur.
                let present = Set(values)
                order = declared.filter { present.contains($0) }
            } else {
                for v in values where !seen.contains(v) { seen.insert(v); order.append(v) }
                order.sort()
            }
            cats.append(Categorical(column: col, categories: order))
        }
        var conts: [Continuous] = []
        for col in p.continuous {
            let v = try continuousValues(obs, col, file: file)
            let n = Double(max(v.count, 1))
            let mean = v.reduce(0, +) / n
            let variance = v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n
            let sd = variance.squareRoot()
            conts.append(Continuous(column: col, mean: mean, sd: sd > 0 ? sd : 1))
        }
        return CovariateDesign(categorical: cats, continuous: conts, batchKey: p.batchKey)
    }

    /// The side-input matrix (cells × width) of `obs`. A category the model has not seen, or a
    /// missing column, is bad input. With `transformBatch`, every cell gets that batch (the batch
    /// column is then not read).
    public func sideInputs(_ obs: DataFrame, file: String, transformBatch: String? = nil) throws -> Matrix {
        let n = obs.count
        var m = Matrix(rows: n, cols: width)
        var offset = 0
        for (ci, c) in categorical.enumerated() {
            var index: [String: Int] = [:]
            for (i, name) in c.categories.enumerated() { index[name] = i }
            if ci == 0, batchKey != nil, let b = transformBatch {
                guard let j = index[b] else {
                    throw LatentError.badInput(nil, "--transform-batch", "unknown batch '\(b)' (the model's batches in obs/\(c.column): \(listed(c.categories)))")
                }
                for i in 0..<n { m[i, offset + j] = 1 }
            } else {
                let values = try Self.categoricalValues(obs, c.column, file: file)
                for (i, v) in values.enumerated() {
                    guard let j = index[v] else {
                        throw LatentError.badInput(file, "obs/\(c.column)[cell '\(obs.index[i])']",
                                                   "unknown category '\(v)' (the model knows \(listed(c.categories)))",
                                                   hint: "encode only cells of known categories, or retrain with them")
                    }
                    m[i, offset + j] = 1
                }
            }
            offset += c.categories.count
        }
        for c in continuous {
            let v = try Self.continuousValues(obs, c.column, file: file)
            for i in 0..<n { m[i, offset] = Float((v[i] - c.mean) / c.sd) }
            offset += 1
        }
        return m
    }

    /// Each cell's batch index (the dispersion group of gene-batch), from a side-input matrix.
    public func batchIndices(_ side: Matrix) -> [Int]? {
        guard batchKey != nil else { return nil }
        let nb = categorical[0].categories.count
        return (0..<side.rows).map { i in (0..<nb).first { side[i, $0] == 1 } ?? 0 }
    }

    func listed(_ c: [String]) -> String {
        c.count <= 12 ? c.map { "'\($0)'" }.joined(separator: ", ") : c.prefix(12).map { "'\($0)'" }.joined(separator: ", ") + ", … (\(c.count))"
    }

    static func categoricalValues(_ obs: DataFrame, _ col: String, file: String) throws -> [String] {
        guard let c = obs[col] else {
            throw LatentError.badInput(file, "obs/\(col)", "missing: the model's covariate column is not in obs",
                                       hint: "add the column, or name an existing one (obs columns: \(obs.columnNames.prefix(8).joined(separator: ", ")))")
        }
        let v = c.strings
        if case .categorical(let codes, _, _) = c, let i = codes.firstIndex(where: { $0 < 0 }) {
            throw LatentError.badInput(file, "obs/\(col)[cell '\(obs.index[i])']", "missing value in a covariate column", hint: "fill or drop such cells first")
        }
        if case .float64(let d) = c, let i = d.firstIndex(where: { $0.isNaN }) {
            throw LatentError.badInput(file, "obs/\(col)[cell '\(obs.index[i])']", "missing value in a covariate column", hint: "fill or drop such cells first")
        }
        return v
    }

    static func continuousValues(_ obs: DataFrame, _ col: String, file: String) throws -> [Double] {
        guard let c = obs[col] else {
            throw LatentError.badInput(file, "obs/\(col)", "missing: the model's continuous covariate column is not in obs",
                                       hint: "add the column, or name an existing one")
        }
        guard let v = c.doubles else {
            throw LatentError.badInput(file, "obs/\(col)", "is \(c.typeName), a continuous covariate needs numbers",
                                       hint: "pass it with --covariates (categorical) instead")
        }
        if let i = v.firstIndex(where: { !$0.isFinite }) {
            throw LatentError.badInput(file, "obs/\(col)[cell '\(obs.index[i])']", "non-finite value in a continuous covariate", hint: "fill or drop such cells first")
        }
        return v
    }

    /// Labels of a subspace's column for the triplet term: categorical for categorical, string,
    /// bool and integer columns (codes), continuous for float columns.
    public static func subspaceLabels(_ obs: DataFrame, _ col: String, file: String) throws -> TripletTerm.Labels {
        guard let c = obs[col] else {
            throw LatentError.badInput(file, "obs/\(col)", "missing: --subspace names a column that is not in obs")
        }
        switch c {
        case .float64, .float32:
            return .continuous(c.doubles!.map { $0.isFinite ? $0 : .nan })
        case .categorical(let codes, _, _):
            return .categorical(codes.map { Int($0) })
        default:
            var index: [String: Int] = [:]
            return .categorical(c.strings.map { s in
                if let i = index[s] { return i }
                index[s] = index.count
                return index.count - 1
            })
        }
    }
}
