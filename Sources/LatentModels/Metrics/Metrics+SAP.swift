extension Metrics {
    public struct SAP: Sendable {
        /// latents × factors
        public var scoreMatrix: [[Double]]
        public var perFactor: [Double]
        public var score: Double
    }

    /// The separated attribute predictability (Kumar et al. 2018) as disentanglement_lib defines it:
    /// a latents × factors matrix of how well each single latent predicts each factor, then the mean
    /// over factors of the gap between the two best latents. A continuous factor scores the squared
    /// correlation cov²/(var_z var_y) on the training cells (0 for a constant latent); a categorical
    /// one the held-out accuracy of a one-dimensional classifier.
    ///
    /// Departure: disentanglement_lib's classifier is a LinearSVC with balanced class weights; on a
    /// single feature that is a set of thresholds, for which we take the nearest-class-mean rule
    /// (thresholds halfway between class means), deterministic and free of a solver.
    public static func sapScore(codes: [[Double]], factors: [Factor], parameters p: Parameters) -> SAP {
        let n = codes[0].count
        let (train, test) = split(n, testFraction: p.testFraction, seed: p.seed)
        var s = [[Double]](repeating: [Double](repeating: 0, count: factors.count), count: codes.count)
        for (j, f) in factors.enumerated() {
            switch f.values {
            case .continuous(let y):
                let ty = train.map { y[$0] }
                let my = mean(ty), vy = variance(ty, ddof: 1)
                for k in codes.indices {
                    let tz = train.map { codes[k][$0] }
                    let mz = mean(tz), vz = variance(tz, ddof: 1)
                    var cov = 0.0
                    for i in train.indices { cov += (tz[i] - mz) * (ty[i] - my) }
                    cov /= Double(train.count - 1)
                    s[k][j] = vz > 1e-12 && vy > 0 ? cov * cov / (vz * vy) : 0
                }
            case .categorical:
                let labels = f.labels(bins: p.bins)
                let c = (labels.max() ?? 0) + 1
                for k in codes.indices {
                    var sum = [Double](repeating: 0, count: c), cnt = [Int](repeating: 0, count: c)
                    for i in train { sum[labels[i]] += codes[k][i]; cnt[labels[i]] += 1 }
                    let centres = (0..<c).compactMap { cnt[$0] > 0 ? (label: $0, mean: sum[$0] / Double(cnt[$0])) : nil }
                    var correct = 0
                    for i in test {
                        let x = codes[k][i]
                        var best = centres[0]
                        for ce in centres.dropFirst() where abs(ce.mean - x) < abs(best.mean - x) { best = ce }
                        if best.label == labels[i] { correct += 1 }
                    }
                    s[k][j] = Double(correct) / Double(test.count)
                }
            }
        }
        let per = factors.indices.map { j -> Double in
            let col = s.map { $0[j] }.sorted(by: >)
            return col[0] - col[1]
        }
        return SAP(scoreMatrix: s, perFactor: per, score: mean(per))
    }
}
