import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels

/// Finite-difference checks of every backward pass, run on the training code itself in Float64.
///
/// Tolerance: central differences with h = 1e-5 have truncation error O(h²·f''') ≈ 1e-10 and
/// rounding error O(ε·|f|/h) ≈ 1e-9 for these O(10) losses, so analytic and numeric derivatives
/// agree to ~1e-7 relative; 1e-5 leaves room without hiding a wrong term (a missing factor of
/// two or a dropped term is off by 1e-1 or more).
final class VAEGradientTests: XCTestCase {
    let genes = 6, rows = 5

    func data(_ likelihood: VAEParameters.Likelihood, seed: UInt64 = 3) -> (x: [Double], target: [Double], library: [Double]) {
        var rng = SeededRNG(seed: seed)
        var counts = [Double](repeating: 0, count: rows * genes)
        for i in counts.indices { counts[i] = Double(rng.poisson(rng.uniform() < 0.3 ? 0.2 : 4)) }
        let library = (0..<rows).map { r in max(1, (0..<genes).reduce(0.0) { $0 + counts[r * genes + $1] }) }
        var x = counts.map { log1p($0) }
        if likelihood == .bernoulli { let mx = x.max()!; x = x.map { $0 / mx } }
        let target = (likelihood == .nb || likelihood == .zinb) ? counts : x
        return (x, target, library)
    }

    /// Checks dLoss/dθ for every parameter of `net` (and of its discriminator's input path).
    func check(_ config: VAEParameters, weights: StepWeights = StepWeights(klWeight: 1.5, capacity: 2), threads: Int = 1,
               file: StaticString = #filePath, line: UInt = #line) {
        var initRNG = SeededRNG(seed: 11)
        let net = VAENetwork<Double>(genes: genes, config: config, datasetSize: 40, maxRows: rows, rng: &initRNG)
        net.threads = threads
        net.tcRowsPerThread = 2
        // Move BN scales and NB dispersions off their initial 1 / 0 so that their gradients are generic.
        for t in net.parameters.tensors where t.name.contains("bn.") || t.name.contains("log_theta") {
            for i in 0..<t.count { net.parameters.values[t.offset + i] += 0.3 * sin(Double(i + 1)) }
        }
        let (x, target, library) = data(config.likelihood)
        func loss(backward: Bool) -> Double {
            var rng = SeededRNG(seed: 99)         // the same ε and dropout masks at every evaluation
            return x.withUnsafeBufferPointer { xp in
                target.withUnsafeBufferPointer { tp in
                    library.withUnsafeBufferPointer { lp in
                        net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                                 weights: weights, training: true, backward: backward, rng: &rng).loss
                    }
                }
            }
        }
        let sweep = finiteDifferenceSweep(net.parameters, loss: loss)
        XCTAssertLessThan(sweep.worst, 1e-5, "worst: \(sweep.worstName)", file: file, line: line)
    }

    func config(_ f: (inout VAEParameters) -> Void) -> VAEParameters {
        var c = VAEParameters()
        c.latent = 3
        c.hidden = [4]
        f(&c)
        return c
    }

    func testGaussianBetaReLU() { check(config { $0.likelihood = .gaussian; $0.objective = .beta; $0.activation = .relu }) }
    func testBernoulliELUTwoLayers() { check(config { $0.likelihood = .bernoulli; $0.activation = .elu; $0.hidden = [5, 4] }) }
    func testNegativeBinomialSoftplusBatchNorm() { check(config { $0.likelihood = .nb; $0.activation = .softplus; $0.batchNorm = true }) }
    func testZeroInflatedNBLinearDecoder() { check(config { $0.likelihood = .zinb; $0.decoder = .linear }) }
    func testZeroInflatedNBDeepDecoder() { check(config { $0.likelihood = .zinb; $0.activation = .elu }) }
    func testDropoutAndBatchNorm() { check(config { $0.dropout = 0.3; $0.batchNorm = true; $0.activation = .leakyRelu }) }
    func testCapacityAboveAndBelowC() {
        check(config { $0.objective = .capacity; $0.gamma = 7 }, weights: StepWeights(klWeight: 1, capacity: 0.01))
        check(config { $0.objective = .capacity; $0.gamma = 7 }, weights: StepWeights(klWeight: 1, capacity: 500))
    }
    func testTCMinibatchWeighted() { check(config { $0.objective = .tc; $0.alpha = 0.7; $0.gamma = 1.3; $0.tcSampling = .mws }) }
    func testTCMinibatchStratified() { check(config { $0.objective = .tc; $0.alpha = 1.2; $0.gamma = 0.8; $0.tcSampling = .mss }) }
    /// The sweep split over samples, each range with its own gradient buffer.
    func testTCSplitOverThreads() {
        check(config { $0.objective = .tc; $0.alpha = 0.7; $0.gamma = 1.3; $0.tcSampling = .mss }, threads: 2)
        check(config { $0.objective = .tc; $0.tcSampling = .mws }, threads: 3)
    }
    func testFactorVAEThroughDiscriminator() { check(config { $0.objective = .factor; $0.gamma = 3; $0.discriminatorHidden = [5, 4] }) }
    func testL1OnDecoderWeights() { check(config { $0.l1 = 0.05 }) }

    /// The discriminator's own loss, against its parameters.
    func testDiscriminatorLoss() {
        var rng = SeededRNG(seed: 5)
        let k = 3, m = 6
        let d = Discriminator<Double>(latent: k, hidden: [5, 4], maxRows: m, lr: 1e-3, rng: &rng)
        let real = (0..<(m * k)).map { _ in rng.normal() }, fake = (0..<(m * k)).map { _ in rng.normal() }
        func loss() -> Double {
            real.withUnsafeBufferPointer { r in fake.withUnsafeBufferPointer { f in d.lossAndGradients(real: r.baseAddress!, fake: f.baseAddress!, rows: m) } }
        }
        d.parameters.zeroGrads()
        _ = loss()
        let analytic = Array(UnsafeBufferPointer(start: d.parameters.grads, count: d.parameters.count))
        for p in 0..<d.parameters.count {
            let keep = d.parameters.values[p], h = 1e-5
            d.parameters.values[p] = keep + h; let up = loss()
            d.parameters.values[p] = keep - h; let down = loss()
            d.parameters.values[p] = keep
            let numeric = (up - down) / (2 * h)
            XCTAssertLessThan(abs(numeric - analytic[p]) / max(1e-3, abs(numeric) + abs(analytic[p])), 1e-5, "parameter \(p)")
        }
    }

    /// The minibatch estimator against a direct evaluation of its definition (independent code:
    /// densities from their formulas, log-sum-exp by brute force).
    func testTCEstimatorMatchesDefinition() {
        for threads in 1...3 { checkTCEstimator(threads: threads) }
    }

    func checkTCEstimator(threads: Int) {
        var rng = SeededRNG(seed: 21)
        let cfg = config { $0.objective = .tc }
        let net = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 40, maxRows: rows, rng: &rng)
        net.threads = threads
        net.tcRowsPerThread = 2
        let (x, target, library) = data(.gaussian)
        var r2 = SeededRNG(seed: 4)
        let t = x.withUnsafeBufferPointer { xp in target.withUnsafeBufferPointer { tp in library.withUnsafeBufferPointer { lp in
            net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                     weights: StepWeights(klWeight: 1, capacity: 0), training: true, backward: false, rng: &r2) } } }
        let k = cfg.latent, enc = net.encoder.output, n = 40.0, m = Double(rows)
        func logN(_ z: Double, _ mu: Double, _ lv: Double) -> Double { -0.5 * (log(2 * .pi) + lv + (z - mu) * (z - mu) / exp(lv)) }
        var mi = 0.0, tc = 0.0, dkl = 0.0
        for i in 0..<rows {
            let z = (0..<k).map { net.z[i * k + $0] }
            let joint = (0..<rows).map { j in (0..<k).reduce(0.0) { $0 + logN(z[$1], enc[j * 2 * k + $1], enc[j * 2 * k + k + $1]) } }
            let logqz = log(joint.map { exp($0) }.reduce(0, +) / (n * m))
            var logProd = 0.0
            for c in 0..<k { logProd += log((0..<rows).map { j in exp(logN(z[c], enc[j * 2 * k + c], enc[j * 2 * k + k + c])) }.reduce(0, +) / (n * m)) }
            let logqzx = joint[i]
            let logpz = (0..<k).reduce(0.0) { $0 + logN(z[$1], 0, 0) }
            mi += (logqzx - logqz) / m; tc += (logqz - logProd) / m; dkl += (logProd - logpz) / m
        }
        XCTAssertEqual(t.mi, mi, accuracy: 1e-9)
        XCTAssertEqual(t.tc, tc, accuracy: 1e-9)
        XCTAssertEqual(t.dimKL, dkl, accuracy: 1e-9)
        // MI + TC + dim-KL is the sampled KL: log q(z|x) − log p(z) per cell; its mean equals the analytic KL only in expectation.
        XCTAssertTrue(t.kl > 0)
    }

    /// NB log-likelihood against its formula evaluated independently, including lgamma terms.
    func testNegativeBinomialValue() {
        var rng = SeededRNG(seed: 8)
        let cfg = config { $0.likelihood = .nb; $0.decoder = .linear }
        let net = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 10, maxRows: rows, rng: &rng)
        let (x, target, library) = data(.nb)
        var r2 = SeededRNG(seed: 1)
        let t = x.withUnsafeBufferPointer { xp in target.withUnsafeBufferPointer { tp in library.withUnsafeBufferPointer { lp in
            net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                     weights: StepWeights(klWeight: 1, capacity: 0), training: true, backward: false, rng: &r2) } } }
        let y = net.decoder.output
        var nll = 0.0
        for r in 0..<rows {
            let logits = (0..<genes).map { y[r * genes + $0] }
            let z = logits.map { exp($0) }.reduce(0, +)
            for g in 0..<genes {
                let mu = library[r] * exp(logits[g]) / z, theta = exp(net.parameters.values[net.logTheta + g]), k = target[r * genes + g]
                nll -= lgamma(k + theta) - lgamma(theta) - lgamma(k + 1) + theta * log(theta / (theta + mu)) + k * log(mu / (theta + mu))
            }
        }
        XCTAssertEqual(t.recon, nll / Double(rows), accuracy: 1e-9)
    }

    func testDigammaAgainstKnownValues() {
        XCTAssertEqual(SpecialFunctions.digamma(1), -0.5772156649015329, accuracy: 1e-13)
        XCTAssertEqual(SpecialFunctions.digamma(0.5), -1.9635100260214235, accuracy: 1e-13)
        // ψ(x + 1) = ψ(x) + 1/x, and the derivative of lgamma by central differences.
        for x in [0.03, 0.7, 3.3, 12.5, 250.0] {
            XCTAssertEqual(SpecialFunctions.digamma(x + 1), SpecialFunctions.digamma(x) + 1 / x, accuracy: 1e-11 * max(1, 1 / x))
            let h = 1e-5 * x
            XCTAssertEqual(SpecialFunctions.digamma(x), (lgamma(x + h) - lgamma(x - h)) / (2 * h), accuracy: 1e-6 * max(1, 1 / x))
        }
    }

    /// Forward-mode Jacobian (deep-decoder loadings) against finite differences of the decoder.
    func testDecoderJacobianMatchesFiniteDifferences() {
        for lk in [VAEParameters.Likelihood.gaussian, .bernoulli, .nb, .zinb] {
            var rng = SeededRNG(seed: 2)
            let cfg = config { $0.likelihood = lk; $0.hidden = [5]; $0.activation = .softplus; $0.batchNorm = true }
            let net = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 10, maxRows: rows, rng: &rng)
            var mean = Matrix(rows: rows, cols: 3)
            for i in mean.values.indices { mean.values[i] = Float(rng.normal()) }
            let scale = 7.0
            let j = net.loadings(at: mean, scaleFactor: scale)
            for c in 0..<3 {
                let h: Float = 1e-2
                var up = mean, down = mean
                for r in 0..<rows { up[r, c] += h; down[r, c] -= h }
                let du = net.decode(up, scaleFactor: scale), dd = net.decode(down, scaleFactor: scale)
                for g in 0..<genes {
                    var fd = 0.0
                    for r in 0..<rows { fd += Double(du[r, g] - dd[r, g]) / Double(2 * h) }
                    fd /= Double(rows)
                    XCTAssertEqual(Double(j[g, c]), fd, accuracy: 2e-3 * max(1, abs(fd)), "\(lk) gene \(g) latent \(c)")
                }
            }
        }
    }
}

/// The Float training path (C kernels for the TC sweep, two threads) against the Double path the
/// finite differences check: same weights, same data, same noise.
final class VAEFloatPathTests: XCTestCase {
    func testTCFloatKernelsMatchDoublePath() {
        let genes = 12, rows = 150
        var cfg = VAEParameters()
        cfg.latent = 5; cfg.hidden = [8]; cfg.objective = .tc; cfg.alpha = 0.8; cfg.gamma = 1.2
        for sampling in [VAEParameters.TCSampling.mws, .mss] {
            cfg.tcSampling = sampling
            var r1 = SeededRNG(seed: 5), r2 = SeededRNG(seed: 5)
            let f = VAENetwork<Float>(genes: genes, config: cfg, datasetSize: 1000, maxRows: rows, rng: &r1)
            let d = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 1000, maxRows: rows, rng: &r2)
            for i in 0..<f.parameters.count { d.parameters.values[i] = Double(f.parameters.values[i]) }
            f.threads = 2
            var data = SeededRNG(seed: 9)
            let x = (0..<(rows * genes)).map { _ in Float(log1p(Double(data.poisson(2)))) }
            let xd = x.map(Double.init)
            var n1 = SeededRNG(seed: 4), n2 = SeededRNG(seed: 4)
            let w = StepWeights(klWeight: 3, capacity: 0)
            let tf = x.withUnsafeBufferPointer { f.step(x: $0.baseAddress!, target: $0.baseAddress!, library: nil, rows: rows, weights: w, training: true, backward: true, rng: &n1) }
            let td = xd.withUnsafeBufferPointer { d.step(x: $0.baseAddress!, target: $0.baseAddress!, library: nil, rows: rows, weights: w, training: true, backward: true, rng: &n2) }
            XCTAssertEqual(tf.tc, td.tc, accuracy: 1e-3 * max(1, abs(td.tc)))
            XCTAssertEqual(tf.mi, td.mi, accuracy: 1e-3 * max(1, abs(td.mi)))
            XCTAssertEqual(tf.dimKL, td.dimKL, accuracy: 1e-3 * max(1, abs(td.dimKL)))
            var worst = 0.0, scale = 0.0
            for i in 0..<d.parameters.count {
                worst = max(worst, abs(Double(f.parameters.grads[i]) - d.parameters.grads[i]))
                scale = max(scale, abs(d.parameters.grads[i]))
            }
            XCTAssertLessThan(worst, 1e-3 * scale, "\(sampling): gradients of the Float path differ from the Double path's")
        }
    }
}

/// The dense layers' fused epilogues: the Float C kernels against their plain Swift twin run in
/// Double, and the loadings' slope products against the tangent passes.
final class DenseEpilogueTests: XCTestCase {
    func testFloatEpiloguesMatchDoubleTwin() {
        let rows = 7, o = 37                       // 37: a vector body and a scalar tail
        var rng = SeededRNG(seed: 21)
        let z = (0..<(rows * o)).map { _ in Float(rng.normal()) }
        let bias = (0..<o).map { _ in Float(rng.normal()) }
        let d = (0..<(rows * o)).map { _ in Float(rng.normal()) }
        let mask = (0..<(rows * o)).map { _ in rng.uniform() < 0.7 ? Float(1 / 0.7) : 0 }
        let db0 = (0..<o).map { _ in Float(rng.normal()) }
        for f in [Activation.identity, .relu, .leakyRelu] {
            for withBias in [true, false] {
                var yf = z, yd = z.map(Double.init)
                let bd = bias.map(Double.init)
                yf.withUnsafeMutableBufferPointer { y in bias.withUnsafeBufferPointer { b in
                    f.forward(y.baseAddress!, bias: withBias ? b.baseAddress! : nil, rows: rows, outputs: o) } }
                yd.withUnsafeMutableBufferPointer { y in bd.withUnsafeBufferPointer { b in
                    f.forward(y.baseAddress!, bias: withBias ? b.baseAddress! : nil, rows: rows, outputs: o) } }
                for i in 0..<(rows * o) {
                    XCTAssertEqual(Double(yf[i]), yd[i], accuracy: 1e-6 * max(1, abs(yd[i])), "\(f) forward [\(i)]")
                }
                for (useMask, accumulate) in [(false, false), (true, true), (true, false)] {
                    var df = d, dd = d.map(Double.init), dbf = db0, dbd = db0.map(Double.init)
                    let md = mask.map(Double.init)
                    df.withUnsafeMutableBufferPointer { dp in yf.withUnsafeBufferPointer { yp in mask.withUnsafeBufferPointer { mp in
                        dbf.withUnsafeMutableBufferPointer { bp in
                            f.backward(dp.baseAddress!, output: yp.baseAddress!, mask: useMask ? mp.baseAddress! : nil, rows: rows, outputs: o,
                                       biasGradient: bp.baseAddress!, accumulate: accumulate) } } } }
                    dd.withUnsafeMutableBufferPointer { dp in yd.withUnsafeBufferPointer { yp in md.withUnsafeBufferPointer { mp in
                        dbd.withUnsafeMutableBufferPointer { bp in
                            f.backward(dp.baseAddress!, output: yp.baseAddress!, mask: useMask ? mp.baseAddress! : nil, rows: rows, outputs: o,
                                       biasGradient: bp.baseAddress!, accumulate: accumulate) } } } }
                    for i in 0..<(rows * o) {
                        XCTAssertEqual(Double(df[i]), dd[i], accuracy: 1e-6 * max(1, abs(dd[i])), "\(f) backward [\(i)]")
                    }
                    for j in 0..<o {
                        XCTAssertEqual(Double(dbf[j]), dbd[j], accuracy: 1e-5 * max(1, abs(dbd[j])), "\(f) bias gradient [\(j)]")
                        // The bias gradient is the column sum of d (plus the old value when accumulating).
                        let col = (0..<rows).reduce(accumulate ? Double(db0[j]) : 0) { $0 + dd[$1 * o + j] }
                        XCTAssertEqual(dbd[j], col, accuracy: 1e-12 * max(1, abs(col)))
                    }
                }
            }
        }
    }

    /// One training step of a Float network (the C epilogues) against a Double one (the Swift
    /// loops) with the same weights, data and noise: dropout, batch norm and each kernel's
    /// activation.
    func testFloatStepMatchesDoubleStep() {
        let genes = 9, rows = 12
        for (act, bn, dropout) in [(Activation.relu, false, 0.0), (.leakyRelu, true, 0.25), (.elu, false, 0.2)] {
            var cfg = VAEParameters()
            cfg.latent = 3; cfg.hidden = [8, 6]; cfg.activation = act; cfg.batchNorm = bn; cfg.dropout = dropout
            var r1 = SeededRNG(seed: 5), r2 = SeededRNG(seed: 5)
            let f = VAENetwork<Float>(genes: genes, config: cfg, datasetSize: 100, maxRows: rows, rng: &r1)
            let d = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 100, maxRows: rows, rng: &r2)
            for i in 0..<f.parameters.count { d.parameters.values[i] = Double(f.parameters.values[i]) }
            var data = SeededRNG(seed: 8)
            let x = (0..<(rows * genes)).map { _ in Float(log1p(Double(data.poisson(2)))) }
            let xd = x.map(Double.init)
            var n1 = SeededRNG(seed: 4), n2 = SeededRNG(seed: 4)
            let w = StepWeights(klWeight: 1, capacity: 0)
            let tf = x.withUnsafeBufferPointer { f.step(x: $0.baseAddress!, target: $0.baseAddress!, library: nil, rows: rows, weights: w, training: true, backward: true, rng: &n1) }
            let td = xd.withUnsafeBufferPointer { d.step(x: $0.baseAddress!, target: $0.baseAddress!, library: nil, rows: rows, weights: w, training: true, backward: true, rng: &n2) }
            XCTAssertEqual(tf.loss, td.loss, accuracy: 1e-4 * max(1, abs(td.loss)), "\(act) loss")
            var worst = 0.0, scale = 0.0
            for i in 0..<d.parameters.count {
                worst = max(worst, abs(Double(f.parameters.grads[i]) - d.parameters.grads[i]))
                scale = max(scale, abs(d.parameters.grads[i]))
            }
            XCTAssertGreaterThan(scale, 0)
            XCTAssertLessThan(worst, 1e-4 * scale, "\(act): gradients of the Float path differ from the Double path's")
        }
    }

    /// The loadings of a Gaussian decoder with one or two hidden layers come from slope products;
    /// they must equal the tangent passes' (which the finite-difference test checks).
    func testSlopeProductLoadingsMatchTangentPasses() {
        let genes = 7, rows = 6
        for hidden in [[5], [5, 4]] {
            for (act, bn) in [(Activation.relu, false), (.elu, true), (.softplus, false)] {
                var cfg = VAEParameters()
                cfg.latent = 3; cfg.hidden = hidden; cfg.activation = act; cfg.batchNorm = bn
                var rng = SeededRNG(seed: 12)
                let net = VAENetwork<Double>(genes: genes, config: cfg, datasetSize: 50, maxRows: 4, rng: &rng)
                for l in net.decoder.runningVar.indices where bn {
                    for j in net.decoder.runningVar[l].indices {
                        net.decoder.runningVar[l][j] = 0.5 + rng.uniform()
                        net.decoder.runningMean[l][j] = rng.normal() * 0.3
                    }
                }
                var mean = Matrix(rows: rows, cols: 3)          // 6 cells in batches of 4: a short last batch
                for i in mean.values.indices { mean.values[i] = Float(rng.normal()) }
                let fast = net.loadings(at: mean, scaleFactor: 1, side: nil, pairwise: true)
                let slow = net.loadings(at: mean, scaleFactor: 1, side: nil, pairwise: false)
                var largest: Float = 0
                for i in fast.values.indices {
                    XCTAssertEqual(fast.values[i], slow.values[i], accuracy: 1e-6 * max(1, abs(slow.values[i])), "\(hidden) \(act) [\(i)]")
                    largest = max(largest, abs(slow.values[i]))
                }
                XCTAssertGreaterThan(largest, 1e-3)
            }
        }
    }
}
