import LatentCore

/// Local regression (Cleveland, Grosse & Shyu 1992) for one predictor, reproducing the
/// netlib `dloess` code that R's `loess` and Python's `skmisc.loess` run, with their defaults:
/// Gaussian family, tricube weights over the ⌊n·span⌋ nearest points, and the "interpolate"
/// surface — fits at the vertices of a k-d tree, blended by cubic Hermite interpolation.
///
/// scanpy's seurat_v3 HVG flavor ranks genes by variances standardised with this fit, so the
/// fitted values must agree with skmisc's to many digits; every rule below is the Fortran's:
/// - bounding box: [min, max] widened by 0.5% of the range on each side;
/// - a cell is split at the median of its points (the ⌊(l+u)/2⌋-th order statistic, moved to
///   the nearest position where the next value differs, so ties stay together) unless it holds
///   at most ⌊n·span·0.2⌋ points, or the split would fall on the cell's boundary;
/// - at each vertex q, a weighted least-squares quadratic in (x − q) with weights
///   (1 − (|x − q|/h)³)³, h the distance to the ⌊n·span⌋-th nearest point (points at h weigh 0),
///   gives the value and the slope;
/// - inside a leaf cell [v₀, v₁] the surface is the cubic Hermite interpolant of those.
public enum Loess {
    public enum Surface: Sendable { case interpolate, direct }

    /// Fitted values at the data points.
    public static func fit(x: [Double], y: [Double], span: Double = 0.3, degree: Int = 2,
                           surface: Surface = .interpolate) throws -> [Double] {
        let n = x.count
        guard n == y.count else { throw LatentError.badInput(nil, nil, "loess: x and y differ in length") }
        guard n >= 2 else { throw LatentError.badInput(nil, nil, "loess: needs at least 2 points") }
        guard (1...2).contains(degree) else { throw LatentError.badInput(nil, nil, "loess: degree must be 1 or 2") }
        guard x.allSatisfy({ $0.isFinite }), y.allSatisfy({ $0.isFinite }) else {
            throw LatentError.badInput(nil, nil, "loess: non-finite input")
        }
        let nf = min(n, Int((Double(n) * span + 1e-5).rounded(.down)))
        guard nf > degree else {
            throw LatentError.badInput(nil, nil, "loess: span \(span) keeps \(nf) of \(n) points, too few for degree \(degree)")
        }
        let order = (0..<n).sorted { x[$0] != x[$1] ? x[$0] < x[$1] : $0 < $1 }
        let sx = order.map { x[$0] }, sy = order.map { y[$0] }
        let local = LocalFit(sx: sx, sy: sy, nf: nf, span: span, degree: degree)
        switch surface {
        case .direct:
            return try x.map { try local.at($0).value }
        case .interpolate:
            let tree = KDTree(sorted: sx, leafSize: Int((Double(n) * span * 0.2).rounded(.down)))
            var fits: [Double: (value: Double, slope: Double)] = [:]
            for v in tree.vertices where fits[v] == nil { fits[v] = try local.at(v) }
            return x.map { z in
                let (v0, v1) = tree.leafBounds(z)
                let (g0, s0) = fits[v0]!, (g1, s1) = fits[v1]!
                let h = (z - v0) / (v1 - v0)
                let phi0 = (1 - h) * (1 - h) * (1 + 2 * h), phi1 = h * h * (3 - 2 * h)
                let psi0 = h * (1 - h) * (1 - h), psi1 = h * h * (h - 1)
                return phi0 * g0 + phi1 * g1 + (psi0 * s0 + psi1 * s1) * (v1 - v0)
            }
        }
    }

    /// The k-d tree over one predictor: cells are ranges of the sorted values.
    struct KDTree {
        struct Cell { var lower: Double; var upper: Double; var split: Double?; var lo = -1; var hi = -1 }
        var cells: [Cell] = []
        var vertices: [Double] = []

        init(sorted s: [Double], leafSize fc: Int) {
            let n = s.count
            let lo0 = s[0], hi0 = s[n - 1]
            let mu = 0.005 * max(hi0 - lo0, 1e-10 * max(abs(lo0), abs(hi0)) + 1e-30)
            vertices = [lo0 - mu, hi0 + mu]
            let capacity = max(200, n)
            // Index ranges use 1-based l…u as the Fortran does, so the median rule reads the same.
            var ranges: [(l: Int, u: Int)] = [(1, n)]
            cells = [Cell(lower: vertices[0], upper: vertices[1], split: nil)]
            var p = 0
            while p < cells.count {
                let (l, u) = ranges[p]
                var leaf = (u - l + 1) <= fc || (cells[p].upper - cells[p].lower) <= 0
                if !leaf { leaf = capacity < cells.count + 2 || capacity < vertices.count + 1 }
                var m = (l + u) / 2
                if !leaf {
                    // Move the split off a run of ties: try m, m+1, m−1, m+2, … within the cell.
                    var offset = 0
                    while m + offset < u && m + offset >= l {
                        if s[m + offset - 1] == s[m + offset] {
                            offset = -offset
                            if offset >= 0 { offset += 1 }
                        } else {
                            m += offset
                            break
                        }
                    }
                    let t = s[m - 1]
                    leaf = cells[p].lower == t || cells[p].upper == t
                }
                if !leaf {
                    let t = s[m - 1]
                    cells[p].split = t
                    if !vertices.contains(t) { vertices.append(t) }
                    cells[p].lo = cells.count
                    cells.append(Cell(lower: cells[p].lower, upper: t, split: nil))
                    ranges.append((l, m))
                    cells[p].hi = cells.count
                    cells.append(Cell(lower: t, upper: cells[p].upper, split: nil))
                    ranges.append((m + 1, u))
                }
                p += 1
            }
        }

        /// The vertices of the leaf cell holding z (z on a split goes to the lower cell).
        func leafBounds(_ z: Double) -> (Double, Double) {
            var j = 0
            while let t = cells[j].split { j = z <= t ? cells[j].lo : cells[j].hi }
            return (cells[j].lower, cells[j].upper)
        }
    }

    /// The local weighted least-squares fit at a point: value and slope.
    struct LocalFit {
        let sx: [Double], sy: [Double]
        let nf: Int
        let span: Double
        let degree: Int

        func at(_ q: Double) throws -> (value: Double, slope: Double) {
            let n = sx.count
            // The nf nearest points form a window of the sorted values around q.
            var right = lowerBound(q), left = right - 1
            var taken = 0
            var rho = 0.0
            while taken < nf {
                let dl = left >= 0 ? (sx[left] - q) * (sx[left] - q) : .infinity
                let dr = right < n ? (sx[right] - q) * (sx[right] - q) : .infinity
                if dl <= dr { rho = dl; left -= 1 } else { rho = dr; right += 1 }
                taken += 1
            }
            rho *= max(1, span)
            guard rho > 0 else { throw LatentError.badInput(nil, nil, "loess: all neighbours of \(q) coincide (span too small for tied x)") }
            // Rows of the weighted design: √w·[1, x−q, (x−q)²], and √w·y. Points at distance
            // exactly h get weight 0, so which of several tied boundary points was "taken" does not matter.
            let k = degree + 1
            var a: [[Double]] = []
            var b: [Double] = []
            for i in (left + 1)..<right {
                let d2 = (sx[i] - q) * (sx[i] - q)
                let r = (d2 / rho).squareRoot()
                let w = ((1 - r * r * r) * (1 - r * r * r) * (1 - r * r * r)).squareRoot()
                let dx = sx[i] - q
                var row = [w, w * dx]
                if degree == 2 { row.append(w * dx * dx) }
                a.append(row)
                b.append(w * sy[i])
            }
            let beta = try leastSquares(a, b, k: k)
            return (beta[0], beta[1])
        }

        func lowerBound(_ v: Double) -> Int {
            var lo = 0, hi = sx.count
            while lo < hi { let m = (lo + hi) / 2; if sx[m] < v { lo = m + 1 } else { hi = m } }
            return lo
        }

        /// min ‖A·β − b‖ by Householder QR on unit-norm columns (as dloess scales them), solved by
        /// back substitution; directions with a negligible pivot are dropped (pseudo-inverse).
        func leastSquares(_ a0: [[Double]], _ b0: [Double], k: Int) throws -> [Double] {
            let m = a0.count
            var a = a0, b = b0
            var norms = [Double](repeating: 1, count: k)
            for j in 0..<k {
                let s = (0..<m).reduce(0.0) { $0 + a[$1][j] * a[$1][j] }.squareRoot()
                if s > 0 { norms[j] = s; for i in 0..<m { a[i][j] /= s } }
            }
            var diag = [Double](repeating: 0, count: k)
            for j in 0..<k {
                var norm = 0.0
                for i in j..<m { norm += a[i][j] * a[i][j] }
                norm = norm.squareRoot()
                if norm == 0 { diag[j] = 0; continue }
                let alpha = a[j][j] > 0 ? -norm : norm
                var v = [Double](repeating: 0, count: m)
                for i in j..<m { v[i] = a[i][j] }
                v[j] -= alpha
                let vv = (j..<m).reduce(0.0) { $0 + v[$1] * v[$1] }
                if vv > 0 {
                    for c in j..<k {
                        var dot = 0.0
                        for i in j..<m { dot += v[i] * a[i][c] }
                        let f = 2 * dot / vv
                        for i in j..<m { a[i][c] -= f * v[i] }
                    }
                    var dot = 0.0
                    for i in j..<m { dot += v[i] * b[i] }
                    let f = 2 * dot / vv
                    for i in j..<m { b[i] -= f * v[i] }
                }
                diag[j] = a[j][j]
            }
            let tol = (diag.map(abs).max() ?? 0) * 100 * Double.ulpOfOne
            var beta = [Double](repeating: 0, count: k)
            for j in stride(from: k - 1, through: 0, by: -1) {
                guard abs(diag[j]) > tol else { beta[j] = 0; continue }
                var s = b[j]
                for c in (j + 1)..<k { s -= a[j][c] * beta[c] }
                beta[j] = s / a[j][j]
            }
            return (0..<k).map { beta[$0] / norms[$0] }
        }
    }
}
