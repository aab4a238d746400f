import Foundation
import LatentCore

extension Metrics {
    /// DCI disentanglement, completeness and informativeness (Eastwood & Williams 2018), with
    /// disentanglement_lib's aggregation: importances P (latents × factors); disentanglement per
    /// latent 1 − H_F(P_k·) weighted by the latent's share of the total importance; completeness
    /// per factor 1 − H_K(P_·j) weighted by the factor's share.
    ///
    /// Departure, on purpose: disentanglement_lib takes importances from scikit-learn's
    /// gradient-boosted trees. We fit an additive step-function model instead, which we can write
    /// ourselves, is deterministic, and still credits nonlinear relations as trees do: each latent
    /// is cut into the same `bins` histogram bins as MIG, the bin indicators of all latents (plus
    /// each latent's standardised value, for the trend within a bin) are the features, and a ridge regression predicts the factor (its one-hot columns when categorical,
    /// its standardised value when continuous). A latent's importance for a factor is the standard
    /// deviation, over the training cells, of its own term in the fitted model (summed over a
    /// factor's classes). Informativeness is the held-out accuracy of that model (argmax over the
    /// one-hot predictions) for a categorical factor and its held-out R² for a continuous one.
    public struct DCI: Sendable {
        public var importance: [[Double]]
        public var disentanglement: Double
        public var completeness: Double
        public var informativenessPerFactor: [Double]
        public var informativeness: Double

        public init(codes: [[Double]], factors: [Factor], parameters p: Parameters) throws {
            let n = codes[0].count, K = codes.count, B = p.bins, W = B + 1, P = K * W
            let (train, test) = Metrics.split(n, testFraction: p.testFraction, seed: p.seed)
            // Latent k owns features k·W ..< (k+1)·W: its B bin indicators, then its standardised
            // value (the linear trend within bins, so a linear relation is fitted exactly).
            let bin: [[Int]] = codes.enumerated().map { k, c in Metrics.histogramDiscretize(c, bins: B).map { k * W + $0 - 1 } }
            let scaled: [[Double]] = codes.map { c in
                let tr = train.map { c[$0] }
                let m = Metrics.mean(tr), sd = Metrics.variance(tr).squareRoot()
                return c.map { sd > 0 ? ($0 - m) / sd : 0 }
            }
            func features(_ i: Int) -> [(Int, Double)] {
                var f: [(Int, Double)] = []
                f.reserveCapacity(2 * K)
                for k in 0..<K { f.append((bin[k][i], 1)); f.append((k * W + B, scaled[k][i])) }
                return f
            }
            var mu = [Double](repeating: 0, count: P)
            var gram = [Double](repeating: 0, count: P * P)
            for i in train {
                let f = features(i)
                for (a, va) in f {
                    mu[a] += va
                    for (b, vb) in f { gram[a * P + b] += va * vb }
                }
            }
            let nt = Double(train.count)
            for a in 0..<P { mu[a] /= nt }
            // centred Gram + ridge (bins no training cell falls in get a zero coefficient)
            for a in 0..<P {
                for b in 0..<P { gram[a * P + b] -= nt * mu[a] * mu[b] }
                gram[a * P + a] += p.ridge * nt + 1e-9
            }
            guard let chol = Metrics.cholesky(gram, n: P) else { throw LatentError.internalFailure("DCI: singular ridge system") }
            var importance = [[Double]](repeating: [Double](repeating: 0, count: factors.count), count: K)
            var info = [Double](repeating: 0, count: factors.count)
            for (j, f) in factors.enumerated() {
                var targets: [[Double]]
                var classes: [Int] = []
                switch f.values {
                case .continuous(let v):
                    let tr = train.map { v[$0] }
                    let m = Metrics.mean(tr), sd = Metrics.variance(tr).squareRoot()
                    targets = [v.map { sd > 0 ? ($0 - m) / sd : 0 }]
                case .categorical:
                    classes = f.labels(bins: B)
                    let c = (classes.max() ?? 0) + 1
                    targets = (0..<c).map { cls in classes.map { $0 == cls ? 1.0 : 0.0 } }
                }
                let means = targets.map { t in Metrics.mean(train.map { t[$0] }) }
                let rhs = targets.enumerated().map { (c, t) -> [Double] in
                    var r = [Double](repeating: 0, count: P)
                    for i in train { for (a, v) in features(i) { r[a] += v * (t[i] - means[c]) } }
                    return r
                }
                let beta = rhs.map { Metrics.choleskySolveFactored(chol, $0, n: P) }
                // each latent's own term, centred: β_bin(i) + β_lin·z_i − Σ_a β_a μ_a over its features
                let offsets = beta.map { bc in (0..<K).map { k in (0..<W).reduce(0.0) { $0 + bc[k * W + $1] * mu[k * W + $1] } } }
                func term(_ c: Int, _ k: Int, _ i: Int) -> Double {
                    beta[c][bin[k][i]] + beta[c][k * W + B] * scaled[k][i] - offsets[c][k]
                }
                for k in 0..<K {
                    var total = 0.0
                    for c in targets.indices {
                        var ss = 0.0
                        for i in train { let t = term(c, k, i); ss += t * t }
                        total += (ss / nt).squareRoot()
                    }
                    importance[k][j] = total
                }
                func predict(_ i: Int, _ c: Int) -> Double {
                    var s = means[c]
                    for k in 0..<K { s += term(c, k, i) }
                    return s
                }
                if case .continuous = f.values {
                    let t = targets[0]
                    let tm = Metrics.mean(test.map { t[$0] })
                    var ssRes = 0.0, ssTot = 0.0
                    for i in test {
                        let r = t[i] - predict(i, 0)
                        ssRes += r * r
                        ssTot += (t[i] - tm) * (t[i] - tm)
                    }
                    info[j] = ssTot > 0 ? 1 - ssRes / ssTot : 0
                } else {
                    var correct = 0
                    for i in test {
                        var best = 0, bestV = -Double.infinity
                        for c in targets.indices {
                            let v = predict(i, c)
                            if v > bestV { bestV = v; best = c }
                        }
                        if best == classes[i] { correct += 1 }
                    }
                    info[j] = Double(correct) / Double(test.count)
                }
            }
            self.importance = importance
            self.informativenessPerFactor = info
            self.informativeness = Metrics.mean(info)
            (disentanglement, completeness) = Self.aggregate(importance)
        }

        /// disentanglement_lib's `disentanglement` and `completeness` from an importance matrix.
        public static func aggregate(_ imp: [[Double]]) -> (disentanglement: Double, completeness: Double) {
            let K = imp.count, F = imp.first?.count ?? 0
            let total = imp.reduce(0.0) { $0 + $1.reduce(0, +) }
            func oneMinusEntropy(_ w: [Double], base: Int) -> Double {
                // scipy.stats.entropy(w + 1e-11, base): w normalised to a distribution
                guard base > 1 else { return 1 }
                let e = w.map { $0 + 1e-11 }
                let s = e.reduce(0, +)
                var h = 0.0
                for v in e { let q = v / s; h -= q * log(q) }
                return 1 - h / log(Double(base))
            }
            var d = 0.0, c = 0.0
            for k in 0..<K {
                let rowSum = imp[k].reduce(0, +)
                let weight = total > 0 ? rowSum / total : 1.0 / Double(K)
                d += oneMinusEntropy(imp[k], base: F) * weight
            }
            for j in 0..<F {
                let col = imp.map { $0[j] }
                let weight = total > 0 ? col.reduce(0, +) / total : 1.0 / Double(F)
                c += oneMinusEntropy(col, base: K) * weight
            }
            return (d, c)
        }
    }
}
