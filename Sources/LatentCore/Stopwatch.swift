import Dispatch

/// Seconds between laps, for `--timing`.
public final class Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    public init() {}

    public func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}
