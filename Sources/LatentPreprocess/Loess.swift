import LatentCore

/// Local regression (Cleveland, Grosse & Shyu 1992) of y on ONE predictor x, reproducing the
/// netlib `dloess` code (loessc.c / loessf.f) that `skmisc.loess` and R's `loess` run, with the
/// defaults scanpy's `highly_variable_genes(flavor="seurat_v3")` uses: family "gaussian" (a single
/// pass, no robustness iterations), surface "interpolate", cell 0.2. (`normalize` only rescales
/// predictors when there are two or more, and `statistics` only decides how the trace of the
/// operator is estimated; neither changes the fitted values of a one-predictor fit.)
///
/// The "interpolate" surface is not the local fit at each point. dloess
/// 1. puts a box around the data ([min, max] widened by 0.5% of the range on each side) and
///    splits it into a k-d tree of cells, each cut at the median of the points it holds, until a
///    cell holds at most ⌊n·span·cell⌋ points (`KDTree`);
/// 2. fits the local weighted regression at every cell boundary ("vertex") only, keeping its
///    value AND its slope there (`LocalFit`);
/// 3. evaluates the curve inside a leaf cell as the cubic Hermite interpolant of the values and
///    slopes at the cell's two ends (`KDTree.interpolate`).
/// The fitted values therefore differ from the direct local fit at each point (by up to 0.2% of
/// the curve's range on the test fixtures); every rule below follows the Fortran so that they
/// match skmisc's to rounding (1e-13 relative on the committed fixtures; 4e-10 at worst, on values
/// near 0, over 1,200 random inputs of up to 30,000 points).
///
/// Where skmisc raises (its `fit()` turns every dloess warning into a `ValueError`) we throw a
/// `LatentError`. The cases:
/// - too few neighbours: ⌊n·span + 1e-5⌋ < degree + 2;
/// - a neighbourhood of zero width: the ⌊n·span⌋ nearest points to a vertex all lie ON it, which
///   needs more than ⌊n·span⌋ tied x values (skmisc: "svddc failed in l2fit");
/// - every neighbour on the neighbourhood's boundary (weight 0), e.g. all x equal;
/// - a singular local design, fewer than degree + 1 distinct x values with positive weight
///   (skmisc: "pseudoinverse used at …" / "There are other near singularities as well");
/// - the k-d tree outgrowing dloess's fixed workspace of max(200, n) cells and vertices, or
///   19 levels, which happens only when n·span·0.2 is a few points or less ("k-d tree limited
///   by memory");
/// - a trace of the operator outside [degree + 1, n] ("Chernobyl! trL>n"), only when the
///   surface interpolates the data; see `checkTrace`.
/// Ties in x are otherwise fine: a run of tied x stays in one cell unless it reaches an end of the
/// cell and covers about half of it. All-equal x always throws. skmisc crashes outright (segfault) when
/// ⌊n·span + 1e-5⌋ = 0 and accepts NaN (then fails with "Extrapolation not allowed with
/// blending"); we reject both. skmisc's degree-0 fits are not supported here.
public enum Loess {
    public enum Surface: Sendable {
        /// The k-d tree with Hermite interpolation between vertex fits: skmisc's and R's default.
        case interpolate
        /// The local regression evaluated at every data point: O(n · ⌊n·span⌋), exact loess.
        case direct
    }

    /// dloess's `cell`: a leaf of the k-d tree holds at most ⌊n · span · cell⌋ points.
    static let cell = 0.2

    /// Fitted values at the data points, as `skmisc.loess.loess(x, y, span:, degree:).fit()`
    /// leaves them in `outputs.fitted_values` (surface "interpolate"), or the exact local fit at
    /// each point (surface "direct", as skmisc's `surface="direct"`). The result is in the order
    /// of the input; x need not be sorted and may contain ties.
    ///
    /// - Parameters:
    ///   - span: the fraction of the points in each local fit, 0 < span ≤ 1 (skmisc's range).
    ///   - degree: of the local polynomial, 1 or 2.
    /// - Throws: `LatentError.badInput` for unequal lengths, n < 2, non-finite values, a span or
    ///   degree out of range, and where skmisc raises (see the type's notes).
    public static func fit(x: [Double], y: [Double], span: Double = 0.3, degree: Int = 2,
                           surface: Surface = .interpolate) throws -> [Double] {
        try fitWithTrace(x: x, y: y, span: span, degree: degree, surface: surface).fitted
    }

    /// `fit`, and the trace of the operator where skmisc computes it exactly (its
    /// `outputs.trace_hat`): always for `.direct`, below 500 points for `.interpolate`.
    static func fitWithTrace(x: [Double], y: [Double], span: Double, degree: Int,
                             surface: Surface) throws -> (fitted: [Double], trace: Double?) {
        let n = x.count
        guard y.count == n else { throw failure("x has \(n) values but y has \(y.count)") }
        guard n >= 2 else { throw failure("needs at least 2 points, got \(n)") }
        guard span > 0, span <= 1 else { throw failure("span must be in (0, 1], got \(span)") }
        guard degree == 1 || degree == 2 else { throw failure("degree must be 1 or 2, got \(degree)") }
        if let i = x.firstIndex(where: { !$0.isFinite }) { throw failure("x[\(i)] = \(x[i]) is not finite") }
        if let i = y.firstIndex(where: { !$0.isFinite }) { throw failure("y[\(i)] = \(y[i]) is not finite") }

        // loess_workspace: nf = min(n, ⌊n·span + 1e-5⌋) neighbours per local fit; the 1e-5 keeps
        // n·span that is an integer up to rounding (e.g. 0.3 × 10) from dropping to the one below.
        let neighbours = min(n, Int((Double(n) * span + 1e-5).rounded(.down)))
        // ehg136/ehg139 require k ≤ nf − 1, k = degree + 1 coefficients (error 104).
        guard neighbours >= degree + 2 else {
            throw failure("span \(span) of \(n) points gives \(neighbours) neighbours per local fit; degree \(degree) needs at least \(degree + 2)",
                          hint: "make span bigger")
        }

        let order = (0..<n).sorted { x[$0] < x[$1] || (x[$0] == x[$1] && $0 < $1) }
        let local = LocalFit(x: order.map { x[$0] }, y: order.map { y[$0] }, neighbours: neighbours, degree: degree)

        switch surface {
        case .direct:
            var fitted = [Double](repeating: 0, count: n)
            var trace = 0.0
            for i in 0..<n {
                let f = try local.fit(at: x[i])
                fitted[i] = f.value
                trace += f.influence(ofPointAt: x[i]).value
            }
            // skmisc's "direct" surface always computes the exact trace of the operator.
            try checkTrace(trace, n: n, degree: degree)
            return (fitted, trace)
        case .interpolate:
            // lowesb: fc = ⌊n · (span·cell)⌋; loess_ multiplies span by cell first, then Fortran n by that.
            let leafSize = Int((Double(n) * (span * cell)).rounded(.down))
            let tree = try KDTree(sortedX: local.x, leafSize: leafSize)
            let vertexFits = try tree.vertices.map { try local.fit(at: $0) }
            let fitted = try x.map { try tree.interpolate(at: $0, vertexFits) }
            // Below 500 points skmisc computes the exact trace of the interpolated operator;
            // from 500 on it uses a formula in span and degree, (degree+1)·1.09875/span, which
            // cannot trip the check (it exceeds n only when n·span < 1.1·(degree+1)).
            guard n < 500 else { return (fitted, nil) }
            let trace = try tree.trace(vertexFits, sortedX: local.x)
            try checkTrace(trace, n: n, degree: degree)
            return (fitted, trace)
        }
    }

    /// ehg141, reached from skmisc's statistics step: with k = degree + 1 and
    /// z = (√(k/trace) − √(k/n)) / (1 − √(k/n)), skmisc raises "Chernobyl! trL>n" when z < 0
    /// (trace > n) and "Chernobyl! trL<k" when z > 1 (trace < k). The trace reaches n when the
    /// smoother interpolates the data (fitted = y): when n·span·0.2 < 1 every distinct x becomes
    /// a vertex, and with ⌊n·span⌋ = degree + 2 neighbours (the farthest weighing 0) each vertex
    /// fit passes through its point. z is then 0 up to rounding, and rounding decides whether
    /// skmisc raises; we raise only when z is outside [0, 1] by more than 1e-9, and fit otherwise.
    static func checkTrace(_ trace: Double, n: Int, degree: Int) throws {
        let k = Double(degree + 1)
        let corx = (k / Double(n)).squareRoot()
        let z = ((k / trace).squareRoot() - corx) / (1 - corx)
        if z < -1e-9 || z > 1 + 1e-9 {
            throw failure("the smoother's trace \(trace) is outside [\(degree + 1), \(n)]: it \(z < 0 ? "over-fits the data" : "is too smooth") (skmisc: \"Chernobyl! trL\(z < 0 ? ">n" : "<k")\")",
                          hint: "make span bigger")
        }
    }

    static func failure(_ message: String, hint: String? = nil) -> LatentError {
        LatentError.badInput(nil, nil, "loess: " + message, hint: hint)
    }

    // MARK: - k-d tree (ehg126, ehg124, ehg125, ehg129, ehg128, ehg137; lowesb's workspace check)

    /// The cells of dloess's k-d tree for one predictor. Cell 0 is the bounding box; a split cell
    /// c has children `firstChild[c]` (x ≤ split) and `firstChild[c] + 1` (x > split), created in
    /// the breadth-first order of ehg124. Every cell boundary is a vertex.
    struct KDTree {
        /// Vertex positions: [0] and [1] are the box's ends, then split values in creation order.
        private(set) var vertices: [Double] = []
        private var lowerVertex: [Int] = [], upperVertex: [Int] = []
        private var splitValue: [Double] = []
        /// −1 for a leaf.
        private var firstChild: [Int] = []
        /// The cell's points: 1-based inclusive positions in the sorted data (none when
        /// first > last), as ehg124's lo/hi of a leaf.
        private var first: [Int] = [], last: [Int] = []

        /// - Parameters:
        ///   - s: the predictor, sorted ascending (ties allowed).
        ///   - fc: ⌊n·span·cell⌋; a cell with at most fc points is a leaf.
        init(sortedX s: [Double], leafSize fc: Int) throws {
            let n = s.count
            // ehg126: widen [min, max] by 0.5% of the range on each side, so that no data point
            // lies on the outer vertices; the 1e-10·|x| + 1e-30 floor keeps a box of all-equal
            // x from having zero width.
            let lo = s[0], hi = s[n - 1]
            let margin = 0.005 * max(hi - lo, 1e-10 * max(abs(lo), abs(hi)) + 1e-30)
            vertices = [lo - margin, hi + margin]
            var vertexIndex: [Double: Int] = [vertices[0]: 0, vertices[1]: 1]
            // dloess allocates room for nvmax = max(200, n) vertices and as many cells.
            let capacity = max(200, n)

            // Point ranges are 1-based and inclusive, as ehg124's l…u, so that its median and
            // tie rules read the same here. Positions index the sorted values: after ehg106's
            // partial sorts, position j of a range holds exactly its j-th order statistic.
            func value(_ position: Int) -> Double { s[position - 1] }
            appendCell(lower: 0, upper: 1, first: 1, last: n)

            var p = 0
            while p < firstChild.count {
                let l = first[p], u = last[p]
                let width = vertices[upperVertex[p]] - vertices[lowerVertex[p]]
                // A cell with few points (fc) or of zero width (fd = 0 in lowesd) is a leaf;
                // so is every cell once the workspace could not take two more cells and one
                // more vertex (which lowesb then reports as an error, below).
                var leaf = u - l + 1 <= fc || (width * width).squareRoot() <= 0
                if !leaf {
                    leaf = capacity < firstChild.count + 2 || Double(capacity) < Double(vertices.count) + 1
                }
                var m = (l + u) / 2
                if !leaf {
                    // Split at the median position m = ⌊(l+u)/2⌋, but never between two equal
                    // values: try m, m+1, m−1, m+2, m−2, … for the first position whose value
                    // differs from the next one (the 2006 fix "all ties go with hi son"). The
                    // search stops at the first offset that leaves l…u−1, keeping m as it was.
                    var offset = 0
                    while m + offset < u && m + offset >= l {
                        if value(m + offset) == value(m + offset + 1) {
                            offset = -offset
                            if offset >= 0 { offset += 1 }
                        } else {
                            m += offset
                            break
                        }
                    }
                    // A split on the cell's own boundary would make an empty, zero-width child.
                    let t = value(m)
                    leaf = vertices[lowerVertex[p]] == t || vertices[upperVertex[p]] == t
                }
                if !leaf {
                    let t = value(m)
                    splitValue[p] = t
                    // ehg125 reuses an existing vertex at the same place.
                    let v: Int
                    if let existing = vertexIndex[t] {
                        v = existing
                    } else {
                        v = vertices.count
                        vertices.append(t)
                        vertexIndex[t] = v
                    }
                    firstChild[p] = firstChild.count
                    appendCell(lower: lowerVertex[p], upper: v, first: l, last: m)
                    appendCell(lower: v, upper: upperVertex[p], first: m + 1, last: u)
                }
                p += 1
            }
            // lowesb: a tree that reached the workspace's limits is an error (skmisc raises
            // "k-d tree limited by memory"), even when the last split happened to fit exactly.
            if Double(capacity) < Double(vertices.count) + 1 || capacity < firstChild.count + 2 {
                throw failure("the k-d tree needs more than max(200, n) = \(capacity) cells (n·span·\(cell) = \(fc) points per cell)",
                              hint: "make span bigger")
            }
        }

        private mutating func appendCell(lower: Int, upper: Int, first l: Int, last u: Int) {
            lowerVertex.append(lower)
            upperVertex.append(upper)
            splitValue.append(.nan)
            firstChild.append(-1)
            first.append(l)
            last.append(u)
        }

        /// The leaf holding z (a value on a split goes to the lower cell), as ehg128 finds it;
        /// ehg128 fails once its path has 20 cells (its stack), so deeper leaves are an error.
        func leaf(containing z: Double) throws -> Int {
            var c = 0, path = 1
            while firstChild[c] >= 0 {
                c = z <= splitValue[c] ? firstChild[c] : firstChild[c] + 1
                path += 1
                if path >= 20 { throw failure("the k-d tree is deeper than 19 levels at x = \(z)", hint: "make span bigger") }
            }
            return c
        }

        /// The cubic Hermite basis at z in leaf c, h = (z − v₀)/(v₁ − v₀):
        /// φ₀ = (1−h)²(1+2h), ψ₀ = h(1−h)², φ₁ = h²(3−2h), ψ₁ = h²(h−1), grouped as ehg128 does.
        private func basis(_ z: Double, leaf c: Int) -> (phi0: Double, psi0: Double, phi1: Double, psi1: Double, width: Double) {
            let width = vertices[upperVertex[c]] - vertices[lowerVertex[c]]
            let h = (z - vertices[lowerVertex[c]]) / width
            return ((1 - h) * (1 - h) * (1 + 2 * h), h * ((1 - h) * (1 - h)), h * h * (3 - 2 * h), h * h * (h - 1), width)
        }

        /// ehg128 for one predictor: find the leaf holding z, then blend the vertex values g and
        /// slopes g′ at the leaf's ends v₀ < v₁:
        ///   g(z) = φ₀(h)·g₀ + φ₁(h)·g₁ + (ψ₀(h)·g′₀ + ψ₁(h)·g′₁)·(v₁ − v₀).
        /// The curve is thus C¹ across cells.
        func interpolate(at z: Double, _ fits: [LocalFit.Result]) throws -> Double {
            let c = try leaf(containing: z)
            let a = fits[lowerVertex[c]], b = fits[upperVertex[c]]
            let e = basis(z, leaf: c)
            return e.phi0 * a.value + e.phi1 * b.value + (e.psi0 * a.slope + e.psi1 * b.slope) * e.width
        }

        /// trace(L) of the interpolated operator, fitted = L·y, as ehg139 accumulates it: for each
        /// vertex and each leaf touching it (ehg137), every point of the leaf with weight in the
        /// vertex's fit adds the Hermite blend of its influence on that vertex's value and slope,
        /// evaluated at the point itself (in the leaf ehg128 finds for it).
        func trace(_ fits: [LocalFit.Result], sortedX s: [Double]) throws -> Double {
            var diagonal = [Double](repeating: 0, count: s.count)
            for c in firstChild.indices where firstChild[c] < 0 && first[c] <= last[c] {
                for vertex in [lowerVertex[c], upperVertex[c]] {
                    for position in first[c]...last[c] {
                        let z = s[position - 1]
                        let influence = fits[vertex].influence(ofPointAt: z)
                        if influence.value == 0 && influence.slope == 0 { continue }
                        let home = try leaf(containing: z)
                        let e = basis(z, leaf: home)
                        if vertex == lowerVertex[home] {
                            diagonal[position - 1] += e.phi0 * influence.value + e.psi0 * influence.slope * e.width
                        } else if vertex == upperVertex[home] {
                            diagonal[position - 1] += e.phi1 * influence.value + e.psi1 * influence.slope * e.width
                        }
                    }
                }
            }
            return diagonal.reduce(0, +)
        }
    }

    // MARK: - Local fit at one point (ehg127)

    /// The weighted least-squares polynomial fit around one point q, as ehg127 computes it.
    struct LocalFit {
        /// The data, sorted by x.
        let x: [Double], y: [Double]
        /// nf = ⌊n·span⌋, the points in each local fit.
        let neighbours: Int
        let degree: Int

        /// The local polynomial's value and slope at q.
        ///
        /// - Neighbourhood: the nf points nearest to q. Its squared radius ρ is the nf-th
        ///   smallest (x − q)² (times max(1, span), which is 1 for span ≤ 1).
        /// - Weights: tricube in the distance, w = (1 − (|x − q|/√ρ)³)³, so the farthest
        ///   neighbour (and any tied with it) weighs exactly 0. dloess scales the rows of the
        ///   design by √w and forms √w as √((1 − (√(d²/ρ))³)³); we do the same arithmetic.
        /// - Design: columns √w·[1, (x−q), (x−q)²] (degree 2) and response √w·y, each column
        ///   scaled to unit norm ("equilibrated"), then Householder QR, then the SVD of the
        ///   k×k triangle R: β = D⁻¹·V·Σ⁻¹·Uᵀ·(Qᵀ√w·y)₁…ₖ with D the column norms.
        /// - Singularity: dloess treats singular values σⱼ ≤ 100·ε·σ₁ as zero (pseudo-inverse)
        ///   and warns; skmisc turns the warning into an error, and so do we.
        /// - Returns: β₀ (value at q) and β₁ (slope at q), and what `influence` needs.
        func fit(at q: Double) throws -> Result {
            let n = x.count, nf = neighbours, k = degree + 1

            // The nf nearest points are a window x[first ..< first+nf] of the sorted data: the
            // leftmost window whose left end is not farther from q than the point just past
            // its right end. (Which of several points tied at distance √ρ are in it does not
            // matter: they weigh 0.) Squaring is monotone, so ρ is exactly the nf-th smallest
            // of the squared distances that ehg106 selects.
            var first = 0, high = n - nf
            while first < high {
                let mid = (first + high) / 2
                if q - x[mid] > x[mid + nf] - q { first = mid + 1 } else { high = mid }
            }
            let dl = x[first] - q, dr = x[first + nf - 1] - q
            let rho = max(dl * dl, dr * dr)
            guard rho > 0 else {
                throw failure("zero-width neighbourhood at x = \(q): its \(nf) nearest points all have x = \(q)",
                              hint: "too many tied x values for this span; make span bigger")
            }
            guard rho.isFinite else { throw failure("x values too large (squared distances overflow)") }

            // Weighted, column-major design b[j·nf + i] and response eta.
            var b = [Double](repeating: 0, count: nf * k)
            var eta = [Double](repeating: 0, count: nf)
            var maxWeight = 0.0
            for i in 0..<nf {
                let d = x[first + i] - q
                let r = (d * d / rho).squareRoot()
                let t = 1 - r * r * r
                let w = (t * t * t).squareRoot()
                maxWeight = max(maxWeight, w)
                b[i] = w
                b[nf + i] = w * d
                if k == 3 { b[2 * nf + i] = w * (d * d) }
                eta[i] = w * y[first + i]
            }
            guard maxWeight > 0 else {
                throw failure("all \(nf) neighbours of x = \(q) lie on the boundary of its neighbourhood (weight 0)",
                              hint: "too many tied x values for this span; make span bigger")
            }

            // Equilibrate: unit-norm columns, remembering the norms to undo it on β.
            var colNorm = [Double](repeating: 1, count: k)
            for j in 0..<k {
                var ss = 0.0
                for i in 0..<nf { ss += b[j * nf + i] * b[j * nf + i] }
                let s = ss.squareRoot()
                if s > 0 {
                    colNorm[j] = s
                    for i in 0..<nf { b[j * nf + i] /= s }
                }
            }

            // Householder QR (LINPACK dqrdc without pivoting), applying each reflection to eta
            // as well (dqrsl's Qᵀy). Afterwards R is the upper triangle of b's first k rows.
            for j in 0..<k {
                let col = j * nf
                var ss = 0.0
                for i in j..<nf { ss += b[col + i] * b[col + i] }
                var norm = ss.squareRoot()
                guard norm != 0 else { continue }
                if b[col + j] < 0 { norm = -norm }
                let scale = 1 / norm
                for i in j..<nf { b[col + i] *= scale }
                b[col + j] += 1
                let pivot = b[col + j]
                for c in (j + 1)..<k {
                    let other = c * nf
                    var dot = 0.0
                    for i in j..<nf { dot += b[col + i] * b[other + i] }
                    let t = -dot / pivot
                    for i in j..<nf { b[other + i] += t * b[col + i] }
                }
                var dot = 0.0
                for i in j..<nf { dot += b[col + i] * eta[i] }
                let t = -dot / pivot
                for i in j..<nf { eta[i] += t * b[col + i] }
                b[col + j] = -norm
            }
            var r = [Double](repeating: 0, count: k * k)   // column-major k×k
            for c in 0..<k { for i in 0...c { r[c * k + i] = b[c * nf + i] } }

            let svd = Self.jacobiSVD(r, k)
            let sigmaMax = svd.sigma.max()!, sigmaMin = svd.sigma.min()!
            guard sigmaMin > sigmaMax * (100 * Double.ulpOfOne) else {
                throw failure("the local fit at x = \(q) is singular (fewer than \(k) distinct x values with positive weight; reciprocal condition \(sigmaMin / sigmaMax))",
                              hint: "too many tied x values for this span; make span bigger or the degree smaller")
            }
            // β = D⁻¹ · Σⱼ Vⱼ · (Uⱼ·z)/σⱼ with z = (Qᵀ√w·y)₁…ₖ and Uⱼ = (R·V)ⱼ/σⱼ.
            var beta = [Double](repeating: 0, count: k)
            for j in 0..<k {
                var dot = 0.0
                for i in 0..<k { dot += svd.rv[j * k + i] * eta[i] }
                let gamma = dot / (svd.sigma[j] * svd.sigma[j])
                for i in 0..<k { beta[i] += svd.v[j * k + i] * gamma }
            }
            // (ΦᵀWΦ)⁻¹ = D⁻¹·R⁻¹·R⁻ᵀ·D⁻¹, for the influence of single points (the trace).
            var rInverse = [Double](repeating: 0, count: k * k)   // column-major, upper triangular
            for c in 0..<k {
                rInverse[c * k + c] = 1 / r[c * k + c]
                for i in stride(from: c - 1, through: 0, by: -1) {
                    var sum = 0.0
                    for j in (i + 1)...c { sum += r[j * k + i] * rInverse[c * k + j] }
                    rInverse[c * k + i] = -sum / r[i * k + i]
                }
            }
            var gram = [Double](repeating: 0, count: k * k)
            for a in 0..<k {
                for b in 0..<k {
                    var sum = 0.0
                    for j in 0..<k { sum += rInverse[j * k + a] * rInverse[j * k + b] }
                    gram[a * k + b] = sum / (colNorm[a] * colNorm[b])
                }
            }
            return Result(value: beta[0] / colNorm[0], slope: beta[1] / colNorm[1], q: q, rho: rho, k: k, inverseGram: gram)
        }

        /// A local fit: its value and slope at q, and enough to tell how much each y moved them.
        struct Result {
            var value: Double, slope: Double
            let q: Double, rho: Double, k: Int
            /// (ΦᵀWΦ)⁻¹, k×k, of the fit's weighted design (symmetric).
            let inverseGram: [Double]

            /// The coefficients of a point's y (at x = z) in this fit's value and slope:
            /// rows 0 and 1 of (ΦᵀWΦ)⁻¹·φ(z − q)·w(z), zero for points without weight.
            func influence(ofPointAt z: Double) -> (value: Double, slope: Double) {
                let d = z - q
                guard d * d < rho else { return (0, 0) }
                let r = (d * d / rho).squareRoot()
                let t = 1 - r * r * r
                let w = t * t * t
                let phi = [1, d, d * d]
                var value = 0.0, slope = 0.0
                for j in 0..<k {
                    value += inverseGram[j] * phi[j]
                    slope += inverseGram[k + j] * phi[j]
                }
                return (value * w, slope * w)
            }
        }

        /// One-sided Jacobi SVD of a small square matrix a (column-major k×k): rotates pairs of
        /// columns until all are orthogonal, a·V = U·Σ. Returns the rotated columns a·V (`rv`),
        /// V (column-major) and σⱼ = ‖(a·V)ⱼ‖. Accurate to high relative precision even for
        /// tiny singular values, which the singularity test needs; LINPACK's dsvdc gives the
        /// same σ and the same least-squares solution to rounding.
        static func jacobiSVD(_ a0: [Double], _ k: Int) -> (sigma: [Double], rv: [Double], v: [Double]) {
            var a = a0
            var v = [Double](repeating: 0, count: k * k)
            for i in 0..<k { v[i * k + i] = 1 }
            for _ in 0..<64 {
                var rotated = false
                for p in 0..<(k - 1) {
                    for q in (p + 1)..<k {
                        var alpha = 0.0, beta = 0.0, gamma = 0.0
                        for i in 0..<k {
                            alpha += a[p * k + i] * a[p * k + i]
                            beta += a[q * k + i] * a[q * k + i]
                            gamma += a[p * k + i] * a[q * k + i]
                        }
                        guard abs(gamma) > Double.ulpOfOne * (alpha * beta).squareRoot() else { continue }
                        rotated = true
                        let zeta = (beta - alpha) / (2 * gamma)
                        let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                        let c = 1 / (1 + t * t).squareRoot(), s = c * t
                        for i in 0..<k {
                            let ap = a[p * k + i], aq = a[q * k + i]
                            a[p * k + i] = c * ap - s * aq
                            a[q * k + i] = s * ap + c * aq
                            let vp = v[p * k + i], vq = v[q * k + i]
                            v[p * k + i] = c * vp - s * vq
                            v[q * k + i] = s * vp + c * vq
                        }
                    }
                }
                if !rotated { break }
            }
            var sigma = [Double](repeating: 0, count: k)
            for j in 0..<k {
                var ss = 0.0
                for i in 0..<k { ss += a[j * k + i] * a[j * k + i] }
                sigma[j] = ss.squareRoot()
            }
            return (sigma, a, v)
        }
    }
}
