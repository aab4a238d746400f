import LatentCore

/// How each latent relates to known factors (or any obs covariate): correlations, the
/// information-theoretic and predictor-based disentanglement scores of disentanglement_lib
/// (MIG, DCI, SAP, FactorVAE score), active units and a Gaussian total-correlation estimate.
///
/// Goals in order: the definitions of disentanglement_lib (Locatello et al. 2019) wherever they
/// apply to a fixed data set; deterministic for a seed; documented where we had to depart from
/// them (DCI's importance matrix, SAP's one-dimensional classifier, FactorVAE's sampling).
public enum Metrics {
    /// A known factor: categorical (labels 0..<C, -1 missing, kept as a label of its own) or
    /// continuous (discretised into `bins` histogram bins wherever a metric needs labels).
    public struct Factor: Sendable, Equatable {
        public enum Values: Sendable, Equatable {
            case categorical(labels: [Int], categories: [String])
            case continuous([Double])
        }
        public var name: String
        public var values: Values

        public init(name: String, values: Values) {
            self.name = name
            self.values = values
        }

        public var count: Int {
            switch values {
            case .categorical(let l, _): l.count
            case .continuous(let v): v.count
            }
        }

        public var isCategorical: Bool { if case .categorical = values { true } else { false } }

        /// Discrete labels 0..<C: categories as they are (missing becomes one more label),
        /// continuous values through disentanglement_lib's histogram discretisation.
        public func labels(bins: Int) -> [Int] {
            switch values {
            case .categorical(let l, let cats):
                return l.map { $0 < 0 ? cats.count : $0 }
            case .continuous(let v):
                return Metrics.histogramDiscretize(v, bins: bins).map { $0 - 1 }
            }
        }
    }

    public struct Parameters: Sendable, Equatable {
        /// Histogram bins for discretising codes and continuous factors (disentanglement_lib: 20).
        public var bins = 20
        /// Variance of a latent's posterior means across cells above which it is active (Burda et al.).
        public var activeThreshold = 0.01
        /// FactorVAE score: batch size, votes for training and evaluation (disentanglement_lib's defaults).
        public var factorVAEBatch = 64
        public var factorVAETrain = 10_000
        public var factorVAEEval = 5_000
        /// FactorVAE score: dimensions with a standard deviation below this are pruned (its gin default).
        public var factorVAEPrune = 0.05
        /// DCI: fraction of cells held out to measure informativeness.
        public var testFraction = 0.2
        /// DCI: ridge penalty per training cell on the bin indicators.
        public var ridge = 1e-3
        public var seed: UInt64 = 0
        public init() {}
    }

    /// One tidy result: `latent` and `factor` are "all" for a score over all of them.
    public struct Row: Sendable, Equatable {
        public var metric: String
        public var latent: String
        public var factor: String
        public var value: Double
        public init(_ metric: String, latent: String = "all", factor: String = "all", _ value: Double) {
            self.metric = metric
            self.latent = latent
            self.factor = factor
            self.value = value
        }
    }

    /// Every metric: `codes[k]` is latent k's value in each cell (cells in the same order as factors).
    /// Without factors, only the unsupervised ones (variance, active units, total correlation).
    public static func compute(codes: [[Double]], factors: [Factor], parameters p: Parameters = .init()) throws -> [Row] {
        guard let n = codes.first?.count, n >= 2 else { throw LatentError.badInput(nil, nil, "need at least 2 cells and 1 latent") }
        for c in codes where c.count != n { throw LatentError.badInput(nil, nil, "latents of different lengths") }
        for f in factors where f.count != n {
            throw LatentError.badInput(nil, f.name, "\(f.count) values for \(n) cells")
        }
        let names = codes.indices.map(String.init)
        var rows: [Row] = []
        let variances = codes.map { variance($0) }
        for (k, v) in variances.enumerated() { rows.append(Row("variance", latent: names[k], v)) }
        let active = variances.indices.filter { variances[$0] > p.activeThreshold }
        rows.append(Row("active_units", Double(active.count)))
        rows.append(Row("gaussian_tc", gaussianTotalCorrelation(active.map { codes[$0] })))
        guard !factors.isEmpty else { return rows }

        rows += correlations(codes: codes, factors: factors)
        let mig = mutualInformationGap(codes: codes, factors: factors, bins: p.bins)
        for j in factors.indices {
            rows.append(Row("factor_entropy", factor: factors[j].name, mig.entropy[j]))
            for k in codes.indices { rows.append(Row("mutual_info", latent: names[k], factor: factors[j].name, mig.mutualInformation[k][j])) }
        }
        if codes.count >= 2 {
            for j in factors.indices { rows.append(Row("mig", factor: factors[j].name, mig.perFactor[j])) }
            rows.append(Row("mig", mig.score))
        }
        let dci = try DCI(codes: codes, factors: factors, parameters: p)
        for k in codes.indices {
            for j in factors.indices { rows.append(Row("dci_importance", latent: names[k], factor: factors[j].name, dci.importance[k][j])) }
        }
        for j in factors.indices { rows.append(Row("dci_informativeness", factor: factors[j].name, dci.informativenessPerFactor[j])) }
        rows.append(Row("dci_disentanglement", dci.disentanglement))
        rows.append(Row("dci_completeness", dci.completeness))
        rows.append(Row("dci_informativeness", dci.informativeness))
        if codes.count >= 2 {
            let sap = sapScore(codes: codes, factors: factors, parameters: p)
            for j in factors.indices { rows.append(Row("sap", factor: factors[j].name, sap.perFactor[j])) }
            rows.append(Row("sap", sap.score))
        }
        let fv = factorVAEScore(codes: codes, factors: factors, parameters: p)
        rows.append(Row("factorvae_train_accuracy", fv.trainAccuracy))
        rows.append(Row("factorvae_score", fv.evalAccuracy))
        return rows
    }

    // MARK: shared helpers

    public static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }

    /// Population variance (ddof = 0) unless `ddof` says otherwise; two-pass for accuracy.
    public static func variance(_ x: [Double], ddof: Int = 0) -> Double {
        guard x.count > ddof else { return .nan }
        let m = mean(x)
        var s = 0.0
        for v in x { s += (v - m) * (v - m) }
        return s / Double(x.count - ddof)
    }

    /// A seeded train/test split of 0..<n: `test` gets round(fraction·n) cells (at least 1 when n ≥ 2).
    static func split(_ n: Int, testFraction: Double, seed: UInt64) -> (train: [Int], test: [Int]) {
        var rng = SeededRNG(seed: seed).stream(0x5117)
        let perm = rng.permutation(n)
        let nTest = min(n - 1, max(1, Int((Double(n) * testFraction).rounded())))
        return (Array(perm[nTest...]).sorted(), Array(perm[..<nTest]).sorted())
    }

    /// Solves L Lᵀ x = b for a Cholesky factor L (n × n, row-major).
    static func choleskySolveFactored(_ l: [Double], _ b: [Double], n: Int) -> [Double] {
        var y = b
        for i in 0..<n {
            var s = y[i]
            for k in 0..<i { s -= l[i * n + k] * y[k] }
            y[i] = s / l[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = y[i]
            for k in (i + 1)..<n { s -= l[k * n + i] * y[k] }
            y[i] = s / l[i * n + i]
        }
        return y
    }

    static func cholesky(_ a: [Double], n: Int) -> [Double]? {
        var l = [Double](repeating: 0, count: n * n)
        for i in 0..<n {
            for j in 0...i {
                var s = a[i * n + j]
                for k in 0..<j { s -= l[i * n + k] * l[j * n + k] }
                if i == j {
                    guard s > 0, s.isFinite else { return nil }
                    l[i * n + i] = s.squareRoot()
                } else {
                    l[i * n + j] = s / l[j * n + j]
                }
            }
        }
        return l
    }
}
