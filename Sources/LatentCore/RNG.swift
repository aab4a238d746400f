/// The seeded random number generator every stage uses: xoshiro256** seeded through SplitMix64.
///
/// Goals in order: the same seed gives the same stream on every machine and Swift version
/// (no reliance on the standard library's unspecified generators or distributions), then speed.
/// Independent streams for threads or grid points come from `stream(_:)`, never from sharing.
public struct SeededRNG: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var sm = seed
        func splitmix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(&sm); s1 = splitmix(&sm); s2 = splitmix(&sm); s3 = splitmix(&sm)
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    public mutating func next() -> UInt64 {
        let result = SeededRNG.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = SeededRNG.rotl(s3, 45)
        return result
    }

    /// An independent generator for sub-task `index` (a thread, a latent, a permutation block):
    /// derived from this generator's seed material, it does not advance `self`.
    public func stream(_ index: UInt64) -> SeededRNG {
        SeededRNG(seed: s0 ^ SeededRNG.rotl(s1, 13) ^ (index &* 0xD134_2543_DE82_EF95) ^ 0x5851_F42D_4C95_7F2D)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform in [0, 1) as Float with 24 random bits.
    public mutating func uniformFloat() -> Float { Float(next() >> 40) * 0x1.0p-24 }

    /// Uniform integer in 0..<n without modulo bias (Lemire's method).
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Standard normal by the polar Box–Muller method; the spare value is cached.
    public mutating func normal() -> Double {
        if let z = spare { spare = nil; return z }
        while true {
            let u = 2 * uniform() - 1, v = 2 * uniform() - 1
            let s = u * u + v * v
            if s > 0 && s < 1 {
                let f = (-2 * _log(s) / s).squareRoot()
                spare = v * f
                return u * f
            }
        }
    }
    private var spare: Double? = nil

    /// Gamma(shape, scale) by Marsaglia & Tsang (2000); shapes below 1 use the boost
    /// Gamma(a) = Gamma(a + 1)·U^{1/a}.
    public mutating func gamma(shape: Double, scale: Double = 1) -> Double {
        precondition(shape > 0 && scale > 0)
        if shape < 1 {
            let u = max(uniform(), .leastNonzeroMagnitude)
            return gamma(shape: shape + 1, scale: scale) * _pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            var x = 0.0, v = 0.0
            repeat { x = normal(); v = 1 + c * x } while v <= 0
            v = v * v * v
            let u = uniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v * scale }
            if _log(max(u, .leastNonzeroMagnitude)) < 0.5 * x * x + d * (1 - v + _log(v)) { return d * v * scale }
        }
    }

    /// Poisson(λ): inversion by sequential search for λ < 30, else the PTRS transformed-rejection
    /// method (Hörmann 1993), both exact.
    public mutating func poisson(_ lambda: Double) -> Int {
        if lambda <= 0 { return 0 }
        if lambda < 30 {
            var k = 0
            var p = _exp(-lambda), s = p
            let u = uniform()
            while u > s && k < 10_000 { k += 1; p *= lambda / Double(k); s += p }
            return k
        }
        let slam = lambda.squareRoot(), loglam = _log(lambda)
        let b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b
        let invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2)
        while true {
            let u = uniform() - 0.5, v = uniform()
            let us = 0.5 - abs(u)
            let k = (2 * a / us + b) * u + lambda + 0.43
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            let kf = k.rounded(.down)
            if _log(v) + _log(invalpha) - _log(a / (us * us) + b) <= -lambda + kf * loglam - _lgamma(kf + 1) { return Int(kf) }
        }
    }

    /// Fisher–Yates shuffle with this generator (stable across Swift versions, unlike `shuffle(using:)`).
    public mutating func shuffle<T>(_ a: inout [T]) {
        var i = a.count - 1
        while i > 0 {
            let j = below(i + 1)
            a.swapAt(i, j)
            i -= 1
        }
    }

    /// A random permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        shuffle(&p)
        return p
    }
}

#if canImport(Glibc)
import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _exp(_ x: Double) -> Double { Glibc.exp(x) }
@usableFromInline func _pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
@usableFromInline func _lgamma(_ x: Double) -> Double { Glibc.lgamma(x) }
#else
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
@usableFromInline func _exp(_ x: Double) -> Double { Darwin.exp(x) }
@usableFromInline func _pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
@usableFromInline func _lgamma(_ x: Double) -> Double { Darwin.lgamma(x) }
#endif
