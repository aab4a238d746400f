import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels

/// Finite-difference checks (Float64) of the covariate extension points: side inputs of the
/// decoder and encoder layers, per-batch dispersions, and latent terms (the triplet term), on
/// the training code itself. Tolerances as in VAEGradientTests.
final class VAECovariateGradientTests: XCTestCase {
    let genes = 6, rows = 6
    /// Per row: batch (one-hot in the first 3 side columns, also the dispersion group) and a
    /// continuous covariate (last column).
    let batchOf = [0, 1, 2, 0, 1, 0]
    let continuous = [-1.2, 0.3, 0.8, -0.1, 1.5, 0.4]
    /// A label for the categorical triplet term (each category at least twice).
    static let cellType = [0, 1, 0, 1, 1, 0]

    var side: [Double] {
        var s = [Double](repeating: 0, count: rows * 4)
        for r in 0..<rows { s[r * 4 + batchOf[r]] = 1; s[r * 4 + 3] = continuous[r] }
        return s
    }

    func data(_ likelihood: VAEParameters.Likelihood) -> (x: [Double], target: [Double], library: [Double]) {
        var rng = SeededRNG(seed: 3)
        var counts = [Double](repeating: 0, count: rows * genes)
        for i in counts.indices { counts[i] = Double(rng.poisson(rng.uniform() < 0.3 ? 0.2 : 4)) }
        let library = (0..<rows).map { r in max(1, (0..<genes).reduce(0.0) { $0 + counts[r * genes + $1] }) }
        var x = counts.map { log1p($0) }
        if likelihood == .bernoulli { let mx = x.max()!; x = x.map { $0 / mx } }
        let target = (likelihood == .nb || likelihood == .zinb) ? counts : x
        return (x, target, library)
    }

    func check(_ config: VAEParameters, shape: CovariateShape, terms: [(any LatentTerm, Double)] = [],
               file: StaticString = #filePath, line: UInt = #line) {
        var initRNG = SeededRNG(seed: 11)
        let net = VAENetwork<Double>(genes: genes, config: config, datasetSize: 40, maxRows: rows, rng: &initRNG, covariates: shape)
        net.tcRowsPerThread = 2
        net.latentTerms = terms.map { (term: $0.0, weight: $0.1) }
        for t in net.parameters.tensors where t.name.contains("bn.") || t.name.contains("log_theta") {
            for i in 0..<t.count { net.parameters.values[t.offset + i] += 0.3 * sin(Double(i + 1)) }
        }
        XCTAssertEqual(net.parameters.tensors.filter { $0.name.hasSuffix("side_weight") }.count,
                       net.decoder.specs.count + (shape.encodeCovariates ? 1 : 0), file: file, line: line)
        let (x, target, library) = data(config.likelihood)
        let s = side, groups = batchOf
        func loss(backward: Bool) -> Double {
            var rng = SeededRNG(seed: 99)
            return x.withUnsafeBufferPointer { xp in target.withUnsafeBufferPointer { tp in library.withUnsafeBufferPointer { lp in
                s.withUnsafeBufferPointer { sp in groups.withUnsafeBufferPointer { gp in
                    let cov = StepCovariates<Double>(side: sp.baseAddress!, groups: shape.dispersionGroups > 1 ? gp.baseAddress! : nil,
                                                     cells: Array(0..<rows)[...])
                    return net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                                    weights: StepWeights(klWeight: 1.5, capacity: 2), training: true, backward: backward,
                                    rng: &rng, covariates: cov).loss
                } }
            } } }
        }
        let sweep = finiteDifferenceSweep(net.parameters, loss: loss)
        let sideGrad = sweep.largestNumeric.filter { $0.key.hasSuffix("side_weight") }.values.max() ?? 0
        XCTAssertLessThan(sweep.worst, 1e-5, "worst: \(sweep.worstName)", file: file, line: line)
        XCTAssertGreaterThan(sideGrad, 1e-4, "the side weights do not reach the loss", file: file, line: line)
    }

    func config(_ f: (inout VAEParameters) -> Void) -> VAEParameters {
        var c = VAEParameters()
        c.latent = 3
        c.hidden = [4]
        f(&c)
        return c
    }

    let decoderOnly = CovariateShape(sideInputs: 4, encodeCovariates: false, dispersionGroups: 1)
    let both = CovariateShape(sideInputs: 4, encodeCovariates: true, dispersionGroups: 1)

    func testDecoderSideInputsGaussianTwoLayersBatchNorm() {
        check(config { $0.hidden = [5, 4]; $0.batchNorm = true; $0.activation = .elu }, shape: decoderOnly)
    }
    func testEncoderAndDecoderSideInputsNBDropout() {
        check(config { $0.likelihood = .nb; $0.dropout = 0.2; $0.activation = .softplus }, shape: both)
    }
    func testSideInputsLinearDecoderBernoulliNoHiddenEncoder() {
        check(config { $0.likelihood = .bernoulli; $0.decoder = .linear; $0.hidden = [] }, shape: both)
    }
    func testGeneBatchDispersionZINB() {
        check(config { $0.likelihood = .zinb; $0.activation = .elu }, shape: CovariateShape(sideInputs: 4, encodeCovariates: true, dispersionGroups: 3))
    }
    func testGeneBatchDispersionNBTC() {
        check(config { $0.likelihood = .nb; $0.objective = .tc; $0.gamma = 1.3 }, shape: CovariateShape(sideInputs: 4, encodeCovariates: false, dispersionGroups: 3))
    }

    let categorical = TripletTerm(name: "triplet_batch", coordinates: 0..<2, labels: .categorical(VAECovariateGradientTests.cellType))
    let continuousTerm = TripletTerm(name: "triplet_age", coordinates: 2..<3, labels: .continuous([-1.2, 0.3, 0.8, -0.1, 1.5, 0.4]))

    func testTripletTermsWithBetaAndTC() {
        check(config { $0.objective = .beta }, shape: decoderOnly, terms: [(categorical, 2.5), (continuousTerm, 0.7)])
        check(config { $0.objective = .tc; $0.tcSampling = .mss }, shape: both, terms: [(categorical, 1.0)])
        check(config { $0.objective = .factor; $0.gamma = 3; $0.discriminatorHidden = [4] }, shape: decoderOnly, terms: [(continuousTerm, 1.3)])
    }

    /// The triplet term's value against its definition, and its triplets against the labels.
    func testTripletValueAndSampling() {
        var rng = SeededRNG(seed: 5)
        let k = 3
        let enc = (0..<(rows * 2 * k)).map { _ in rng.normal() }
        let z = [Double](repeating: 0, count: rows * k)
        let value = enc.withUnsafeBufferPointer { e in z.withUnsafeBufferPointer { zp in
            var r1 = SeededRNG(seed: 8)
            return categorical.apply(LatentBatch(rows: rows, latent: k, encoded: e.baseAddress!, z: zp.baseAddress!, cells: Array(0..<rows)[...]),
                                     weight: 1, grads: nil, rng: &r1)
        } }
        var r2 = SeededRNG(seed: 8)
        let list = categorical.triplets(cells: Array(0..<rows)[...], rng: &r2)
        XCTAssertEqual(list.count, rows, "every anchor has a same-label and an other-label partner here")
        var expected = 0.0
        for (a, s, d) in list {
            let label = Self.cellType
            XCTAssertEqual(label[a], label[s]); XCTAssertNotEqual(label[a], label[d]); XCTAssertNotEqual(a, s)
            func dist(_ i: Int, _ j: Int) -> Double { (0..<2).reduce(0.0) { $0 + pow(enc[i * 2 * k + $1] - enc[j * 2 * k + $1], 2) } }
            expected += -log(exp(-dist(a, s)) / (exp(-dist(a, s)) + exp(-dist(a, d))))
        }
        XCTAssertEqual(value, expected / Double(rows), accuracy: 1e-12)
        var r3 = SeededRNG(seed: 8)
        for (a, s, d) in continuousTerm.triplets(cells: Array(0..<rows)[...], rng: &r3) {
            XCTAssertLessThan(abs(continuous[s] - continuous[a]), abs(continuous[d] - continuous[a]))
            XCTAssertTrue(Set([a, s, d]).count == 3)
        }
    }

    /// The subspace terms as a `vae --subspace` run builds them (triplet + HSIC between each
    /// subspace and the free coordinates), their blocks, and their gradient with the rest of the loss.
    func testSubspaceHSICTermsBlocksAndGradient() {
        var c = CovariateParameters()
        c.subspaces = [.init(key: "cell_type", dims: 1), .init(key: "age", dims: 1)]
        c.tripletWeight = 1.5
        let labels: [TripletTerm.Labels] = [.categorical(Self.cellType), .continuous(continuous)]
        let terms = CovariateRun.subspaceTerms(c, latent: 3, genes: 7, labels: labels)
        XCTAssertEqual(terms.map(\.term.name), ["triplet_cell_type", "triplet_age", "hsic_cell_type", "hsic_age"])
        let hsic = terms.compactMap { ($0.term as? SubspaceHSICTerm)?.hsic }
        XCTAssertEqual(hsic.map(\.a), [[0], [1]])
        XCTAssertEqual(hsic.map(\.b), [[2], [2]], "each subspace against the free coordinates only")
        XCTAssertEqual(terms.last!.weight, CovariateParameters.defaultSubspaceHSICPerGene * 7, "the default scales with the genes")
        c.subspaceHSIC = 0
        XCTAssertEqual(CovariateRun.subspaceTerms(c, latent: 3, genes: 7, labels: labels).count, 2, "--subspace-hsic 0 turns it off")
        c.subspaceHSIC = 2
        XCTAssertEqual(CovariateRun.subspaceTerms(c, latent: 2, genes: 7, labels: labels).count, 2, "no free coordinates, no HSIC")
        check(config { $0.objective = .beta }, shape: decoderOnly,
              terms: CovariateRun.subspaceTerms(c, latent: 3, genes: 7, labels: labels).map { ($0.term, $0.weight) })
        check(config { $0.objective = .tc; $0.likelihood = .nb }, shape: both,
              terms: CovariateRun.subspaceTerms(c, latent: 3, genes: 7, labels: labels).map { ($0.term, $0.weight) })
    }
}
