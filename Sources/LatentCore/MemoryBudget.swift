#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// How much memory a stage may hold at once (`--memory`). Each stage compares its in-memory
/// footprint with this budget and streams when it would not fit; results are the same either way.
public struct MemoryBudget: Equatable, Sendable {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = max(1, bytes) }

    /// Half of the machine's physical memory: room for the page cache and the other jobs of a
    /// Snakemake/Nextflow node.
    public static var machineDefault: MemoryBudget {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        let total = pages > 0 && size > 0 ? pages * size : 8 << 30
        return MemoryBudget(bytes: total / 2)
    }

    /// Parses "512M", "4G", "1.5G", "2000000" (bytes), "64K"; nil when malformed.
    public init?(parsing text: String) {
        let t = String(text.filter { $0 != " " }).uppercased()
        guard let last = t.last else { return nil }
        var mult = 1.0
        var number = Substring(t)
        switch last {
        case "K": mult = 1024; number = t.dropLast()
        case "M": mult = 1024 * 1024; number = t.dropLast()
        case "G": mult = 1024 * 1024 * 1024; number = t.dropLast()
        case "T": mult = 1024 * 1024 * 1024 * 1024; number = t.dropLast()
        default: break
        }
        if number.hasSuffix("I") || number.hasSuffix("B") { return nil }
        guard let v = Double(number), v.isFinite, v > 0 else { return nil }
        self.init(bytes: Int((v * mult).rounded()))
    }

    /// Chunk size in stored entries for a stage that holds `copies` Float32 values per stored
    /// entry of a chunk (plus its indices when sparse), using at most `share` of the budget.
    public func chunkEntries(bytesPerEntry: Int, share: Double = 0.25) -> Int {
        max(1, Int(Double(bytes) * share) / max(1, bytesPerEntry))
    }

    public var description: String {
        if bytes >= 1 << 30 { return "\(Double(bytes) / Double(1 << 30)) GiB" }
        return "\(bytes >> 20) MiB"
    }
}
