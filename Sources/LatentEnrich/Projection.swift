import LatentCore

/// BioBombe's network projection: a set's score is the sum of its genes' loadings
/// (loadingsᵀ × membership), turned into a z-score against the same sum over gene–set networks
/// rewired by degree-preserving edge swaps, so every gene keeps its number of sets and every set
/// its size. Cheap: all latents share the rewired networks.
public enum Projection {
    /// `scores[l][g]`: latent l's score of gene g. Returns z[l][s] and an empirical two-sided p[l][s].
    public static func run(scores: [[Float]], sets: [GeneSetIndex.Set_], permutations: Int,
                           swapsPerEdge: Int = 10, rng: inout SeededRNG) -> (z: [[Double]], p: [[Double]]) {
        let nl = scores.count, ns = sets.count
        func project(_ memberships: [[Int32]]) -> [[Double]] {
            scores.map { s in memberships.map { m in m.reduce(0.0) { $0 + Double(s[Int($1)]) } } }
        }
        let observed = project(sets.map(\.members))
        var sum = [[Double]](repeating: [Double](repeating: 0, count: ns), count: nl)
        var sumSq = sum
        var extreme = [[Int]](repeating: [Int](repeating: 0, count: ns), count: nl)
        var edges: [(set: Int32, gene: Int32)] = []
        for (s, set) in sets.enumerated() { for g in set.members { edges.append((Int32(s), g)) } }
        var present = Set<Int64>(minimumCapacity: edges.count * 2)
        func key(_ s: Int32, _ g: Int32) -> Int64 { Int64(s) << 32 | Int64(g) }
        for e in edges { present.insert(key(e.set, e.gene)) }
        for _ in 0..<permutations {
            // Rewire: swap the genes of two random edges unless that would duplicate an edge.
            for _ in 0..<(swapsPerEdge * edges.count) {
                let i = rng.below(edges.count), j = rng.below(edges.count)
                let (a, b) = (edges[i], edges[j])
                if a.set == b.set || a.gene == b.gene { continue }
                if present.contains(key(a.set, b.gene)) || present.contains(key(b.set, a.gene)) { continue }
                present.remove(key(a.set, a.gene)); present.remove(key(b.set, b.gene))
                present.insert(key(a.set, b.gene)); present.insert(key(b.set, a.gene))
                edges[i].gene = b.gene
                edges[j].gene = a.gene
            }
            var members = [[Int32]](repeating: [], count: ns)
            for e in edges { members[Int(e.set)].append(e.gene) }
            let perm = project(members)
            for l in 0..<nl {
                for s in 0..<ns {
                    let v = perm[l][s]
                    sum[l][s] += v
                    sumSq[l][s] += v * v
                    if abs(v) >= abs(observed[l][s]) { extreme[l][s] += 1 }
                }
            }
        }
        let P = Double(permutations)
        var z = sum, p = sum
        for l in 0..<nl {
            for s in 0..<ns {
                let mean = sum[l][s] / P
                let sd = (max(sumSq[l][s] / P - mean * mean, 0) * P / max(P - 1, 1)).squareRoot()
                z[l][s] = sd > 0 ? (observed[l][s] - mean) / sd : 0
                p[l][s] = Double(extreme[l][s] + 1) / (P + 1)
            }
        }
        return (z, p)
    }
}
