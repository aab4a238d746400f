"""scikit-learn / scanpy references for PCATests and FactorModelTests, on the bundled HSMM data.

    .venv/bin/python Tests/LatentModelsTests/Fixtures/make_pca_fixtures.py

Writes hsmm_log_hvg.h5ad (≈1.4 MB, committed):

- X: log1p(FPKM) of the 2,000 most variable genes (scanpy seurat flavor, genes in at least 3
  cells), dense float32, 271 cells × 2,000 genes — the input of every test.
- obsm["X_pca"], varm["PCs"] (genes × 50), uns["pca"]["variance", "variance_ratio"]:
  sklearn PCA(n_components=50, svd_solver="full") on X in float64 (the exact answer).
- varm["PCs_nocenter"] (genes × 20), uns["pca_nocenter"]["variance", "variance_ratio"]:
  scanpy.pp.pca(zero_center=False, n_comps=20, svd_solver="arpack"), i.e. sklearn's TruncatedSVD
  with ARPACK (scanpy's default, randomized with 5 power iterations, is 4 % off by the 20th
  component on this flat spectrum) — what our --no-center must reproduce.
- obsm["nmf_W0"], varm["nmf_H0"] (H0 transposed, genes × 10): sklearn's nndsvda start for
  k = 10 (`_initialize_nmf`, random_state=0), and uns["nmf"]["cd"|"mu"]["reconstruction_err",
  "n_iter"]: NMF(init="custom") from that start with each solver (tol=1e-4, max_iter=200).
  uns["nmf"]["random_mu"]: NMF(init="random", solver="mu", random_state=0), for a loose check.
- obsm["nmf_W0_exact"], varm["nmf_H0_exact"]: the same nndsvda start from an exact SVD
  (sklearn's comes from a randomized SVD whose 7th–10th singular vectors are off by 10–40 %
  on this flat spectrum; ours is exact, so it is compared with this one).
"""
from pathlib import Path
import warnings

import numpy as np
import scanpy as sc
import sklearn
from sklearn.decomposition import NMF, PCA
import sklearn.decomposition._nmf as sknmf
from sklearn.decomposition._nmf import _initialize_nmf

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent

a = sc.read_h5ad(ROOT / "Examples/hsmm/hsmm_trapnell2014.h5ad")
sc.pp.filter_genes(a, min_cells=3)
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, n_top_genes=2000, subset=True)
X = np.asarray(a.X.toarray(), dtype=np.float32)
X64 = X.astype(np.float64)
b = sc.AnnData(X=X, obs=a.obs[[]].copy(), var=a.var[["gene_short_name"]].copy())

p = PCA(n_components=50, svd_solver="full").fit(X64)
b.obsm["X_pca"] = p.transform(X64).astype(np.float32)
b.varm["PCs"] = p.components_.T.astype(np.float32)
b.uns["pca"] = {"variance": p.explained_variance_, "variance_ratio": p.explained_variance_ratio_}

nc = sc.AnnData(X=X64.copy())
sc.pp.pca(nc, n_comps=20, zero_center=False, svd_solver="arpack")
b.varm["PCs_nocenter"] = nc.varm["PCs"].astype(np.float32)
b.uns["pca_nocenter"] = {"variance": np.asarray(nc.uns["pca"]["variance"], dtype=np.float64),
                         "variance_ratio": np.asarray(nc.uns["pca"]["variance_ratio"], dtype=np.float64)}

k = 10
W0, H0 = _initialize_nmf(X64, k, init="nndsvda", random_state=0)
b.obsm["nmf_W0"] = W0.astype(np.float32)
b.varm["nmf_H0"] = H0.T.astype(np.float32)
randomized = sknmf._randomized_svd
sknmf._randomized_svd = lambda M, k, **kw: tuple(a[..., :k] if i == 0 else a[:k] for i, a in enumerate(np.linalg.svd(M, full_matrices=False)))
W1, H1 = _initialize_nmf(X64, k, init="nndsvda", random_state=0)
sknmf._randomized_svd = randomized
b.obsm["nmf_W0_exact"] = W1.astype(np.float32)
b.varm["nmf_H0_exact"] = H1.T.astype(np.float32)
nmf = {}
for solver in ("cd", "mu"):
    m = NMF(n_components=k, init="custom", solver=solver, tol=1e-4, max_iter=200)
    m.fit(X64, W=W0.astype(np.float32).astype(np.float64).copy(), H=H0.astype(np.float32).astype(np.float64).copy())
    nmf[solver] = {"reconstruction_err": float(m.reconstruction_err_), "n_iter": int(m.n_iter_)}
r = NMF(n_components=k, init="random", solver="mu", max_iter=200, random_state=0).fit(X64)
nmf["random_mu"] = {"reconstruction_err": float(r.reconstruction_err_), "n_iter": int(r.n_iter_)}
b.uns["nmf"] = nmf
b.uns["versions"] = {"sklearn": sklearn.__version__, "scanpy": sc.__version__, "numpy": np.__version__}
b.write_h5ad(OUT / "hsmm_log_hvg.h5ad", compression="gzip")
print({s: v for s, v in nmf.items()})
