/// Exact, order-independent accumulation of additive statistics.
///
/// A streamed, sharded or in-memory run must give the same statistics to the byte (the
/// sharded workflow promises the in-memory bytes, and cache keys depend on it). Floating-point
/// addition is not associative, so partial sums are rounded once to a fixed-point grid and
/// added as 128-bit integers, whose addition is. Partials are formed per canonical row block
/// (`RowChunking.statBlock` rows from a block-aligned start) in Float64, so the only rounding
/// that depends on the data's split is none at all, as long as splits fall on block boundaries.
///
/// Scale 2⁻⁵⁰: resolution 8.9e-16 absolute, range ±2⁷⁷ (1.5e23), enough for sums of squared
/// counts over 10⁷ cells.
public struct ExactSum: Equatable, Sendable, Hashable {
    public var raw: Int128

    public static let fractionBits = 50
    static let scale = 0x1p50
    /// Largest magnitude accepted, with headroom so that sums of many such values cannot overflow.
    public static let maxMagnitude = 0x1p76

    public init() { raw = 0 }
    public init(raw: Int128) { self.raw = raw }

    /// Adds a Float64 partial, rounded to the grid (ties to even, as `rounded(.toNearestOrEven)`).
    /// Non-finite or out-of-range partials are a caller's bug or corrupt input; they return false
    /// and leave the sum unchanged so the caller can report the place.
    @inline(__always) @discardableResult
    public mutating func add(_ x: Double) -> Bool {
        let s = (x * Self.scale).rounded(.toNearestOrEven)
        guard s.isFinite, abs(x) < Self.maxMagnitude else { return false }
        raw &+= Int128(s)
        return true
    }

    public mutating func add(_ other: ExactSum) { raw &+= other.raw }

    public var value: Double { Double(raw) / Self.scale }

    /// The two 64-bit halves, for storing in files that have no 128-bit integers (HDF5, NPZ).
    public var halves: (high: Int64, low: UInt64) {
        (Int64(truncatingIfNeeded: raw >> 64), UInt64(truncatingIfNeeded: raw))
    }
    public init(high: Int64, low: UInt64) {
        raw = (Int128(high) << 64) | Int128(low)
    }
}

/// A vector of exact sums: one per gene, or a Gram matrix in row-major order.
public struct ExactSums: Equatable, Sendable {
    public var sums: [ExactSum]

    public init(count: Int) { sums = [ExactSum](repeating: ExactSum(), count: count) }
    public init(_ sums: [ExactSum]) { self.sums = sums }

    public var count: Int { sums.count }

    /// Adds a block's Float64 partials; returns the first index that was not finite or out of
    /// range, nil when all were added.
    @discardableResult
    public mutating func add(_ partials: UnsafeBufferPointer<Double>) -> Int? {
        precondition(partials.count == sums.count)
        var bad: Int? = nil
        sums.withUnsafeMutableBufferPointer { s in
            for i in 0..<s.count where !s[i].add(partials[i]) { if bad == nil { bad = i } }
        }
        return bad
    }

    @discardableResult
    public mutating func add(_ partials: [Double]) -> Int? {
        partials.withUnsafeBufferPointer { add($0) }
    }

    public mutating func add(_ other: ExactSums) {
        precondition(other.count == count)
        for i in 0..<count { sums[i].add(other.sums[i]) }
    }

    public var values: [Double] { sums.map(\.value) }
}
