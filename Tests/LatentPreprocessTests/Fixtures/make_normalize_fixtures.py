"""Reference outputs for `latent normalize`, made by scanpy (and pydeseq2) on the bundled real data.

Run from the repository root with the project venv (scanpy, scikit-misc, pydeseq2 from PyPI):
    .venv/bin/python Tests/LatentPreprocessTests/Fixtures/make_normalize_fixtures.py [PREFIX ...]
Each scenario writes <name>.h5ad (the scanpy result: X, obs QC columns, var HVG columns) and
scenarios.json lists the latent parameters that must reproduce it. The Swift tests run
NormalizeStage with those parameters on the same input and compare. With PREFIX arguments only
the scenarios whose names start with one of them are made again (the others stay as they are).

The geuvadislog_* scenarios start from already log-normalised data (geuvadis_log_input.h5ad, made
here from the counts): scanpy's QC and HVG selection run on X as it is, normalize_total and log1p
skipped — what `latent normalize --method none` must reproduce.
"""
import json
import sys
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


LOG_INPUT = OUT / "geuvadis_log_input.h5ad"


def geuvadis_log():
    """A collaborator's log-normalised matrix: the geuvadis counts scaled to 10⁴ per sample, log1p,
    rounded to 3 decimals (as a shared table would be), 3,000 genes detected in at least 10 samples."""
    if not LOG_INPUT.exists():
        a = geuvadis()
        keep = np.flatnonzero((a.X > 0).sum(axis=0) >= 10)[:3000]
        a = a[:, keep].copy()
        x = a.X.astype(np.float64)
        a.X = np.round(np.log1p(x / x.sum(axis=1, keepdims=True) * 1e4), 3).astype(np.float32)
        a.write_h5ad(LOG_INPUT, compression="gzip")
    return ad.read_h5ad(LOG_INPUT)


INPUTS = {"geuvadis": geuvadis, "hsmm": hsmm, "geuvadis_log": geuvadis_log}


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
    "geuvadislog_none_seurat": ("geuvadis_log", {"method": "none", "hvg": 500, "hvg_flavor": "seurat"}),
    "geuvadislog_none_cellranger": ("geuvadis_log", {"method": "none", "hvg": 500, "hvg_flavor": "cell_ranger"}),
    "geuvadislog_none_seurat_batch": ("geuvadis_log", {"method": "none", "hvg": 400, "hvg_flavor": "seurat", "batch_key": "sex"}),
}


def deseq2():
    from pydeseq2.preprocessing import deseq2_norm
    a = geuvadis()
    _, size_factors = deseq2_norm(a.X.astype(np.float64))
    pd.DataFrame({"sample": a.obs_names, "size_factor": size_factors}).to_csv(
        OUT / "geuvadis_deseq2_size_factors.tsv", sep="\t", index=False, float_format="%.17g")


if __name__ == "__main__":
    only = sys.argv[1:]
    manifest = json.loads((OUT / "scenarios.json").read_text()) if only else {}
    for name, (source, params) in SCENARIOS.items():
        if only and not name.startswith(tuple(only)):
            continue
        try:
            run(name, source, params)
            manifest[name] = {"input": source, **params}
            print("wrote", name)
        except ImportError as e:  # seurat_v3 needs scikit-misc
            print("skipped", name, e)
    (OUT / "scenarios.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if only:
        sys.exit(0)
    deseq2()
    import scanpy, pydeseq2
    (OUT / "VERSIONS").write_text(f"scanpy {scanpy.__version__}\nanndata {ad.__version__}\npydeseq2 {pydeseq2.__version__}\n")
