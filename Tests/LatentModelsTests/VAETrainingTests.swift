import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels
import LatentPreprocess

final class VAETrainingTests: XCTestCase {
    /// Log-normalised counts of a small simulation with 3 programs.
    func simulated(cells: Int = 300, genes: Int = 60, seed: UInt64 = 1) throws -> (x: MatrixData, counts: MatrixData, library: [Double]) {
        var p = Simulate.Parameters()
        p.cells = cells; p.genes = genes; p.programs = 3; p.programSize = 10
        var rng = SeededRNG(seed: seed)
        let sim = try Simulate.run(p, rng: &rng)
        let counts = sim.dataset.X
        let s: SparseMatrix
        switch counts {
        case .sparse(let m): s = m
        case .dense(let d): s = SparseMatrix(dense: d)
        }
        var logged = s
        logged.values = s.values.map { log1p($0) }
        let lib = rowTotals(counts).total
        return (.sparse(logged), counts, lib)
    }

    func small(_ f: (inout VAEParameters) -> Void = { _ in }) -> VAEParameters {
        var c = VAEParameters()
        c.latent = 4; c.hidden = [16]; c.epochs = 6; c.batchSize = 32
        f(&c)
        return c
    }

    func testSameSeedSameBytesOtherSeedOtherResult() throws {
        let d = try simulated()
        for objective in VAEParameters.Objective.allCases {
            let c = small { $0.objective = objective; $0.dropout = 0.1; $0.epochs = 3 }
            let a = try VAETrainer.train(Float.self, input: d.x, config: c, seed: 5)
            let b = try VAETrainer.train(Float.self, input: d.x, config: c, seed: 5)
            let other = try VAETrainer.train(Float.self, input: d.x, config: c, seed: 6)
            XCTAssertEqual(a.network.parameters.allValues, b.network.parameters.allValues, "\(objective)")
            XCTAssertEqual(a.history, b.history, "\(objective)")
            XCTAssertNotEqual(a.network.parameters.allValues, other.network.parameters.allValues, "\(objective)")
        }
    }

    func testTrainingReducesTheLossForEveryLikelihood() throws {
        let d = try simulated()
        for lk in VAEParameters.Likelihood.allCases {
            var x = d.x
            if lk == .bernoulli, case .sparse(var s) = x { let mx = s.values.max()!; s.values = s.values.map { $0 / mx }; x = .sparse(s) }
            let counts = (lk == .nb || lk == .zinb) ? d.counts : nil
            let o = try VAETrainer.train(Float.self, input: x, target: counts, library: counts == nil ? nil : d.library,
                                         config: small { $0.likelihood = lk; $0.epochs = 8 }, seed: 1)
            let first = o.history.first!.train.recon, last = o.history.last!.train.recon
            // Bernoulli on soft targets has a high floor (the targets' own entropy), hence 2 %.
            XCTAssertLessThan(last, first * 0.98, "\(lk): reconstruction \(first) → \(last)")
            XCTAssertLessThan(o.history.last!.validation!.loss, o.history.first!.validation!.loss, "\(lk)")
        }
    }

    /// The KL weight and the capacity are read from the schedule at every step: the same
    /// parameters give a different loss at consecutive steps, and the history records the ramp.
    func testSchedulesChangeTheLossFromStepToStep() throws {
        let d = try simulated()
        let warm = small { $0.beta = 4; $0.warmup = 3; $0.epochs = 5 }
        let s = Schedule(config: warm, stepsPerEpoch: 9)
        XCTAssertEqual(s.weights(step: 0).klWeight, 0)
        XCTAssertEqual(s.weights(step: 9).klWeight, 4.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s.weights(step: 27).klWeight, 4)
        XCTAssertEqual(s.weights(step: 1000).klWeight, 4)
        var rng = SeededRNG(seed: 3)
        let net = VAENetwork<Double>(genes: d.x.cols, config: warm, datasetSize: 100, maxRows: 8, rng: &rng)
        let source = BatchSource<Double>(input: d.x, target: nil, library: nil)
        let buf = UnsafeMutablePointer<Double>.allocate(capacity: 8 * d.x.cols)
        defer { buf.deallocate() }
        source.gather(d.x, Array(0..<8)[...], into: buf)
        func loss(_ w: StepWeights) -> Double {
            var r = SeededRNG(seed: 1)
            return net.step(x: buf, target: buf, library: nil, rows: 8, weights: w, training: true, backward: false, rng: &r).loss
        }
        XCTAssertNotEqual(loss(s.weights(step: 4)), loss(s.weights(step: 5)))
        let capacity = small { $0.objective = .capacity; $0.capacityMax = 10; $0.capacitySteps = 20 }
        let cs = Schedule(config: capacity, stepsPerEpoch: 9)
        XCTAssertEqual(cs.weights(step: 10).capacity, 5, accuracy: 1e-12)
        XCTAssertEqual(cs.weights(step: 30).capacity, 10)
        // Through the trainer: the recorded weights ramp, and a warm-up changes the result.
        let o = try VAETrainer.train(Float.self, input: d.x, config: warm, seed: 2)
        let ramp = o.history.map(\.klWeight)
        XCTAssertTrue(zip(ramp, ramp.dropFirst()).prefix(2).allSatisfy { $0 < $1 }, "\(ramp)")
        XCTAssertEqual(ramp.last, 4)
        let flat = try VAETrainer.train(Float.self, input: d.x, config: small { $0.beta = 4; $0.epochs = 5 }, seed: 2)
        XCTAssertNotEqual(o.history.last!.train.loss, flat.history.last!.train.loss)
        let cap = try VAETrainer.train(Float.self, input: d.x, config: small { $0.objective = .capacity; $0.capacityMax = 10; $0.capacitySteps = 30 }, seed: 2)
        let caps = cap.history.map(\.capacity)
        XCTAssertTrue(zip(caps, caps.dropFirst()).allSatisfy { $0 <= $1 } && caps.first! < caps.last!, "\(caps)")
    }

    func testDivergenceIsAnErrorNotAnOutput() throws {
        let d = try simulated()
        XCTAssertThrowsError(try VAETrainer.train(Float.self, input: d.x, config: small { $0.lr = 1e9; $0.epochs = 3 }, seed: 1, file: "in.h5ad")) { e in
            let err = e as? LatentError
            XCTAssertEqual(err?.kind, .badInput)
            XCTAssertTrue(err?.description.contains("diverged") ?? false, "\(String(describing: err))")
            XCTAssertTrue(err?.description.hasPrefix("in.h5ad:epoch ") ?? false, "\(String(describing: err))")
        }
    }

    func testEarlyStoppingKeepsTheBestEpoch() throws {
        let d = try simulated(cells: 120)
        // A wide network on 108 training cells overfits quickly.
        let o = try VAETrainer.train(Float.self, input: d.x, config: small { $0.hidden = [256]; $0.epochs = 300; $0.patience = 3; $0.lr = 3e-3 }, seed: 1)
        XCTAssertTrue(o.stoppedEarly)
        XCTAssertEqual(o.history.count, o.bestEpoch + 3)
        let best = o.history.compactMap { $0.validation?.loss }.min()!
        XCTAssertEqual(o.history[o.bestEpoch - 1].validation!.loss, best)
    }
}

/// The float kernels' own e^x (Cody–Waite + polynomial) against Double exp: within 2 ulp over
/// the whole range, 0 below the smallest normal, +inf above the largest finite, NaN kept.
final class FloatKernelTests: XCTestCase {
    func testExpMatchesDoubleExpToTwoUlp() {
        var x: [Float] = stride(from: -87.3, through: 88.7, by: 0.0137).map { Float($0) }
        x += [0, -0, 1e-30, -1e-30, 0.5, -0.5, Float(log(2.0)), 88.72, -87.33]
        var y = x
        y.withUnsafeMutableBufferPointer { Float.expInPlace($0.baseAddress!, $0.count) }
        var worst = 0.0
        for (v, e) in zip(x, y) {
            let ref = exp(Double(v))
            let ulp = Double(Float(ref).ulp)
            worst = max(worst, abs(Double(e) - ref) / ulp)
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error in ulp")
        var edges: [Float] = [-88, -100, -Float.infinity, 89, 1000, .infinity, .nan]
        edges.withUnsafeMutableBufferPointer { Float.expInPlace($0.baseAddress!, $0.count) }
        XCTAssertEqual(Array(edges[0..<3]), [0, 0, 0])
        XCTAssertEqual(Array(edges[3..<6]), [.infinity, .infinity, .infinity])
        XCTAssertTrue(edges[6].isNaN)
    }

    func testSigmoidMatchesDouble() {
        let x: [Float] = stride(from: -100, through: 100, by: 0.173).map { Float($0) }
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { Float.sigmoid(xp.baseAddress!, $0.baseAddress!, x.count) } }
        for (v, s) in zip(x, y) {
            let ref = 1 / (1 + exp(-Double(v)))
            XCTAssertEqual(Double(s), ref, accuracy: 3e-7 * max(ref, 1e-30) + 1e-38, "sigmoid(\(v))")
        }
    }
}

/// The Bernoulli loss and Adam kernels (Float, vectorised, Adam split over threads) against
/// their Double twins.
final class TrainingKernelTests: XCTestCase {
    func testBernoulliLossMatchesDouble() {
        let y: [Float] = stride(from: -40, through: 40, by: 0.0731).map { Float($0) }
        var rng = SeededRNG(seed: 6)
        let t = y.map { _ in Float(rng.uniform()) }
        var gf = [Float](repeating: 0, count: y.count), gd = [Double](repeating: 0, count: y.count)
        let lf = y.withUnsafeBufferPointer { yp in t.withUnsafeBufferPointer { tp in gf.withUnsafeMutableBufferPointer {
            Float.bernoulliLoss(yp.baseAddress!, tp.baseAddress!, $0.baseAddress!, y.count, 0.5) } } }
        let yd = y.map(Double.init), td = t.map(Double.init)
        let ld = yd.withUnsafeBufferPointer { yp in td.withUnsafeBufferPointer { tp in gd.withUnsafeMutableBufferPointer {
            Double.bernoulliLoss(yp.baseAddress!, tp.baseAddress!, $0.baseAddress!, y.count, 0.5) } } }
        XCTAssertEqual(lf, ld, accuracy: 1e-6 * abs(ld))
        for i in y.indices { XCTAssertEqual(Double(gf[i]), gd[i], accuracy: 1e-7, "gradient at y = \(y[i])") }
    }

    func testAdamOverThreadsMatchesOneThreadAndDouble() {
        let n = 300_001                                   // split in two blocks, with a ragged end
        func run<T: NetScalar>(_: T.Type, threads: Int) -> [T] {
            let p = ParameterSet<T>()
            var rng = SeededRNG(seed: 2)
            p.add("w", shape: [n], bound: 1, rng: &rng)
            var adam = Adam<T>(count: n)
            adam.threads = threads
            for s in 0..<3 {
                for i in 0..<n { p.grads[i] = T(sin(Double(i % 977) + Double(s))) }
                adam.update(p, lr: 1e-2, gradScale: 0.5)
            }
            return p.allValues
        }
        let one = run(Float.self, threads: 1), two = run(Float.self, threads: 2), d = run(Double.self, threads: 1)
        XCTAssertEqual(one, two)
        var worst = 0.0
        for i in 0..<n { worst = max(worst, abs(Double(two[i]) - d[i])) }
        XCTAssertLessThan(worst, 1e-6)
        // The steps moved the weights (from their ±1 draws: the same stream as `add`'s).
        var start = SeededRNG(seed: 2)
        let initial = (0..<6).map { _ in 2 * start.uniform() - 1 }
        XCTAssertGreaterThan(abs(d[5] - initial[5]), 1e-3)
    }
}

/// The log σ² bound (VAENetwork+Numerics.swift): at a bound, a gradient that a descent step would
/// follow back inside passes; one pushing further out is zeroed; inside, nothing changes.
final class VAELogVarianceBoundTests: XCTestCase {
    func testGradientPointingBackInsideTheBoundPasses() {
        var c = VAEParameters()
        c.latent = 2; c.hidden = [4]
        var rng = SeededRNG(seed: 1)
        let net = VAENetwork<Double>(genes: 3, config: c, datasetSize: 10, maxRows: 4, rng: &rng)
        let b = VAENetwork<Double>.logVarianceBound
        // rows × 2K: means, then log σ². Row by row: (value, gradient, kept?)
        let cases: [(Double, Double, Bool)] = [(b, 5, true), (b, -5, false), (-b, -5, true), (-b, 5, false),
                                               (3, 5, true), (3, -5, true), (b + 7, 1, true), (-b - 7, 1, false)]
        let enc = net.encoder.output
        for (i, (v, g, _)) in cases.enumerated() {
            let r = i / 2, j = i % 2
            enc[r * 4 + 2 + j] = v
            net.dEnc[r * 4 + 2 + j] = g
        }
        net.clampLogVariance(rows: 4)
        net.maskClampedLogVarianceGradients(rows: 4)
        for (i, (v, g, kept)) in cases.enumerated() {
            let r = i / 2, j = i % 2
            XCTAssertEqual(enc[r * 4 + 2 + j], min(max(v, -b), b), "value \(v)")
            XCTAssertEqual(net.dEnc[r * 4 + 2 + j], kept ? g : 0, "value \(v), gradient \(g)")
        }
    }
}
