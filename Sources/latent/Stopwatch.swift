import Dispatch

/// Seconds between laps, for `--timing`.
final class Stopwatch {
    private var last = DispatchTime.now().uptimeNanoseconds

    func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}
