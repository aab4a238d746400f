import Foundation
import LatentCore
import LatentIO
import LatentModels

/// `consensus`: stability of latents across seeds → consensus.tsv (as `latent consensus`). It
/// gathers every instance of the model stage it reads (a seed grid), and optionally every
/// instance of an enrich stage, each table paired with its model through the entry's manifest.
enum ConsensusStageAdapter: StageAdapter {
    static let type = "consensus"
    static let version = 1
    static let usesSeed = false
    static let parameters = [
        ParameterSpec("key", .string),
        ParameterSpec("similarity", .choice(Consensus.Similarity.allCases.map(\.rawValue)), default: .string("pearson")),
        ParameterSpec("fdr", .double(min: 0, max: 1), default: .double(0.05)),
        ParameterSpec("stable", .double(min: 0, max: 1), default: .double(0.8)),
    ]
    static let inputs = [
        InputSlot("input", accepts: .embedding, allowsFile: false, gathers: true),
        InputSlot("enrich", accepts: .table, required: false, allowsFile: false, gathers: true),
    ]
    static let outputs = [OutputFile("consensus.tsv", [.table])]

    static func run(_ c: StageContext) throws {
        let models = try c.input("input")
        var p = Consensus.Parameters()
        p.similarity = try c.choice("similarity")
        p.fdr = c.double("fdr")
        p.stable = c.double("stable")
        // enrich entry → the model entry it read (its manifest's input keys)
        var tableOf: [String: String] = [:]
        if let e = c.inputs["enrich"] {
            for (i, dir) in e.entries.enumerated() {
                for key in inputKeys(dir) where tableOf[key] == nil { tableOf[key] = e.paths[i] }
            }
        }
        var runs: [Consensus.Run] = []
        for (i, path) in models.paths.enumerated() {
            let entry = i < models.entries.count ? models.entries[i] : URL(fileURLWithPath: path).deletingLastPathComponent().path
            let key = URL(fileURLWithPath: entry).lastPathComponent
            var run = try Consensus.loadRun(path, key: c.optionalString("key") ?? models.loadingsKey, enrichment: tableOf[key], fdr: p.fdr)
            run.id = label(entry) ?? key
            // PCA, ICA and NMF do not record their seed in uns; the manifest does
            if run.label.seed == "NA", let seed = manifest(entry)?["seed"] as? NSNumber { run.label.seed = seed.stringValue }
            runs.append(run)
        }
        let out = try Consensus.compute(runs, parameters: p)
        out.notes.forEach(c.note)
        guard !out.rows.isEmpty else {
            throw LatentError.badInput(nil, nil, "\(c.label): no two runs share a model and its settings", hint: "gather a grid over seed")
        }
        try AtomicOutput.write(Data(Consensus.tsv(out.rows).utf8), to: c.output("consensus.tsv"))
    }

    static func manifest(_ dir: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: dir + "/" + Manifest.fileName) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    static func inputKeys(_ dir: String) -> [String] {
        let inputs = manifest(dir)?["inputs"] as? [String: Any] ?? [:]
        return inputs.keys.sorted().compactMap { (inputs[$0] as? [String: Any])?["key"] as? String }
    }

    /// "vae [seed=1]": the stage name and instance, as the report names cache entries.
    static func label(_ dir: String) -> String? {
        guard let m = manifest(dir), let name = m["name"] as? String else { return nil }
        let instance = m["instance"] as? String ?? ""
        return instance.isEmpty ? name : "\(name) [\(instance)]"
    }
}
