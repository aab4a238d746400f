import Foundation
import LatentCore

extension Metrics {
    /// Local inverse Simpson index of every cell (Korsunsky et al. 2019, as scib-metrics computes
    /// it): Gaussian weights exp(−β·d) on the cell's k-NN *distances* (not squared), the cell
    /// itself weighted 0, β found by bisection so that the weights' entropy is log(perplexity)
    /// (tolerance 1e-5, at most 50 steps, starting from β = 1); LISI = 1/Σ_c p_c² with p_c the
    /// weight on neighbours of label c. A cell whose weights vanish (entropy 0) gets −1, as in
    /// scib-metrics (its Simpson index is −1 there).
    public static func lisi(_ nn: Neighbors, labels: [Int], perplexity: Double) -> [Double] {
        let c = (labels.max() ?? -1) + 1
        let target = Foundation.log(perplexity)
        var p = [Double](repeating: 0, count: nn.k)
        var byLabel = [Double](repeating: 0, count: c)
        var out = [Double](repeating: 0, count: nn.n)
        for i in 0..<nn.n {
            let base = i * nn.k
            func entropy(_ beta: Double) -> Double {
                var sum = 0.0, weighted = 0.0
                for j in 0..<nn.k {
                    let v = nn.indices[base + j] == i ? 0 : Foundation.exp(-nn.distances[base + j] * beta)
                    p[j] = v; sum += v; weighted += nn.distances[base + j] * v
                }
                if sum == 0 { for j in 0..<nn.k { p[j] = 0 }; return 0 }
                for j in 0..<nn.k { p[j] /= sum }
                return Foundation.log(sum) + beta * weighted / sum
            }
            var beta = 1.0, lo = -Double.infinity, hi = Double.infinity
            var h = entropy(beta)
            var diff = h - target
            var tries = 0
            while abs(diff) >= 1e-5 && tries < 50 {
                if diff > 0 {
                    lo = beta
                    beta = hi == .infinity ? beta * 2 : (beta + hi) / 2
                } else {
                    hi = beta
                    beta = lo == -.infinity ? beta / 2 : (beta + lo) / 2
                }
                h = entropy(beta)
                diff = h - target
                tries += 1
            }
            if h == 0 { out[i] = -1; continue }
            for g in 0..<c { byLabel[g] = 0 }
            for j in 0..<nn.k { byLabel[labels[nn.indices[base + j]]] += p[j] }
            var simpson = 0.0
            for g in 0..<c { simpson += byLabel[g] * byLabel[g] }
            out[i] = 1 / simpson
        }
        return out
    }

    /// NaN-ignoring median (numpy's: the mean of the two middle values for an even count).
    static func median(_ x: [Double]) -> Double {
        let s = x.filter { !$0.isNaN }.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// scib's integration LISI: the median batch LISI rescaled to (median − 1)/(B − 1), 1 = batches
    /// fully mixed. Perplexity: a third of the neighbours (scib-metrics' default, 30 for its 90).
    public static func iLISI(_ nn: Neighbors, batch: [Int]) -> Double {
        let b = dense(batch)
        guard b.count > 1 else { return .nan }
        let m = median(lisi(nn, labels: b.codes, perplexity: (Double(nn.k) / 3).rounded(.down)))
        return (m - 1) / Double(b.count - 1)
    }

    /// scib's cell-type LISI: (C − median)/(C − 1), 1 = every neighbourhood holds one label.
    public static func cLISI(_ nn: Neighbors, labels: [Int]) -> Double {
        let l = dense(labels)
        guard l.count > 1 else { return .nan }
        let m = median(lisi(nn, labels: l.codes, perplexity: (Double(nn.k) / 3).rounded(.down)))
        return (Double(l.count) - m) / Double(l.count - 1)
    }

    /// scib's graph connectivity: for each label, the share of its cells in the largest strongly
    /// connected component of the directed k-NN graph restricted to that label; the mean over labels.
    public static func graphConnectivity(_ nn: Neighbors, labels: [Int]) -> Double {
        var shares: [Double] = []
        for l in Array(Set(labels)).sorted() {
            let cells = labels.indices.filter { labels[$0] == l }
            var local = [Int](repeating: -1, count: nn.n)
            for (r, i) in cells.enumerated() { local[i] = r }
            let adj = cells.map { i in (0..<nn.k).compactMap { j -> Int? in let t = local[nn.indices[i * nn.k + j]]; return t >= 0 ? t : nil } }
            let comp = stronglyConnectedComponents(adj)
            var size = [Int: Int]()
            for c in comp { size[c, default: 0] += 1 }
            shares.append(Double(size.values.max() ?? 0) / Double(cells.count))
        }
        return mean(shares)
    }

    /// Tarjan's strongly connected components, iterative (no recursion depth limit): component
    /// id per vertex of the directed graph `adj` (out-neighbour lists).
    static func stronglyConnectedComponents(_ adj: [[Int]]) -> [Int] {
        let n = adj.count
        var index = [Int](repeating: -1, count: n), low = [Int](repeating: 0, count: n)
        var onStack = [Bool](repeating: false, count: n), comp = [Int](repeating: -1, count: n)
        var stack: [Int] = [], next = 0, components = 0
        var call: [(v: Int, edge: Int)] = []
        for root in 0..<n where index[root] < 0 {
            call.append((root, 0))
            index[root] = next; low[root] = next; next += 1
            stack.append(root); onStack[root] = true
            while let top = call.last {
                let v = top.v
                if top.edge < adj[v].count {
                    call[call.count - 1].edge += 1
                    let w = adj[v][top.edge]
                    if index[w] < 0 {
                        index[w] = next; low[w] = next; next += 1
                        stack.append(w); onStack[w] = true
                        call.append((w, 0))
                    } else if onStack[w] {
                        low[v] = min(low[v], index[w])
                    }
                } else {
                    call.removeLast()
                    if let parent = call.last { low[parent.v] = min(low[parent.v], low[v]) }
                    if low[v] == index[v] {
                        while true {
                            let w = stack.removeLast()
                            onStack[w] = false
                            comp[w] = components
                            if w == v { break }
                        }
                        components += 1
                    }
                }
            }
        }
        return comp
    }
}
