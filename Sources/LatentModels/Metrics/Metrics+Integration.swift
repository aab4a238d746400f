import Foundation
import LatentCore

extension Metrics {
    /// The scIB integration metrics (Luecken et al. 2022) as scib-metrics (YosefLab) defines and
    /// scales them, on exact neighbours; the aggregate as its `Benchmarker` forms it.
    ///
    /// Bio conservation: isolated labels, k-means NMI and ARI, label silhouette, cLISI.
    /// Batch correction: BRAS (the batch silhouette the Benchmarker now uses), iLISI, kBET per
    /// label, graph connectivity, PCR comparison. Also reported, outside the aggregate: scib's
    /// classic batch silhouette (`silhouette_batch`) and the PCR of the batch before and after.
    /// Aggregates: the unweighted mean of each group's metrics (a NaN metric left out, as pandas
    /// does) and total = 0.4·batch + 0.6·bio. scib-metrics min–max scales each metric across the
    /// compared embeddings only when asked (`get_results(min_max_scale=True)`, off by default);
    /// one embedding alone cannot be scaled, so our numbers are its unscaled ones: compare runs by
    /// these directly, or rescale across the runs of one table.
    public struct IntegrationParameters: Sendable, Equatable {
        /// Neighbours (the cell itself included) for LISI, kBET's connectivities and graph
        /// connectivity: scib-metrics' Benchmarker uses 90, 50 and 15.
        public var lisiNeighbors = 90
        public var kbetNeighbors = 50
        public var graphNeighbors = 15
        public var kbetAlpha = 0.05
        /// k-means starts for NMI/ARI: scib-metrics' one; more make the partition less dependent on the seed.
        public var kmeansStarts = 1
        /// Subspace predictability: k-NN classifier neighbours and cross-validation folds.
        public var classifierNeighbors = 15
        public var folds = 5
        public var seed: UInt64 = 0
        public init() {}
    }

    /// A categorical factor's codes renumbered in the order of the category names (missing values
    /// as "nan", as pandas turns them into strings), so that "per label" loops visit labels in
    /// numpy's `np.unique` order whatever order the file stores its categories in: kBET per label
    /// carries state from one label to the next (see `kBETPerLabel`).
    static func sortedCodes(_ f: Factor) -> [Int] {
        guard case .categorical(let labels, let cats) = f.values else { return f.labels(bins: 2) }
        let names = cats + ["nan"]
        let order = names.indices.sorted { names[$0] != names[$1] ? names[$0] < names[$1] : $0 < $1 }
        var rank = [Int](repeating: 0, count: names.count)
        for (r, i) in order.enumerated() { rank[i] = r }
        return labels.map { rank[$0 < 0 ? cats.count : $0] }
    }

    public static let bioMetrics = ["isolated_labels", "nmi_kmeans", "ari_kmeans", "silhouette_label", "clisi"]
    public static let batchMetrics = ["bras", "ilisi", "kbet", "graph_connectivity", "pcr_comparison"]

    /// Integration rows for an embedding (cells × latents). `batch` and `labels` must be
    /// categorical; either may be absent (then only the metrics that need the other are left
    /// out, and there is no aggregate). `unintegrated` is the reference PCR compares against
    /// (scib-metrics: a PCA of the unintegrated data); without it PCR comparison is NaN.
    public static func integration(_ x: Points, batch: Factor?, labels: Factor?, unintegrated: Points?,
                                   parameters p: IntegrationParameters = .init()) throws -> [Row] {
        for f in [batch, labels].compactMap({ $0 }) {
            guard f.isCategorical else { throw LatentError.badInput(nil, f.name, "integration metrics need a categorical column (batches, cell types)") }
            guard f.count == x.n else { throw LatentError.badInput(nil, f.name, "\(f.count) values for \(x.n) cells") }
        }
        if let u = unintegrated, u.n != x.n { throw LatentError.badInput(nil, "unintegrated", "\(u.n) cells for \(x.n)") }
        guard x.n >= 3 else { throw LatentError.badInput(nil, nil, "integration metrics need at least 3 cells") }
        let b = batch.map(sortedCodes), l = labels.map(sortedCodes)
        let bName = batch?.name ?? "all", lName = labels?.name ?? "all"
        let kMax = max(p.lisiNeighbors, p.kbetNeighbors, p.graphNeighbors)
        let nn = exactNeighbors(x, k: min(kMax, x.n))
        func knn(_ k: Int) -> Neighbors { nn.prefix(min(k, nn.k)) }
        var rows: [Row] = []
        var values: [String: Double] = [:]
        func add(_ m: String, _ factor: String, _ v: Double) { rows.append(Row(m, factor: factor, v)); values[m] = v }

        // the label silhouettes serve the label ASW and the isolated-label score: one O(n²d) pass
        let labelSilhouettes = l.map { silhouetteSamples(x, labels: dense($0).codes) }
        if let l, let labelSilhouettes {
            add("silhouette_label", lName, silhouetteLabel(samples: labelSilhouettes))
            let c = kMeansNMIARI(x, labels: l, seed: p.seed, starts: p.kmeansStarts)
            add("nmi_kmeans", lName, c.nmi)
            add("ari_kmeans", lName, c.ari)
            add("clisi", lName, cLISI(knn(p.lisiNeighbors), labels: l))
            add("graph_connectivity", lName, graphConnectivity(knn(p.graphNeighbors), labels: l))
        }
        if let b {
            add("ilisi", bName, iLISI(knn(p.lisiNeighbors), batch: b))
            if let u = unintegrated {
                let pre = principalComponentRegression(u, covariate: b), post = principalComponentRegression(x, covariate: b)
                rows.append(Row("pcr_batch_unintegrated", factor: bName, pre))
                rows.append(Row("pcr_batch", factor: bName, post))
                add("pcr_comparison", bName, pre > 0 ? max(0, (pre - post) / pre) : .nan)
            } else {
                rows.append(Row("pcr_batch", factor: bName, principalComponentRegression(x, covariate: b)))
                add("pcr_comparison", bName, .nan)
            }
        }
        if let b, let l, let labelSilhouettes {
            add("isolated_labels", lName, isolatedLabels(samples: labelSilhouettes, labels: l, batch: b))
            add("bras", bName, silhouetteBatch(x, labels: l, batch: b, bras: true))
            rows.append(Row("silhouette_batch", factor: bName, silhouetteBatch(x, labels: l, batch: b)))
            add("kbet", bName, try kBETPerLabel(knn(p.kbetNeighbors), batch: b, labels: l, alpha: p.kbetAlpha))
            func group(_ names: [String]) -> Double {
                let v = names.compactMap { values[$0] }.filter { !$0.isNaN }
                return v.isEmpty ? .nan : mean(v)
            }
            let batchScore = group(batchMetrics), bioScore = group(bioMetrics)
            rows.append(Row("scib_batch_correction", batchScore))
            rows.append(Row("scib_bio_conservation", bioScore))
            rows.append(Row("scib_total", 0.4 * batchScore + 0.6 * bioScore))
        }
        return rows
    }
}
