"""Reference values for Tests/LatentModelsTests/IntegrationMetricsTests.swift, computed by
scib-metrics itself (YosefLab/scib-metrics: its metric functions and its Benchmarker's
aggregate) on a small embedding with batches and cell types, plus scikit-learn for the
k-NN classifier behind subspace predictability.

scib-metrics searches neighbours approximately (pynndescent) in its Benchmarker and inside
kBET's diffusion step; here both use exact neighbours (the cell itself first, ties to the
lower index), as `latent metrics` does, so that differences are the metrics' and not the search's.

    python3 -m venv .venv-scib && .venv-scib/bin/pip install scib-metrics
    .venv-scib/bin/python Tests/LatentModelsTests/Fixtures/make_scib_fixture.py
"""
import json
from pathlib import Path

import anndata as ad
import numpy as np
import scib_metrics
import scib_metrics.nearest_neighbors as nnmod
from scib_metrics.benchmark import Benchmarker
from scib_metrics.nearest_neighbors import NeighborsResults
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score, normalized_mutual_info_score
from sklearn.neighbors import KNeighborsClassifier


def exact_neighbors(X, n_neighbors, **_):
    X = np.asarray(X, dtype=np.float64)
    D = cdist(X, X)
    np.fill_diagonal(D, -1.0)  # the cell itself first
    idx = np.argsort(D, axis=1, kind="stable")[:, :n_neighbors]
    np.fill_diagonal(D, 0.0)
    return NeighborsResults(indices=idx, distances=np.take_along_axis(D, idx, axis=1))


# kBET's diffusion step calls scib_metrics.nearest_neighbors.pynndescent by attribute
nnmod.pynndescent = exact_neighbors

rng = np.random.default_rng(14)
sizes = [90, 80, 70, 60]
labels = np.repeat(np.arange(4), sizes)
batch = rng.integers(0, 3, labels.size)
batch[labels == 3] = rng.integers(0, 2, (labels == 3).sum())  # an isolated label: two batches only
n, d, p = labels.size, 8, 20
# cell types live in latents 0-3 (types 0 and 1 close, so clusters and labels disagree a little),
# batches mostly in latents 4-7, partly mixed
centres = np.zeros((4, d))
centres[:, :4] = rng.normal(scale=2.5, size=(4, 4))
centres[1, :4] = centres[0, :4] + 1.6 * rng.normal(size=4) / 2
shift = np.zeros((3, d))
shift[:, 4:] = rng.normal(scale=0.8, size=(3, 4))
shift[:, :4] = rng.normal(scale=0.2, size=(3, 4))
X = centres[labels] + shift[batch] + rng.normal(size=(n, d))
centres_pre = rng.normal(scale=2.5, size=(4, p))
X_pre = centres_pre[labels] + rng.normal(scale=3.0, size=(3, p))[batch] + rng.normal(size=(n, p))

names_l = np.array(["T", "B", "NK", "Mono"])[labels]
names_b = np.array(["s1", "s2", "s3"])[batch]
adata = ad.AnnData(X=X_pre.astype(np.float32))
adata.obs["batch"] = names_b
adata.obs["cell_type"] = names_l
adata.obsm["X_emb"] = X.astype(np.float32)
adata.obsm["X_pre"] = X_pre.astype(np.float32)

bm = Benchmarker(adata, batch_key="batch", label_key="cell_type", embedding_obsm_keys=["X_emb"],
                 pre_integrated_embedding_obsm_key="X_pre", progress_bar=False)
bm.prepare(neighbor_computer=exact_neighbors)
bm.benchmark()
res = bm.get_results(min_max_scale=False, clean_names=False)
agg = {k: float(res.loc["X_emb", k]) for k in ["Batch correction", "Bio conservation", "Total"]}

Xe = adata.obsm["X_emb"]
nn90 = exact_neighbors(Xe, 90)
ref = {
    "silhouette_label": float(scib_metrics.silhouette_label(Xe, names_l)),
    "silhouette_batch": float(scib_metrics.silhouette_batch(Xe, names_l, names_b)),
    "bras": float(scib_metrics.bras(Xe, names_l, names_b)),
    "isolated_labels": float(scib_metrics.isolated_labels(Xe, names_l, names_b)),
    "ilisi": float(scib_metrics.ilisi_knn(nn90, names_b)),
    "clisi": float(scib_metrics.clisi_knn(nn90, names_l)),
    "graph_connectivity": float(scib_metrics.graph_connectivity(nn90.subset_neighbors(15), names_l)),
    "kbet": float(scib_metrics.kbet_per_label(nn90.subset_neighbors(50), names_b, names_l)),
    "pcr_comparison": float(scib_metrics.pcr_comparison(adata.obsm["X_pre"], Xe, names_b, categorical=True)),
    "pcr_batch": float(scib_metrics.utils.principal_component_regression(Xe, names_b, categorical=True)),
    "pcr_batch_unintegrated": float(scib_metrics.utils.principal_component_regression(adata.obsm["X_pre"], names_b, categorical=True)),
}
for k, v in bm._results["X_emb"].items():
    ref["benchmarker_" + k] = float(v)
km = scib_metrics.utils.KMeans(4)
km.fit(Xe)
clusters = np.asarray(km.labels_).astype(int)
ref["nmi_kmeans"] = float(normalized_mutual_info_score(names_l, clusters))
ref["ari_kmeans"] = float(adjusted_rand_score(names_l, clusters))

# subspace predictability: a 15-NN classifier, folds i mod 5, predictions pooled over folds
fold = np.arange(n) % 5


def cv_balanced_accuracy(Z, y):
    pred = np.empty(n, dtype=object)
    for f in range(5):
        tr, te = fold != f, fold == f
        pred[te] = KNeighborsClassifier(15, algorithm="brute").fit(Z[tr], y[tr]).predict(Z[te])
    return float(balanced_accuracy_score(y, pred.astype(str)))


sub = {
    "cell_type_own": cv_balanced_accuracy(Xe[:, :4], names_l),
    "cell_type_rest": cv_balanced_accuracy(Xe[:, 4:], names_l),
    "batch_own": cv_balanced_accuracy(Xe[:, 4:], names_b),
    "batch_rest": cv_balanced_accuracy(Xe[:, :4], names_b),
}

out = {
    "scib_metrics_version": scib_metrics.__version__,
    "X": Xe.astype(float).tolist(),
    "X_pre": adata.obsm["X_pre"].astype(float).tolist(),
    "batch": names_b.tolist(),
    "cell_type": names_l.tolist(),
    "kmeans_clusters": clusters.tolist(),
    "reference": ref,
    "aggregate": agg,
    "subspace": sub,
}
Path(__file__).with_name("scib_reference.json").write_text(json.dumps(out))
print(json.dumps({"reference": ref, "aggregate": agg, "subspace": sub}, indent=1))
