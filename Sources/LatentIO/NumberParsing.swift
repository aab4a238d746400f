#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Decimal text to Double without allocation, as fast as the common cases allow and exact:
/// Clinger's fast path (a mantissa below 2⁵³ and a power of ten up to 10²² are both exact in
/// Double, so one multiplication or division rounds correctly), strtod for everything else.
/// Converting that Double to Float32 rounds the way pandas-then-float32 does.
enum NumberParsing {
    static let powersOfTen: [Double] = (0...22).map { k in
        var p = 1.0
        for _ in 0..<k { p *= 10 }
        return p
    }

    enum Outcome {
        case number(Double)
        case notANumber
    }

    /// Parses bytes [start, end) entirely as a number.
    @inline(__always)
    static func parse(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Outcome {
        var i = start
        if i >= end { return .notANumber }
        var negative = false
        if p[i] == UInt8(ascii: "-") { negative = true; i += 1 } else if p[i] == UInt8(ascii: "+") { i += 1 }
        var mantissa: UInt64 = 0
        var significant = 0
        var exp10 = 0
        var sawDigit = false
        var dropped = false
        while i < end, p[i] &- 48 < 10 {
            sawDigit = true
            if significant < 19 {
                mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48)
                if mantissa != 0 { significant += 1 }
            } else {
                exp10 += 1
                dropped = true
            }
            i += 1
        }
        if i < end, p[i] == UInt8(ascii: ".") {
            i += 1
            while i < end, p[i] &- 48 < 10 {
                sawDigit = true
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(p[i] &- 48)
                    if mantissa != 0 { significant += 1 }
                    exp10 -= 1
                } else {
                    dropped = true
                }
                i += 1
            }
        }
        guard sawDigit else { return .notANumber }
        if i < end, p[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var eneg = false
            if i < end, p[i] == UInt8(ascii: "-") { eneg = true; i += 1 } else if i < end, p[i] == UInt8(ascii: "+") { i += 1 }
            var e = 0
            var any = false
            while i < end, p[i] &- 48 < 10 {
                any = true
                if e < 100_000 { e = e * 10 + Int(p[i] &- 48) }
                i += 1
            }
            guard any else { return .notANumber }
            exp10 += eneg ? -e : e
        }
        guard i == end else { return .notANumber }
        if !dropped && mantissa < (1 << 53) && exp10 >= -22 && exp10 <= 22 {
            var v = Double(mantissa)
            v = exp10 < 0 ? v / powersOfTen[-exp10] : v * powersOfTen[exp10]
            return .number(negative ? -v : v)
        }
        if mantissa == 0 { return .number(negative ? -0.0 : 0) }
        return slow(p, start, end)
    }

    static func slow(_ p: UnsafePointer<UInt8>, _ start: Int, _ end: Int) -> Outcome {
        var buf = [CChar](repeating: 0, count: end - start + 1)
        for k in start..<end { buf[k - start] = CChar(bitPattern: p[k]) }
        return buf.withUnsafeMutableBufferPointer { b -> Outcome in
            var stop: UnsafeMutablePointer<CChar>? = nil
            let v = strtod(b.baseAddress!, &stop)
            guard let s = stop, s - b.baseAddress! == end - start else { return .notANumber }
            return .number(v)
        }
    }
}
