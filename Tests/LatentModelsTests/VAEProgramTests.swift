import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels
import LatentPreprocess

/// Program decoders (gene-set masks, group lasso), hard-concrete gates and the bounded log σ².
final class VAEProgramTests: XCTestCase {
    let genes = 6, rows = 5

    /// A 3-program + 1-free mask over 6 genes (programs overlap on gene 2).
    let mask: [UInt8] = [1, 1, 1, 0, 0, 0,
                         0, 0, 1, 1, 0, 0,
                         0, 0, 0, 0, 1, 1,
                         1, 1, 1, 1, 1, 1]

    func programConfig(_ likelihood: VAEParameters.Likelihood, _ f: (inout VAEParameters) -> Void = { _ in }) -> VAEParameters {
        var c = VAEParameters()
        var g = ProgramDecoder()
        g.names = ["A", "B", "C"]; g.freeLatents = 1
        c.programs = g
        c.latent = 4; c.hidden = [4]; c.decoder = .linear; c.likelihood = likelihood
        f(&c)
        return c
    }

    func data(_ likelihood: VAEParameters.Likelihood) -> (x: [Double], target: [Double], library: [Double]) {
        var rng = SeededRNG(seed: 3)
        var counts = [Double](repeating: 0, count: rows * genes)
        for i in counts.indices { counts[i] = Double(rng.poisson(rng.uniform() < 0.3 ? 0.2 : 4)) }
        let library = (0..<rows).map { r in max(1, (0..<genes).reduce(0.0) { $0 + counts[r * genes + $1] }) }
        let x = counts.map { log1p($0) }
        return (x, (likelihood == .nb || likelihood == .zinb) ? counts : x, library)
    }

    /// Finite differences (Float64, h = 1e-5, relative 1e-5 as in VAEGradientTests) of every
    /// parameter the mask leaves free; parameters it fixes must have an exactly zero gradient.
    func check(_ config: VAEParameters, decoderMask: [UInt8]?, prepare: (VAENetwork<Double>) -> Void = { _ in },
               file: StaticString = #filePath, line: UInt = #line) {
        var initRNG = SeededRNG(seed: 11)
        let net = VAENetwork<Double>(genes: genes, config: config, datasetSize: 40, maxRows: rows, rng: &initRNG, decoderMask: decoderMask)
        for t in net.parameters.tensors where t.name.contains("log_theta") {
            for i in 0..<t.count { net.parameters.values[t.offset + i] += 0.3 * sin(Double(i + 1)) }
        }
        prepare(net)
        let (x, target, library) = data(config.likelihood)
        func loss(backward: Bool) -> Double {
            var rng = SeededRNG(seed: 99)
            return x.withUnsafeBufferPointer { xp in
                target.withUnsafeBufferPointer { tp in
                    library.withUnsafeBufferPointer { lp in
                        net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                                 weights: StepWeights(klWeight: 1.5, capacity: 2), training: true, backward: backward, rng: &rng).loss
                    }
                }
            }
        }
        net.parameters.zeroGrads()
        _ = loss(backward: true)
        let analytic = Array(UnsafeBufferPointer(start: net.parameters.grads, count: net.parameters.count))
        let weight = net.parameters.tensor(named: "decoder.0.weight")!
        let width = weight.shape[1]
        let hard = decoderMask != nil && (config.programs?.mask ?? .hard) == .hard
        var worst = 0.0, worstName = "", fixed = 0
        for t in net.parameters.tensors {
            for i in 0..<t.count {
                let p = t.offset + i
                if hard && t.name == weight.name && decoderMask![(i / width) * genes + (i % width) % genes] == 0 {
                    XCTAssertEqual(analytic[p], 0, "hard-masked \(t.name)[\(i)] has a gradient", file: file, line: line)
                    XCTAssertEqual(net.parameters.values[p], 0, "hard-masked \(t.name)[\(i)] is not 0", file: file, line: line)
                    fixed += 1
                    continue
                }
                let keep = net.parameters.values[p]
                net.parameters.values[p] = keep + 1e-5
                let up = loss(backward: false)
                net.parameters.values[p] = keep - 1e-5
                let down = loss(backward: false)
                net.parameters.values[p] = keep
                let numeric = (up - down) / 2e-5
                let err = abs(numeric - analytic[p]) / max(1e-3, abs(numeric) + abs(analytic[p]))
                if err > worst { worst = err; worstName = "\(t.name)[\(i)] analytic \(analytic[p]) numeric \(numeric)" }
            }
        }
        if hard { XCTAssertGreaterThan(fixed, 0, file: file, line: line) }
        XCTAssertLessThan(worst, 1e-5, "worst: \(worstName)", file: file, line: line)
    }

    func testHardMaskGaussian() { check(programConfig(.gaussian), decoderMask: mask) }
    func testHardMaskNegativeBinomialTC() { check(programConfig(.nb) { $0.objective = .tc }, decoderMask: mask) }
    func testHardMaskZINBBothHeads() { check(programConfig(.zinb), decoderMask: mask) }
    /// A soft mask changes no gradient (its L1 is a proximal step after the optimiser's).
    func testSoftMaskLeavesEveryWeightFree() {
        check(programConfig(.gaussian) { $0.programs!.mask = .soft; $0.programs!.maskL1 = 0.1 }, decoderMask: mask)
    }

    /// Gates in training draw u from the step's stream, so a fixed seed fixes them; log α is
    /// spread over [−1.5, 1.5] so that most gates sit strictly inside (0, 1) and carry a gradient.
    func testGatedDecoderWithL0Penalty() {
        for likelihood in [VAEParameters.Likelihood.gaussian, .nb] {
            var c = VAEParameters()
            c.latent = 3; c.hidden = [4]; c.decoder = .linear; c.likelihood = likelihood
            var g = DecoderGates(); g.l0 = 0.05
            c.gates = g
            check(c, decoderMask: nil) { net in
                let t = net.parameters.tensor(named: "decoder.0.log_alpha")!
                for i in 0..<t.count { net.parameters.values[t.offset + i] = 0.15 * sin(Double(3 * i + 1)) }   // log α/10
            }
        }
    }

    func testGatesOnDeepDecoderAndProgramMaskTogether() {
        check(programConfig(.gaussian) { $0.gates = DecoderGates() }, decoderMask: mask) { net in
            let t = net.parameters.tensor(named: "decoder.0.log_alpha")!
            for i in 0..<t.count { net.parameters.values[t.offset + i] = 0.12 * cos(Double(2 * i + 1)) }
        }
    }

    /// The proximal operator of t·Σ‖w_p‖: each row scaled by max(0, 1 − t/‖w_p‖), rows beyond
    /// the programs untouched.
    func testGroupLassoProximalStepIsExactSoftThreshold() {
        var w: [Double] = [3, 4, 0,      // norm 5 → scaled by 1 − 2/5
                           1, 1, 1,      // norm √3 < 2 → exactly 0
                           0, 0, 0,      // norm 0 stays 0
                           7, 7, 7]      // not a program: untouched
        w.withUnsafeMutableBufferPointer { VAENetwork<Double>.groupSoftThreshold($0.baseAddress!, rows: 3, width: 3, threshold: 2) }
        XCTAssertEqual(w[0], 3 * 0.6, accuracy: 1e-15)
        XCTAssertEqual(w[1], 4 * 0.6, accuracy: 1e-15)
        XCTAssertEqual(Array(w[3..<9]), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(w[9..<12]), [7, 7, 7])
        let norm = (w[0] * w[0] + w[1] * w[1]).squareRoot()
        XCTAssertEqual(norm, 5 - 2, accuracy: 1e-14)
    }

    /// One large step can put log σ² far out; β-TCVAE's estimator divided by σ² and returned NaN.
    func testTCEstimatorStaysFiniteAtExtremeLogVariances() {
        for bias in [-150.0, -60.0, 60.0, 150.0] {
            var c = VAEParameters()
            c.latent = 3; c.hidden = [4]; c.objective = .tc
            var rng = SeededRNG(seed: 4)
            let net = VAENetwork<Float>(genes: genes, config: c, datasetSize: 200, maxRows: rows, rng: &rng)
            let b = net.parameters.tensor(named: "encoder.1.bias")!
            for j in 0..<c.latent { net.parameters.values[b.offset + c.latent + j] = Float(bias) }
            // One latent's log σ² inside the bounds, so that both branches run.
            net.parameters.values[b.offset + c.latent] = -3
            let (x, _, _) = data(.gaussian)
            let xf = x.map { Float($0) }
            var noise = SeededRNG(seed: 5)
            net.parameters.zeroGrads()
            let t = xf.withUnsafeBufferPointer { xp in
                net.step(x: xp.baseAddress!, target: xp.baseAddress!, library: nil, rows: rows, weights: StepWeights(klWeight: 1, capacity: 0),
                         training: true, backward: true, rng: &noise)
            }
            XCTAssertTrue(t.loss.isFinite && t.tc.isFinite && t.mi.isFinite, "bias \(bias): loss \(t.loss) tc \(t.tc)")
            let g = UnsafeBufferPointer(start: net.parameters.grads, count: net.parameters.count)
            XCTAssertTrue(g.allSatisfy(\.isFinite), "bias \(bias): non-finite gradient")
        }
    }

    // MARK: training

    /// Counts with planted programs, log-normalised input, and a GMT-like list: the planted
    /// programs and as many decoys (random genes outside every program) of the same size.
    func planted(seed: UInt64, genes: Int, programSize: Int) throws -> (x: MatrixData, counts: MatrixData, library: [Double], sets: [[Int]], planted: Int) {
        var p = Simulate.Parameters()
        p.cells = 400; p.genes = genes; p.programs = 4; p.programSize = programSize; p.effects = [1.5, 1.5, 1.5, 1.5]
        p.factorKind = .continuous
        var rng = SeededRNG(seed: seed)
        let sim = try Simulate.run(p, rng: &rng)
        let names = sim.dataset.var.index
        var index: [String: Int] = [:]
        for (i, n) in names.enumerated() { index[n] = i }
        var sets = sim.programs.map { $0.genes.compactMap { index[$0] }.sorted() }
        let inProgram = Set(sets.flatMap { $0 })
        var free = (0..<names.count).filter { !inProgram.contains($0) }
        for _ in 0..<sets.count {
            rng.shuffle(&free)
            sets.append(Array(free.prefix(p.programSize)).sorted())
        }
        let s: SparseMatrix
        switch sim.dataset.X { case .sparse(let m): s = m; case .dense(let d): s = SparseMatrix(dense: d) }
        var logged = s
        logged.values = s.values.map { log1p($0) }
        return (.sparse(logged), sim.dataset.X, rowTotals(sim.dataset.X).total, sets, sim.programs.count)
    }

    func programMask(_ sets: [[Int]], genes: Int, free: Int) -> [UInt8] {
        ProgramMask(names: sets.indices.map { "p\($0)" }, rows: sets, coverageTSV: "", notes: []).matrix(genes: genes, freeLatents: free)
    }

    func trainPlanted(seed: UInt64, genes: Int = 120, programSize: Int = 12, _ f: (inout VAEParameters) -> Void) throws -> (VAETrainer.Outcome<Float>, [UInt8], Int, [[Int]]) {
        let d = try planted(seed: seed, genes: genes, programSize: programSize)
        var c = VAEParameters()
        var g = ProgramDecoder()
        g.names = d.sets.indices.map { "p\($0)" }; g.freeLatents = 1
        c.programs = g
        c.latent = d.sets.count + 1; c.hidden = [32]; c.decoder = .linear; c.likelihood = .nb
        c.epochs = 40; c.batchSize = 64; c.lr = 1e-2; c.validation = 0
        f(&c)
        c.latent = d.sets.count + c.programs!.freeLatents
        let m = programMask(d.sets, genes: d.x.cols, free: c.programs!.freeLatents)
        let o = try VAETrainer.train(Float.self, input: d.x, target: d.counts, library: d.library, config: c, seed: seed, decoderMask: m)
        return (o, m, d.planted, d.sets)
    }

    func testHardMaskKeepsOffMaskWeightsExactlyZero() throws {
        let (o, m, _, _) = try trainPlanted(seed: 1) { $0.epochs = 10 }
        let net = o.network
        let w = net.parameters.tensor(named: "decoder.0.weight")!
        let v = net.parameters.array(w)
        let g = net.genes
        var off = 0, onNonzero = 0
        for i in 0..<v.count where m[i] == 0 { XCTAssertEqual(v[i], 0); off += 1 }
        for i in 0..<v.count where m[i] != 0 && v[i] != 0 { onNonzero += 1 }
        XCTAssertGreaterThan(off, g)
        XCTAssertGreaterThan(onNonzero, g)        // the allowed weights did train
    }

    func testSoftMaskLeavesOffMaskWeightsAtZero() throws {
        let (o, m, _, _) = try trainPlanted(seed: 2) { $0.epochs = 10; $0.programs!.mask = .soft; $0.programs!.maskL1 = 2 }
        let v = o.network.parameters.array(o.network.parameters.tensor(named: "decoder.0.weight")!)
        let off = (0..<v.count).filter { m[$0] == 0 }
        let zero = off.filter { v[$0] == 0 }.count
        XCTAssertGreaterThanOrEqual(Double(zero) / Double(off.count), 0.95, "\(zero) of \(off.count) off-mask weights are 0")
        // Without the penalty, the same soft mask lets off-mask weights move.
        let (free, _, _, _) = try trainPlanted(seed: 2) { $0.epochs = 10; $0.programs!.mask = .soft; $0.programs!.maskL1 = 0 }
        let u = free.network.parameters.array(free.network.parameters.tensor(named: "decoder.0.weight")!)
        XCTAssertLessThan(off.filter { u[$0] == 0 }.count, off.count / 2)
    }

    /// Planted programs stay on, decoys are switched off by the group lasso. (A free latent can
    /// take a planted program's place here even with HSIC; the CLI test checks free latents.)
    func testGroupLassoKeepsPlantedProgramsAndDropsDecoys() throws {
        let (o, _, planted, sets) = try trainPlanted(seed: 3, genes: 300, programSize: 20) {
            $0.programs!.groupLasso = 1; $0.programs!.freeLatents = 0; $0.lr = 3e-3; $0.epochs = 100; $0.hidden = [128]
        }
        let norms = o.network.decoderRowNorms()
        let active = (0..<sets.count).map { norms[$0] > 0 }
        XCTAssertEqual(Array(active.prefix(planted)), [Bool](repeating: true, count: planted), "norms \(norms)")
        let decoysOn = active.dropFirst(planted).filter { $0 }.count
        XCTAssertEqual(decoysOn, 0, "norms \(norms)")
    }

    func testProgramAndGateRunsRepeatToTheBit() throws {
        let (a, _, _, _) = try trainPlanted(seed: 4) { $0.epochs = 4; $0.programs!.groupLasso = 0.5; $0.gates = DecoderGates() }
        let (b, _, _, _) = try trainPlanted(seed: 4) { $0.epochs = 4; $0.programs!.groupLasso = 0.5; $0.gates = DecoderGates() }
        XCTAssertEqual(a.network.parameters.allValues, b.network.parameters.allValues)
        XCTAssertNotNil(a.network.deterministicGates())
    }
}

extension VAEProgramTests {
    /// HSIC between the free latent and the programs, as the latent term the trainer adds.
    func testHSICTermGradient() {
        var c = programConfig(.gaussian) { $0.programs!.hsic = 2.5 }
        c.objective = .beta
        check(c, decoderMask: mask) { net in net.latentTerms = net.programLatentTerms() }
        XCTAssertEqual(c.programs!.hsic, 2.5)
    }

    /// HSIC of independent blocks is near 0, of a copied block clearly positive.
    func testHSICSeparatesDependentFromIndependentBlocks() {
        var rng = SeededRNG(seed: 8)
        let m = 64
        var zi = [Double](repeating: 0, count: m * 2), zd = zi
        for r in 0..<m {
            zi[r * 2] = rng.normal(); zi[r * 2 + 1] = rng.normal()
            zd[r * 2] = zi[r * 2]; zd[r * 2 + 1] = zi[r * 2] + 0.1 * rng.normal()
        }
        let t = HSICTerm(a: [0], b: [1])
        let hi = zi.withUnsafeBufferPointer { t.value(z: $0.baseAddress!, rows: m, latents: 2, weight: 1, dz: nil) }
        let hd = zd.withUnsafeBufferPointer { t.value(z: $0.baseAddress!, rows: m, latents: 2, weight: 1, dz: nil) }
        XCTAssertGreaterThan(hd, 5 * hi)
        XCTAssertGreaterThan(hi, 0)
    }
}
