/// Benjamini–Hochberg adjusted p-values (step-up, monotone, capped at 1), in input order.
/// NaN p-values stay NaN and do not count towards m.
public func benjaminiHochberg(_ p: [Double]) -> [Double] {
    let idx = p.indices.filter { !p[$0].isNaN }.sorted { p[$0] != p[$1] ? p[$0] < p[$1] : $0 < $1 }
    let m = Double(idx.count)
    var out = [Double](repeating: .nan, count: p.count)
    var running = 1.0
    for (rank, i) in idx.enumerated().reversed() {
        running = min(running, p[i] * m / Double(rank + 1))
        out[i] = min(running, 1)
    }
    return out
}
