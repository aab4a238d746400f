/// Output of Fixtures/xoshiro_reference.py (python3 Fixtures/xoshiro_reference.py).
enum RNGReference {
    static let seedZero: [UInt64] = [11091344671253066420, 13793997310169335082, 1900383378846508768]
}
