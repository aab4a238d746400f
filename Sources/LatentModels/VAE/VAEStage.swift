import Foundation
import LatentCore
import LatentIO
import LatentPreprocess

/// The `vae` stage: an h5ad in, `OUT_DIR/{model.h5, embedding.h5ad, history.tsv}` out.
///
/// Input conventions: the encoder reads X (log-normalised or scaled, as `latent normalize`
/// writes it). gaussian scores X itself; bernoulli requires X in [0, 1] (`--scale minmax`, as
/// Tybalt); nb and zinb score the raw counts in `layers[countsLayer]` with each cell's total
/// count as its library size (scVI). The embedding keeps the input's X, obs and var and adds
/// `obsm["X_vae"]` (posterior means), `obsm["X_vae_logvar"]`, `varm["vae_loadings"]` and `uns["vae"]`.
public enum VAEStage {
    public struct Summary: Sendable {
        public var outputDirectory: String
        public var epochsRun: Int
        public var bestEpoch: Int
        public var stoppedEarly: Bool
        public var activeLatents: [Int]
        public var finalLoss: Double
        public var validationLoss: Double?
        /// Seconds spent reading, training, embedding (encoding + loadings) and writing.
        public var timing: (read: Double, train: Double, embed: Double, write: Double) = (0, 0, 0, 0)
        /// Whether X was trained on from disk, the seconds training waited for the loader, and
        /// the windows it read.
        public var streamed = false
        public var loaderWait = 0.0
        public var windowsRead = 0
        public var loaderRead = 0.0
    }

    /// X (or a layer) of `path` read by rows. CSC cannot be cut by rows: such a matrix is read
    /// whole, as before streaming, and served from memory.
    static func rowSource(_ path: String, layer: String? = nil) throws -> any MatrixSource {
        do {
            return try H5ADMatrixSource(path: path, layer: layer)
        } catch let e as LatentError where e.message.hasPrefix("CSC matrix cannot be streamed") {
            var warnings: [String] = []
            let ds = try H5AD.read(path, warnings: &warnings)
            guard let m = layer.map({ ds.layers[$0] }) ?? ds.X else { throw e }
            return InMemorySource(m)
        }
    }

    /// In memory when X (and the counts layer) take at most half of `budget`; else streamed, in
    /// chunks of at most a fifth of the budget (8 M entries at most, so reading overlaps work)
    /// and windows of as many shuffle groups as a fifth of the budget holds (at least one).
    public static func streaming(_ x: any MatrixSource, target: (any MatrixSource)?, budget: MemoryBudget)
        -> (stream: Bool, maxStored: Int, windowGroups: Int) {
        let perEntry = x.isSparse ? 8 : 4
        let tPerEntry = target.map { $0.isSparse ? 8 : 4 } ?? 0
        let bytes = x.storedCount(0..<x.rows) * perEntry + (target.map { $0.storedCount(0..<$0.rows) } ?? 0) * tPerEntry
        let stream = bytes > budget.bytes / 2
        let maxStored = min(budget.chunkEntries(bytesPerEntry: perEntry + tPerEntry, share: 0.2), 8 << 20)
        let groups = max(1, (x.rows + RowChunking.statBlock * ChunkShuffle.defaultGroupBlocks - 1) / (RowChunking.statBlock * ChunkShuffle.defaultGroupBlocks))
        let perGroup = max(1, bytes / groups)
        return (stream, maxStored, max(1, Int(Double(budget.bytes) * 0.2) / perGroup))
    }

    public static let files = (model: "model.h5", embedding: "embedding.h5ad", history: "history.tsv")

    @discardableResult
    /// `programs` resolves `p.programs`' gene sets against the dataset (the caller brings the
    /// gene-set matching, which lives above this module).
    ///
    /// X (and the counts layer of nb/zinb) are read in memory when they fit half of `budget`,
    /// else trained on from disk in windows of shuffle groups (`ChunkShuffle`) and encoded in
    /// chunks; the outputs are the same bytes either way. X and the layers are carried into the
    /// embedding as stored.
    public static func run(input: String, outputDirectory: String, parameters: VAEParameters, options: RunOptions,
                           toolVersion: String = "unknown", notes: (String) -> Void = { _ in },
                           compression: Compression = Compression(),
                           programs resolve: ((Dataset) throws -> ProgramMask)? = nil,
                           budget: MemoryBudget = .machineDefault) throws -> Summary {
        var p = parameters
        if let problem = p.problems().first { throw LatentError.badInput(nil, nil, problem) }
        let clock = Stopwatch()
        var warnings: [String] = []
        var ds = try H5AD.read(input, options: .init(readMatrices: false), warnings: &warnings)
        warnings.forEach(notes)
        let xFile = try rowSource(input)
        var tFile: (any MatrixSource)? = nil
        if p.likelihood == .nb || p.likelihood == .zinb {
            guard ds.layers[p.countsLayer] != nil else {
                throw LatentError.badInput(input, "layers/\(p.countsLayer)", "missing: the \(p.likelihood.rawValue) likelihood scores raw counts",
                                           hint: "`latent normalize` keeps them in layers[\"counts\"]; or use --likelihood gaussian")
            }
            tFile = try rowSource(input, layer: p.countsLayer)
        }
        // MARK: covariates
        let covariates = try p.covariates.map { try CovariateRun($0, config: p, dataset: ds, file: input) }
        // MARK: programs
        let programMask = try preparePrograms(&p, dataset: ds, file: input, resolve: resolve, notes: notes)
        let decoderMask = programMask?.matrix(genes: ds.nVars, freeLatents: p.programs?.freeLatents ?? 0)
        // MARK: end programs
        let plan = streaming(xFile, target: tFile, budget: budget)
        let names = Validate.Names(obs: ds.obs.index, vars: ds.var.index)
        var library: [Double]? = tFile == nil ? nil : [Double](repeating: 0, count: xFile.rows)
        // Every chunk is checked as it is read (the whole input when it is in memory).
        func check(_ range: Range<Int>, _ x: MatrixData, _ counts: MatrixData?) throws {
            try Validate.finite(x, first: range.lowerBound, names: names, file: input)
            if p.likelihood == .bernoulli {
                try Validate.within(x, first: range.lowerBound, names: names, lower: 0, upper: 1, file: input,
                                    purpose: "but the Bernoulli likelihood needs values in [0, 1]",
                                    hint: "scale with `latent normalize --scale minmax`, or use --likelihood gaussian")
            }
            if let counts {
                let key = "layers/\(p.countsLayer)"
                try Validate.counts(counts, first: range.lowerBound, names: names, file: input, key: key,
                                    purpose: "the \(p.likelihood.rawValue) likelihood needs raw counts")
                let lib = rowTotals(counts).total
                if let empty = lib.firstIndex(where: { $0 <= 0 }) {
                    throw LatentError.badInput(input, "\(key)[cell '\(ds.obs.index[range.lowerBound + empty])']",
                                               "cell has no counts over the \(ds.nVars) genes",
                                               hint: "filter empty cells first (`latent normalize --min-counts 1`)")
                }
                for (k, v) in lib.enumerated() { library![range.lowerBound + k] = v }
            }
        }
        var whole: MatrixData? = nil
        var tRead = 0.0
        // The training data (and a streamed run's windows) live only in this scope.
        let outcome: VAETrainer.Outcome<Float> = try {
            var data: VAETrainingData
            if plan.stream {
                data = try .streamed(x: xFile, target: tFile, config: p, seed: options.seed, maxStored: plan.maxStored,
                                     windowGroups: plan.windowGroups, file: input, visit: check)
            } else {
                let x = try xFile.read(0..<xFile.rows)
                whole = x
                data = try .inMemory(x, target: try tFile?.read(0..<xFile.rows), config: p, seed: options.seed, file: input, visit: check)
            }
            data.library = library
            Runtime.configureBLAS(threads: options.threads)
            tRead = clock.lap()
            // The loader reads the next window on one background thread. Training's BLAS threads
            // wait for each other at every product, so a reader that takes one of their cores
            // slows all of them: inflating on --threads threads as well cost a 2-thread training
            // 45 % of its speed on 2 cores (100,000 × 2,000 CSR); on one thread, with the
            // vectorised unshuffle, from disk ran at 0.72× the in-memory cells/s, no slower than
            // reading each window in turn on both cores (0.71×); with --threads 1 the reads are
            // hidden completely.
            let ioThreads = IOSettings.threads
            if plan.stream { IOSettings.threads = 1 }
            defer { IOSettings.threads = ioThreads }
            return try VAETrainer.train(Float.self, data: data, config: p, seed: options.seed, quiet: options.quiet,
                                        threads: options.threads, file: input,
                                        covariates: covariates?.training, decoderMask: decoderMask)
        }()
        let tTrain = clock.lap()
        let net = outcome.network
        let (mean, logvar) = try whole.map { net.encode($0, side: covariates?.networkSide) }
            ?? net.encode(source: xFile, maxStored: plan.maxStored, side: covariates?.networkSide)
        whole = nil
        let k = p.latent
        var kl = [Double](repeating: 0, count: k)
        var mu = [Double](repeating: 0, count: k), sq = [Double](repeating: 0, count: k)
        for i in 0..<mean.rows {
            for j in 0..<k {
                let m = Double(mean[i, j]), lv = Double(logvar[i, j])
                kl[j] += 0.5 * (m * m + _exp(lv) - 1 - lv)
                mu[j] += m; sq[j] += m * m
            }
        }
        let n = Double(mean.rows)
        kl = kl.map { $0 / n }
        let latentMean = mu.map { $0 / n }
        let latentStd = (0..<k).map { j in max(0, sq[j] / n - latentMean[j] * latentMean[j]).squareRoot() }
        let active = (0..<k).filter { kl[$0] > p.activeThreshold }
        let scale = library.flatMap { median($0) } ?? 1
        let loadings = net.loadings(at: mean, scaleFactor: scale, side: covariates?.networkSide)

        let tEmbed = clock.lap()
        ds.obsm["X_vae"] = .dense(mean)
        ds.obsm["X_vae_logvar"] = .dense(logvar)
        ds.varm["vae_loadings"] = .dense(loadings)
        let last = outcome.history.last!
        var info = OrderedDict([
            ("objective", .string(p.objective.rawValue)), ("beta", .double(p.beta)), ("gamma", .double(p.effectiveGamma)),
            ("alpha", .double(p.alpha)), ("latent", .int(Int64(k))), ("likelihood", .string(p.likelihood.rawValue)),
            ("decoder", .string(p.decoder.rawValue)),
            ("hidden", .numbers(NumericArray(shape: [p.hidden.count], storage: .int64(p.hidden.map { Int64($0) })))),
            ("seed", .int(Int64(options.seed))), ("epochs_run", .int(Int64(outcome.history.count))),
            ("best_epoch", .int(Int64(outcome.bestEpoch))), ("stopped_early", .bool(outcome.stoppedEarly)),
            ("kl_per_latent", .numbers(NumericArray(shape: [k], storage: .float64(kl)))),
            ("active_latents", .numbers(NumericArray(shape: [active.count], storage: .int64(active.map { Int64($0) })))),
            ("active_threshold", .double(p.activeThreshold)),
            ("final_train_loss", .double(last.train.loss)),
        ])
        if let v = last.validation { info["final_validation_loss"] = .double(v.loss) }
        // MARK: covariates
        if let covariates { for (key, value) in covariates.unsEntries(latent: k, genes: ds.nVars) { info[key] = value } }
        let extraFiles = programOutputs(p, network: net, genes: ds.var.index, mask: programMask, info: &info)   // MARK: programs
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        info["parameters"] = .string(String(decoding: try enc.encode(p), as: UTF8.self))
        ds.uns["vae"] = .dict(info)
        let model = VAEModelFile(parameters: p, network: net, genes: ds.var.index, latentMean: latentMean, latentStd: latentStd,
                                 scaleFactor: scale, loadings: loadings, klPerLatent: kl, covariates: covariates?.modelDesign)

        try writeDirectory(outputDirectory) { dir in
            try AtomicOutput.write(Data(historyTSV(outcome.history, objective: p.objective, latent: k).utf8), to: dir + "/" + files.history)
            try model.write(to: dir + "/" + files.model, toolVersion: toolVersion)
            for f in extraFiles { try AtomicOutput.write(Data(f.text.utf8), to: dir + "/" + f.name) }   // MARK: programs
            // The embedding is mostly the input: its unchanged X, layers and annotations are carried
            // over as stored (see H5AD.write); only the new keys are compressed.
            var c = compression
            c.threads = options.threads
            try H5AD.writeCarryingMatrices(ds, to: dir + "/" + files.embedding, compression: c)
        }
        return Summary(outputDirectory: outputDirectory, epochsRun: outcome.history.count, bestEpoch: outcome.bestEpoch,
                       stoppedEarly: outcome.stoppedEarly, activeLatents: active, finalLoss: last.train.loss,
                       validationLoss: last.validation?.loss, timing: (tRead, tTrain, tEmbed, clock.lap()),
                       streamed: plan.stream, loaderWait: outcome.loaderWaitSeconds, windowsRead: outcome.windowsRead,
                       loaderRead: outcome.loaderReadSeconds)
    }

    /// The per-epoch table; `NA` where a column does not apply.
    public static func historyTSV(_ history: [EpochRecord], objective: VAEParameters.Objective, latent k: Int) -> String {
        var s = "epoch\ttrain_loss\ttrain_recon\ttrain_kl\ttrain_tc\tval_loss\tval_recon\tval_kl\tbeta\tcapacity\tlr"
        for j in 0..<k { s += "\tkl_z\(j)" }
        // Extra loss terms (latent terms, penalties): one column each, train_<name>, NA in an epoch without it.
        var extraNames: [String] = []
        for r in history { for e in r.train.extra where !extraNames.contains(e.name) { extraNames.append(e.name) } }
        for name in extraNames { s += "\ttrain_\(name)" }
        s += "\n"
        func f(_ x: Double?) -> String { x.map { "\($0)" } ?? "NA" }
        for r in history {
            let v = r.validation
            let beta: Double? = (objective == .beta || objective == .tc) ? r.klWeight : nil
            let cap: Double? = objective == .capacity ? r.capacity : nil
            s += [String(r.epoch), f(r.train.loss), f(r.train.recon), f(r.train.kl), f(r.train.tc),
                  f(v?.loss), f(v?.recon), f(v?.kl), f(beta), f(cap), f(r.lr)].joined(separator: "\t")
            for j in 0..<k { s += "\t" + f(r.train.klPerLatent[j]) }
            for name in extraNames { s += "\t" + f(r.train.extra.first { $0.name == name }?.value) }
            s += "\n"
        }
        return s
    }

    /// Writes a directory's files so that a failure leaves the previous contents (or nothing):
    /// into a hidden sibling first, then each finished file renamed into place.
    static func writeDirectory(_ path: String, _ body: (String) throws -> Void) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: parent, isDirectory: &isDir), isDir.boolValue else {
            throw LatentError.badInput(path, nil, "parent directory \(parent) does not exist")
        }
        if fm.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue {
            throw LatentError.badInput(path, nil, "exists and is not a directory", hint: "-o names an output directory")
        }
        let tmp = parent + "/." + url.lastPathComponent + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: tmp)
        do {
            try fm.createDirectory(atPath: tmp, withIntermediateDirectories: false)
            try body(tmp)
            if !fm.fileExists(atPath: path) {
                if rename(tmp, path) != 0 { throw LatentError.internalFailure("cannot move the output directory into place", file: path) }
                return
            }
            for name in try fm.contentsOfDirectory(atPath: tmp).sorted() {
                if rename(tmp + "/" + name, path + "/" + name) != 0 {
                    throw LatentError.internalFailure("cannot move \(name) into place", file: path)
                }
            }
            try? fm.removeItem(atPath: tmp)
        } catch {
            try? fm.removeItem(atPath: tmp)
            throw error
        }
    }
}
