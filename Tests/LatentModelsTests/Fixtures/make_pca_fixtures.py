"""sklearn PCA reference for PCATests, on the bundled HSMM data.

    .venv/bin/python Tests/LatentModelsTests/Fixtures/make_pca_fixtures.py

hsmm_log_hvg.h5ad: log1p(FPKM) of the 2,000 most variable genes (scanpy seurat flavor, genes in at
least 3 cells), dense float32, 271 cells — the input. Its obsm/varm/uns hold sklearn's
PCA(n_components=50, svd_solver="full") result: X_pca, PCs (genes × 50), variance, variance_ratio;
and uns["nmf"] the reconstruction error of NMF(n_components=10, init="random", solver="mu").
"""
from pathlib import Path
import warnings

import numpy as np
import scanpy as sc
import sklearn
from sklearn.decomposition import PCA

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent

a = sc.read_h5ad(ROOT / "Examples/hsmm/hsmm_trapnell2014.h5ad")
sc.pp.filter_genes(a, min_cells=3)
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, n_top_genes=2000, subset=True)
X = np.asarray(a.X.toarray(), dtype=np.float32)
b = sc.AnnData(X=X, obs=a.obs[[]].copy(), var=a.var[["gene_short_name"]].copy())
p = PCA(n_components=50, svd_solver="full").fit(X.astype(np.float64))
b.obsm["X_pca"] = p.transform(X.astype(np.float64)).astype(np.float32)
b.varm["PCs"] = p.components_.T.astype(np.float32)
b.uns["pca"] = {"variance": p.explained_variance_, "variance_ratio": p.explained_variance_ratio_}
from sklearn.decomposition import NMF
nmf = NMF(n_components=10, init="random", solver="mu", max_iter=200, random_state=0).fit(X.astype(np.float64))
b.uns["nmf"] = {"reconstruction_err": nmf.reconstruction_err_, "n_iter": nmf.n_iter_}
b.uns["versions"] = {"sklearn": sklearn.__version__, "scanpy": sc.__version__}
b.write_h5ad(OUT / "hsmm_log_hvg.h5ad", compression="gzip")
