import Foundation
import XCTest
@testable import LatentCore
@testable import LatentModels

/// Adam consumes the gradients (leaves them zeroed) and the next step accumulates into the zeros
/// (gemm beta = 1, no clearing pass). That must give the very gradients the overwriting path
/// (beta = 0) gives when the buffer holds leftovers, bit for bit, in every tensor kind: dense
/// weights and biases, batch norm, NB dispersions.
final class VAEGradientAccumulationTests: XCTestCase {
    func testAccumulatingIntoAdamsZerosEqualsOverwritingLeftovers() {
        var c = VAEParameters()
        c.latent = 3
        c.hidden = [8, 5]
        c.batchNorm = true
        c.dropout = 0.1
        c.likelihood = .nb
        let genes = 7, rows = 6
        var rng = SeededRNG(seed: 4)
        let counts = (0..<(rows * genes)).map { _ in Float(rng.poisson(rng.uniform() < 0.3 ? 0.2 : 5)) }
        let x = counts.map { log1p($0) }
        let library = (0..<rows).map { r in max(1, (0..<genes).reduce(Float(0)) { $0 + counts[r * genes + $1] }) }
        var initRNG = SeededRNG(seed: 11)
        let net = VAENetwork<Float>(genes: genes, config: c, datasetSize: 40, maxRows: rows, rng: &initRNG)
        let p = net.parameters
        func step() -> StepTerms {
            var noise = SeededRNG(seed: 99)
            return x.withUnsafeBufferPointer { xp in counts.withUnsafeBufferPointer { tp in library.withUnsafeBufferPointer { lp in
                net.step(x: xp.baseAddress!, target: tp.baseAddress!, library: lp.baseAddress!, rows: rows,
                         weights: StepWeights(klWeight: 1, capacity: 0), training: true, backward: true, rng: &noise)
            } } }
        }
        var adam = Adam<Float>(count: p.count)
        _ = step()
        adam.update(p, lr: 1e-3)
        XCTAssertTrue(p.gradsAreZero)
        XCTAssertTrue((0..<p.count).allSatisfy { p.grads[$0] == 0 }, "Adam leaves the gradients zeroed")

        let fresh = step()                           // accumulates into Adam's zeros
        XCTAssertFalse(p.gradsAreZero)
        let accumulated = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        for i in 0..<p.count { p.grads[i] = Float(i % 7) - 3 }      // leftovers the step must overwrite
        let over = step()
        let overwritten = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        XCTAssertEqual(fresh.loss, over.loss)
        XCTAssertEqual(accumulated, overwritten)
        // Every tensor received a gradient (the comparison is not between two zero buffers).
        for t in p.tensors {
            XCTAssertTrue((0..<t.count).contains { accumulated[t.offset + $0] != 0 }, "\(t.name) has no gradient")
        }
    }
}
