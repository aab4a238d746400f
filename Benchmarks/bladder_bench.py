"""Real batches: the bladder-cancer arrays of bladderbatch (57 samples, 5 processing batches,
cancer / normal / biopsy; /work/shared/data/expression/bladderbatch_hgu133a.h5ad), issue 14's
"real data" check: the batch-aware VAE's latents mix the batches better than the same model
blind to them (iLISI up) while still separating cancer from the rest.

    python Benchmarks/bladder_bench.py --latent .build/release/latent --seeds 0 1 2

Data: RMA log2 values, the 2,000 probe sets of largest variance, centred per probe set. Models
(Gaussian likelihood, 4 latents, one hidden layer of 64, 300 epochs of batches of 16, no
validation split): `plain`, `batch` (`--batch-key obs/batch`, the batch one-hot in every decoder
layer), `batch_enc` (also in the encoder, `--encode-covariates`); and PCA (4 components) of the
same matrix for reference.

Scores on μ: `latent metrics --batch obs/batch --labels obs/cancer` (scib-metrics' definitions:
iLISI, BRAS, label silhouette, …; 57 samples, so the LISI neighbourhoods hold most of the data)
and, for cancer vs the rest (normal and biopsy), the balanced accuracy of a 5-NN classifier and of
a logistic regression, leave-one-out, with scikit-learn.

The design is confounded (batch 1 is all cancer, 3 all normal, 4 all biopsy): mixing batches
completely would erase part of the biology, so "mixes batches while separating cancer" is the
check, not maximal mixing. Results: Benchmarks/results/bladder.md and .tsv.
"""
import argparse
import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Benchmarks" / "data" / "bladder"
RESULTS = ROOT / "Benchmarks" / "results"
# shared/ beside the checkout (../shared), or beside a worktree's parent; LATENT_SHARED overrides.
SHARED = Path(os.environ["LATENT_SHARED"]) if "LATENT_SHARED" in os.environ else next(
    (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.exists()), ROOT.parent / "shared")
SOURCE = SHARED / "data" / "expression" / "bladderbatch_hgu133a.h5ad"


def run(*args):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True)


def scib(latent, path, key, reference):
    out = run(latent, "metrics", path, "--key", key, "--batch", "obs/batch", "--labels", "obs/cancer", "--reference", reference,
              "--threads", 1, "-o", "-").stdout
    return {r["metric"]: float(r["value"]) for r in csv.DictReader(io.StringIO(out), delimiter="\t") if r["latent"] == "all"}


def classify(z, y):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    knn = cross_val_predict(make_pipeline(StandardScaler(), KNeighborsClassifier(5)), z, y, cv=LeaveOneOut())
    lr = cross_val_predict(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)), z, y, cv=LeaveOneOut())
    return balanced_accuracy_score(y, knn), balanced_accuracy_score(y, lr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", required=True)
    ap.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--epochs", type=int, default=300)
    a = ap.parse_args()
    import anndata as ad
    import pandas as pd
    DATA.mkdir(parents=True, exist_ok=True)
    src = ad.read_h5ad(a.source)
    x = np.asarray(src.X, dtype=np.float64)
    top = np.sort(np.argsort(-x.var(0), kind="stable")[:2000])
    x = x[:, top] - x[:, top].mean(0)
    obs = pd.DataFrame({"batch": pd.Categorical(src.obs["batch"].astype(str)), "cancer": pd.Categorical(src.obs["cancer"].astype(str)),
                        "status": pd.Categorical(np.where(src.obs["cancer"].astype(str) == "Cancer", "cancer", "non-cancer"))},
                       index=src.obs_names)
    data = ad.AnnData(X=x.astype(np.float32), obs=obs, var=pd.DataFrame(index=src.var_names[top]))
    path = DATA / "bladder_top2000.h5ad"
    data.write_h5ad(path)
    y = obs["status"].to_numpy()
    from sklearn.decomposition import PCA
    pca = ad.AnnData(X=x.astype(np.float32), obs=obs.copy())
    pca.obsm["X_pca"] = PCA(4, random_state=0).fit_transform(x).astype(np.float32)
    pca.write_h5ad(DATA / "pca.h5ad")
    rows = []

    def score(name, seed, emb, key, z):
        m = scib(a.latent, emb, key, path)
        knn, lr = classify(z, y)
        row = dict(seed=seed, model=name, ilisi=m.get("ilisi"), bras=m.get("bras"), silhouette_batch=m.get("silhouette_batch"),
                   silhouette_label=m.get("silhouette_label"), clisi=m.get("clisi"), pcr_comparison=m.get("pcr_comparison"), cancer_ba_knn=knn, cancer_ba_logistic=lr)
        rows.append(row)
        print(f"seed {seed} {name}: " + " ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)), file=sys.stderr, flush=True)

    score("pca", -1, DATA / "pca.h5ad", "obsm/X_pca", pca.obsm["X_pca"])
    for seed in a.seeds:
        for name, flags in (("plain", []), ("batch", ["--batch-key", "obs/batch"]),
                            ("batch_enc", ["--batch-key", "obs/batch", "--encode-covariates"])):
            out = DATA / f"s{seed}_{name}"
            run(a.latent, "vae", path, "-o", out, "--likelihood", "gaussian", "--latent", 4, "--hidden", 64, "--epochs", a.epochs,
                "--batch-size", 16, "--validation", 0, "--seed", seed, "--threads", 1, "-q", *flags)
            emb = out / "embedding.h5ad"
            score(name, seed, emb, "obsm/X_vae", np.asarray(ad.read_h5ad(emb).obsm["X_vae"], dtype=np.float64))
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "bladder.tsv", sep="\t", index=False)
    mean = df.groupby("model", sort=False).mean(numeric_only=True).drop(columns="seed")
    with open(RESULTS / "bladder.md", "w") as f:
        f.write(f"# bladderbatch (57 arrays, 5 batches): batch-aware vs plain VAE, seeds {a.seeds}, {a.epochs} epochs\n\n")
        f.write(df.to_markdown(index=False, floatfmt=".3f") + "\n\nMean over seeds:\n\n" + mean.to_markdown(floatfmt=".3f") + "\n\n")
        P, B = mean.loc["plain"], mean.loc["batch"]
        f.write("Criteria (issue 14): iLISI of the batch-aware model above the plain model's; cancer still separated "
                "(balanced accuracy of cancer vs the rest well above 0.5, near the plain model's).\n")
        f.write(f"- iLISI batch {B['ilisi']:.3f} vs plain {P['ilisi']:.3f}: {'yes' if B['ilisi'] > P['ilisi'] else 'NO'}\n")
        f.write(f"- cancer balanced accuracy (logistic, LOO) batch {B['cancer_ba_logistic']:.3f} vs plain {P['cancer_ba_logistic']:.3f}; "
                f"5-NN {B['cancer_ba_knn']:.3f} vs {P['cancer_ba_knn']:.3f}\n")
        f.write(f"\nMachine: {os.uname().nodename}, {os.cpu_count()} CPUs.\n")
    print((RESULTS / "bladder.md").read_text())


if __name__ == "__main__":
    main()
