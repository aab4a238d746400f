import Foundation
import LatentCore

/// `manifest.json` in every entry: what made it (parameters, inputs, versions, seed, threads)
/// and what it cost (wall time, peak memory). The report reads it; people diff it.
public enum Manifest {
    public static let fileName = "manifest.json"

    public static func make(_ inst: Plan.Instance, plan: Plan, outputs: [String], version: Int, toolVersion: String,
                            threads: Int, wallSeconds: Double, peakRSSMB: Double) -> JSONValue {
        var inputs: [String: JSONValue] = [:]
        for (slot, list) in inst.inputs {
            for (i, input) in list.enumerated() {
                let name = i == 0 ? slot : "\(slot).\(i)"
                switch input {
                case .instance(let u):
                    inputs[name] = .object(["key": .string(plan.instances[u].key), "stage": .string(plan.instances[u].name),
                                            "instance": .string(plan.instances[u].label)])
                case .file(let path, let sha):
                    inputs[name] = .object(["file": .string(path), "sha256": .string(sha)])
                }
            }
        }
        let seed = inst.parameters["seed"]?.intValue ?? Int64(plan.pipeline.seed)
        let formatter = ISO8601DateFormatter()
        return .object([
            "stage": .string(inst.type),
            "name": .string(inst.name),
            "instance": .string(inst.label),
            "grid": .object(Dictionary(inst.bindings.map { ($0.origin + "." + $0.parameter, $0.value) }, uniquingKeysWith: { a, _ in a })),
            "key": .string(inst.key),
            "version": .int(Int64(version)),
            "parameters": .object(inst.parameters.filter { $0.value != .null }),
            "inputs": .object(inputs),
            "outputs": .array(outputs.map { .string($0) }),
            "tool_version": .string(toolVersion),
            "seed": .int(seed),
            "threads": .int(Int64(threads)),
            "wall_s": .double((wallSeconds * 1000).rounded() / 1000),
            "peak_rss_mb": .double((peakRSSMB * 10).rounded() / 10),
            "pipeline": .string(plan.pipeline.file),
            "created": .string(formatter.string(from: Date())),
        ])
    }
}

/// Peak resident memory of this process (Linux: VmHWM), with a reset so that a stage run
/// alone measures only itself. With --jobs > 1 stages share the process and the figure is the
/// peak while that stage ran, others included.
enum ResourceUsage {
    static func resetPeak() {
        if let fh = FileHandle(forWritingAtPath: "/proc/self/clear_refs") {
            fh.write(Data("5".utf8))
            try? fh.close()
        }
    }

    static func peakRSSMB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else {
            var u = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
            return Double(u.ru_maxrss) / 1024
        }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
            return kb / 1024
        }
        return 0
    }
}
