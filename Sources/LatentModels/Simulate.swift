import LatentCore

/// Synthetic counts with known generative factors, for tests, benchmarks and sanity checks.
///
/// Model: K gene programs; cell c has one independent factor per program, a_ck — continuous
/// (standard normal) or categorical (on/off with probability ½); gene g has a baseline mean μ_g
/// (log-normal) and NB dispersion θ_g (log-normal around `theta`); the cell's library size L_c is
/// log-normal. Then λ_cg = L_c · μ_g · exp(Σ_k effect_k · a_ck · [g ∈ program k]) / Σ_g' μ_g', and
/// the count is Gamma–Poisson: Poisson(Gamma(θ_g, λ_cg/θ_g)), i.e. NB(mean λ, dispersion θ).
public enum Simulate {
    public enum FactorKind: String, Sendable, Codable, CaseIterable { case continuous, categorical, mixed }

    public struct Parameters: Sendable {
        public var cells = 2000
        public var genes = 2000
        public var programs = 8
        public var programSize = 40
        public var effect = 1.0
        /// One effect per program (cycled when shorter), overriding `effect`: programs of unequal
        /// strength, as in real tissue, give the covariance distinct eigen-directions along the
        /// factors, which equal effects leave free to rotate.
        public var effects: [Double] = []
        public var factorKind: FactorKind = .mixed
        public var meanLibrarySize = 5000.0
        public var theta = 10.0
        // MARK: covariates
        /// Batches (samples): cells are assigned uniformly; each batch b shifts gene g's log mean
        /// by δ_bg ~ N(0, batchEffect²) and the cells' library sizes by a factor exp(ℓ_b),
        /// ℓ_b ~ N(0, (batchEffect/2)²). 1: no batches (the output is exactly as without them).
        public var batches = 1
        public var batchEffect = 0.5
        public init() {}
    }

    public struct Result: Sendable {
        public var dataset: Dataset
        public var programs: [(name: String, genes: [String])]
    }

    /// `geneSets` (optional) supplies program definitions: programs are drawn from sets with
    /// enough genes, and the gene universe is built from them, so enrichment can find them by name.
    ///
    /// In memory: the streaming generator (`Simulate.Stream`) asked for every cell at once, so a
    /// streamed simulation of the same seed has the same counts, whatever its chunk size.
    public static func run(_ p: Parameters, geneSets: [(name: String, genes: [String])]? = nil, rng: inout SeededRNG) throws -> Result {
        var stream = try Stream(p, geneSets: geneSets, rng: rng)
        let X = stream.next(p.cells)
        rng = stream.rng
        var ds = Dataset(X: .sparse(X), obs: stream.obs, var: stream.vars)
        ds.uns = stream.uns
        return Result(dataset: ds, programs: stream.programs)
    }

    /// The simulation's cells drawn in order, a chunk at a time: everything per gene and per cell
    /// but the counts is drawn up front (O(genes + cells × programs) memory), the counts of
    /// each chunk when asked, continuing one random stream, so chunks of any size give the same
    /// matrix. obs, var and uns are ready from the start (a streamed writer takes them up front).
    public struct Stream {
        public let parameters: Parameters
        public let programs: [(name: String, genes: [String])]
        public private(set) var obs: DataFrame
        public private(set) var vars: DataFrame
        public private(set) var uns = OrderedDict()
        public private(set) var rng: SeededRNG
        /// The next cell to draw.
        public private(set) var cell = 0
        let membership: [[Int]]
        let mu: [Double], muSum: Double, theta: [Double], library: [Double]
        let batchPlan: BatchPlan?
        let factors: [[Double]]
        let effect: [Double]

        public var cells: Int { parameters.cells }
        public var genes: Int { mu.count }

        public init(_ p: Parameters, geneSets: [(name: String, genes: [String])]? = nil, rng seed: SeededRNG) throws {
            var rng = seed
            guard p.cells >= 2, p.genes >= 2, p.programs >= 1 else {
                throw LatentError.badInput(nil, nil, "need at least 2 cells, 2 genes and 1 program")
            }
            var geneNames: [String]
            var programs: [(name: String, genes: [String])] = []
            if let sets = geneSets {
                // Programs: random sets of a usable size, pairwise disjoint so that each gene belongs to one factor.
                var order = Array(sets.indices)
                rng.shuffle(&order)
                var used = Set<String>()
                for i in order where programs.count < p.programs {
                    let s = sets[i]
                    guard s.genes.count >= 15, s.genes.count <= max(p.programSize * 3, 60) else { continue }
                    if s.genes.contains(where: used.contains) { continue }
                    programs.append((s.name, s.genes))
                    used.formUnion(s.genes)
                }
                guard programs.count == p.programs else {
                    throw LatentError.badInput(nil, nil, "the gene sets hold only \(programs.count) disjoint sets of usable size for \(p.programs) programs")
                }
                // Universe: program genes first, then other genes of the collection as background.
                geneNames = programs.flatMap(\.genes)
                var background = Array(Set(sets.flatMap(\.genes)).subtracting(used)).sorted()
                rng.shuffle(&background)
                geneNames += background.prefix(max(0, p.genes - geneNames.count))
                guard geneNames.count >= p.genes || !background.isEmpty else {
                    throw LatentError.badInput(nil, nil, "the gene sets name too few genes")
                }
                geneNames = Array(geneNames.prefix(max(p.genes, programs.reduce(0) { $0 + $1.genes.count })))
            } else {
                geneNames = (0..<p.genes).map { "GENE\($0)" }
                guard p.programs * p.programSize <= p.genes else {
                    throw LatentError.badInput(nil, nil, "\(p.programs) programs × \(p.programSize) genes do not fit in \(p.genes) genes")
                }
                var pool = Array(0..<p.genes)
                rng.shuffle(&pool)
                for k in 0..<p.programs {
                    let members = pool[(k * p.programSize)..<((k + 1) * p.programSize)].sorted().map { geneNames[$0] }
                    programs.append(("PROGRAM_\(k + 1)", members))
                }
            }
            let g = geneNames.count, n = p.cells, K = programs.count
            var membership = [[Int]](repeating: [], count: g)
            let index = Dictionary(uniqueKeysWithValues: geneNames.enumerated().map { ($1, $0) })
            for (k, prog) in programs.enumerated() { for name in prog.genes { if let j = index[name] { membership[j].append(k) } } }
            // Per-gene baseline and dispersion; per-cell library size and factors.
            let mu = (0..<g).map { _ in exp(rng.normal() * 1.2) }
            let muSum = mu.reduce(0, +)
            let theta = (0..<g).map { _ in p.theta * exp(rng.normal() * 0.5) }
            let library = (0..<n).map { _ in p.meanLibrarySize * exp(rng.normal() * 0.3 - 0.045) }
            // MARK: covariates — drawn from their own stream, so that the rest of the simulation
            // (programs, factors, counts up to the batch shifts) is the same with or without batches.
            let batchPlan = BatchPlan(p, genes: g, cells: n, rng: rng.stream(0xBA7C))
            var factors = [[Double]](repeating: [Double](repeating: 0, count: n), count: K)
            var kinds: [FactorKind] = []
            for k in 0..<K {
                let kind: FactorKind = p.factorKind == .mixed ? (k % 2 == 0 ? .continuous : .categorical) : p.factorKind
                kinds.append(kind)
                for c in 0..<n { factors[k][c] = kind == .continuous ? rng.normal() : (rng.uniform() < 0.5 ? 0 : 1) }
            }
            let effect = (0..<K).map { p.effects.isEmpty ? p.effect : p.effects[$0 % p.effects.count] }
            var obs = DataFrame(index: (0..<n).map { "cell\($0)" })
            for k in 0..<K {
                if kinds[k] == .continuous {
                    obs.set("factor_\(k + 1)", .float64(factors[k]))
                } else {
                    obs.set("factor_\(k + 1)", .categorical(codes: factors[k].map { Int32($0) }, categories: ["off", "on"], ordered: false))
                }
            }
            obs.set("library_size", .float64(batchPlan.map { b in (0..<n).map { library[$0] * b.libraryFactor(cell: $0) } } ?? library))
            if let b = batchPlan { obs.set("batch", b.column) }
            var vars = DataFrame(index: geneNames)
            vars.set("program", .string(membership.map { $0.map { programs[$0].name }.joined(separator: ";") }))
            vars.set("theta", .float64(theta))
            var uns = OrderedDict()
            var progDict = OrderedDict()
            for (k, prog) in programs.enumerated() {
                progDict[prog.name] = .dict(OrderedDict([("factor", .string("factor_\(k + 1)")), ("kind", .string(kinds[k].rawValue)),
                                                         ("effect", .double(effect[k])), ("genes", .strings(prog.genes))]))
            }
            uns["simulation"] = .dict(OrderedDict([
                ("programs", .dict(progDict)),
                ("params", .dict(OrderedDict([("effect", .double(p.effect)), ("theta", .double(p.theta)),
                                               ("mean_library_size", .double(p.meanLibrarySize))]))),
            ]))
            if let b = batchPlan, case .dict(var sim)? = uns["simulation"] {
                sim["batches"] = b.uns(p)
                uns["simulation"] = .dict(sim)
            }
            self.parameters = p
            self.programs = programs
            self.obs = obs
            self.vars = vars
            self.uns = uns
            self.rng = rng
            self.membership = membership
            self.mu = mu
            self.muSum = muSum
            self.theta = theta
            self.library = library
            self.batchPlan = batchPlan
            self.factors = factors
            self.effect = effect
        }

        /// The counts of the next `n` cells (fewer at the end) as CSR.
        public mutating func next(_ n: Int) -> SparseMatrix {
            let end = min(cells, cell + n)
            let g = genes
            var indptr = [0], indices = [Int32](), values = [Float]()
            for c in cell..<end {
                for j in 0..<g {
                    var shift = 0.0
                    for k in membership[j] { shift += effect[k] * factors[k][c] }
                    if let b = batchPlan { shift += b.logShift(cell: c, gene: j) }
                    let lambda = library[c] * mu[j] / muSum * exp(shift)
                    let count = rng.poisson(rng.gamma(shape: theta[j], scale: lambda / theta[j]))
                    if count > 0 { indices.append(Int32(j)); values.append(Float(count)) }
                }
                indptr.append(values.count)
            }
            let rows = end - cell
            cell = end
            return SparseMatrix(rows: rows, cols: g, indptr: indptr, indices: indices, values: values)
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
