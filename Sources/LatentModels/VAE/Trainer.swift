import LatentCore

/// One row of `history.tsv`: the epoch's means over its minibatches (weighted by their sizes),
/// and the validation set's terms in evaluation mode.
public struct EpochRecord: Sendable, Equatable {
    public var epoch: Int
    public var train = StepTerms()
    public var validation: StepTerms? = nil
    /// The KL weight at the epoch's last step (β·warm-up; the TC weight for `tc`).
    public var klWeight: Double
    public var capacity: Double
    public var lr: Double
}

/// Cells as minibatches: rows of the (dense or CSR) input gathered into dense buffers. Only a
/// batch is ever dense, never the whole matrix.
struct BatchSource<T: NetScalar> {
    let input: MatrixData
    let target: MatrixData?
    let library: [Double]?

    func gather(_ m: MatrixData, _ rows: ArraySlice<Int>, into buf: UnsafeMutablePointer<T>) {
        let g = m.cols
        switch m {
        case .dense(let d):
            d.values.withUnsafeBufferPointer { v in
                if T.self == Float.self {
                    // Training's case: each row one memcpy straight into the encoder's input.
                    let out = UnsafeMutableRawPointer(buf).assumingMemoryBound(to: Float.self)
                    for (r, i) in rows.enumerated() { (out + r * g).update(from: v.baseAddress! + i * g, count: g) }
                    return
                }
                for (r, i) in rows.enumerated() {
                    let src = v.baseAddress! + i * g, dst = buf + r * g
                    for j in 0..<g { dst[j] = T(src[j]) }
                }
            }
        case .sparse(let s):
            // Row by row, so that each row's zeros and values land while it is still in L1.
            for (r, i) in rows.enumerated() {
                let dst = buf + r * g
                dst.update(repeating: 0, count: g)
                for p in s.indptr[i]..<s.indptr[i + 1] { dst[Int(s.indices[p])] = T(s.values[p]) }
            }
        }
    }
}

/// The values that change during training, as functions of the step (evaluated anew at every
/// step, never captured once: a frozen β is the classic warm-up bug).
public struct Schedule: Sendable {
    public var config: VAEParameters
    public var stepsPerEpoch: Int

    public init(config: VAEParameters, stepsPerEpoch: Int) {
        self.config = config
        self.stepsPerEpoch = max(1, stepsPerEpoch)
    }

    /// KL weight β·min(1, s / (warmup·steps per epoch)); capacity C = min(C_max, C_max·s / steps).
    public func weights(step s: Int) -> StepWeights {
        var w = config.beta
        if config.warmup > 0 { w *= min(1, Double(s) / (config.warmup * Double(stepsPerEpoch))) }
        let c = min(config.capacityMax, config.capacityMax * Double(s) / Double(config.capacitySteps))
        return StepWeights(klWeight: w, capacity: c)
    }

    public func learningRate(epoch e: Int) -> Double {
        switch config.lrSchedule {
        case .constant: return config.lr
        case .cosine: return config.lr * 0.5 * (1 + _cos(Double.pi * Double(e) / Double(config.epochs)))
        }
    }
}

public enum VAETrainer {
    public struct Outcome<T: NetScalar> {
        public var network: VAENetwork<T>
        public var history: [EpochRecord]
        public var bestEpoch: Int
        public var stoppedEarly: Bool
        public var trainCells: [Int]
        public var validationCells: [Int]
        /// Seconds training waited for the loader's next window (streamed input; beyond the
        /// first window's read, any wait is the loader stalling training), and the windows read.
        public var loaderWaitSeconds: Double = 0
        public var windowsRead: Int = 0
        /// Seconds the loader's thread spent reading windows (overlapped with training).
        public var loaderReadSeconds: Double = 0
    }

    /// Trains a VAE on `input` (cells × genes) held in memory. `target` is what the likelihood
    /// scores when it is not the input (raw counts for nb/zinb), `library` the cells' total counts.
    /// The same as `train(_:data:…)` on `VAETrainingData.inMemory` (which this is).
    public static func train<T: NetScalar>(_ type: T.Type, input: MatrixData, target: MatrixData? = nil, library: [Double]? = nil,
                                           config: VAEParameters, seed: UInt64, quiet: Bool = true,
                                           threads: Int = 1, file: String? = nil,
                                           covariates: TrainingCovariates? = nil, decoderMask: [UInt8]? = nil) throws -> Outcome<T> {
        let data = try VAETrainingData.inMemory(input, target: target, library: library, config: config, seed: seed, file: file)
        return try train(type, data: data, config: config, seed: seed, quiet: quiet, threads: threads, file: file,
                         covariates: covariates, decoderMask: decoderMask)
    }

    /// Trains a VAE on `data` (in memory or streamed from disk: the same bytes either way).
    ///
    /// Random streams (all from `seed`): 1 initialisation, 2 the validation split, 3 the
    /// reparameterisation noise, dropout and the discriminator's permutations, 1000 + e the
    /// order of epoch e (`ChunkShuffle`), 2000 + e the validation noise of epoch e.
    public static func train<T: NetScalar>(_ type: T.Type, data: VAETrainingData,
                                           config: VAEParameters, seed: UInt64, quiet: Bool = true,
                                           threads: Int = 1, file: String? = nil,
                                           covariates: TrainingCovariates? = nil, decoderMask: [UInt8]? = nil) throws -> Outcome<T> {
        let g = data.cols
        let root = SeededRNG(seed: seed)
        let trainCells = data.trainCells, valCells = data.validationCells
        let useVal = !valCells.isEmpty
        let library = data.library
        let hasTarget = data.target != nil
        let batch = min(config.batchSize, trainCells.count)
        var initRNG = root.stream(1)
        let net = VAENetwork<T>(genes: g, config: config, datasetSize: trainCells.count, maxRows: batch, rng: &initRNG,
                                covariates: covariates?.shape ?? .none, decoderMask: decoderMask)
        net.latentTerms = (covariates?.terms ?? []) + net.programLatentTerms()      // MARK: programs (HSIC)
        let covariateBuffers = covariates.map { CovariateBuffers<T>(side: $0.side, groups: $0.groups, maxRows: batch) }
        net.threads = threads
        var adam = Adam<T>(count: net.parameters.count)
        adam.threads = threads
        var noise = root.stream(3)
        let xbuf = UnsafeMutablePointer<T>.allocate(capacity: batch * g)
        let tbuf: UnsafeMutablePointer<T>? = hasTarget ? .allocate(capacity: batch * g) : nil
        let lbuf = UnsafeMutablePointer<T>.allocate(capacity: batch)
        defer { xbuf.deallocate(); tbuf?.deallocate(); lbuf.deallocate() }

        // Batches of the epoch; a last batch of one cell is dropped (batch norm and the TC
        // estimators need two).
        let schedule = Schedule(config: config, stepsPerEpoch: ChunkShuffle.batches(count: trainCells.count, batch: batch).count)
        func weights(step s: Int) -> StepWeights { schedule.weights(step: s) }
        func learningRate(epoch e: Int) -> Double { schedule.learningRate(epoch: e) }
        let shuffle = ChunkShuffle(rows: data.rows, trainCells: trainCells, groupBlocks: data.groupBlocks)
        let loader = ChunkLoader(shuffle: shuffle, x: data.x, target: data.target, whole: data.whole, windowGroups: data.windowGroups,
                                 prefetch: data.prefetch)
        func order(_ e: Int) -> [ChunkShuffle.Group] {
            var rng = root.stream(1000 + UInt64(e))
            return shuffle.epoch(&rng)
        }
        func loadRow(_ piece: (x: MatrixData, target: MatrixData?, first: Int), _ row: Int, _ slot: Int, _ cell: Int) {
            RowCopy.copy(piece.x, row: row, into: xbuf + slot * g)
            if let tbuf, let t = piece.target { RowCopy.copy(t, row: row, into: tbuf + slot * g) }
            if let library { lbuf[slot] = T(library[cell]) }
        }
        var tcSeen = 0.0
        func accumulate(_ sum: inout StepTerms, _ t: StepTerms, _ w: Double) {
            sum.loss += w * t.loss; sum.recon += w * t.recon; sum.kl += w * t.kl
            if t.hasTC { sum.tc += w * t.tc; sum.mi += w * t.mi; sum.dimKL += w * t.dimKL; tcSeen += w }
            if sum.klPerLatent.isEmpty { sum.klPerLatent = [Double](repeating: 0, count: t.klPerLatent.count) }
            for j in t.klPerLatent.indices { sum.klPerLatent[j] += w * t.klPerLatent[j] }
            accumulateExtra(&sum.extra, t.extra, w)
        }
        func scaled(_ t: StepTerms, _ total: Double) -> StepTerms {
            var t = t
            let tcTotal = max(tcSeen, 1)
            t.loss /= total; t.recon /= total; t.kl /= total; t.tc /= tcTotal; t.mi /= tcTotal; t.dimKL /= tcTotal
            t.klPerLatent = t.klPerLatent.map { $0 / total }
            t.extra = t.extra.map { ExtraTerm(name: $0.name, value: $0.value / total) }
            return t
        }

        var history: [EpochRecord] = []
        var step = 0
        var best = Double.infinity, bestEpoch = 0, sinceBest = 0, stoppedEarly = false
        var bestValues: [T]? = nil
        var bestStats: [([[T]], [[T]])] = []
        var progress = Progress("epoch", total: config.epochs, quiet: quiet)
        var next: [ChunkShuffle.Group]? = order(0)
        for epoch in 0..<config.epochs {
            let lr = learningRate(epoch: epoch)
            let groups = next!
            next = epoch + 1 < config.epochs ? order(epoch + 1) : nil
            var sum = StepTerms(), seen = 0.0
            tcSeen = 0
            var w = weights(step: step)
            try loader.forEachBatch(epoch: epoch, groups, next: next, batch: batch, load: loadRow) { bi, b in
                w = weights(step: step)
                // The logged TC estimate of the other objectives costs M²K; every 8th batch is plenty.
                let t = net.step(x: xbuf, target: tbuf.map { UnsafePointer($0) } ?? UnsafePointer(xbuf), library: library != nil ? UnsafePointer(lbuf) : nil,
                                 rows: b.count, weights: w, training: true, backward: true, estimateTC: bi % 8 == 0, rng: &noise,
                                 covariates: covariateBuffers?.load(b))
                guard t.loss.isFinite else {
                    throw LatentError.badInput(file, "epoch \(epoch + 1), step \(step + 1)",
                                               "training diverged: the loss is \(t.loss) (no output written)",
                                               hint: "lower --lr (now \(config.lr)), set --clip-norm, or check the input scale")
                }
                var gradScale = 1.0
                if let clip = config.clipNorm {
                    let norm = net.parameters.gradNorm()
                    if norm > clip { gradScale = clip / norm }
                }
                adam.update(net.parameters, lr: lr, gradScale: gradScale)
                net.proximalStep(lr: lr, adam: adam, progress: Double(epoch) / Double(config.epochs))          // MARK: programs (soft mask L1, group lasso)
                if let d = net.discriminator { d.train(z: UnsafePointer(net.z), rows: b.count, rng: &noise) }
                accumulate(&sum, t, Double(b.count))
                seen += Double(b.count)
                step += 1
            }
            var record = EpochRecord(epoch: epoch + 1, train: scaled(sum, seen), klWeight: w.klWeight, capacity: w.capacity, lr: lr)
            if useVal {
                var vrng = root.stream(2000 + UInt64(epoch))
                var vsum = StepTerms(), vseen = 0.0
                tcSeen = 0
                for r in ChunkShuffle.batches(count: valCells.count, batch: batch) {
                    let b = valCells[r]
                    for (slot, k) in r.enumerated() {
                        RowCopy.copy(data.validationX!, row: k, into: xbuf + slot * g)
                        if let tbuf, let t = data.validationTarget { RowCopy.copy(t, row: k, into: tbuf + slot * g) }
                        if let library { lbuf[slot] = T(library[b[b.startIndex + slot]]) }
                    }
                    let t = net.step(x: xbuf, target: tbuf.map { UnsafePointer($0) } ?? UnsafePointer(xbuf), library: library != nil ? UnsafePointer(lbuf) : nil,
                                     rows: b.count, weights: w, training: false, backward: false, rng: &vrng,
                                     covariates: covariateBuffers?.load(b))
                    accumulate(&vsum, t, Double(b.count))
                    vseen += Double(b.count)
                }
                var v = scaled(vsum, vseen)
                v.loss = v.recon + v.kl            // the negative ELBO, comparable across epochs
                record.validation = v
                if v.loss < best {
                    best = v.loss; bestEpoch = epoch + 1; sinceBest = 0
                    if config.patience > 0 {
                        bestValues = net.parameters.allValues
                        bestStats = [(net.encoder.runningMean, net.encoder.runningVar), (net.decoder.runningMean, net.decoder.runningVar)]
                    }
                } else { sinceBest += 1 }
            }
            history.append(record)
            progress.update(epoch + 1, detail: "loss \(fmt(record.train.loss))" + (record.validation.map { " val \(fmt($0.loss))" } ?? ""))
            if config.patience > 0 && useVal && sinceBest >= config.patience { stoppedEarly = true; break }
        }
        progress.finish()
        loader.drain()
        if let bestValues {
            for i in 0..<bestValues.count { net.parameters.values[i] = bestValues[i] }
            net.encoder.runningMean = bestStats[0].0; net.encoder.runningVar = bestStats[0].1
            net.decoder.runningMean = bestStats[1].0; net.decoder.runningVar = bestStats[1].1
        } else if !useVal { bestEpoch = history.count }
        net.foldGates()                              // MARK: programs (evaluation sees W ⊙ g)
        return Outcome(network: net, history: history, bestEpoch: bestEpoch, stoppedEarly: stoppedEarly,
                       trainCells: trainCells, validationCells: valCells,
                       loaderWaitSeconds: loader.waitSeconds, windowsRead: loader.windowsRead,
                       loaderReadSeconds: loader.readSeconds)
    }

    /// Adds w·(each extra term) to the running sums, by name (terms keep their first-seen order).
    static func accumulateExtra(_ sum: inout [ExtraTerm], _ t: [ExtraTerm], _ w: Double) {
        for e in t {
            if let i = sum.firstIndex(where: { $0.name == e.name }) { sum[i].value += w * e.value } else {
                sum.append(ExtraTerm(name: e.name, value: w * e.value))
            }
        }
    }

    static func fmt(_ x: Double) -> String {
        let r = (x * 1000).rounded() / 1000
        return "\(r)"
    }
}

#if canImport(Glibc)
import Glibc
func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
