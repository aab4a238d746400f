import LatentCore
import LatentModels

/// What the page says about each latent, derived once from a run: its top genes, best gene sets,
/// and relation to the obs covariates.
extension Report {
    public struct Covariate: Sendable {
        public var name: String
        public var factor: Metrics.Factor
    }

    public struct LatentView: Sendable {
        public var index: Int
        public var up: [(gene: String, loading: Double)]
        public var down: [(gene: String, loading: Double)]
        /// best rows by FDR (then |NES|)
        public var sets: [EnrichmentRow]
        public var significantSets: Int
        /// (covariate, measure, value): Spearman for numeric/binary, η for categorical
        public var correlations: [(covariate: String, measure: String, value: Double)]
        public var variance: Double
        public var kl: Double?
        public var active: Bool
    }

    /// obs columns worth relating latents to: numeric non-constant ones, categoricals with 2–50
    /// categories (strings with few distinct values count as categorical); at most 24.
    public static func covariates(_ obs: DataFrame) -> [Covariate] {
        var out: [Covariate] = []
        for name in obs.columnNames {
            guard out.count < 24, let col = obs[name] else { continue }
            switch col {
            case .categorical(let codes, let cats, _):
                if (2...50).contains(cats.count) {
                    out.append(Covariate(name: name, factor: .init(name: name, values: .categorical(labels: codes.map(Int.init), categories: cats))))
                }
            case .string(let s):
                let cats = Array(Set(s)).sorted()
                if (2...50).contains(cats.count) && cats.count < s.count {
                    let idx = Dictionary(uniqueKeysWithValues: cats.enumerated().map { ($1, $0) })
                    out.append(Covariate(name: name, factor: .init(name: name, values: .categorical(labels: s.map { idx[$0]! }, categories: cats))))
                }
            case .bool(let b):
                if Set(b).count == 2 { out.append(Covariate(name: name, factor: .init(name: name, values: .categorical(labels: b.map { $0 ? 1 : 0 }, categories: ["False", "True"])))) }
            default:
                if let v = col.doubles, v.allSatisfy(\.isFinite), let lo = v.min(), let hi = v.max(), hi > lo {
                    out.append(Covariate(name: name, factor: .init(name: name, values: .continuous(v))))
                }
            }
        }
        return out
    }

    /// The obs column to colour distributions by, and each cell's group (at most 8 groups; a
    /// numeric column is cut at its tertiles).
    public static func colorGroups(_ obs: DataFrame, preferred: String?) -> (column: String, names: [String], group: [Int])? {
        let candidates = preferred.map { [$0] } ?? obs.columnNames
        for name in candidates {
            guard let col = obs[name] else { continue }
            switch col {
            case .categorical(let codes, let cats, _) where (2...8).contains(cats.count) || preferred != nil:
                let keep = Array(cats.prefix(8))
                return (name, keep + (cats.count > 8 ? ["other"] : []), codes.map { $0 < 0 ? keep.count : min(Int($0), keep.count) })
            case .string(let s):
                let cats = Array(Set(s)).sorted()
                guard (2...8).contains(cats.count) || preferred != nil else { continue }
                let keep = Array(cats.prefix(8))
                let idx = Dictionary(uniqueKeysWithValues: keep.enumerated().map { ($1, $0) })
                return (name, keep + (cats.count > 8 ? ["other"] : []), s.map { idx[$0] ?? keep.count })
            case .bool(let b):
                return (name, ["False", "True"], b.map { $0 ? 1 : 0 })
            default:
                guard preferred != nil, let v = col.doubles else { continue }
                let sorted = v.sorted()
                let (t1, t2) = (sorted[sorted.count / 3], sorted[2 * sorted.count / 3])
                return (name, ["low (≤ \(SVG.label(t1)))", "middle", "high (> \(SVG.label(t2)))"], v.map { $0 <= t1 ? 0 : $0 <= t2 ? 1 : 2 })
            }
        }
        return nil
    }

    public func latentViews(_ run: Run) -> [LatentView] {
        let covs = Self.covariates(run.obs)
        let corr = Metrics.correlations(codes: run.scores, factors: covs.map(\.factor)).filter { $0.metric != "pearson" }
        let active = Set(run.activeLatents)
        let kl = run.vae?.klPerLatent ?? run.history.map { h in run.scores.indices.compactMap { h.last("kl_z\($0)") } }
        var byLatent: [String: [EnrichmentRow]] = [:]
        for r in run.enrichment { byLatent[r.latent, default: []].append(r) }
        return run.scores.indices.map { k in
            var up: [(String, Double)] = [], down: [(String, Double)] = []
            if let l = run.loadings?[k] {
                let order = l.indices.sorted { l[$0] > l[$1] || (l[$0] == l[$1] && $0 < $1) }
                up = order.prefix(options.topGenes).filter { l[$0] > 0 }.map { (run.genes[$0], l[$0]) }
                down = order.reversed().prefix(options.topGenes).filter { l[$0] < 0 }.map { (run.genes[$0], l[$0]) }
            }
            let rows = (byLatent[String(k)] ?? []).sorted {
                $0.padj != $1.padj ? ($0.padj.isNaN ? false : $1.padj.isNaN ? true : $0.padj < $1.padj) : abs($0.nes) > abs($1.nes)
            }
            let sig = Set(rows.filter { $0.padj < options.fdr }.map(\.geneSet)).count
            let c = corr.filter { $0.latent == String(k) }.map { ($0.factor, $0.metric, $0.value) }
            return LatentView(index: k, up: up, down: down, sets: Array(rows.prefix(options.topSets)), significantSets: sig,
                              correlations: c, variance: Metrics.variance(run.scores[k]),
                              kl: kl.flatMap { k < $0.count ? $0[k] : nil }, active: active.contains(k))
        }
    }
}
