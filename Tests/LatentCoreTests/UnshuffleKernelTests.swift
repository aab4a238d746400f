import CKernels
import XCTest

/// `lk_unshuffle4` (HDF5's byte shuffle undone, 32 elements at a time) against the definition:
/// byte b of element e is src[b·elems + e].
final class UnshuffleKernelTests: XCTestCase {
    func testMatchesTheByteLoopForEveryRangeShape() {
        var rng = SystemRandomNumberGenerator()
        for elems in [1, 31, 32, 33, 100, 1000] {
            let src = (0..<(4 * elems)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for (from, to) in [(0, elems), (0, 0), (min(3, elems), elems), (elems / 3, elems - elems / 4), (elems - 1, elems)] where from <= to {
                var expected = [UInt8](), out = [UInt8](repeating: 0xAB, count: 4 * (to - from) + 8)
                for e in from..<to { for b in 0..<4 { expected.append(src[b * elems + e]) } }
                src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { o in
                    lk_unshuffle4(s.baseAddress!, elems, from, to, o.baseAddress!)
                } }
                XCTAssertEqual(Array(out.prefix(4 * (to - from))), expected, "elems \(elems), \(from)..<\(to)")
                XCTAssertEqual(Array(out.suffix(8)), [UInt8](repeating: 0xAB, count: 8), "nothing written past the range")
            }
        }
    }

    /// `lk_unshuffle`, the entry the readers call: every element size through the same definition.
    func testEveryElementSize() {
        var rng = SystemRandomNumberGenerator()
        for size in [1, 2, 4, 8] { for elems in [1, 33, 257] {
            let src = (0..<(size * elems)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let (from, to) = (elems / 5, elems - elems / 7)
            var expected = [UInt8](), out = [UInt8](repeating: 0xAB, count: size * (to - from))
            for e in from..<to { for b in 0..<size { expected.append(src[b * elems + e]) } }
            src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { o in
                lk_unshuffle(s.baseAddress!, elems, from, to, size, o.baseAddress!)
            } }
            XCTAssertEqual(out, expected, "size \(size), elems \(elems)")
        } }
    }
}
