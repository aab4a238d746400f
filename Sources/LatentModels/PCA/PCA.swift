import CBLAS
import LatentCore

/// Principal component analysis, the baseline every latent model is compared with.
///
/// Goals in order: the same components, variances and scores as scikit-learn/scanpy (signs fixed
/// by sklearn's rule: each component's largest-magnitude loading is positive); sparse input never
/// densified as a whole — centring is implicit, rows are densified in blocks; then speed, with all
/// heavy work in BLAS level 3 (`ssyrk`/`sgemm`).
public enum PCA {
    public enum Solver: String, Sendable, Codable, CaseIterable {
        case auto
        /// Eigendecomposition of the gene covariance (LAPACK dsyevr, top k only).
        case exact
        /// Halko–Martinsson–Tropp: a Gaussian sketch, power iterations, a small SVD.
        case randomized
    }

    public struct Result: Sendable {
        /// n × k scores (centred data times loadings).
        public var scores: Matrix
        /// g × k loadings (unit columns).
        public var loadings: Matrix
        /// Variance of each component (eigenvalue / (n − 1)).
        public var variance: [Double]
        /// Share of the total variance (sum of every gene's variance).
        public var varianceRatio: [Double]
        public var mean: [Float]
        public var solver: Solver
        public var center: Bool
    }

    /// sklearn's "auto" rule in spirit: exact when the problem is small or k is a large share of it.
    public static func chooseSolver(n: Int, g: Int, k: Int) -> Solver {
        let m = min(n, g)
        return (m <= 500 || Double(k) >= 0.8 * Double(m)) ? .exact : .randomized
    }

    /// Randomized: a sketch of k + `oversampling` columns (default 10) and `powerIterations` Krylov
    /// blocks (default 6) keep the top-k variances within 1e-3 of exact on the flat spectra of
    /// log-normalised expression data (tested on the bundled HSMM data).
    public static func fit(_ X: MatrixData, k: Int, solver: Solver = .auto, center: Bool = true, oversampling: Int? = nil,
                           powerIterations: Int = 6, rng: inout SeededRNG, threads: Int = 1) throws -> Result {
        let n = X.rows, g = X.cols
        guard k >= 1 else { throw LatentError.badInput(nil, nil, "--k must be at least 1") }
        guard n >= 2 else { throw LatentError.badInput(nil, nil, "PCA needs at least 2 observations") }
        let kMax = center ? min(n - 1, g) : min(n, g)
        guard k <= kMax else {
            throw LatentError.badInput(nil, nil, "--k \(k) is more than the \(kMax) components \(n) observations × \(g) variables have")
        }
        var profile = StepProfile()
        let stats = BlockedData(X, center: center)
        profile.step("moments")
        let totalVariance = stats.totalVariance
        guard totalVariance > 0 else { throw LatentError.badInput(nil, nil, "the data are constant: every variance is 0") }
        let chosen = solver == .auto ? chooseSolver(n: n, g: g, k: k) : solver
        var loadings: Matrix
        var eigen: [Double]
        switch chosen {
        case .exact, .auto:
            let cov = stats.gram(threads: threads)
            (eigen, loadings) = try LAPACK.symmetricTopEigen(cov, k: k)
        case .randomized where g <= covarianceLimit:
            // Few genes (the HVG case): one BLAS-3 pass builds the g × g covariance, and the Krylov
            // iterations then cost g²·l each instead of n·g·l.
            let cov = stats.gram(threads: threads)
            profile.step("covariance")
            (eigen, loadings) = try randomizedTopSymmetric(cov, k: k, oversampling: oversampling ?? 10,
                                                           iterations: powerIterations, rng: &rng)
        case .randomized:
            (eigen, loadings) = try randomizedTop(stats, k: k, oversampling: oversampling ?? 10,
                                                  iterations: powerIterations, rng: &rng)
        }
        profile.step("eigen")
        flipSigns(&loadings)
        let scores = stats.times(loadings)
        profile.step("scores")
        profile.report()
        let variance = eigen.map { max($0, 0) / Double(n - 1) }
        return Result(scores: scores, loadings: loadings, variance: variance,
                      varianceRatio: variance.map { $0 / totalVariance }, mean: stats.mean, solver: chosen, center: center)
    }

    /// Up to this many genes the randomized solver works on the covariance matrix (64 MiB at 4,096).
    static let covarianceLimit = 4096

    /// Top-k eigenpairs of a symmetric g × g matrix by randomized block Krylov iteration and a
    /// Rayleigh–Ritz step on the Krylov subspace.
    static func randomizedTopSymmetric(_ c: Matrix, k: Int, oversampling: Int, iterations: Int,
                                       rng: inout SeededRNG) throws -> ([Double], Matrix) {
        let g = c.rows
        let l = min(k + oversampling, g)
        var omega = Matrix(rows: g, cols: l)
        for i in omega.values.indices { omega.values[i] = Float(rng.normal()) }
        var y = try LAPACK.orthonormalize(Matrix.multiply(c, omega))
        var blocks = [y]
        var width = l
        for _ in 0..<iterations where width + l <= g {
            y = try LAPACK.orthonormalize(Matrix.multiply(c, y))
            blocks.append(y)
            width += l
        }
        var basis = Matrix(rows: g, cols: width)
        for (b, block) in blocks.enumerated() {
            for i in 0..<g { for j in 0..<l { basis.values[i * width + b * l + j] = block.values[i * l + j] } }
        }
        let q = try LAPACK.orthonormalize(basis)
        let t = Matrix.multiply(q, transposeA: true, Matrix.multiply(c, q))      // width × width
        let (vals, u) = try LAPACK.symmetricTopEigen(t, k: k)
        return (vals, Matrix.multiply(q, u))
    }

    /// sklearn's `svd_flip` with `u_based_decision=False`: the largest |loading| of each component is positive.
    static func flipSigns(_ v: inout Matrix) {
        for j in 0..<v.cols {
            var best = 0, bestAbs: Float = -1
            for i in 0..<v.rows where abs(v[i, j]) > bestAbs { bestAbs = abs(v[i, j]); best = i }
            if v[best, j] < 0 { for i in 0..<v.rows { v[i, j] = -v[i, j] } }
        }
    }

    /// Top-k eigenpairs of XcᵀXc by randomized block Krylov iteration (Musco & Musco 2015; the
    /// block form of Halko et al.'s power method): the range of [XcΩ, (XcXcᵀ)XcΩ, …] is kept whole
    /// rather than only its last block, which converges far faster on the flat spectra of
    /// expression data; a Rayleigh–Ritz step on that subspace gives the eigenpairs.
    static func randomizedTop(_ data: BlockedData, k: Int, oversampling: Int, iterations: Int,
                              rng: inout SeededRNG) throws -> ([Double], Matrix) {
        let g = data.g
        let limit = min(data.n, g)
        let l = min(k + oversampling, limit)
        var omega = Matrix(rows: g, cols: l)
        for i in omega.values.indices { omega.values[i] = Float(rng.normal()) }
        var y = try LAPACK.orthonormalize(data.times(omega))             // n × l
        var blocks = [y]
        var width = l
        for _ in 0..<iterations where width + l <= limit {
            y = try LAPACK.orthonormalize(data.times(data.transposeTimes(y)))
            blocks.append(y)
            width += l
        }
        // Concatenate the blocks (n × width) and orthonormalise the whole Krylov basis.
        var basis = Matrix(rows: data.n, cols: width)
        for (b, block) in blocks.enumerated() {
            for i in 0..<data.n { for j in 0..<l { basis.values[i * width + b * l + j] = block.values[i * l + j] } }
        }
        let q = try LAPACK.orthonormalize(basis)
        // B = Qᵀ Xc (width × g); the eigenvectors of BᵀB come from the small matrix B Bᵀ.
        let bt = data.transposeTimes(q)                                   // g × width = Bᵀ
        let small = Matrix.multiply(bt, transposeA: true, bt)             // B Bᵀ
        let (vals, u) = try LAPACK.symmetricTopEigen(small, k: k)
        // Right singular vectors V = Bᵀ U Λ^{-1/2}.
        var v = Matrix.multiply(bt, u)
        for j in 0..<k {
            let s = vals[j] > 0 ? Float(1 / vals[j].squareRoot()) : 0
            for i in 0..<g { v[i, j] *= s }
        }
        return (vals, v)
    }
}

/// X with its column means, giving centred products without forming X − 1μᵀ for sparse input:
/// Xc·M = X·M − 1(μᵀM) and Xcᵀ·Q = XᵀQ − μ(1ᵀQ); dense blocks of rows feed BLAS level 3.
struct BlockedData {
    let X: MatrixData
    let n: Int, g: Int
    let mean: [Float]
    let totalVariance: Double
    static let blockRows = 2048

    init(_ X: MatrixData, center: Bool) {
        self.X = X
        n = X.rows
        let g = X.cols
        self.g = g
        // Two passes in Double over the stored values (implicit zeros added analytically).
        var sum = [Double](repeating: 0, count: g), sq = [Double](repeating: 0, count: g)
        var stored = [Int](repeating: 0, count: g)
        func forEachStored(_ body: (Int, Float) -> Void) {
            switch X {
            case .dense(let d):
                d.values.withUnsafeBufferPointer { v in
                    for i in 0..<d.rows { for j in 0..<g { body(j, v[i * g + j]) } }
                }
            case .sparse(let s):
                s.indices.withUnsafeBufferPointer { ind in
                    s.values.withUnsafeBufferPointer { v in
                        for p in 0..<v.count { body(Int(ind[p]), v[p]) }
                    }
                }
            }
        }
        forEachStored { j, v in sum[j] += Double(v); stored[j] += 1 }
        let mu = sum.map { $0 / Double(X.rows) }
        let shift = center ? mu : [Double](repeating: 0, count: g)
        forEachStored { j, v in let d = Double(v) - shift[j]; sq[j] += d * d }
        for j in 0..<g { sq[j] += Double(X.rows - stored[j]) * shift[j] * shift[j] }
        mean = center ? mu.map(Float.init) : [Float](repeating: 0, count: g)
        totalVariance = sq.reduce(0, +) / Double(X.rows - 1)
    }

    /// Calls body with dense blocks of consecutive rows (a view for dense X, a copy for CSR).
    func forEachRowBlock(_ body: (Matrix, Int) -> Void) { BlockedData.forEachRowBlock(X, body) }

    static func forEachRowBlock(_ X: MatrixData, _ body: (Matrix, Int) -> Void) {
        let g = X.cols
        var start = 0
        while start < X.rows {
            let m = min(blockRows, X.rows - start)
            switch X {
            case .dense(let d):
                body(Matrix(rows: m, cols: g, values: Array(d.values[(start * g)..<((start + m) * g)])), start)
            case .sparse(let s):
                var block = Matrix(rows: m, cols: g)
                for i in 0..<m {
                    for p in s.indptr[start + i]..<s.indptr[start + i + 1] { block.values[i * g + Int(s.indices[p])] = s.values[p] }
                }
                body(block, start)
            }
            start += m
        }
    }

    func centred(_ block: Matrix) -> Matrix {
        var b = block
        for i in 0..<b.rows { for j in 0..<g { b.values[i * g + j] -= mean[j] } }
        return b
    }

    /// Xcᵀ Xc (g × g), accumulated block by block with ssyrk (lower triangle filled, then mirrored).
    /// Dense input goes to BLAS in one call, XᵀX − n·μμᵀ, with the rank-one correction in Double:
    /// for expression data (means of order one, variances of order 0.1–1) the cancellation costs
    /// about six digits of Float32's seven less than the covariance needs, and one big ssyrk runs
    /// far closer to peak than many small ones.
    func gram(threads: Int) -> Matrix {
        var c = Matrix(rows: g, cols: g)
        if case .dense(let d) = X {
            d.values.withUnsafeBufferPointer { pa in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(n), 1,
                                pa.baseAddress, Int32(g), 0, pc.baseAddress, Int32(g))
                }
            }
            let nn = Double(n)
            for i in 0..<g {
                for j in 0...i {
                    let v = Double(c.values[i * g + j]) - nn * Double(mean[i]) * Double(mean[j])
                    c.values[i * g + j] = Float(v)
                    c.values[j * g + i] = Float(v)
                }
            }
            return c
        }
        forEachRowBlock { block, _ in
            var b = block
            b.values.withUnsafeMutableBufferPointer { v in
                mean.withUnsafeBufferPointer { mu in
                    for i in 0..<b.rows { for j in 0..<g { v[i * g + j] -= mu[j] } }
                }
            }
            b.values.withUnsafeBufferPointer { pb in
                c.values.withUnsafeMutableBufferPointer { pc in
                    cblas_ssyrk(CblasRowMajor, CblasLower, CblasTrans, Int32(g), Int32(b.rows), 1,
                                pb.baseAddress, Int32(g), 1, pc.baseAddress, Int32(g))
                }
            }
        }
        for i in 0..<g { for j in (i + 1)..<g { c.values[i * g + j] = c.values[j * g + i] } }
        return c
    }

    /// Xc · M (n × cols(M)).
    func times(_ m: Matrix) -> Matrix {
        let shift = Matrix.multiply(Matrix(rows: 1, cols: g, values: mean), m).values   // μᵀM
        if case .dense(let d) = X {
            var out = Matrix.multiply(d, m)
            for i in 0..<n { for j in 0..<m.cols { out.values[i * m.cols + j] -= shift[j] } }
            return out
        }
        var out = Matrix(rows: n, cols: m.cols)
        forEachRowBlock { block, start in
            let part = Matrix.multiply(block, m)
            for i in 0..<part.rows {
                for j in 0..<m.cols { out.values[(start + i) * m.cols + j] = part.values[i * m.cols + j] - shift[j] }
            }
        }
        return out
    }

    /// Xcᵀ · Q (g × cols(Q)).
    func transposeTimes(_ q: Matrix) -> Matrix {
        var out = Matrix(rows: g, cols: q.cols)
        var colSums = [Float](repeating: 0, count: q.cols)
        for i in 0..<q.rows { for j in 0..<q.cols { colSums[j] += q.values[i * q.cols + j] } }
        forEachRowBlock { block, start in
            let qb = Matrix(rows: block.rows, cols: q.cols, values: Array(q.values[(start * q.cols)..<((start + block.rows) * q.cols)]))
            block.values.withUnsafeBufferPointer { pb in
                qb.values.withUnsafeBufferPointer { pq in
                    out.values.withUnsafeMutableBufferPointer { po in
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(g), Int32(q.cols), Int32(block.rows), 1,
                                    pb.baseAddress, Int32(g), pq.baseAddress, Int32(q.cols), 1, po.baseAddress, Int32(q.cols))
                    }
                }
            }
        }
        for i in 0..<g { for j in 0..<q.cols { out.values[i * q.cols + j] -= mean[i] * colSums[j] } }
        return out
    }
}
