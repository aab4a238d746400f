import CBLAS

/// The few LAPACK calls the models need, with workspace queries done here. Every routine is the
/// Fortran one OpenBLAS ships (Debian builds it without LAPACKE). Failures are internal errors:
/// their inputs come from our own code, not from users.
public enum LAPACK {
    /// The `k` largest eigenvalues (descending) and their eigenvectors (columns of a g×k row-major
    /// matrix) of the symmetric g×g matrix `a` (row-major; only one triangle is read).
    public static func symmetricTopEigen(_ a: Matrix, k: Int) throws -> (values: [Double], vectors: Matrix) {
        let n = a.rows
        precondition(a.cols == n && k >= 1 && k <= n)
        var work = a.values.map(Double.init)      // Double: eigenvectors of a covariance need the digits
        var jobz: CChar = 86 /* V */, range: CChar = 73 /* I */, uplo: CChar = 76 /* L */
        var nn = Int32(n), lda = Int32(n), il = Int32(n - k + 1), iu = Int32(n)
        var vl = 0.0, vu = 0.0, abstol = 0.0
        var m: Int32 = 0
        var w = [Double](repeating: 0, count: n)
        var z = [Double](repeating: 0, count: n * k)
        var ldz = Int32(n)
        var isuppz = [Int32](repeating: 0, count: 2 * k)
        var info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var wq = 0.0
        var iwq: Int32 = 0
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz, &wq, &lwork, &iwq, &liwork, &info)
        lwork = Int32(wq)
        liwork = iwq
        var wk = [Double](repeating: 0, count: Int(lwork))
        var iwk = [Int32](repeating: 0, count: Int(liwork))
        dsyevr_(&jobz, &range, &uplo, &nn, &work, &lda, &vl, &vu, &il, &iu, &abstol, &m, &w, &z, &ldz, &isuppz, &wk, &lwork, &iwk, &liwork, &info)
        guard info == 0, Int(m) == k else { throw LatentError.internalFailure("LAPACK dsyevr failed (info \(info))") }
        // Column-major (Fortran) z: eigenvector j is z[j*n ..< (j+1)*n], ascending eigenvalues.
        var vec = Matrix(rows: n, cols: k)
        var vals = [Double](repeating: 0, count: k)
        for j in 0..<k {
            let src = k - 1 - j
            vals[j] = w[src]
            for i in 0..<n { vec.values[i * k + j] = Float(z[src * n + i]) }
        }
        return (vals, vec)
    }

    /// Orthonormal basis of the columns of the row-major m×l matrix `a` (m ≥ l), via QR.
    public static func orthonormalize(_ a: Matrix) throws -> Matrix {
        let m = a.rows, l = a.cols
        // Row-major m×l is column-major l×m; transpose to get the Fortran layout of A (m×l).
        var f = a.transposed().values
        var mm = Int32(m), ll = Int32(l), lda = Int32(m), info: Int32 = 0
        var tau = [Float](repeating: 0, count: l)
        var lwork: Int32 = -1
        var q: Float = 0
        sgeqrf_(&mm, &ll, &f, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        var work = [Float](repeating: 0, count: Int(lwork))
        sgeqrf_(&mm, &ll, &f, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK sgeqrf failed (info \(info))") }
        var kk = Int32(l)
        lwork = -1
        sorgqr_(&mm, &ll, &kk, &f, &lda, &tau, &q, &lwork, &info)
        lwork = Int32(max(q, 1))
        work = [Float](repeating: 0, count: Int(lwork))
        sorgqr_(&mm, &ll, &kk, &f, &lda, &tau, &work, &lwork, &info)
        guard info == 0 else { throw LatentError.internalFailure("LAPACK sorgqr failed (info \(info))") }
        return Matrix(rows: l, cols: m, values: f).transposed()
    }
}
