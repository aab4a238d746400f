"""Reference values for Tests/LatentModelsTests/MetricsTests.swift, computed with the real
libraries the definitions come from: numpy's histogram discretisation and scikit-learn's
mutual_info_score (as disentanglement_lib's mig.py uses them), scipy's entropy for DCI's
aggregation and rankdata/pearsonr for correlations, numpy for the Gaussian total correlation.

    .venv/bin/python Tests/LatentModelsTests/Fixtures/make_metrics_fixture.py
"""
import json
from pathlib import Path

import numpy as np
import scipy.stats
from sklearn.metrics import mutual_info_score

rng = np.random.default_rng(7)
n = 400
f_cat = rng.integers(0, 3, n)
f_con = rng.normal(size=n)
codes = np.stack([
    f_con + 0.3 * rng.normal(size=n),
    0.5 * f_cat + rng.normal(size=n),
    rng.normal(size=n) + 0.2 * f_con,
])  # codes × cells


def discretize(x, bins=20):
    return np.digitize(x, np.histogram(x, bins)[1][:-1])


dz = np.stack([discretize(c) for c in codes])
ys = np.stack([f_cat, discretize(f_con)])
m = np.array([[mutual_info_score(ys[j], dz[i]) for j in range(2)] for i in range(3)])
h = np.array([mutual_info_score(ys[j], ys[j]) for j in range(2)])
s = np.sort(m, axis=0)[::-1]
mig = np.mean((s[0] - s[1]) / h)

imp = rng.random((3, 2)) * np.array([[3, 0.1], [0.2, 2], [0.5, 0.5]])
d_per = 1 - scipy.stats.entropy(imp.T + 1e-11, base=imp.shape[1])
dis = np.sum(d_per * imp.sum(axis=1) / imp.sum())
c_per = 1 - scipy.stats.entropy(imp + 1e-11, base=imp.shape[0])
com = np.sum(c_per * imp.sum(axis=0) / imp.sum())

cov = np.cov(codes)
tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])

out = {
    "codes": codes.tolist(),
    "factor_categorical": f_cat.tolist(),
    "factor_continuous": f_con.tolist(),
    "discretized_codes": dz.tolist(),
    "mutual_info": m.tolist(),
    "entropy": h.tolist(),
    "mig": mig,
    "importance": imp.tolist(),
    "dci_disentanglement": dis,
    "dci_completeness": com,
    "pearson": [scipy.stats.pearsonr(c, f_con)[0] for c in codes],
    "spearman": [scipy.stats.spearmanr(c, f_con)[0] for c in codes],
    "gaussian_tc": tc,
}
Path(__file__).with_name("metrics_reference.json").write_text(json.dumps(out))
