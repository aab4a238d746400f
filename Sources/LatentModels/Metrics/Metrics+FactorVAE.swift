import LatentCore

extension Metrics {
    /// The FactorVAE score (Kim & Mnih 2018) as disentanglement_lib computes it, its sampling adapted
    /// to a fixed data set. A vote: pick a factor at random, fix it at the value of a random cell,
    /// draw `batch` cells (with replacement) sharing that value, and vote for the latent whose
    /// variance in the batch, divided by its variance over all cells, is smallest (latents with a
    /// standard deviation below `factorVAEPrune` do not vote). The classifier maps each latent to
    /// the factor it collected most votes for; the score is its accuracy on fresh votes.
    /// disentanglement_lib resamples factors from the generator instead; conditioning on cells
    /// that share a value is the same thing when the factors are independent, as in a simulation.
    /// Continuous factors are fixed at a histogram bin (the same 20 bins as MIG).
    public static func factorVAEScore(codes: [[Double]], factors: [Factor], parameters p: Parameters)
        -> (trainAccuracy: Double, evalAccuracy: Double, activeDimensions: Int)
    {
        let globalVar = codes.map { variance($0, ddof: 1) }
        let active = globalVar.indices.filter { globalVar[$0].squareRoot() >= p.factorVAEPrune }
        guard !active.isEmpty, !factors.isEmpty else { return (0, 0, 0) }
        let labels = factors.map { $0.labels(bins: p.bins) }
        let members: [[[Int]]] = labels.map { l in
            var groups = [[Int]](repeating: [], count: (l.max() ?? 0) + 1)
            for (i, v) in l.enumerated() { groups[v].append(i) }
            return groups
        }
        let n = codes[0].count
        func votes(_ count: Int, stream: UInt64) -> [[Int]] {
            var rng = SeededRNG(seed: p.seed).stream(stream)
            var v = [[Int]](repeating: [Int](repeating: 0, count: active.count), count: factors.count)
            var batch = [Int](repeating: 0, count: p.factorVAEBatch)
            for _ in 0..<count {
                let f = rng.below(factors.count)
                let pool = members[f][labels[f][rng.below(n)]]
                for b in batch.indices { batch[b] = pool[rng.below(pool.count)] }
                var best = 0, bestRatio = Double.infinity
                for (a, k) in active.enumerated() {
                    let r = variance(batch.map { codes[k][$0] }, ddof: 1) / globalVar[k]
                    if r < bestRatio { bestRatio = r; best = a }
                }
                v[f][best] += 1
            }
            return v
        }
        let trainVotes = votes(p.factorVAETrain, stream: 0xFAE1)
        let classifier = active.indices.map { a in
            factors.indices.max { trainVotes[$0][a] < trainVotes[$1][a] || (trainVotes[$0][a] == trainVotes[$1][a] && $0 > $1) }!
        }
        func accuracy(_ v: [[Int]]) -> Double {
            let total = v.reduce(0) { $0 + $1.reduce(0, +) }
            let right = active.indices.reduce(0) { $0 + v[classifier[$1]][$1] }
            return total > 0 ? Double(right) / Double(total) : 0
        }
        let evalVotes = votes(p.factorVAEEval, stream: 0xFAE2)
        return (accuracy(trainVotes), accuracy(evalVotes), active.count)
    }
}
