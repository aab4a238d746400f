import CBLAS

/// LAPACK on column-major buffers (LAPACK's own layout), for code that keeps its small dense
/// work in Fortran order: eigensolvers' bases, Rayleigh quotients, rotations.
///
/// Goals in order: the documented LAPACK result; no allocation that grows with anything but the
/// matrix; failures as `LatentError.internalFailure` (inputs come from our code, not users).
extension LAPACK {
    /// The `k` largest eigenvalues (descending) and their eigenvectors of the symmetric n×n
    /// matrix `a` (column-major; only the lower triangle is read), by dsyevr with range 'I':
    /// after the O(n³) tridiagonal reduction only the wanted pairs are computed (MRRR), so the
    /// back-transformation costs n²k rather than n³. `vectors` is column-major n×k.
    public static func symmetricTopEigen(_ a: [Double], n: Int, k: Int) throws -> (values: [Double], vectors: [Double]) {
        guard n >= 1, k >= 1, k <= n, a.count == n * n else {
            throw LatentError.internalFailure("dsyevr: \(k) eigenpairs of a \(n)×\(n) matrix with \(a.count) entries")
        }
        var work = a
        var jobz: CChar = 86 /* V */, range: CChar = 73 /* I */, uplo: CChar = 76 /* L */
        var nn = Int32(n), lda = Int32(n), il = Int32(n - k + 1), iu = Int32(n), ldz = Int32(n)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var m: Int32 = 0, info: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * k)
        var isuppz = [Int32](repeating: 0, count: 2 * k)
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = 0.0
        var iwq: Int32 = 0
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &wq, &lwork, &iwq, &liwork, &info)
        lwork = Int32(wq)
        liwork = iwq
        var wk = [Double](repeating: 0, count: max(Int(lwork), 1))
        var iwk = [Int32](repeating: 0, count: max(Int(liwork), 1))
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &wk, &lwork, &iwk, &liwork, &info)
        guard info == 0, Int(m) == k else { throw LatentError.internalFailure("LAPACK dsyevr failed (info \(info))") }
        // LAPACK returns ascending order; reverse to descending.
        var values = [Double](repeating: 0, count: k)
        var vectors = [Double](repeating: 0, count: n * k)
        for j in 0..<k {
            let src = k - 1 - j
            values[j] = w[src]
            for i in 0..<n { vectors[j * n + i] = z[src * n + i] }
        }
        return (values, vectors)
    }

    /// The same in Float32 (ssyevr). The reduction to tridiagonal form is half matrix-vector
    /// products, bound by memory traffic, so single precision is about twice as fast; eigenvalues
    /// keep an absolute error of order ε₃₂·‖A‖, which is ample for a covariance that was itself
    /// accumulated in Float32.
    public static func symmetricTopEigen(_ a: [Float], n: Int, k: Int) throws -> (values: [Double], vectors: [Float]) {
        guard n >= 1, k >= 1, k <= n, a.count == n * n else {
            throw LatentError.internalFailure("ssyevr: \(k) eigenpairs of a \(n)×\(n) matrix with \(a.count) entries")
        }
        var work = a
        var jobz: CChar = 86, range: CChar = 73, uplo: CChar = 76
        var nn = Int32(n), lda = Int32(n), il = Int32(n - k + 1), iu = Int32(n), ldz = Int32(n)
        var vl: Float = 0, vu: Float = 0, abstol: Float = 0
        var m: Int32 = 0, info: Int32 = 0
        var w = [Float](repeating: 0, count: n)
        var z = [Float](repeating: 0, count: n * k)
        var isuppz = [Int32](repeating: 0, count: 2 * k)
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq: Float = 0
        var iwq: Int32 = 0
        ssyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &wq, &lwork, &iwq, &liwork, &info)
        lwork = Int32(wq)
        liwork = iwq
        var wk = [Float](repeating: 0, count: max(Int(lwork), 1))
        var iwk = [Int32](repeating: 0, count: max(Int(liwork), 1))
        ssyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz,
                &wk, &lwork, &iwk, &liwork, &info)
        guard info == 0, Int(m) == k else { throw LatentError.internalFailure("LAPACK ssyevr failed (info \(info))") }
        var values = [Double](repeating: 0, count: k)
        var vectors = [Float](repeating: 0, count: n * k)
        for j in 0..<k {
            let src = k - 1 - j
            values[j] = Double(w[src])
            for i in 0..<n { vectors[j * n + i] = z[src * n + i] }
        }
        return (values, vectors)
    }

    /// Replaces the columns of `a` (column-major rows×cols, rows ≥ cols) by an orthonormal basis
    /// of their span (Householder QR: dgeqrf then dorgqr). Returns |R_jj|, the length of what
    /// column j adds to the columns before it: a value near zero means the block was (nearly)
    /// dependent, which the caller must check — QR still returns orthonormal columns there, but
    /// they point in arbitrary directions.
    @discardableResult
    public static func orthonormalizeColumns(_ a: inout [Double], rows: Int, cols: Int) throws -> [Double] {
        guard cols >= 1, rows >= cols, a.count == rows * cols else {
            throw LatentError.internalFailure("dgeqrf: \(rows)×\(cols) with \(a.count) entries")
        }
        var m = Int32(rows), nc = Int32(cols), lda = Int32(rows), info: Int32 = 0
        var tau = [Double](repeating: 0, count: cols)
        var lwork: Int32 = -1
        var q = 0.0
        dgeqrf_(&m, &nc, &a, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        var work = [Double](repeating: 0, count: Int(lwork))
        dgeqrf_(&m, &nc, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK dgeqrf failed (info \(info))") }
        let diagonal = (0..<cols).map { abs(a[$0 * rows + $0]) }
        var kk = Int32(cols)
        lwork = -1
        dorgqr_(&m, &nc, &kk, &a, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        work = [Double](repeating: 0, count: Int(lwork))
        dorgqr_(&m, &nc, &kk, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK dorgqr failed (info \(info))") }
        return diagonal
    }

    /// The same in Float32 (sgeqrf then sorgqr).
    @discardableResult
    public static func orthonormalizeColumns(_ a: inout [Float], rows: Int, cols: Int) throws -> [Float] {
        guard cols >= 1, rows >= cols, a.count == rows * cols else {
            throw LatentError.internalFailure("sgeqrf: \(rows)×\(cols) with \(a.count) entries")
        }
        var m = Int32(rows), nc = Int32(cols), lda = Int32(rows), info: Int32 = 0
        var tau = [Float](repeating: 0, count: cols)
        var lwork: Int32 = -1
        var q: Float = 0
        sgeqrf_(&m, &nc, &a, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        var work = [Float](repeating: 0, count: Int(lwork))
        sgeqrf_(&m, &nc, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK sgeqrf failed (info \(info))") }
        let diagonal = (0..<cols).map { abs(a[$0 * rows + $0]) }
        var kk = Int32(cols)
        lwork = -1
        sorgqr_(&m, &nc, &kk, &a, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        work = [Float](repeating: 0, count: Int(lwork))
        sorgqr_(&m, &nc, &kk, &a, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK sorgqr failed (info \(info))") }
        return diagonal
    }
}
