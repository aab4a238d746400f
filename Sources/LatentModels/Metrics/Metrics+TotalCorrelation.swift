import Foundation

extension Metrics {
    /// The total correlation of the codes *if they were jointly Gaussian*:
    /// TC = ½ (Σ_j log σ²_j − log det Σ), from the sample covariance Σ of the given latents
    /// (the caller passes the active ones: a collapsed latent makes Σ singular). It is 0 for
    /// uncorrelated codes (PCA's, by construction) and sees only linear dependence, so it is
    /// an estimate of the code's TC, not of the TC term a β-TCVAE minimises on samples.
    /// NaN when Σ is singular; 0 for fewer than two latents.
    public static func gaussianTotalCorrelation(_ codes: [[Double]]) -> Double {
        let K = codes.count
        guard K >= 2 else { return 0 }
        let n = codes[0].count
        let centred = codes.map { c -> [Double] in let m = mean(c); return c.map { $0 - m } }
        var cov = [Double](repeating: 0, count: K * K)
        for a in 0..<K {
            for b in a..<K {
                var s = 0.0
                for i in 0..<n { s += centred[a][i] * centred[b][i] }
                cov[a * K + b] = s / Double(n - 1); cov[b * K + a] = s / Double(n - 1)
            }
        }
        // Work on the correlation matrix: TC = −½ log det R, better conditioned than Σ itself.
        var r = cov
        for a in 0..<K { for b in 0..<K { r[a * K + b] = cov[a * K + b] / (cov[a * K + a] * cov[b * K + b]).squareRoot() } }
        guard let l = cholesky(r, n: K) else { return .nan }
        var logDet = 0.0
        for a in 0..<K { logDet += 2 * log(l[a * K + a]) }
        return max(0, -0.5 * logDet)
    }
}
