import XCTest
@testable import LatentCore

final class MatrixTests: XCTestCase {
    func randomSparse(rows: Int, cols: Int, density: Double, seed: UInt64) -> Matrix {
        var r = SeededRNG(seed: seed)
        var m = Matrix(rows: rows, cols: cols)
        for i in 0..<rows * cols where r.uniform() < density { m.values[i] = Float(1 + r.below(20)) }
        return m
    }

    func testSparseDenseRoundTrip() {
        let d = randomSparse(rows: 37, cols: 23, density: 0.2, seed: 1)
        let s = SparseMatrix(dense: d)
        XCTAssertNil(s.validationError())
        XCTAssertEqual(s.densified(), d)
    }

    func testTransposeMatchesDenseTranspose() {
        let d = randomSparse(rows: 41, cols: 17, density: 0.3, seed: 2)
        let s = SparseMatrix(dense: d)
        let t = s.transposed()
        XCTAssertNil(t.validationError())
        XCTAssertEqual(t.densified(), d.transposed())
        XCTAssertEqual(t.transposed(), s)
    }

    func testFromCSC() {
        let d = randomSparse(rows: 9, cols: 13, density: 0.4, seed: 3)
        let csc = SparseMatrix(dense: d.transposed())     // CSR of the transpose = CSC of d
        let back = SparseMatrix.fromCSC(rows: 9, cols: 13, colptr: csc.indptr, rowIndices: csc.indices, values: csc.values)
        XCTAssertEqual(back.densified(), d)
    }

    func testValidationFindsProblems() {
        let ok = SparseMatrix(rows: 2, cols: 3, indptr: [0, 1, 2], indices: [0, 2], values: [1, 2])
        XCTAssertNil(ok.validationError())
        var bad = ok; bad.indptr = [0, 2, 1]
        XCTAssertNotNil(bad.validationError())
        bad = ok; bad.indices = [0, 3]
        XCTAssertEqual(bad.validationError(), "column index 3 out of range 0..<3 at position 1")
        bad = ok; bad.indptr = [0, 1]
        XCTAssertNotNil(bad.validationError())
        bad = ok; bad.indptr = [0, 1, 3]
        XCTAssertNotNil(bad.validationError())
    }

    func testMultiplyAgainstNaive() {
        var r = SeededRNG(seed: 4)
        let a = Matrix(rows: 7, cols: 5, values: (0..<35).map { _ in Float(r.normal()) })
        let b = Matrix(rows: 5, cols: 6, values: (0..<30).map { _ in Float(r.normal()) })
        let c = Matrix.multiply(a, b)
        for i in 0..<7 { for j in 0..<6 {
            var s = 0.0
            for k in 0..<5 { s += Double(a[i, k]) * Double(b[k, j]) }
            XCTAssertEqual(Double(c[i, j]), s, accuracy: 1e-5)
        } }
        let ct = Matrix.multiply(a.transposed(), transposeA: true, b.transposed(), transposeB: true)
        for i in 0..<c.values.count { XCTAssertEqual(ct.values[i], c.values[i], accuracy: 1e-5) }
    }

    func testBlockedTranspose() {
        let m = Matrix(rows: 70, cols: 45, values: (0..<3150).map(Float.init))
        let t = m.transposed()
        for i in 0..<70 { for j in 0..<45 { XCTAssertEqual(t[j, i], m[i, j]) } }
    }
}

final class BLASKernelsTests: XCTestCase {
    let avx512: Set<String> = ["fma", "avx2", "avx512f", "avx512dq", "avx512bw", "avx512vl"]

    func testForcesSkylakeXOnlyWhereOpenBLASMisdetectsAnAVX512CPU() {
        XCTAssertEqual(BLASKernels.override(cpuFlags: avx512, coreName: "Zen", environment: [:]), "SkylakeX")
        XCTAssertEqual(BLASKernels.override(cpuFlags: avx512, coreName: "Haswell", environment: [:]), "SkylakeX")
        XCTAssertNil(BLASKernels.override(cpuFlags: avx512, coreName: "SkylakeX", environment: [:]))
        XCTAssertNil(BLASKernels.override(cpuFlags: avx512, coreName: "Cooperlake", environment: [:]))
        XCTAssertNil(BLASKernels.override(cpuFlags: ["fma", "avx2"], coreName: "Zen", environment: [:]))
        XCTAssertNil(BLASKernels.override(cpuFlags: ["avx512f", "avx2"], coreName: "Zen", environment: [:]), "SkylakeX kernels need BW/DQ/VL too")
        XCTAssertNil(BLASKernels.override(cpuFlags: avx512, coreName: "Zen", environment: ["OPENBLAS_CORETYPE": "Haswell"]), "the user's choice wins")
        XCTAssertNil(BLASKernels.override(cpuFlags: avx512, coreName: "Zen", environment: ["LATENT_BLAS_REEXEC": "1"]), "never loops")
        // Startup settings: the kernels and glibc's huge-page ask, once, never over the user's choice.
        XCTAssertEqual(StartupEnvironment.wanted(cpuFlags: avx512, coreName: "Zen", environment: [:]),
                       ["OPENBLAS_CORETYPE": "SkylakeX", "GLIBC_TUNABLES": StartupEnvironment.mallocTunables])
        XCTAssertEqual(StartupEnvironment.wanted(cpuFlags: avx512, coreName: "SkylakeX", environment: [:]),
                       ["GLIBC_TUNABLES": StartupEnvironment.mallocTunables])
        XCTAssertEqual(StartupEnvironment.wanted(cpuFlags: avx512, coreName: "SkylakeX", environment: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"]), [:])
        XCTAssertEqual(StartupEnvironment.wanted(cpuFlags: avx512, coreName: "Zen", environment: ["LATENT_BLAS_REEXEC": "1"]), [:], "never loops")
    }

    func testThisMachineIsLeftAloneOrAlreadyFast() {
        // On this machine the check either finds nothing to do or the re-exec already happened.
        let flags = BLASKernels.cpuFlags()
        XCTAssertFalse(flags.isEmpty, "/proc/cpuinfo has a flags line on Linux")
    }
}
