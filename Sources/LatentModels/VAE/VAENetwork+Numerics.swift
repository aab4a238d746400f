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
/// unchanged to the bit.
///
/// At a bound, the gradient is kept when a descent step would move log σ² back inside, and zeroed
/// only when it would push further out. A plain clamp zeroes both, and then a latent whose log σ²
/// overshoots the bound early in training can never return: on GEUVADIS (85 samples × 10,101
/// genes, log-normalised, defaults) one latent sat at log σ² = +20 for the whole run, with a KL of
/// 2.4·10⁸ nats and noise of σ ≈ 2·10⁴ fed to the decoder, which then reconstructed almost nothing.
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

    /// Zeroes dLoss/d log σ² where the clamp was active (its value sits on a bound) and a descent
    /// step would push it further out; a gradient pointing back inside passes.
    func maskClampedLogVarianceGradients(rows: Int) {
        let k = latent, enc = encoder.output, b = T(Self.logVarianceBound)
        for r in 0..<rows {
            let o = r * 2 * k + k
            for j in 0..<k {
                let v = enc[o + j], d = dEnc[o + j]
                if (v >= b && d < 0) || (v <= -b && d > 0) { dEnc[o + j] = 0 }
            }
        }
    }
}
