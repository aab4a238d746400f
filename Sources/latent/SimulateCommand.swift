import ArgumentParser
import Foundation
import LatentCore
import LatentEnrich
import LatentIO
import LatentModels

extension Simulate.FactorKind: ExpressibleByArgument {}

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Synthetic counts with known gene programs: true factors in obs, programs in uns and as a GMT.",
        discussion: """
        Examples:
          latent simulate --cells 2000 --genes 3000 --programs 8 --seed 1 -o sim.h5ad
          latent simulate --programs 8 --gene-sets progeny_top100 -o sim.h5ad --gmt sim_programs.gmt
          latent simulate --batches 3 --batch-effect 0.5 -o sim_batches.h5ad

        --batches N assigns cells to N batches (obs["batch"]); each batch shifts every gene's log \
        mean by a draw from N(0, S²) (S = --batch-effect) and its cells' library sizes by a factor \
        exp(N(0, (S/2)²)); the shifts are in uns["simulation"]["batches"].
        """
    )

    @Option(name: .shortAndLong, help: "Output .h5ad path.") var output: String
    @Option(help: "Number of cells.") var cells: Int = 2000
    @Option(help: "Number of genes.") var genes: Int = 2000
    @Option(help: "Number of gene programs (one factor each).") var programs: Int = 8
    @Option(name: .customLong("program-size"), help: "Genes per program (without --gene-sets).") var programSize: Int = 40
    @Option(help: "Log-fold effect of a unit of factor activity on its program's genes; a comma list gives one per program (cycled), e.g. 1,1.5,2,2.5.") var effect: String = "1.0"
    @Option(help: "continuous | categorical | mixed (alternating).") var factors: Simulate.FactorKind = .mixed
    @Option(help: "Mean NB dispersion θ (larger = closer to Poisson).") var theta: Double = 10
    @Option(name: .customLong("gene-sets"), help: "Draw programs from this GMT (or a shipped name) so enrichment can find them.") var geneSets: String?
    @Option(help: "Also write the programs as a GMT here (default: beside the output, .programs.gmt).") var gmt: String?
    // MARK: covariates
    @Option(help: "Number of batches (samples) with planted batch effects (1: none).") var batches: Int = 1
    @Option(name: .customLong("batch-effect"), help: "SD of the batches' gene-wise log-fold shifts (library sizes: half of it).") var batchEffect: Double = 0.5
    @OptionGroup var memory: MemoryOptions
    @OptionGroup var compression: CompressionOptions
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if !output.hasSuffix(".h5ad") { throw ValidationError("--output must end in .h5ad") }
        if cells < 2 || genes < 2 || programs < 1 { throw ValidationError("need --cells ≥ 2, --genes ≥ 2, --programs ≥ 1") }
        if !(theta > 0) { throw ValidationError("--theta must be positive") }
        if batches < 1 { throw ValidationError("--batches must be at least 1") }
        if !(batchEffect >= 0 && batchEffect.isFinite) { throw ValidationError("--batch-effect must be 0 or more") }
        _ = try effects()
    }

    func effects() throws -> [Double] {
        let parts = effect.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, values.count == parts.count, values.allSatisfy(\.isFinite) else {
            throw ValidationError("--effect '\(effect)': expected a number or a comma list of numbers")
        }
        return values
    }

    func run() throws {
        let run = global.run
        let rng = run.rng()
        var p = Simulate.Parameters()
        p.cells = cells; p.genes = genes; p.programs = programs; p.programSize = programSize
        p.effects = try effects(); p.effect = p.effects[0]; p.factorKind = factors; p.theta = theta
        p.batches = batches; p.batchEffect = batchEffect
        var sets: [(name: String, genes: [String])]? = nil
        if let g = geneSets { sets = try GMT.read(try Resources.resolveGeneSets(g)).map { ($0.name, $0.genes) } }
        // One generator either way: cells drawn a chunk at a time (rows of one stat block at a
        // time, fewer when the budget is small) go straight to the file, so memory stays at a chunk
        // plus per-cell annotations whatever --cells is; the bytes do not depend on the chunk.
        var stream = try Simulate.Stream(p, geneSets: sets, rng: rng)
        let writer = try H5ADStreamWriter(path: output, cols: stream.genes, sparse: true,
                                          compression: compression.setting(threads: run.threads))
        let chunkCells = max(1, memory.budget.chunkEntries(bytesPerEntry: 16) / max(1, stream.genes / 10))
        while stream.cell < stream.cells { try writer.append(.sparse(stream.next(chunkCells))) }
        writer.annotations = H5AD.Annotations(obs: stream.obs, var: stream.vars, uns: stream.uns)
        try writer.finish()
        let gmtPath = gmt ?? String(output.dropLast(5)) + ".programs.gmt"
        try GMT.write(stream.programs.map { GeneSet(name: $0.name, description: "latent simulate", genes: $0.genes) }, to: gmtPath)
        global.note("\(output): \(cells) cells × \(stream.genes) genes, \(programs) programs (\(gmtPath))")
        print(output)
    }
}
