"""Learned L0 masks and disentanglement (issue 15): on the data of the β > 1 test
(IntegrationTests/test_vae.py: 2,000 cells, 400 genes, 4 continuous programs of unequal strength
0.4/0.6/0.8/1.0, NB counts), MIG with `--mask-decoder l0` against the same model without it, per
seed. MIG is `latent metrics`' (equal to scikit-learn's, checked in test_vae.py).

    python Benchmarks/l0_mig.py --latent .build/release/latent [--seeds 0 1 2] [--l0 0.01 0.05] [--decoder mlp|linear]

Results: Benchmarks/results/l0_mig.md and .tsv."""
import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def sh(*args):
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{r.stderr[-3000:]}")
    return r


def mig(bin_, emb, out):
    sh(bin_, "metrics", emb, "--key", "obsm/X_vae", "-o", out, "-q")
    m = pd.read_csv(out, sep="\t")
    return float(m[(m.metric == "mig") & (m.latent == "all") & (m.factor == "all")].value.iloc[0])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", default=str(ROOT / ".build" / "release" / "latent"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--l0", type=float, nargs="+", default=[0.01, 0.05])
    ap.add_argument("--beta", type=float, default=4)
    ap.add_argument("--decoder", default="mlp", help="mlp (hidden 64, as the β test) or linear")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "Benchmarks" / "results" / "l0_mig"))
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="l0_mig_"))
    sh(args.latent, "simulate", "--cells", 2000, "--genes", 400, "--programs", 4, "--factors", "continuous",
       "--effect", "0.4,0.6,0.8,1.0", "--seed", 3, "-o", work / "c.h5ad", "-q")
    sh(args.latent, "normalize", work / "c.h5ad", "--hvg", 400, "-o", work / "n.h5ad", "-q")
    rows = []
    for seed in args.seeds:
        for l0 in [None] + args.l0:
            out = work / f"s{seed}_{l0}"
            extra = [] if l0 is None else ["--mask-decoder", "l0", "--l0", l0]
            t = time.time()
            sh(args.latent, "vae", work / "n.h5ad", "-o", out, "--latent", 8, "--hidden", 64, "--decoder", args.decoder,
               "--epochs", args.epochs, "--likelihood", "nb", "--beta", args.beta, "--seed", seed,
               "--threads", args.threads, "-q", *extra)
            secs = time.time() - t
            density = ""
            if l0 is not None:
                import anndata as ad
                density = round(float(ad.read_h5ad(out / "embedding.h5ad").uns["vae"]["gate_density"]), 3)
            rows.append(dict(seed=seed, decoder=args.decoder, beta=args.beta, l0=l0 if l0 is not None else "none",
                             mig=round(mig(args.latent, out / "embedding.h5ad", out / "metrics.tsv"), 4),
                             gate_density=density, seconds=round(secs, 1)))
            print("\t".join(f"{k}={v}" for k, v in rows[-1].items()), flush=True)
    df = pd.DataFrame(rows)
    out = Path(args.out)
    df.to_csv(out.with_suffix(".tsv"), sep="\t", index=False)
    wide = df.pivot(index="seed", columns="l0", values="mig")
    lines = ["# L0 gates and MIG (issue 15)", "",
             f"Data: the β > 1 test's simulation (2,000 × 400, 4 continuous programs, effects 0.4/0.6/0.8/1.0, NB). "
             f"Model: `latent vae --latent 8 --hidden 64 --decoder {args.decoder} --likelihood nb --beta {args.beta:g} "
             f"--epochs {args.epochs}`, with and without `--mask-decoder l0 --l0 λ`. Machine: {os.uname().machine}, "
             f"{os.cpu_count()} cores (shared).", "",
             "| seed | " + " | ".join(f"MIG l0={c}" for c in wide.columns) + " |",
             "|---|" + "---|" * len(wide.columns)]
    for s, r in wide.iterrows():
        lines.append(f"| {s} | " + " | ".join(f"{v:.3f}" for v in r) + " |")
    for l0 in args.l0:
        d = df[df.l0 == l0]
        lines.append("")
        lines.append(f"λ = {l0:g}: gate density {', '.join(map(str, d.gate_density))}; MIG above no-gates on "
                     f"{int((wide[l0] > wide['none']).sum())} of {len(wide)} seeds.")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
