import ArgumentParser
import LatentCore

/// `--memory`: the same budget on every stage that can stream.
struct MemoryOptions: ParsableArguments {
    @Option(help: """
        Memory this command may hold at once, e.g. 4G or 512M (default: half of the machine's \
        RAM). Larger inputs are streamed in row chunks; the results are the same either way.
        """)
    var memory: String?

    func validate() throws {
        if let m = memory, MemoryBudget(parsing: m) == nil {
            throw ValidationError("--memory must be a size such as 4G, 512M or 2000000 (bytes), not '\(m)'")
        }
    }

    var budget: MemoryBudget { memory.flatMap(MemoryBudget.init(parsing:)) ?? .machineDefault }
}
