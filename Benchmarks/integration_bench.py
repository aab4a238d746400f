"""Batch integration on simulated samples: `latent vae --batch-key` beside scvi-tools' SCVI and
PCA on the uncorrected data, the same data in the same run (issue 14).

    bash Benchmarks/run.sh integration            # 3 seeds, 2,000 cells, 3 batches, 40 epochs
    bash Benchmarks/run.sh --small integration    # 1 seed, 1,200 cells, 15 epochs

Data: `latent simulate --batches 3 --batch-effect 0.3 --programs 4 --effect 2 --factors categorical`
(4 binary programs; the biology label of a cell is its on/off pattern over the first three
programs, 8 "cell types"; at --batch-effect 0.5 on every gene no model mixed the batches at all),
`latent normalize --hvg 1000` (raw counts kept in layers["counts"]). Models, all with 10 latents
and one hidden layer of 128: latent's NB VAE with the batch one-hot in every decoder layer and
per-batch dispersions (`--batch-key obs/batch --dispersion gene-batch`); scvi-tools' SCVI with
the same settings (gene-batch dispersion, NB, batch size 128, Adam 1e-3, no validation split,
2 torch threads, CPU); PCA (10 components of the scaled log-normalised data, no correction).

Metrics: the scIB set from `latent metrics --batch obs/batch --labels obs/label` (scib-metrics'
definitions on exact neighbours, cross-checked against scib-metrics in IntegrationMetricsTests;
PCR against the PCA of the uncorrected data, k-means best of 10 starts); the aggregates batch,
biology and total are its scib_batch_correction, scib_bio_conservation and scib_total, and the
criteria are judged on them. Besides, as a cross-check (columns sk_*), a small version written
here with scikit-learn (the scIB definitions as scib-metrics
implements them, simplified where noted): biology — label ASW ((silhouette + 1)/2), NMI and ARI
of k-means with k = number of labels, isolated-label-free cLISI (median inverse Simpson over 15
neighbours of the label, rescaled to [0, 1]); batch — batch ASW (1 − |silhouette of batch| within
each label, averaged), iLISI (median inverse Simpson of the batch over 15 neighbours, rescaled),
graph connectivity (largest connected component of each label's kNN subgraph). Aggregates:
batch = mean of the batch metrics, biology = mean of the biology metrics, total = 0.4·batch +
0.6·biology. The simplified version's iLISI (median inverse
Simpson over 15 uniformly weighted neighbours) reads 0 whenever most cells' 15 nearest
neighbours share their batch; scib-metrics' graph LISI (perplexity 30 over 90 neighbours) is
what the criteria use.

Time per epoch: latent's training seconds (--timing) over its epochs; SCVI's `train()` seconds
over its epochs (both single runs on the same 2 threads). scvi-tools lives in .venv-scvi
(installed from PyPI when missing; large).
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Benchmarks" / "data" / "integration"
RESULTS = ROOT / "Benchmarks" / "results"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], check=True, capture_output=True, text=True, **kw)


def scvi_python(venv):
    py = venv / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    if subprocess.run([py, "-c", "import scvi, sklearn"], capture_output=True).returncode != 0:
        log("installing scvi-tools into .venv-scvi (large download)")
        subprocess.run([py, "-m", "pip", "install", "-q", "scvi-tools", "scikit-learn"], check=True)
    return py


SCVI_SCRIPT = r"""
import sys, time, json
import numpy as np, anndata as ad, torch, scvi
path, out, epochs, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(2)
scvi.settings.seed = seed
a = ad.read_h5ad(path)
a.obs["batch"] = a.obs["batch"].astype(str).astype("category")
scvi.model.SCVI.setup_anndata(a, layer="counts", batch_key="batch")
m = scvi.model.SCVI(a, n_latent=10, n_hidden=128, n_layers=1, dispersion="gene-batch", gene_likelihood="nb", dropout_rate=0.0)
t = time.perf_counter()
m.train(max_epochs=epochs, batch_size=128, train_size=1.0, early_stopping=False, accelerator="cpu",
        plan_kwargs={"lr": 1e-3}, enable_progress_bar=False)
dt = time.perf_counter() - t
np.save(out, m.get_latent_representation())
print(json.dumps({"train_s": dt, "epochs": epochs}))
"""


def lisi(z, labels, k=15):
    from sklearn.neighbors import NearestNeighbors
    idx = NearestNeighbors(n_neighbors=k + 1).fit(z).kneighbors(z, return_distance=False)[:, 1:]
    codes, lab = np.unique(labels, return_inverse=True)
    simpson = np.empty(len(z))
    for i in range(len(z)):
        p = np.bincount(lab[idx[i]], minlength=len(codes)) / k
        simpson[i] = 1 / np.sum(p * p)
    return np.median(simpson), len(codes)


def metrics(z, batch, label, seed):
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score, silhouette_samples, silhouette_score
    from sklearn.neighbors import kneighbors_graph
    from scipy.sparse.csgraph import connected_components
    out = {}
    out["asw_label"] = (silhouette_score(z, label) + 1) / 2
    km = KMeans(n_clusters=len(np.unique(label)), n_init=10, random_state=seed).fit_predict(z)
    out["nmi"] = normalized_mutual_info_score(label, km)
    out["ari"] = adjusted_rand_score(label, km)
    c, n = lisi(z, label)
    out["clisi"] = (n - c) / (n - 1)
    asw = []
    for l in np.unique(label):
        m = label == l
        if len(np.unique(batch[m])) > 1:
            asw.append(np.mean(1 - np.abs(silhouette_samples(z[m], batch[m]))))
    out["asw_batch"] = float(np.mean(asw))
    i, nb = lisi(z, batch)
    out["ilisi"] = (i - 1) / (nb - 1)
    gc = []
    for l in np.unique(label):
        m = label == l
        g = kneighbors_graph(z[m], n_neighbors=min(15, m.sum() - 1))
        _, comp = connected_components(g, directed=False)
        gc.append(np.bincount(comp).max() / m.sum())
    out["graph_conn"] = float(np.mean(gc))
    out["bio"] = np.mean([out[k] for k in ("asw_label", "nmi", "ari", "clisi")])
    out["batch"] = np.mean([out[k] for k in ("asw_batch", "ilisi", "graph_conn")])
    out["total"] = 0.4 * out["batch"] + 0.6 * out["bio"]
    return out


def scib(latent, d, name, z, batch, label, z_pca):
    """The scIB set as `latent metrics` computes it (scib-metrics' definitions, exact neighbours;
    cross-checked against scib-metrics in IntegrationMetricsTests), PCR against PCA of the
    uncorrected data."""
    import anndata as ad
    import pandas as pd
    a = ad.AnnData(X=np.asarray(z, dtype=np.float32), obs=pd.DataFrame({"batch": pd.Categorical(batch), "label": pd.Categorical(label)},
                                    index=[str(i) for i in range(len(z))]))
    a.obsm["X"] = np.asarray(z, dtype=np.float32)
    a.obsm["X_pca"] = np.asarray(z_pca, dtype=np.float32)
    path = d / f"scib_{name}.h5ad"
    a.write_h5ad(path)
    out = run(latent, "metrics", path, "--key", "obsm/X", "--batch", "obs/batch", "--labels", "obs/label",
              "--unintegrated", "obsm/X_pca", "--kmeans-starts", 10, "--threads", 2, "-o", "-").stdout
    import csv, io
    vals = {r["metric"]: float(r["value"]) for r in csv.DictReader(io.StringIO(out), delimiter="\t") if r["latent"] == "all"}
    keep = ["isolated_labels", "nmi_kmeans", "ari_kmeans", "silhouette_label", "clisi", "bras", "ilisi", "kbet",
            "graph_connectivity", "pcr_comparison", "scib_bio_conservation", "scib_batch_correction", "scib_total"]
    return {k: vals.get(k, float("nan")) for k in keep}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", required=True)
    ap.add_argument("--small", action="store_true")
    ap.add_argument("--seeds", type=int, nargs="*")
    ap.add_argument("--tag", help="results name (default integration, integration_small)")
    ap.add_argument("--scvi-venv", type=Path, default=ROOT / ".venv-scvi", help="virtual environment with scvi-tools (made when missing)")
    a = ap.parse_args()
    import anndata as ad
    cells, epochs = (1200, 15) if a.small else (2000, 40)
    seeds = a.seeds if a.seeds is not None else ([0] if a.small else [0, 1, 2])
    py = scvi_python(a.scvi_venv)
    DATA.mkdir(parents=True, exist_ok=True)
    rows = []
    for seed in seeds:
        d = DATA / f"s{seed}_{cells}"
        d.mkdir(exist_ok=True)
        cache = d / f"rows_{epochs}.json"
        if cache.exists():   # a seed already scored (seeds can run as separate processes, then one run gathers them)
            rows += json.loads(cache.read_text())
            log(f"seed {seed}: scores from {cache}")
            continue
        seed_rows = []
        run(a.latent, "simulate", "--cells", cells, "--genes", 2000, "--programs", 4, "--effect", 2, "--factors", "categorical",
            "--batches", 3, "--batch-effect", 0.3, "--seed", seed, "-o", d / "sim.h5ad", "-q")
        run(a.latent, "normalize", d / "sim.h5ad", "--hvg", 1000, "-o", d / "norm.h5ad", "-q")
        norm = ad.read_h5ad(d / "norm.h5ad")
        batch = norm.obs["batch"].astype(str).to_numpy()
        label = (norm.obs["factor_1"].astype(str) + norm.obs["factor_2"].astype(str) + norm.obs["factor_3"].astype(str)).to_numpy()
        log(f"seed {seed}: latent vae")
        r = run(a.latent, "vae", d / "norm.h5ad", "-o", d / "vae", "--likelihood", "nb", "--batch-key", "obs/batch",
                "--dispersion", "gene-batch", "--latent", 10, "--hidden", 128, "--epochs", epochs, "--batch-size", 128,
                "--validation", 0, "--seed", seed, "--threads", 2, "--timing", "-q")
        t = dict(kv.split("=") for kv in r.stderr.strip().splitlines()[-1].replace("timing: ", "").split())
        z_latent = ad.read_h5ad(d / "vae" / "embedding.h5ad").obsm["X_vae"]
        log(f"seed {seed}: scvi-tools SCVI")
        s = run(py, "-c", SCVI_SCRIPT, d / "norm.h5ad", d / "scvi.npy", epochs, seed, env=dict(os.environ, OMP_NUM_THREADS="2"))
        st = json.loads(s.stdout.strip().splitlines()[-1])
        z_scvi = np.load(d / "scvi.npy")
        from sklearn.decomposition import PCA
        x = norm.X.toarray() if hasattr(norm.X, "toarray") else np.asarray(norm.X)
        x = (x - x.mean(0)) / np.maximum(x.std(0), 1e-8)
        z_pca = PCA(10, random_state=seed).fit_transform(x)
        for name, z, sec in (("latent", z_latent, float(t["train_s"]) / epochs), ("scvi", z_scvi, st["train_s"] / epochs), ("pca", z_pca, None)):
            m = {f"sk_{k}": v for k, v in metrics(np.asarray(z, dtype=np.float64), batch, label, seed).items()}
            m.update(scib(a.latent, d, name, z, batch, label, z_pca))
            m["batch"], m["bio"], m["total"] = m["scib_batch_correction"], m["scib_bio_conservation"], m["scib_total"]
            seed_rows.append(dict(seed=seed, model=name, s_per_epoch=sec, **{k: float(v) for k, v in m.items()}))
            log(f"  {name}: batch {m['batch']:.3f} bio {m['bio']:.3f} total {m['total']:.3f} (bench's sklearn version: batch "
                f"{m['sk_batch']:.3f} bio {m['sk_bio']:.3f}, iLISI {m['sk_ilisi']:.3f} vs {m['ilisi']:.3f})" + (f", {sec:.3f} s/epoch" if sec else ""))
        cache.write_text(json.dumps(seed_rows))
        rows += seed_rows
    import pandas as pd
    df = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    tag = a.tag or ("integration_small" if a.small else "integration")
    df.to_csv(RESULTS / f"{tag}.tsv", sep="\t", index=False)
    mean = df.groupby("model").mean(numeric_only=True).drop(columns="seed")
    import platform
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    main_cols = ["s_per_epoch", "isolated_labels", "nmi_kmeans", "ari_kmeans", "silhouette_label", "clisi", "bras", "ilisi", "kbet",
                 "graph_connectivity", "pcr_comparison", "bio", "batch", "total"]
    sk_cols = [c for c in mean.columns if c.startswith("sk_")]
    with open(RESULTS / f"{tag}.md", "w") as f:
        f.write(f"# Batch integration: latent vs scvi-tools SCVI vs PCA ({cells} cells, 3 batches, {epochs} epochs, seeds {seeds})\n\n")
        f.write(f"Machine: {cpu}, {os.cpu_count()} CPUs (both models on 2 threads; a shared host, so the timings are noisy).\n\n")
        f.write("scIB metrics from `latent metrics` (scib-metrics' definitions, exact neighbours; PCR against PCA of the uncorrected "
                "data), mean over seeds:\n\n")
        f.write(mean[main_cols].to_markdown(floatfmt=".3f") + "\n\n")
        f.write("Per seed:\n\n" + df[["seed", "model", "s_per_epoch", "bio", "batch", "total"]].to_markdown(index=False, floatfmt=".3f") + "\n\n")
        f.write("The bench's own simplified scikit-learn version (15 uniform neighbours for LISI, Euclidean batch ASW; a cross-check, "
                "not the criteria):\n\n" + mean[sk_cols].to_markdown(floatfmt=".3f") + "\n\n")
        f.write("Criteria (issue 14): latent batch ≥ scVI batch; latent bio ≥ scVI bio − 0.02; latent total ≥ PCA total + 0.08; "
                "latent s/epoch ≤ scVI s/epoch / 2.\n")
        L, S, P = mean.loc["latent"], mean.loc["scvi"], mean.loc["pca"]
        checks = [("batch ≥ scVI", L["batch"] >= S["batch"]), ("bio ≥ scVI − 0.02", L["bio"] >= S["bio"] - 0.02),
                  ("total ≥ PCA + 0.08", L["total"] >= P["total"] + 0.08), ("2× faster per epoch", L["s_per_epoch"] * 2 <= S["s_per_epoch"])]
        for c, ok in checks:
            f.write(f"- {c}: {'yes' if ok else 'NO'}\n")
    print((RESULTS / f"{tag}.md").read_text())


if __name__ == "__main__":
    main()
