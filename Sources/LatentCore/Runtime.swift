import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Process-wide settings that every subcommand shares: `--seed`, `--threads`, `--quiet`.
public struct RunOptions: Sendable, Equatable {
    public var seed: UInt64
    public var threads: Int
    public var quiet: Bool

    public init(seed: UInt64 = 0, threads: Int = 0, quiet: Bool = false) {
        self.seed = seed
        self.threads = threads <= 0 ? Runtime.availableCores : threads
        self.quiet = quiet
    }

    public func rng() -> SeededRNG { SeededRNG(seed: seed) }
}

public enum Runtime {
    public static var availableCores: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// Pins OpenBLAS to `n` threads so that results and timings follow `--threads`.
    public static func configureBLAS(threads n: Int) {
        openblas_set_num_threads(Int32(max(1, n)))
    }

    /// Runs `body(i)` for i in 0..<n on up to `threads` threads. Work is split into
    /// contiguous blocks so that results do not depend on scheduling.
    public static func parallelFor(_ n: Int, threads: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        let t = max(1, min(threads, n))
        if t == 1 { for i in 0..<n { body(i) }; return }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: t) { k in
                let lo = n * k / t, hi = n * (k + 1) / t
                for i in lo..<hi { body(i) }
            }
        }
    }

    /// True when stderr is a terminal (progress lines are only drawn there).
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}

/// Writes a line to stderr (warnings, progress), unbuffered.
public func printError(_ s: String) {
    var line = s
    if !line.hasSuffix("\n") { line += "\n" }
    fputs(line, stderr)
}

/// Progress on stderr for long work: redrawn in place on a terminal, silent otherwise or with --quiet.
public struct Progress {
    let label: String
    let total: Int
    let enabled: Bool
    var lastDrawn: Double = -1

    public init(_ label: String, total: Int, quiet: Bool) {
        self.label = label
        self.total = max(total, 1)
        self.enabled = !quiet && Runtime.stderrIsTerminal
    }

    public mutating func update(_ done: Int, detail: String = "") {
        guard enabled else { return }
        let frac = Double(done) / Double(total)
        if frac - lastDrawn < 0.01 && done < total { return }
        lastDrawn = frac
        let pct = Int(frac * 100)
        fputs("\r\u{1B}[K\(label) \(done)/\(total) (\(pct)%) \(detail)", stderr)
    }

    public func finish() {
        guard enabled else { return }
        fputs("\r\u{1B}[K", stderr)
    }
}

/// Step timings on stderr when LATENT_PROFILE is set (for finding hot spots, not for users).
public struct StepProfile {
    let enabled = getenv("LATENT_PROFILE") != nil
    var last = DispatchTime.now().uptimeNanoseconds
    var steps: [(String, Double)] = []

    public init() {}

    public mutating func step(_ name: String) {
        guard enabled else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        steps.append((name, Double(now - last) / 1e9))
        last = now
    }

    public func report() {
        guard enabled else { return }
        printError("profile: " + steps.map { "\($0.0)=\(($0.1 * 1000).rounded() / 1000)" }.joined(separator: " "))
    }
}
