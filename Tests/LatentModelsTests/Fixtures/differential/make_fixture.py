"""Reference for DifferentialActivityTests: a tiny fixed posterior (two groups of cells, three
latents) and the Bayes-factor test computed directly with numpy/scipy over every pair of cells,
as expiMap's exact test defines it: p = mean over pairs (a in group, b in reference) of
0.5 * erfc((mu_b - mu_a) / sqrt(2 (var_a + var_b))), log BF = log(p + 1e-12) - log(1 - p + 1e-12).

Run: /work/main/.venv/bin/python make_fixture.py  (writes posterior.tsv and expected.tsv here)."""
import os

import numpy as np
from scipy.special import erfc

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(15)
n_a, n_b, k = 7, 5, 3
shift = np.array([1.5, 0.0, -0.7])          # latent 0 up in A, 1 unchanged, 2 down
mu = np.vstack([rng.normal(shift, 0.6, (n_a, k)), rng.normal(0.0, 0.6, (n_b, k))]).astype(np.float32)
logvar = rng.normal(-1.0, 0.4, (n_a + n_b, k)).astype(np.float32)
group = ["A"] * n_a + ["B"] * n_b

with open(os.path.join(here, "posterior.tsv"), "w") as f:
    f.write("cell\tgroup\t" + "\t".join(f"mu{j}" for j in range(k)) + "\t" + "\t".join(f"logvar{j}" for j in range(k)) + "\n")
    for i in range(n_a + n_b):
        f.write(f"c{i}\t{group[i]}\t" + "\t".join(repr(float(x)) for x in mu[i]) + "\t" + "\t".join(repr(float(x)) for x in logvar[i]) + "\n")

m = mu.astype(np.float64)
v = np.exp(logvar.astype(np.float64))
a, b = np.arange(n_a), np.arange(n_a, n_a + n_b)
eps = 1e-12
with open(os.path.join(here, "expected.tsv"), "w") as f:
    f.write("group\treference\tlatent\tmean_group\tmean_reference\tprobability\tlog_bayes_factor\n")
    for g, ref, x, y in (("A", "B", a, b), ("B", "A", b, a)):
        for j in range(k):
            ma, mb = m[x, j][:, None], m[y, j][None, :]
            va, vb = v[x, j][:, None], v[y, j][None, :]
            p = float(np.mean(0.5 * erfc((mb - ma) / np.sqrt(2 * (va + vb)))))
            bf = np.log(p + eps) - np.log(1 - p + eps)
            f.write(f"{g}\t{ref}\t{j}\t{float(m[x, j].mean())!r}\t{float(m[y, j].mean())!r}\t{p!r}\t{float(bf)!r}\n")
