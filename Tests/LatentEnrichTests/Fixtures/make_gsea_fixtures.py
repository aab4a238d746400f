"""Reference GSEA results from GSEApy's prerank on real loadings, for LatentEnrichTests.

Run from the repository root with the project venv (scanpy, gseapy from PyPI):
    .venv/bin/python Tests/LatentEnrichTests/Fixtures/make_gsea_fixtures.py

Loadings: PCA (scanpy, arpack) of the bundled HSMM myoblast data, log1p(FPKM), 3,000 most
variable genes (seurat flavor), first 3 components, gene symbols (duplicated symbols dropped).
Gene sets: PROGENy top-100 plus the GO BP sets with 15–500 of these genes whose names mention
muscle, cell cycle, DNA replication or chromosome segregation (the known biology of this data).
Writes hsmm_pca_loadings.tsv, hsmm_sets.gmt and gseapy_prerank.tsv.
"""
from pathlib import Path
import warnings

import numpy as np
import pandas as pd
import scanpy as sc
import gseapy

warnings.filterwarnings("ignore")
ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent

a = sc.read_h5ad(ROOT / "Examples/hsmm/hsmm_trapnell2014.h5ad")
sc.pp.filter_genes(a, min_cells=3)
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, n_top_genes=3000, subset=True)
sc.pp.pca(a, n_comps=3, svd_solver="arpack", random_state=0)
symbols = a.var["gene_short_name"].astype(str)
keep = ~symbols.duplicated(keep=False)
load = pd.DataFrame(a.varm["PCs"][keep.values], index=symbols[keep].values, columns=["PC1", "PC2", "PC3"])
load.index.name = "gene"
load.to_csv(OUT / "hsmm_pca_loadings.tsv", sep="\t", float_format="%.9g")

genes = set(load.index)
sets = {}
for line in open(ROOT / "GeneSets/progeny_top100.gmt"):
    f = line.rstrip("\n").split("\t")
    sets[f[0]] = f[2:]
words = ("MUSCLE", "CELL_CYCLE", "DNA_REPLICATION", "CHROMOSOME_SEGREGATION", "SARCOMERE", "MITOTIC")
for line in open(ROOT / "GeneSets/go_bp.gmt"):
    f = line.rstrip("\n").split("\t")
    n = len(genes.intersection(f[2:]))
    if any(w in f[0] for w in words) and 15 <= n <= 500:
        sets[f[0]] = f[2:]
with open(OUT / "hsmm_sets.gmt", "w") as g:
    for name, members in sets.items():
        g.write("\t".join([name, "na", *members]) + "\n")

rows = []
for pc in load.columns:
    rnk = load[pc].sort_values(ascending=False)
    res = gseapy.prerank(rnk=rnk, gene_sets=str(OUT / "hsmm_sets.gmt"), min_size=15, max_size=500,
                         permutation_num=1000, seed=0, threads=2, outdir=None, verbose=False)
    d = res.res2d.copy()
    d.insert(0, "latent", pc)
    rows.append(d[["latent", "Term", "ES", "NES", "NOM p-val", "FDR q-val", "Lead_genes"]])
pd.concat(rows).to_csv(OUT / "gseapy_prerank.tsv", sep="\t", index=False)
(OUT / "VERSIONS").write_text(f"gseapy {gseapy.__version__}\nscanpy {sc.__version__}\n")
print(len(sets), "sets;", load.shape)
