import Foundation
import LatentCore

extension Metrics {
    /// A symmetric sparse weight matrix as sorted adjacency lists.
    struct WeightedGraph {
        var neighbours: [[(j: Int, w: Double)]]
        var n: Int { neighbours.count }
    }

    /// UMAP's fuzzy simplicial set on a k-NN graph (McInnes et al.; what scanpy and scib-metrics
    /// call connectivities): per cell ρ = distance to the nearest other cell, σ by bisection so
    /// that Σ_{j ≥ 1} exp(−max(0, d_j − ρ)/σ) = log2(k) (64 steps, tolerance 1e-5, floored at
    /// 1e-3 of the mean distance), weights exp(−(d − ρ)/σ) (1 within ρ, 0 to itself), then the
    /// fuzzy union W + Wᵀ − W∘Wᵀ.
    static func fuzzyConnectivities(_ nn: Neighbors) -> WeightedGraph {
        let k = nn.k, n = nn.n
        let target = Foundation.log2(Double(k))
        let meanAll = nn.distances.reduce(0, +) / Double(max(nn.distances.count, 1))
        var directed = [[Int: Double]](repeating: [:], count: n)
        for i in 0..<n {
            let row = Array(nn.distances[(i * k)..<(i * k + k)])
            let rho = row.first { $0 > 0 } ?? 0
            var lo = 0.0, hi = Double.infinity, mid = 1.0
            for _ in 0..<64 {
                var psum = 0.0
                for j in 1..<max(k, 1) { let d = row[j] - rho; psum += d > 0 ? Foundation.exp(-d / mid) : 1 }
                if abs(psum - target) < 1e-5 { break }
                if psum > target { hi = mid; mid = (lo + hi) / 2 } else { lo = mid; mid = hi == .infinity ? mid * 2 : (lo + hi) / 2 }
            }
            var sigma = mid
            let floor = 1e-3 * (rho > 0 ? row.reduce(0, +) / Double(k) : meanAll)
            if sigma < floor { sigma = floor }
            for j in 0..<k {
                let t = nn.indices[i * k + j]
                let w: Double
                if t == i { w = 0 } else if row[j] - rho <= 0 || sigma == 0 { w = 1 } else { w = Foundation.exp(-(row[j] - rho) / sigma) }
                if w != 0 { directed[i][t] = w }
            }
        }
        var out = [[(j: Int, w: Double)]](repeating: [], count: n)
        for i in 0..<n {
            var merged = directed[i]
            for (t, w) in directed[i] { let back = directed[t][i] ?? 0; merged[t] = w + back - w * back }
            out[i] = merged.map { (j: $0.key, w: $0.value) }
        }
        // the union is symmetric: add the edges only the other side holds
        for i in 0..<n { for (t, w) in directed[i] where directed[t][i] == nil { out[t].append((j: i, w: w)) } }
        for i in 0..<n { out[i].sort { $0.j < $1.j } }
        return WeightedGraph(neighbours: out)
    }

    /// The subgraph on `cells` (renumbered 0..<cells.count).
    static func subgraph(_ g: WeightedGraph, _ cells: [Int]) -> WeightedGraph {
        var local = [Int](repeating: -1, count: g.n)
        for (r, i) in cells.enumerated() { local[i] = r }
        return WeightedGraph(neighbours: cells.map { i in g.neighbours[i].compactMap { local[$0.j] >= 0 ? (j: local[$0.j], w: $0.w) : nil } })
    }

    static func components(_ g: WeightedGraph) -> [Int] {
        var comp = [Int](repeating: -1, count: g.n), next = 0
        for s in 0..<g.n where comp[s] < 0 {
            var stack = [s]; comp[s] = next
            while let v = stack.popLast() { for e in g.neighbours[v] where comp[e.j] < 0 { comp[e.j] = next; stack.append(e.j) } }
            next += 1
        }
        return comp
    }

    /// Diffusion-map coordinates (Coifman & Lafon; scanpy's and scib-metrics' `diffusion_nn`):
    /// density-normalised kernel K = Q⁻¹WQ⁻¹ (q = degrees), symmetric transitions T = Z⁻¹KZ⁻¹
    /// (z² = K's degrees), the `comps` eigenpairs of largest |λ|, each eigenvector scaled by
    /// λ/(1 − λ) (1 for λ = 1) so that the number of diffusion steps is summed out. The dense
    /// eigendecomposition costs O(m³) for a label of m cells. λ is rounded to Float and shifted
    /// by 1e-8 before the scaling, as scib-metrics does in float32, so that the stationary
    /// eigenvalue is exactly 1 there and here.
    static func diffusionMap(_ g: WeightedGraph, comps: Int) throws -> Points {
        let m = g.n
        var q = [Double](repeating: 0, count: m)
        for i in 0..<m { for e in g.neighbours[i] { q[i] += e.w } }
        var kz = [Double](repeating: 0, count: m)
        for i in 0..<m { for e in g.neighbours[i] { kz[i] += e.w / (q[i] * q[e.j]) } }
        var t = [Double](repeating: 0, count: m * m)
        for i in 0..<m { for e in g.neighbours[i] {
            t[e.j * m + i] = e.w / (q[i] * q[e.j]) / (kz[i].squareRoot() * kz[e.j].squareRoot())
        } }
        let all = try LAPACK.symmetricTopEigen(t, n: m, k: m)
        // largest magnitude first; ties keep the algebraic order
        let order = (0..<m).sorted { abs(all.values[$0]) != abs(all.values[$1]) ? abs(all.values[$0]) > abs(all.values[$1]) : $0 < $1 }
        let chosen = Array(order.prefix(comps))
        var v = [Double](repeating: 0, count: m * chosen.count)
        for (c, src) in chosen.enumerated() {
            let e = Float(all.values[src]) + Float(1e-8)
            let scale = e == 1 ? 1 : Double(e / (1 - e))
            for i in 0..<m { v[i * chosen.count + c] = all.vectors[src * m + i] * scale }
        }
        return Points(n: m, d: chosen.count, values: v)
    }

    /// Regularised lower incomplete gamma P(a, x): its power series below x = a + 1, Legendre's
    /// continued fraction (modified Lentz) above, both to double precision.
    static func regularizedGammaP(_ a: Double, _ x: Double) -> Double {
        if x <= 0 { return 0 }
        let lnPrefix = a * Foundation.log(x) - x - lgamma(a)
        if x < a + 1 {
            var term = 1 / a, sum = term, ap = a
            for _ in 0..<10_000 {
                ap += 1; term *= x / ap; sum += term
                if abs(term) < abs(sum) * 1e-16 { break }
            }
            return min(1, sum * Foundation.exp(lnPrefix))
        }
        let tiny = 1e-300
        var b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d
        for i in 1...10_000 {
            let an = -Double(i) * (Double(i) - a)
            b += 2
            d = an * d + b; if abs(d) < tiny { d = tiny }
            c = b + an / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) < 1e-16 { break }
        }
        return max(0, 1 - Foundation.exp(lnPrefix) * h)
    }

    /// kBET's acceptance rate on a k-NN graph (Büttner et al. 2019, the Pegasus/scib-metrics
    /// form): per cell, Pearson's χ² of its neighbours' batch counts (itself included) against
    /// the batches' shares overall, B − 1 degrees of freedom; the share of cells with p ≥ α.
    static func kBETAcceptance(_ nn: Neighbors, batch: [Int], alpha: Double = 0.05) -> Double {
        let b = dense(batch)
        var share = [Double](repeating: 0, count: b.count)
        for c in b.codes { share[c] += 1 }
        for i in share.indices { share[i] /= Double(nn.n) }
        let dof = Double(b.count - 1)
        var accepted = 0
        var counts = [Double](repeating: 0, count: b.count)
        for i in 0..<nn.n {
            for c in 0..<b.count { counts[c] = 0 }
            for j in 0..<nn.k { counts[b.codes[nn.indices[i * nn.k + j]]] += 1 }
            var stat = 0.0
            for c in 0..<b.count { let e = share[c] * Double(nn.k); stat += (counts[c] - e) * (counts[c] - e) / e }
            let p = 1 - regularizedGammaP(dof / 2, stat / 2)
            if p >= alpha { accepted += 1 }
        }
        return Double(accepted) / Double(nn.n)
    }

    /// scib's kBET per label, as scib-metrics computes it: on the UMAP connectivities of the k-NN
    /// graph (scib-metrics: k = 50), for each label with ≥ 10 cells and > 1 batch, k₀ =
    /// clamp(⌊mean cells per batch / 4⌋, 10, 70); the label's subgraph is embedded by a diffusion
    /// map (≤ 100 components) and kBET runs on its exact k₀ + 1 nearest neighbours. A label whose
    /// subgraph falls apart runs on its components of ≥ 3k₀ cells if they hold ≥ 75% of it, and
    /// scores 0 otherwise. The mean over labels (a label too small or in one batch is skipped).
    public static func kBETPerLabel(_ nn: Neighbors, batch: [Int], labels: [Int], alpha: Double = 0.05,
                                    diffusionComponents: Int = 100) throws -> Double {
        let graph = fuzzyConnectivities(nn)
        var scores: [Double] = []
        // scib-metrics lowers its component cap to m − 1 for a label of m cells and keeps the
        // lowered cap for the labels after it (its loop reassigns the argument); we do the same
        var cap = diffusionComponents
        for l in Array(Set(labels)).sorted() {
            let cells = labels.indices.filter { labels[$0] == l }
            let bs = cells.map { batch[$0] }
            let nb = Set(bs).count
            if cells.count < 10 || nb == 1 { continue }
            var perBatch = [Int: Int]()
            for x in bs { perBatch[x, default: 0] += 1 }
            let quarter = Int((Double(cells.count) / Double(perBatch.count) / 4).rounded(.down))
            let k0 = min(70, max(10, quarter))
            var sub = subgraph(graph, cells)
            var subBatch = bs
            let comp = components(sub)
            let nComp = (comp.max() ?? 0) + 1
            if nComp > 1 {
                var size = [Int](repeating: 0, count: nComp)
                for c in comp { size[c] += 1 }
                let keep = comp.indices.filter { size[comp[$0]] >= 3 * k0 }
                if Double(keep.count) / Double(comp.count) < 0.75 { scores.append(0); continue }
                sub = subgraph(sub, keep)
                subBatch = keep.map { bs[$0] }
            }
            // scib-metrics scores a failing diffusion/neighbour search as 0 (100% rejection)
            guard sub.n > k0 + 1, sub.n >= 2 else { scores.append(0); continue }
            cap = min(cap, sub.n - 1)
            let embedding = try diffusionMap(sub, comps: cap)
            let knn = exactNeighbors(embedding, k: k0 + 1)
            scores.append(kBETAcceptance(knn, batch: subBatch, alpha: alpha))
        }
        return scores.isEmpty ? .nan : mean(scores)
    }
}
