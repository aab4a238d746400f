"""Reference outputs for `latent normalize`, made by scanpy (and pydeseq2) on the bundled real data.

Run from the repository root with the project venv (scanpy, scikit-misc, pydeseq2 from PyPI):
    .venv/bin/python Tests/LatentPreprocessTests/Fixtures/make_normalize_fixtures.py
Each scenario writes <name>.h5ad (the scanpy result: X, obs QC columns, var HVG columns) and
scenarios.json lists the latent parameters that must reproduce it. The Swift tests run
NormalizeStage with those parameters on the same input and compare.
"""
import json
import warnings
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent


def geuvadis():
    x = pd.read_csv(ROOT / "Examples/geuvadis/geuvadis_sex_counts.csv.gz", index_col=0)
    obs = pd.read_csv(ROOT / "Examples/geuvadis/geuvadis_sex_counts_obs.csv", index_col=0)
    a = ad.AnnData(X=x.to_numpy(dtype=np.float32), obs=obs.loc[x.index], var=pd.DataFrame(index=x.columns))
    a.obs["sex"] = a.obs["sex"].astype("category")
    return a


def hsmm():
    a = ad.read_h5ad(ROOT / "Examples/hsmm/hsmm_trapnell2014.h5ad")
    a.obs["Hours"] = a.obs["Hours"].astype(str).astype("category")
    return a


INPUTS = {"geuvadis": geuvadis, "hsmm": hsmm}


def run(name, source, params):
    a = INPUTS[source]()
    a.var["mt"] = a.var_names.str.startswith(("MT-", "mt-"))
    sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], inplace=True, percent_top=[50, 100, 200, 500])
    if params.get("min_counts"):
        sc.pp.filter_cells(a, min_counts=params["min_counts"])
    if params.get("min_genes"):
        sc.pp.filter_cells(a, min_genes=params["min_genes"])
    if params.get("min_cells"):
        sc.pp.filter_genes(a, min_cells=params["min_cells"])
    a.layers["counts"] = a.X.copy()
    method, flavor, n = params["method"], params.get("hvg_flavor", "seurat"), params.get("hvg")
    batch = params.get("batch_key")
    if n and flavor == "seurat_v3":
        sc.pp.highly_variable_genes(a, flavor="seurat_v3", n_top_genes=n, batch_key=batch, layer="counts")
    if method == "total":
        sc.pp.normalize_total(a)
        sc.pp.log1p(a)
    if n and flavor != "seurat_v3":
        sc.pp.highly_variable_genes(a, flavor=flavor, n_top_genes=n, batch_key=batch)
    if n:
        a = a[:, a.var["highly_variable"]].copy()
    if method == "pearson-residuals":
        a.X = sc.experimental.pp.normalize_pearson_residuals(a, layer="counts", theta=100, inplace=False)["X"]
    if params.get("scale") == "zscore":
        sc.pp.scale(a, max_value=params.get("max_value"))
    a.X = np.asarray(a.X.toarray() if hasattr(a.X, "toarray") else a.X, dtype=np.float32)
    del a.layers["counts"]
    a.uns = {}
    a.write_h5ad(OUT / f"{name}.h5ad", compression="gzip")
    return a


SCENARIOS = {
    "geuvadis_total_seurat": ("geuvadis", {"method": "total", "hvg": 2000, "hvg_flavor": "seurat"}),
    "geuvadis_total_cellranger": ("geuvadis", {"method": "total", "hvg": 2000, "hvg_flavor": "cell_ranger"}),
    "geuvadis_total_seurat_v3": ("geuvadis", {"method": "total", "hvg": 2000, "hvg_flavor": "seurat_v3"}),
    "geuvadis_seurat_batch": ("geuvadis", {"method": "total", "hvg": 1000, "hvg_flavor": "seurat", "batch_key": "sex"}),
    "geuvadis_seurat_v3_batch": ("geuvadis", {"method": "total", "hvg": 1000, "hvg_flavor": "seurat_v3", "batch_key": "sex"}),
    "geuvadis_pearson": ("geuvadis", {"method": "pearson-residuals", "hvg": 1500, "hvg_flavor": "seurat_v3"}),
    "geuvadis_zscore": ("geuvadis", {"method": "total", "hvg": 1000, "hvg_flavor": "seurat", "scale": "zscore", "max_value": 10}),
    "hsmm_total_seurat": ("hsmm", {"method": "total", "min_genes": 1000, "min_cells": 3, "hvg": 2000, "hvg_flavor": "seurat"}),
    "hsmm_total_cellranger": ("hsmm", {"method": "total", "min_cells": 3, "hvg": 2000, "hvg_flavor": "cell_ranger"}),
    "hsmm_seurat_batch": ("hsmm", {"method": "total", "min_cells": 3, "hvg": 1500, "hvg_flavor": "seurat", "batch_key": "Hours"}),
}


def deseq2():
    from pydeseq2.preprocessing import deseq2_norm
    a = geuvadis()
    _, size_factors = deseq2_norm(a.X.astype(np.float64))
    pd.DataFrame({"sample": a.obs_names, "size_factor": size_factors}).to_csv(
        OUT / "geuvadis_deseq2_size_factors.tsv", sep="\t", index=False, float_format="%.17g")


if __name__ == "__main__":
    only = None
    manifest = {}
    for name, (source, params) in SCENARIOS.items():
        try:
            run(name, source, params)
            manifest[name] = {"input": source, **params}
            print("wrote", name)
        except ImportError as e:  # seurat_v3 needs scikit-misc
            print("skipped", name, e)
    (OUT / "scenarios.json").write_text(json.dumps(manifest, indent=1) + "\n")
    deseq2()
    import scanpy, pydeseq2
    (OUT / "VERSIONS").write_text(f"scanpy {scanpy.__version__}\nanndata {ad.__version__}\npydeseq2 {pydeseq2.__version__}\n")
