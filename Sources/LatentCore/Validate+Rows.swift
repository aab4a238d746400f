/// The checks of `Validate` on one row chunk of a streamed matrix: the same one-line messages,
/// naming the cell and gene by their place in the whole file (`first` is the chunk's first row).
extension Validate {
    public struct Names {
        public var obs: [String]
        public var vars: [String]
        public init(obs: [String], vars: [String]) { self.obs = obs; self.vars = vars }
    }

    static func place(_ block: MatrixData, first: Int, _ p: Int, _ names: Names, key: String) -> String {
        let (r0, c) = position(ofStored: p, in: block)
        let r = first + r0
        return "\(key)[obs '\(names.obs[r])' (row \(r + 1)), var '\(names.vars[c])' (column \(c + 1))]"
    }

    private static func firstBad(_ block: MatrixData, _ bad: (Float) -> Bool) -> Int? {
        block.storedValues.withUnsafeBufferPointer { v -> Int? in
            for i in 0..<v.count where bad(v[i]) { return i }
            return nil
        }
    }

    /// `finite` on rows `first ..< first + block.rows`.
    public static func finite(_ block: MatrixData, first: Int, names: Names, file: String, key: String = "X") throws {
        if let p = firstBad(block, { !$0.isFinite }) {
            let v = block.storedValues[p]
            throw LatentError.badInput(file, place(block, first: first, p, names, key: key),
                                       "non-finite value \(v.isNaN ? "NaN" : (v > 0 ? "Inf" : "-Inf"))",
                                       hint: "remove or impute missing values before import")
        }
    }

    /// `counts` on rows `first ..< first + block.rows`.
    public static func counts(_ block: MatrixData, first: Int, names: Names, file: String, key: String = "X",
                              purpose: String = "counts are required") throws {
        if let p = firstBad(block, { $0 < 0 || $0.rounded(.towardZero) != $0 }) {
            let v = block.storedValues[p]
            let what = v < 0 ? "negative value \(v)" : "non-integer value \(v)"
            throw LatentError.badInput(file, place(block, first: first, p, names, key: key), "\(what) where \(purpose)")
        }
    }

    /// `within` on rows `first ..< first + block.rows`.
    public static func within(_ block: MatrixData, first: Int, names: Names, lower: Float, upper: Float, file: String,
                              key: String = "X", purpose: String, hint: String? = nil) throws {
        if let p = firstBad(block, { !($0 >= lower && $0 <= upper) }) {
            throw LatentError.badInput(file, place(block, first: first, p, names, key: key),
                                       "value \(block.storedValues[p]) outside [\(lower), \(upper)], \(purpose)", hint: hint)
        }
    }
}
