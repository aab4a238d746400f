import LatentCore

/// Bounds on the encoder's log σ², for every objective.
///
/// β-TCVAE's estimator scores every sample under every cell's posterior, with terms
/// (z − μ)²·e^{−log σ²}: one large optimiser step that sends a log σ² below −88 makes e^{−log σ²}
/// infinite in Float and 0·∞ a NaN (measured: z-scored bladder-cancer arrays, 57 × 4,147, batch 32,
/// `--objective tc --lr 0.005` diverged at epoch 4 with "the loss is -nan"). The KL objectives never
/// divide by σ², so they survived the same steps. A bound of ±20 keeps every term finite in Float
/// (e^{20} ≈ 4.9·10⁸) while leaving any posterior a model could use: σ from 4.5·10⁻⁵ to 2.2·10⁴ prior
/// units. Inside the bounds the clamp is the identity, so runs that never reach them are
/// unchanged to the bit; beyond them the gradient of log σ² is zero, as for any clamp.
extension VAENetwork {
    static var logVarianceBound: Double { 20 }

    /// Clamps the log σ² half of the encoder's output (rows × 2K) in place.
    func clampLogVariance(rows: Int) {
        let k = latent, enc = encoder.output, b = T(Self.logVarianceBound)
        for r in 0..<rows {
            let lv = enc + r * 2 * k + k
            for j in 0..<k { lv[j] = min(max(lv[j], -b), b) }
        }
    }

    /// Zeroes dLoss/d log σ² where the clamp was active (its value sits on a bound).
    func maskClampedLogVarianceGradients(rows: Int) {
        let k = latent, enc = encoder.output, b = T(Self.logVarianceBound)
        for r in 0..<rows {
            let o = r * 2 * k + k
            for j in 0..<k where abs(enc[o + j]) >= b { dEnc[o + j] = 0 }
        }
    }
}
