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
#else
import Darwin
@usableFromInline func _log(_ x: Double) -> Double { Darwin.log(x) }
#endif
