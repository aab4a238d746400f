/// Exact, order-independent accumulation of additive statistics.
///
/// A streamed, sharded or in-memory run must give the same statistics to the byte (the
/// sharded workflow promises the in-memory bytes, and cache keys depend on it). Floating-point
/// addition is not associative, so partial sums are split exactly into two fixed-point parts
/// and added as 128-bit integers, whose addition is. Partials are formed per canonical row block
/// (`RowChunking.statBlock` rows from a block-aligned start) in Float64, so the only rounding
/// that depends on the data's split is none at all, as long as splits fall on block boundaries.
///
/// Two parts, because data span many decades (FPKM tables hold values down to 1e-38): `raw` holds
/// the multiple of 2⁻⁵⁰ toward zero (range ±2⁷⁷, 1.5e23: sums of squared counts over 10⁷ cells),
/// `fine` the remainder on a 2⁻¹⁴⁹ grid — the spacing of Float32's smallest subnormal, so a
/// partial of Float32 values (or their Float32 squares) is split without any rounding at all.
/// `fine` gains at most 2⁹⁹ per addition: 2²⁷ additions per sum before it could overflow.
public struct ExactSum: Equatable, Sendable, Hashable {
    public var raw: Int128
    public var fine: Int128

    public static let fractionBits = 50
    public static let fineFractionBits = 149
    static let scale = 0x1p50
    static let fineScale = 0x1p149
    /// Largest magnitude accepted, with headroom so that sums of many such values cannot overflow.
    public static let maxMagnitude = 0x1p76

    public init() { raw = 0; fine = 0 }
    public init(raw: Int128, fine: Int128 = 0) { self.raw = raw; self.fine = fine }

    /// Adds a Float64 partial: its multiple of 2⁻⁵⁰ exactly, the rest rounded to 2⁻¹⁴⁹ (ties to
    /// even; no rounding at all for sums of Float32 values). Non-finite or out-of-range partials
    /// are a caller's bug or corrupt input; they return false and leave the sum unchanged so the
    /// caller can report the place.
    @inline(__always) @discardableResult
    public mutating func add(_ x: Double) -> Bool {
        guard x.isFinite, abs(x) < Self.maxMagnitude else { return false }
        let s = (x * Self.scale).rounded(.towardZero)
        // x − s·2⁻⁵⁰ is exact (the fractional part of x·2⁵⁰, scaled back by a power of two).
        let r = x - s / Self.scale
        raw &+= Self.int128(s)
        if r != 0 { fine &+= Self.int128((r * Self.fineScale).rounded(.toNearestOrEven)) }
        return true
    }

    /// An integer-valued Double below 2¹²⁷ in magnitude as Int128. Swift's generic
    /// `Int128(Double)` is a slow library path; this is two Int64 conversions.
    @inline(__always)
    public static func int128(_ s: Double) -> Int128 {
        let a = abs(s)
        if a < 0x1p63 { return Int128(Int64(s)) }
        // a ≥ 2⁶³ has no bits below 2¹¹: both parts are exact.
        let hi = (a * 0x1p-64).rounded(.down)
        let lo = a - hi * 0x1p64
        let m = (Int128(Int64(hi)) << 64) | Int128(UInt64(lo))
        return s < 0 ? -m : m
    }

    public mutating func add(_ other: ExactSum) { raw &+= other.raw; fine &+= other.fine }

    /// The sum, rounded to Float64 (a function of the two integers only: the same bits for the
    /// same sum, however it was split).
    public var value: Double { Self.double(raw) / Self.scale + Self.double(fine) / Self.fineScale }

    /// `Double(v)` rounded to nearest even, as Swift's generic conversion gives it, without that
    /// conversion's library path (microseconds each; a statistics file has millions): below 2⁶³
    /// one Int64 conversion, above it the top 64 bits with the rest folded into a sticky bit
    /// (round to odd), which one correctly rounded UInt64 → Double conversion then rounds as the
    /// whole value would be.
    @inline(__always)
    public static func double(_ v: Int128) -> Double {
        if v >= Int128(Int64.min) && v <= Int128(Int64.max) { return Double(Int64(truncatingIfNeeded: v)) }
        let m = v.magnitude
        let lz = m.leadingZeroBitCount            // < 65 here
        let shifted = m << lz
        var top = UInt64(truncatingIfNeeded: shifted >> 64)
        if UInt64(truncatingIfNeeded: shifted) != 0 { top |= 1 }
        let d = Double(top) * Double(sign: .plus, exponent: 64 - lz, significand: 1)
        return v < 0 ? -d : d
    }

    /// The two 64-bit halves of `raw`, for storing in files that have no 128-bit integers (HDF5, NPZ).
    public var halves: (high: Int64, low: UInt64) {
        (Int64(truncatingIfNeeded: raw >> 64), UInt64(truncatingIfNeeded: raw))
    }
    /// The two 64-bit halves of `fine`.
    public var fineHalves: (high: Int64, low: UInt64) {
        (Int64(truncatingIfNeeded: fine >> 64), UInt64(truncatingIfNeeded: fine))
    }
    public init(high: Int64, low: UInt64, fineHigh: Int64 = 0, fineLow: UInt64 = 0) {
        raw = (Int128(high) << 64) | Int128(low)
        fine = (Int128(fineHigh) << 64) | Int128(fineLow)
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
