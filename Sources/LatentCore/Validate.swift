/// Checks that every stage applies to the data it is given, each failing with one line that names
/// the file and the place (cell, gene) so a user can find the bad entry.
public enum Validate {
    /// X must have at least one observation and one variable.
    public static func nonEmpty(_ ds: Dataset, file: String) throws {
        if ds.nObs == 0 || ds.nVars == 0 {
            throw LatentError.badInput(file, nil, "empty matrix (\(ds.nObs) observations × \(ds.nVars) variables)")
        }
    }

    /// The (row, column) of stored entry `p` in X.
    public static func position(ofStored p: Int, in X: MatrixData) -> (Int, Int) {
        switch X {
        case .dense(let m): return (p / max(m.cols, 1), p % max(m.cols, 1))
        case .sparse(let s):
            // The row whose [indptr[r], indptr[r+1]) holds p: binary search.
            var lo = 0, hi = s.rows
            while lo + 1 < hi {
                let mid = (lo + hi) / 2
                if s.indptr[mid] <= p { lo = mid } else { hi = mid }
            }
            return (lo, Int(s.indices[p]))
        }
    }

    static func place(_ ds: Dataset, _ p: Int, key: String) -> String {
        let (r, c) = position(ofStored: p, in: ds.X)
        return "\(key)[obs '\(ds.obs.index[r])' (row \(r + 1)), var '\(ds.var.index[c])' (column \(c + 1))]"
    }

    /// Every value of X must be finite.
    public static func finite(_ ds: Dataset, file: String, key: String = "X") throws {
        let bad = ds.X.storedValues.withUnsafeBufferPointer { v -> Int? in
            for i in 0..<v.count where !v[i].isFinite { return i }
            return nil
        }
        if let p = bad {
            let v = ds.X.storedValues[p]
            throw LatentError.badInput(file, place(ds, p, key: key), "non-finite value \(v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf"))",
                                       hint: "remove or impute missing values before import")
        }
    }

    /// Values must be non-negative whole numbers, as count likelihoods and count-based methods require.
    public static func counts(_ ds: Dataset, file: String, key: String = "X", purpose: String = "counts are required") throws {
        let values = ds.X.storedValues
        let bad = values.withUnsafeBufferPointer { v -> Int? in
            for i in 0..<v.count where v[i] < 0 || v[i].rounded(.towardZero) != v[i] { return i }
            return nil
        }
        if let p = bad {
            let v = values[p]
            let what = v < 0 ? "negative value \(v)" : "non-integer value \(v)"
            throw LatentError.badInput(file, place(ds, p, key: key), "\(what) where \(purpose)")
        }
    }

    /// Every value of X must lie in [lower, upper] (e.g. probabilities for a Bernoulli likelihood).
    public static func within(_ ds: Dataset, lower: Float, upper: Float, file: String, key: String = "X",
                              purpose: String, hint: String? = nil) throws {
        let values = ds.X.storedValues
        let bad = values.withUnsafeBufferPointer { v -> Int? in
            for i in 0..<v.count where !(v[i] >= lower && v[i] <= upper) { return i }
            return nil
        }
        if let p = bad {
            throw LatentError.badInput(file, place(ds, p, key: key), "value \(values[p]) outside [\(lower), \(upper)], \(purpose)", hint: hint)
        }
    }

    /// Cell (sample) names must be unique: they key every per-cell output.
    public static func uniqueObsNames(_ ds: Dataset, file: String) throws {
        var seen: [String: Int] = [:]
        for (i, n) in ds.obs.index.enumerated() {
            if let first = seen[n] {
                throw LatentError.badInput(file, "obs '\(n)'", "duplicate observation name (rows \(first + 1) and \(i + 1))",
                                           hint: "observation names must be unique")
            }
            seen[n] = i
        }
    }

    /// Duplicate gene names are made unique as anndata's `var_names_make_unique` does.
    /// Returns a warning to print, or nil when the names were unique.
    public static func makeVarNamesUnique(_ ds: inout Dataset, file: String) -> String? {
        let dups = ds.var.makeIndexUnique()
        if dups.isEmpty { return nil }
        let shown = dups.prefix(5).joined(separator: ", ")
        return "\(file): \(dups.count) duplicated gene name\(dups.count == 1 ? "" : "s") (\(shown)\(dups.count > 5 ? ", …" : "")) made unique by appending -1, -2, … as anndata's var_names_make_unique does"
    }
}
