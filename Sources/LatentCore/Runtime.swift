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

    /// Runs `body` with OpenBLAS on `n` threads, then restores the previous count. Work that
    /// runs its own products side by side (one per thread) uses one BLAS thread each, so that
    /// OpenBLAS's idle workers do not spin against them. Only the thread that set the count
    /// changes it: a call asking for the count already set touches nothing.
    public static func withBLASThreads<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
        let previous = Int(openblas_get_num_threads()), wanted = max(1, n)
        if previous == wanted { return try body() }
        openblas_set_num_threads(Int32(wanted))
        defer { openblas_set_num_threads(Int32(previous)) }
        return try body()
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

/// OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs (AMD Zen 4/5) and runs its Haswell
/// kernels at about half speed; its SkylakeX kernels run correctly there, but the choice is made
/// when the library loads, from OPENBLAS_CORETYPE, before any of our code runs. So the process
/// re-executes itself once with the variable set — users get full speed without knowing.
public enum BLASKernels {
    /// The core type to force, or nil: only when the CPU has the AVX-512 subsets SkylakeX kernels
    /// use, OpenBLAS picked a pre-AVX-512 core, and nobody chose one already.
    public static func override(cpuFlags: Set<String>, coreName: String, environment: [String: String]) -> String? {
        if environment["OPENBLAS_CORETYPE"] != nil || environment["LATENT_BLAS_REEXEC"] != nil { return nil }
        guard ["avx512f", "avx512dq", "avx512bw", "avx512vl"].allSatisfy(cpuFlags.contains) else { return nil }
        let core = coreName.lowercased()
        if ["skylakex", "cooperlake", "sapphirerapids"].contains(where: core.contains) { return nil }
        return "SkylakeX"
    }

    /// The CPU flags Linux reports (empty elsewhere).
    public static func cpuFlags() -> Set<String> {
        guard let f = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(f) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var cap = 0
        defer { free(line) }
        while getline(&line, &cap, f) > 0 {
            let s = String(cString: line!)
            if s.hasPrefix("flags") {
                let list = s.split(separator: ":", maxSplits: 1).last ?? ""
                return Set(list.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" }).map(String.init))
            }
        }
        return []
    }

}

/// Settings that only work when the process starts — OpenBLAS picks its kernels, glibc reads its
/// malloc tunables, before any of our code runs — so the process sets them and re-executes
/// itself once (marked by LATENT_BLAS_REEXEC so that it never loops). A variable the user set is
/// left as it is.
public enum StartupEnvironment {
    /// glibc's malloc asks for transparent huge pages on the memory it maps (glibc ≥ 2.35;
    /// older ones ignore it): a streamed stage allocates each chunk's arrays afresh, and their
    /// 4 KiB page faults took a third of normalize's time (sys 4.4 → 2.1 s, wall −20 % at 50,000
    /// atlas cells with --memory 1G); THP's "madvise" mode, the usual default, needs the ask.
    /// And it never maps a large array on its own, nor gives freed memory back at once: every
    /// mapping is a fresh zeroed range, so each chunk paid its page faults and the kernel's
    /// clearing again (7 % of a streamed normalize's samples; sys 1.2 → 0.3 s, wall −1.8 s at
    /// 100,000 atlas cells with --memory 300M, peak RSS +40 MB). Freed arrays go back to the heap,
    /// where the next chunk's arrays of the same size find them.
    public static let mallocTunables = "glibc.malloc.hugetlb=1:glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=4294967295"

    /// The variables to set before re-executing; empty when nothing is wanted or it was done.
    public static func wanted(cpuFlags: Set<String>, coreName: String, environment: [String: String]) -> [String: String] {
        if environment["LATENT_BLAS_REEXEC"] != nil { return [:] }
        var out: [String: String] = [:]
        if let core = BLASKernels.override(cpuFlags: cpuFlags, coreName: coreName, environment: environment) {
            out["OPENBLAS_CORETYPE"] = core
        }
        #if os(Linux)
        if environment["GLIBC_TUNABLES"] == nil { out["GLIBC_TUNABLES"] = mallocTunables }
        #endif
        return out
    }

    /// Sets what `wanted` gives and re-executes; returns normally when nothing is wanted (or the
    /// re-exec fails: then the process runs without the settings).
    public static func ensure() {
        var env: [String: String] = [:]
        for key in ["OPENBLAS_CORETYPE", "LATENT_BLAS_REEXEC", "GLIBC_TUNABLES"] {
            if let v = getenv(key) { env[key] = String(cString: v) }
        }
        let core = openblas_get_corename().map { String(cString: $0) } ?? ""
        let set = wanted(cpuFlags: BLASKernels.cpuFlags(), coreName: core, environment: env)
        if set.isEmpty { return }
        for (k, v) in set.sorted(by: { $0.key < $1.key }) { setenv(k, v, 1) }
        setenv("LATENT_BLAS_REEXEC", "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
