import LatentCore

// MARK: covariates

extension Simulate {
    /// The planted batch effects of one simulation: each cell's batch, per-batch gene-wise
    /// log-fold shifts δ_bg and library-size log factors ℓ_b. nil when there is one batch.
    struct BatchPlan {
        var batchOf: [Int]
        /// batches × genes, row-major.
        var shift: [Double]
        var libraryLog: [Double]
        let genes: Int

        init?(_ p: Parameters, genes: Int, cells: Int, rng: SeededRNG) {
            guard p.batches > 1 else { return nil }
            var r = rng
            self.genes = genes
            batchOf = (0..<cells).map { _ in r.below(p.batches) }
            shift = (0..<(p.batches * genes)).map { _ in r.normal() * p.batchEffect }
            libraryLog = (0..<p.batches).map { _ in r.normal() * p.batchEffect / 2 }
        }

        /// δ_bg + ℓ_b for the cell's batch b.
        @inline(__always) func logShift(cell c: Int, gene j: Int) -> Double {
            let b = batchOf[c]
            return shift[b * genes + j] + libraryLog[b]
        }

        func libraryFactor(cell c: Int) -> Double { _simExp(libraryLog[batchOf[c]]) }

        var names: [String] { (0..<libraryLog.count).map { "batch\($0 + 1)" } }

        var column: Column { .categorical(codes: batchOf.map { Int32($0) }, categories: names, ordered: false) }

        /// uns["simulation"]["batches"]: the truth tests compare against.
        func uns(_ p: Parameters) -> UnsValue {
            .dict(OrderedDict([
                ("obs_key", .string("batch")), ("names", .strings(names)), ("batch_effect", .double(p.batchEffect)),
                ("log_shift", .numbers(NumericArray(shape: [libraryLog.count, genes], storage: .float64(shift)))),
                ("library_log_factor", .numbers(NumericArray(shape: [libraryLog.count], storage: .float64(libraryLog)))),
            ]))
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) func _simExp(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Darwin
@inline(__always) func _simExp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
