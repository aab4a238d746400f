extension Metrics {
    /// Pearson and Spearman correlation of every latent with every numeric factor (a categorical
    /// one with two categories counts as 0/1); for a categorical factor with more categories, the
    /// correlation ratio η = √(between-category variance / total variance), which is 0…1.
    public static func correlations(codes: [[Double]], factors: [Factor]) -> [Row] {
        var rows: [Row] = []
        let codeRanks = codes.map(ranks)
        for f in factors {
            var numeric: [Double]? = nil
            var groups: [Int]? = nil
            switch f.values {
            case .continuous(let v): numeric = v
            case .categorical(let l, let cats):
                if cats.count == 2 && !l.contains(where: { $0 < 0 }) { numeric = l.map(Double.init) } else { groups = f.labels(bins: 0) }
            }
            for k in codes.indices {
                let name = String(k)
                if let y = numeric {
                    rows.append(Row("pearson", latent: name, factor: f.name, pearson(codes[k], y)))
                    rows.append(Row("spearman", latent: name, factor: f.name, pearson(codeRanks[k], ranks(y))))
                } else if let g = groups {
                    rows.append(Row("eta", latent: name, factor: f.name, correlationRatio(codes[k], g)))
                }
            }
        }
        return rows
    }

    /// Pearson's r; 0 when either side is constant.
    public static func pearson(_ x: [Double], _ y: [Double]) -> Double {
        let mx = mean(x), my = mean(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in x.indices {
            let a = x[i] - mx, b = y[i] - my
            sxy += a * b; sxx += a * a; syy += b * b
        }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    /// Ranks 1…n with ties given their average rank (scipy's `rankdata`), for Spearman's ρ.
    public static func ranks(_ x: [Double]) -> [Double] {
        let order = x.indices.sorted { x[$0] < x[$1] }
        var r = [Double](repeating: 0, count: x.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && x[order[j + 1]] == x[order[i]] { j += 1 }
            let avg = Double(i + j) / 2 + 1
            for t in i...j { r[order[t]] = avg }
            i = j + 1
        }
        return r
    }

    public static func correlationRatio(_ x: [Double], _ groups: [Int]) -> Double {
        let c = (groups.max() ?? 0) + 1
        var sum = [Double](repeating: 0, count: c), cnt = [Double](repeating: 0, count: c)
        for (i, g) in groups.enumerated() { sum[g] += x[i]; cnt[g] += 1 }
        let m = mean(x)
        var between = 0.0, total = 0.0
        for g in 0..<c where cnt[g] > 0 { let d = sum[g] / cnt[g] - m; between += cnt[g] * d * d }
        for v in x { total += (v - m) * (v - m) }
        return total > 0 ? (between / total).squareRoot() : 0
    }
}
