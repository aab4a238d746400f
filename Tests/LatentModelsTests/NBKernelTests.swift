import CKernels
import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels

/// The vectorised NB/ZINB loss (Sources/CKernels/nb_likelihood.c): its exp, log, lgamma and
/// digamma against long-double references, and the Float network's loss and gradients through
/// it against the Swift loop that the finite-difference tests check.
final class NBKernelTests: XCTestCase {
    /// Arguments over the ranges the NB loss meets: θ from e^-10 to e^12, x + θ up to 10⁶ and
    /// beyond, x + 1 for counts; log-spaced, plus the zeros of log Γ and integers and halves.
    static let arguments: [Double] = {
        var xs: [Double] = []
        var v = 1e-12
        while v < 1e12 { xs.append(v); v *= 1.0137 }
        for i in 1...400 { xs.append(Double(i)); xs.append(Double(i) + 0.5) }
        for d in [-1e-9, -1e-13, 0, 1e-13, 1e-9, 1e-4] { xs.append(1 + d); xs.append(2 + d) }
        xs += [9.999999999999998, 10, 10.000000000000002, 3e-300, 1e-308, 4e-320, 1e15, 1e100]
        return xs
    }()

    /// ψ in Float80: the recurrence up to y ≥ 30, then the asymptotic series through B₁₄
    /// (truncation below 1e-24 there): a reference independent of the kernel's shift to 10.
    static func digammaReference(_ x: Double) -> Float80 {
        var y = Float80(x), r: Float80 = 0
        while y < 30 { r -= 1 / y; y += 1 }
        let w2 = 1 / (y * y)
        var t: Float80 = 1.0 / 12
        for c: Float80 in [-691.0 / 32760, 1.0 / 132, -1.0 / 240, 1.0 / 252, -1.0 / 120, 1.0 / 12] { t = t * w2 + c }
        return r + Float80(Glibc.logl(y)) - 0.5 / y - t * w2
    }

    /// Measured on 1e-12…1e12: lgamma within 6.4e-15·max(1, |log Γ|) (near x = 0.78, where the
    /// shift's log p and Stirling's value, both ≈ 12.8, cancel; glibc is within 3e-16), digamma
    /// within 1.6e-15·max(1, |ψ|).
    func testLgammaAndDigammaWithinStatedBound() {
        var worstLg = 0.0, worstLgAt = 0.0, worstDg = 0.0, worstDgAt = 0.0
        for x in Self.arguments {
            let ref = Glibc.lgammal(Float80(x))
            let e = abs(Double(Float80(lk_lgamma_f64(x)) - ref)) / max(1, abs(Double(ref)))
            if e > worstLg { worstLg = e; worstLgAt = x }
            let dref = Self.digammaReference(x)
            let d = abs(Double(Float80(lk_digamma_f64(x)) - dref)) / max(1, abs(Double(dref)))
            if d > worstDg { worstDg = d; worstDgAt = x }
        }
        XCTAssertLessThan(worstLg, 1e-14, "lgamma worst at x = \(worstLgAt)")
        XCTAssertLessThan(worstDg, 1e-14, "digamma worst at x = \(worstDgAt)")
        // Known values and the kernels' domain edges.
        XCTAssertEqual(lk_digamma_f64(1), -0.5772156649015329, accuracy: 1e-15)
        XCTAssertEqual(lk_digamma_f64(0.5), -1.9635100260214235, accuracy: 1e-15)
        XCTAssertEqual(lk_lgamma_f64(0.5), 0.5723649429247001, accuracy: 1e-14)
        XCTAssertEqual(lk_lgamma_f64(0), .infinity)
        XCTAssertTrue(lk_lgamma_f64(-1).isNaN && lk_digamma_f64(.nan).isNaN)
    }

    func testExpAndLogWithinTwoUlp() {
        var worstExp = 0.0, worstLog = 0.0
        var x = -745.0
        while x < 709.7 {
            let ref = Glibc.expl(Float80(x)), got = lk_exp_f64(x)
            // Relative to the result, or to the smallest normal in the subnormal range.
            let e = abs(Double(Float80(got) - ref)) / max(Double(ref), 0x1p-1022)
            worstExp = max(worstExp, e)
            x += 0.0137
        }
        for v in Self.arguments + [0x1p-1074, 0x1p-1030, 0.7071067811865476, 1.4142135623730951, 1.7976931348623157e308] {
            let ref = Glibc.logl(Float80(v))
            worstLog = max(worstLog, abs(Double(Float80(lk_log_f64(v)) - ref)) / max(abs(Double(ref)), 1e-300))
        }
        XCTAssertLessThan(worstExp, 2 * Double.ulpOfOne, "exp")
        XCTAssertLessThan(worstLog, 2 * Double.ulpOfOne, "log")
        XCTAssertEqual(lk_exp_f64(-800), 0)
        XCTAssertEqual(lk_exp_f64(710), .infinity)
        XCTAssertEqual(lk_exp_f64(0), 1)
        XCTAssertEqual(lk_log_f64(1), 0)
        XCTAssertEqual(lk_log_f64(0), -.infinity)
        XCTAssertEqual(lk_log_f64(.infinity), .infinity)
        XCTAssertTrue(lk_log_f64(-1).isNaN && lk_exp_f64(.nan).isNaN)
    }

    // MARK: the network's loss through the kernel

    let genes = 37, rows = 40                       // a tail past 8 lanes; three 16-row blocks
    let batchOf: [Int] = (0..<40).map { ($0 * 7) % 3 }

    /// Counts from zero to over a thousand (x + θ far above 10) and dispersions from e^-4 to e^4.
    func makeNet(_ likelihood: VAEParameters.Likelihood, groups: Int) -> (VAENetwork<Float>, [Float], [Float], [Float], [Float]) {
        var cfg = VAEParameters()
        cfg.latent = 3; cfg.hidden = [8]; cfg.likelihood = likelihood
        var rng = SeededRNG(seed: 21)
        let shape = CovariateShape(sideInputs: 3, encodeCovariates: false, dispersionGroups: groups)
        let net = VAENetwork<Float>(genes: genes, config: cfg, datasetSize: 100, maxRows: rows, rng: &rng, covariates: shape)
        for t in net.parameters.tensors where t.name.contains("log_theta") {
            for i in 0..<t.count { net.parameters.values[t.offset + i] = Float(4 * sin(Double(3 * i + 1))) }
        }
        var data = SeededRNG(seed: 8)
        let counts = (0..<(rows * genes)).map { i -> Float in
            let u = data.uniform()
            // Counts past the kernel's log x! table and a non-integer one take its other list.
            if i % 97 == 5 { return 1500 + Float(i % 7) }
            if i % 89 == 7 { return 2.5 }
            return u < 0.4 ? 0 : Float(data.poisson(u < 0.9 ? 3 : (i % 5 == 0 ? 400 : 40)))
        }
        let library = (0..<rows).map { r in max(1, (0..<genes).reduce(Float(0)) { $0 + counts[r * genes + $1] }) }
        let x = counts.map { Float(log1p(Double($0))) }
        var side = [Float](repeating: 0, count: rows * 3)
        for r in 0..<rows { side[r * 3 + batchOf[r]] = 1 }
        return (net, x, counts, library, side)
    }

    func runStep(_ net: VAENetwork<Float>, _ x: [Float], _ counts: [Float], _ library: [Float], _ side: [Float],
                 groups: Bool, backward: Bool = true) -> (loss: Double, grads: [Float]) {
        net.parameters.zeroGrads()
        var rng = SeededRNG(seed: 99)
        let loss = x.withUnsafeBufferPointer { xp in counts.withUnsafeBufferPointer { tp in library.withUnsafeBufferPointer { lp in
            side.withUnsafeBufferPointer { sp in batchOf.withUnsafeBufferPointer { gp in
                let cov = StepCovariates<Float>(side: sp.baseAddress!, groups: groups ? gp.baseAddress! : nil, cells: Array(0..<rows)[...])
                return net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                                weights: StepWeights(klWeight: 1, capacity: 0), training: true, backward: backward,
                                rng: &rng, covariates: cov).recon
            } }
        } } }
        return (loss, Array(UnsafeBufferPointer(start: net.parameters.grads, count: net.parameters.count)))
    }

    /// The kernel against the Swift loop (glibc lgamma, the recurrence digamma) on the same Float
    /// network: both work in Double, so they differ only in the last bits before Float.
    func testKernelMatchesSwiftLoop() {
        for (lk, groups) in [(VAEParameters.Likelihood.nb, 1), (.nb, 3), (.zinb, 1), (.zinb, 3)] {
            let (net, x, counts, library, side) = makeNet(lk, groups: groups)
            net.useNBKernel = false
            let swift = runStep(net, x, counts, library, side, groups: groups > 1)
            net.useNBKernel = true
            let kernel = runStep(net, x, counts, library, side, groups: groups > 1)
            XCTAssertEqual(kernel.loss, swift.loss, accuracy: 1e-10 * abs(swift.loss), "\(lk) × \(groups): loss")
            // The forward-only specialisation (validation) gives the same loss as the backward one.
            let forward = runStep(net, x, counts, library, side, groups: groups > 1, backward: false)
            XCTAssertEqual(forward.loss.bitPattern, kernel.loss.bitPattern, "\(lk) × \(groups): forward-only loss")
            var worst: Float = 0, scale: Float = 0, worstAt = 0
            for i in swift.grads.indices {
                let d = abs(kernel.grads[i] - swift.grads[i])
                if d > worst { worst = d; worstAt = i }
                scale = max(scale, abs(swift.grads[i]))
            }
            XCTAssertGreaterThan(scale, 0)
            XCTAssertLessThan(worst, 1e-5 * scale, "\(lk) × \(groups): gradient \(worstAt) differs")
            let theta = net.parameters.tensors.first { $0.name.contains("log_theta") }!
            XCTAssertGreaterThan((0..<theta.count).map { abs(kernel.grads[theta.offset + $0]) }.max()!, 1e-3, "dispersion gradient")
        }
    }

    /// The same bytes for any thread count (fixed row blocks, partials added in block order).
    func testKernelSameForAnyThreadCount() {
        for lk in [VAEParameters.Likelihood.nb, .zinb] {
            let (net, x, counts, library, side) = makeNet(lk, groups: 3)
            net.threads = 1
            let one = runStep(net, x, counts, library, side, groups: true)
            for t in [2, 3] {
                net.threads = t
                let many = runStep(net, x, counts, library, side, groups: true)
                XCTAssertEqual(one.loss.bitPattern, many.loss.bitPattern, "\(lk): loss on \(t) threads")
                XCTAssertEqual(one.grads.map(\.bitPattern), many.grads.map(\.bitPattern), "\(lk): gradients on \(t) threads")
            }
        }
    }
}
