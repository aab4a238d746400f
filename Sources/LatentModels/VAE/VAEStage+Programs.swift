import Foundation
import LatentCore
import LatentIO

/// Gene sets resolved against a dataset's genes: what `--programs` turns into a decoder mask.
/// Resolved outside this module (LatentEnrich holds the gene-set matching `latent enrich` uses)
/// and passed in as plain rows.
public struct ProgramMask: Sendable {
    /// Kept programs in latent order, and for each the dataset's var rows in it.
    public var names: [String]
    public var rows: [[Int]]
    /// `programs_coverage.tsv`: one row per gene set of the GMT, kept or not, and why.
    public var coverageTSV: String
    /// Lines for the user (genes matched, unmapped, sets dropped and why).
    public var notes: [String]

    public init(names: [String], rows: [[Int]], coverageTSV: String, notes: [String]) {
        self.names = names
        self.rows = rows
        self.coverageTSV = coverageTSV
        self.notes = notes
    }

    /// Latents × genes, 1 where the latent may load on the gene: program rows from the sets,
    /// free latents everywhere.
    public func matrix(genes: Int, freeLatents: Int) -> [UInt8] {
        var m = [UInt8](repeating: 0, count: (names.count + freeLatents) * genes)
        for (p, rows) in rows.enumerated() { for r in rows { m[p * genes + r] = 1 } }
        for f in 0..<freeLatents { for g in 0..<genes { m[(names.count + f) * genes + g] = 1 } }
        return m
    }
}

extension VAEStage {
    public static let programFiles = (weights: "programs.tsv", coverage: "programs_coverage.tsv", gates: "gates.tsv")

    /// Resolves the programs against the dataset, completes the parameters (program names,
    /// latents = programs + free, linear decoder) and returns the decoder mask.
    static func preparePrograms(_ p: inout VAEParameters, dataset ds: Dataset, file: String,
                                resolve: ((Dataset) throws -> ProgramMask)?, notes: (String) -> Void) throws -> ProgramMask? {
        guard var prog = p.programs else { return nil }
        guard let resolve else {
            throw LatentError.internalFailure("program decoder requested without a gene-set resolver", file: file)
        }
        let mask = try resolve(ds)
        mask.notes.forEach(notes)
        guard !mask.names.isEmpty else {
            throw LatentError.badInput(file, nil, "no gene set of \(prog.source) kept as a program: " + (mask.notes.last ?? ""),
                                       hint: "check that the gene names match the GMT (Ensembl vs symbols: --gene-names), or lower --min-genes")
        }
        prog.names = mask.names
        p.programs = prog
        p.latent = prog.count + prog.freeLatents
        p.decoder = .linear
        if let problem = p.problems().first { throw LatentError.badInput(nil, nil, problem) }
        return mask
    }

    /// The program and gate outputs: keys of `uns["vae"]` (see README-programs.md) and the text
    /// of the TSVs to write beside the embedding.
    static func programOutputs(_ p: VAEParameters, network net: VAENetwork<Float>, genes: [String], mask: ProgramMask?,
                               info: inout OrderedDict) -> [(name: String, text: String)] {
        var files: [(String, String)] = []
        let g = genes.count, k = p.latent
        let last = net.decoder.specs.count - 1
        let width = net.decoder.specs[last].outputs
        let w = net.parameters.values + net.decoder.w[last]
        if let prog = p.programs, let mask {
            let np = prog.count
            let names = prog.names + (0..<prog.freeLatents).map { "free_\($0)" }
            let norms = net.decoderRowNorms()
            let active = (0..<np).map { norms[$0] > 0 }
            let m = mask.matrix(genes: g, freeLatents: prog.freeLatents)
            info["latent_names"] = .strings(names)
            info["program_names"] = .strings(prog.names)
            info["program_active"] = .numbers(NumericArray(shape: [np], storage: .bool(active)))
            info["program_group_norm"] = .numbers(NumericArray(shape: [np], storage: .float64(Array(norms.prefix(np)))))
            info["program_genes_in_mask"] = .numbers(NumericArray(shape: [np], storage: .int64(mask.rows.map { Int64($0.count) })))
            info["program_free_latents"] = .int(Int64(prog.freeLatents))
            info["program_mask_kind"] = .string(prog.mask.rawValue)
            info["program_source"] = .string(prog.source)
            var s = "latent\tprogram\tgene\tweight\tin_mask\tactive\n"
            for l in 0..<k {
                let on = l < np ? active[l] : true
                for j in 0..<g {
                    let v = w[l * width + j], inMask = m[l * g + j] != 0
                    guard inMask || v != 0 else { continue }
                    s += "\(l)\t\(names[l])\t\(genes[j])\t\(v)\t\(inMask ? 1 : 0)\t\(on ? 1 : 0)\n"
                }
            }
            files.append((programFiles.weights, s))
            files.append((programFiles.coverage, mask.coverageTSV))
        }
        if let gates = net.deterministicGates() {
            let rows = net.decoder.specs[last].inputs
            var open = 0
            var perRow = [Int64](repeating: 0, count: rows)
            var s = "latent\tgene\tgate\n"
            for r in 0..<rows {
                for j in 0..<width where gates[r * width + j] > 0 {
                    open += 1
                    if j < g { perRow[r] += 1; s += "\(r)\t\(genes[j])\t\(gates[r * width + j])\n" }
                }
            }
            info["gate_density"] = .double(Double(open) / Double(max(1, gates.count)))
            info["gate_connected_genes"] = .numbers(NumericArray(shape: [rows], storage: .int64(perRow)))
            files.append((programFiles.gates, s))
        }
        return files
    }
}
