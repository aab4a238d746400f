import LatentCore

/// Non-negative matrix factorisation X ≈ W·H under the Frobenius loss ½‖X − WH‖², BioBombe's
/// NMF baseline, as scikit-learn's `NMF` computes it: W (n × k) are the observation scores,
/// Hᵀ (g × k) the gene loadings.
///
/// Goals in order: sklearn's algorithms step for step — `cd` (its default: coordinate descent,
/// i.e. HALS, with its projected-gradient stopping rule) and `mu` (Lee & Seung's multiplicative
/// updates, with its every-10-iterations stopping rule), and its initialisations (`nndsvda`, its
/// default, `nndsvd`, `random`) — so that from the same start the same iterates follow; then a
/// loss that never increases (both algorithms guarantee it; tested); then speed: each iteration
/// is two passes over X (X·Hᵀ and XᵀW, dense sgemm or CSR products) and O((n + g)k²) work.
public enum NMF {
    public enum Solver: String, Sendable, CaseIterable, Codable {
        /// Coordinate descent on one column of W (then H) at a time: HALS. sklearn's default.
        case cd
        /// Multiplicative updates.
        case mu
    }

    public enum Initialization: String, Sendable, CaseIterable, Codable {
        /// NNDSVD with zeros filled by mean(X) (sklearn's default): no component starts dead.
        case nndsvda
        /// NNDSVD (Boutsidis & Gallopoulos 2008): positive parts of the top singular vectors.
        case nndsvd
        /// |N(0, 1)|·√(mean(X)/k) from the seeded generator.
        case random
    }

    public struct Result: Sendable {
        /// W, n × k.
        public var scores: Matrix
        /// Hᵀ, g × k.
        public var loadings: Matrix
        /// ½‖X − WH‖²_F after each iteration (non-increasing).
        public var objective: [Double]
        public var iterations: Int
        public var converged: Bool
        public var solver: Solver
        /// nil when started from given (W, H).
        public var initialization: Initialization?
        /// ‖X − WH‖_F, sklearn's `reconstruction_err_`.
        public var reconstructionError: Double { (2 * max(0, objective.last ?? 0)).squareRoot() }
    }

    /// - Parameters:
    ///   - start: (W, H) to start from (n × k and k × g), sklearn's `init="custom"`; overrides
    ///     `initialization`.
    ///   - tolerance: sklearn's `tol`: `cd` stops when the projected-gradient norm falls below
    ///     tol × its first value; `mu` when, checked every 10 iterations, the loss fell by less
    ///     than tol × the initial error.
    /// - Throws: `LatentError.badInput` for negative or non-finite values (naming the first) and
    ///   k outside 1…min(n, g).
    public static func fit(_ X: MatrixData, k: Int, solver: Solver = .cd, initialization: Initialization = .nndsvda,
                           maxIterations: Int = 200, tolerance: Double = 1e-4, start: (w: Matrix, h: Matrix)? = nil,
                           rng: inout SeededRNG, threads: Int = 1, file: String? = nil) throws -> Result {
        let n = X.rows, g = X.cols
        guard k >= 1, k <= min(n, g) else {
            throw LatentError.badInput(file, nil, "--k \(k) is outside 1…\(min(n, g)) for \(n) observations × \(g) variables")
        }
        guard maxIterations >= 1 else { throw LatentError.badInput(file, nil, "--max-iter must be at least 1") }
        try rejectNegative(X, file: file)
        let data = try CenteredMatrix(X, center: false, threads: threads, file: file)
        var w: Matrix, h: Matrix
        if let start {
            guard start.w.rows == n, start.w.cols == k, start.h.rows == k, start.h.cols == g else {
                throw LatentError.badInput(file, nil, "starting W, H have shapes \(start.w.rows)×\(start.w.cols), \(start.h.rows)×\(start.h.cols); expected \(n)×\(k), \(k)×\(g)")
            }
            (w, h) = start
        } else {
            (w, h) = try initialize(data, k: k, method: initialization, rng: &rng)
        }
        var state = State(data: data, w: w, ht: h.transposed())
        var objective: [Double] = []
        var converged = false
        var iterations = 0
        switch solver {
        case .cd:
            var first = 0.0
            for it in 1...maxIterations {
                iterations = it
                let violation = state.coordinateDescentStep()
                objective.append(state.objective)
                if it == 1 { first = violation }
                if first == 0 || violation / first <= tolerance { converged = true; break }
            }
        case .mu:
            let initial = state.initialError()
            var previous = initial
            for it in 1...maxIterations {
                iterations = it
                state.multiplicativeStep()
                objective.append(state.objective)
                if tolerance > 0 && it % 10 == 0 {
                    let error = (2 * max(0, state.objective)).squareRoot()
                    if initial == 0 || (previous - error) / initial < tolerance { converged = true; break }
                    previous = error
                }
            }
        }
        return Result(scores: state.wMatrix, loadings: state.htMatrix, objective: objective, iterations: iterations,
                      converged: converged, solver: solver, initialization: start == nil ? initialization : nil)
    }

    /// Negative values are an input error (NMF is defined for non-negative data only).
    static func rejectNegative(_ X: MatrixData, file: String?) throws {
        let values = X.storedValues
        let bad = values.withUnsafeBufferPointer { v -> Int? in
            for i in 0..<v.count where v[i] < 0 { return i }
            return nil
        }
        guard let p = bad else { return }
        let (r, c) = Validate.position(ofStored: p, in: X)
        throw LatentError.badInput(file, "X[row \(r + 1), column \(c + 1)]", "negative value \(values[p]): NMF needs non-negative data",
                                   hint: "use log-normalised data without z-scoring, e.g. normalize --scale none or minmax")
    }
}
