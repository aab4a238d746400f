import LatentCore

extension NMF {
    /// sklearn's `_initialize_nmf`: (W, H) as n × k and k × g.
    ///
    /// NNDSVD (Boutsidis & Gallopoulos 2008): from the top-k singular triplets (σⱼ, uⱼ, vⱼ) of X,
    /// the first factor is √σ₁·|u₁|, |v₁| (the leading pair of a non-negative matrix is
    /// non-negative); for the others, of the positive parts (u⁺, v⁺) and negative parts (u⁻, v⁻)
    /// the pair with the larger ‖u‖‖v‖ is kept, normalised and scaled by √(σⱼ‖u‖‖v‖). Values
    /// below 1e-6 become 0; `nndsvda` then fills zeros with mean(X) so no entry starts at a zero
    /// that multiplicative updates could never leave. The choice between the positive and the
    /// negative part makes the result independent of the singular vectors' signs.
    static func initialize(_ data: CenteredMatrix, k: Int, method: Initialization,
                           rng: inout SeededRNG) throws -> (w: Matrix, h: Matrix) {
        let n = data.n, g = data.g
        let values = data.X.storedValues
        let meanX = values.reduce(0.0) { $0 + Double($1) } / (Double(n) * Double(g))
        var w = Matrix(rows: n, cols: k), h = Matrix(rows: k, cols: g)
        if method == .random {
            let avg = (meanX / Double(k)).squareRoot()
            for i in h.values.indices { h.values[i] = Float(abs(rng.normal()) * avg) }
            for i in w.values.indices { w.values[i] = Float(abs(rng.normal()) * avg) }
            return (w, h)
        }
        let (sigma, u, v) = try PCA.truncatedSVD(data, k: k, rng: &rng)
        for j in 0..<k {
            let x = (0..<n).map { Double(u[$0, j]) }, y = (0..<g).map { Double(v[$0, j]) }
            var scale: Double, xs: [Double], ys: [Double]
            if j == 0 {
                scale = sigma[0].squareRoot()
                xs = x.map { abs($0) }
                ys = y.map { abs($0) }
            } else {
                let xp = x.map { max($0, 0) }, yp = y.map { max($0, 0) }
                let xn = x.map { max(-$0, 0) }, yn = y.map { max(-$0, 0) }
                let nxp = norm(xp), nyp = norm(yp), nxn = norm(xn), nyn = norm(yn)
                let mp = nxp * nyp, mn = nxn * nyn
                if mp > mn {
                    xs = xp.map { $0 / nxp }; ys = yp.map { $0 / nyp }
                    scale = (sigma[j] * mp).squareRoot()
                } else {
                    xs = xn.map { mn > 0 ? $0 / nxn : 0 }; ys = yn.map { mn > 0 ? $0 / nyn : 0 }
                    scale = (sigma[j] * mn).squareRoot()
                }
            }
            for i in 0..<n { w[i, j] = Float(scale * xs[i]) }
            for i in 0..<g { h[j, i] = Float(scale * ys[i]) }
        }
        let eps: Float = 1e-6
        let fill: Float = method == .nndsvda ? Float(meanX) : 0
        for i in w.values.indices where w.values[i] < eps { w.values[i] = fill }
        for i in h.values.indices where h.values[i] < eps { h.values[i] = fill }
        return (w, h)
    }

    private static func norm(_ v: [Double]) -> Double { v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
}
