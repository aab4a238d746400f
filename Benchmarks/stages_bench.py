"""`make bench stages` (bash Benchmarks/run.sh stages): every stage as a user pays for it.

    bash Benchmarks/run.sh stages            # full sizes, best of 3; Benchmarks/results/stages.md and .tsv
    bash Benchmarks/run.sh --small stages    # small data, one round; Benchmarks/data/stages_small.md and .tsv

Each latent subcommand runs as a user types it, with its defaults, and is timed as the whole
process: read, compute, write (wall clock, a fresh process). Beside it the anchor does read + the
same step + write in one Python process, timed inside from before the read to after the write
(interpreter start and imports excluded, which favours the anchor; the whole anchor process is
reported too):

  normalize   20,000 × 20,000 sparse counts (48.6 M non-zeros), `latent normalize --hvg 2000
              --hvg-flavor seurat_v3` | scanpy: read_h5ad, calculate_qc_metrics, filter_cells/genes
              (cells and genes without counts, which latent always drops), highly_variable_genes
              (seurat_v3, on the counts layer), normalize_total, log1p, the HVG subset, write_h5ad
  pca         30,000 × 2,000 dense log-normalised, `latent pca` (k = 50) | scanpy: read_h5ad,
              pp.pca(n_comps=50, svd_solver="covariance_eigh"), write_h5ad
  vae         10,000 × 2,000 dense, `latent vae --hidden 256,128 --latent 16 --epochs 5` (defaults
              otherwise: Gaussian, β = 1, batch 128, 10 % validation) | the same model in PyTorch
              (nn.Linear, Adam, same losses and scaling, same split): read_h5ad, train, embed, save
              the model and write_h5ad with the embedding
  enrich      the quickstart's 10 PCs of HSMM (2,000 HVGs), `latent enrich --gene-sets go_bp`
              (GSEA, 1,000 permutations) | GSEApy prerank, one ranked list per PC, same sets,
              permutations and size limits, the table written as TSV
  quickstart  `latent run Pipelines/quickstart.yaml` on an empty cache | the same steps as one
              Python script (scanpy + GSEApy), writing the same four outputs

Tools take turns (latent, anchor, latent, anchor, …) and each keeps its best of N rounds. Ratios
are anchor / latent (above 1: latent is faster); latent's own compute time (`--timing`: stage_s,
fit_s, train_s) is reported beside its whole process, so "whole / compute" says what read and write
add. The machine is named by its CPU (lscpu), AVX-512 or not, and the BLAS cores in use: the system
OpenBLAS latent links (its core name as loaded here, with OPENBLAS_CORETYPE as run.sh sets it),
numpy's BLAS (threadpoolctl) and PyTorch's (MKL or not, CPU capability).
"""
import argparse
import ctypes
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Benchmarks" / "data"
RESULTS = ROOT / "Benchmarks" / "results"
WORK = DATA / "stages"
sys.path.insert(0, str(ROOT / "Benchmarks"))
import bench  # noqa: E402  (counts_h5ad: the normalize data of bench.py and io)
import pca_bench  # noqa: E402  (dataset: the seeded log-normalised matrix)
import vae_bench  # noqa: E402  (dataset, torch_python: the .venv-torch logic)

HSMM = ROOT / "Examples" / "hsmm" / "hsmm_trapnell2014.h5ad"
GO_BP = ROOT / "GeneSets" / "go_bp.gmt"
QUICKSTART = ROOT / "Pipelines" / "quickstart.yaml"
CASES = ("normalize", "pca", "vae", "enrich", "quickstart")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- anchors (one Python process each)

TIMED = '''
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
T = {}
def lap(name, t=[None]):
    now = time.perf_counter()
    if t[0] is not None: T[name] = now - t[0]
    t[0] = now
'''

GSEA = '''
def gsea(a, key, names_col, gmt, dst, top=None):
    import gseapy, numpy as np, pandas as pd
    names = a.var[names_col].astype(str).to_numpy() if names_col else a.var_names.to_numpy()
    L = np.asarray(a.varm[key])
    tables = []
    for j in range(L.shape[1]):
        rnk = pd.Series(L[:, j], index=names)
        rnk = rnk[~rnk.index.duplicated()]
        r = gseapy.prerank(rnk=rnk, gene_sets=gmt, permutation_num=1000, min_size=15, max_size=500, seed=0,
                           threads=os.cpu_count(), outdir=None, verbose=False)
        t = r.res2d.copy()
        t.insert(0, "latent", j)
        tables.append(t.head(top) if top else t)
    pd.concat(tables).to_csv(dst, sep="\\t", index=False)
'''

NORMALIZE_PY = TIMED + '''
import anndata as ad, scanpy as sc
src, dst = sys.argv[1:3]
lap(None)
a = ad.read_h5ad(src)
lap("read")
a.var["mt"] = a.var_names.str.startswith(("MT-", "mt-"))
sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], percent_top=[50, 100, 200, 500], inplace=True)
sc.pp.filter_cells(a, min_counts=1)
sc.pp.filter_genes(a, min_cells=1)
a.layers["counts"] = a.X.copy()
sc.pp.highly_variable_genes(a, flavor="seurat_v3", n_top_genes=2000, layer="counts")
sc.pp.normalize_total(a)
sc.pp.log1p(a)
a = a[:, a.var["highly_variable"].to_numpy()].copy()
lap("step")
a.write_h5ad(dst)
lap("write")
print(json.dumps(T))
'''

PCA_PY = TIMED + '''
import anndata as ad, scanpy as sc
src, dst = sys.argv[1:3]
lap(None)
a = ad.read_h5ad(src)
lap("read")
sc.pp.pca(a, n_comps=50, svd_solver="covariance_eigh")
lap("step")
a.write_h5ad(dst)
lap("write")
print(json.dumps(T))
'''

VAE_PY = TIMED + '''
import math
import numpy as np, torch, anndata as ad
torch.set_num_threads(os.cpu_count())
src, dst, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
k, hidden, batch = 16, [256, 128], 128
lap(None)
a = ad.read_h5ad(src)
x = torch.from_numpy(np.asarray(a.X, dtype=np.float32))
lap("read")
torch.manual_seed(0)
n, g = x.shape
perm = torch.randperm(n)
nval = int(round(0.1 * n))
val, train = perm[:nval], perm[nval:]
def stack(dims):
    layers = []
    for i, (p, q) in enumerate(zip(dims, dims[1:])):
        layers.append(torch.nn.Linear(p, q))
        if i < len(dims) - 2: layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)
enc = stack([g, *hidden, 2 * k]); dec = stack([k, *reversed(hidden), g])
opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
def loss_of(xb):
    h = enc(xb); mu, lv = h[:, :k], h[:, k:]
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * lv)
    y = dec(z)
    recon = 0.5 * ((y - xb) ** 2).sum() / xb.shape[0]
    kl = 0.5 * (mu ** 2 + lv.exp() - 1 - lv).sum(1).mean()
    return recon + kl
for e in range(epochs):
    order = train[torch.randperm(len(train))]
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        if len(idx) < 2: continue
        opt.zero_grad(set_to_none=True)
        loss = loss_of(x[idx]); loss.backward(); opt.step()
    with torch.no_grad():
        vloss = sum(loss_of(x[val[i:i + batch]]).item() * len(val[i:i + batch]) for i in range(0, nval, batch)) / max(nval, 1)
lap("train")
with torch.no_grad():
    a.obsm["X_vae"] = enc(x)[:, :k].numpy()
lap("embed")
os.makedirs(dst, exist_ok=True)
torch.save({"encoder": enc.state_dict(), "decoder": dec.state_dict()}, os.path.join(dst, "model.pt"))
a.write_h5ad(os.path.join(dst, "embedding.h5ad"))
lap("write")
T["step"] = T.pop("train") + T.pop("embed")
T["torch"] = torch.__version__
T["mkl"] = bool(torch.backends.mkl.is_available())
T["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
print(json.dumps(T))
'''

ENRICH_PY = TIMED + GSEA + '''
import anndata as ad
src, dst, gmt = sys.argv[1:4]
lap(None)
a = ad.read_h5ad(src)
lap("read")
gsea(a, "PCs", "gene_short_name", gmt, dst + ".tmp")
lap("step")
os.replace(dst + ".tmp", dst)
lap("write")
print(json.dumps(T))
'''

QUICKSTART_PY = TIMED + GSEA + '''
import anndata as ad, scanpy as sc
src, out, gmt = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
lap(None)
a = ad.read_h5ad(src)
a.write_h5ad(os.path.join(out, "import.h5ad"))
lap("import")
a.var["mt"] = a.var_names.str.startswith(("MT-", "mt-"))
sc.pp.calculate_qc_metrics(a, qc_vars=["mt"], percent_top=[50, 100, 200, 500], inplace=True)
sc.pp.filter_genes(a, min_cells=3)
sc.pp.filter_cells(a, min_counts=1)
a.layers["counts"] = a.X.copy()
sc.pp.log1p(a)
sc.pp.highly_variable_genes(a, flavor="seurat", n_top_genes=2000)
a = a[:, a.var["highly_variable"].to_numpy()].copy()
a.write_h5ad(os.path.join(out, "normalized.h5ad"))
lap("normalize")
sc.pp.pca(a, n_comps=10)
a.write_h5ad(os.path.join(out, "pca.h5ad"))
lap("pca")
gsea(a, "PCs", "gene_short_name", gmt, os.path.join(out, "enrich.tsv"), top=3)
lap("enrich")
T["read"], T["step"], T["write"] = 0.0, sum(T.values()), 0.0
print(json.dumps(T))
'''


# ---------------------------------------------------------------- running

def run(cmd, env=None, cwd=None):
    """Wall seconds of a fresh process, with its stdout and stderr; raises on failure."""
    t0 = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, env=env, cwd=cwd)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return dt, p.stdout, p.stderr


def timing_of(stderr):
    for line in stderr.splitlines():
        if line.startswith("timing:"):
            out = {}
            for k, v in (kv.split("=", 1) for kv in line.split()[1:]):
                try:
                    out[k] = float(v)
                except ValueError:
                    pass          # flags such as streamed=false
            return out
    return {}


def anchor_env():
    n = str(os.cpu_count())
    return dict(os.environ, OMP_NUM_THREADS=n, MKL_NUM_THREADS=n, OPENBLAS_NUM_THREADS=n)


def cases(bin_, small):
    """Each case: latent command, its compute-time key, the anchor command, the anchor's name, target."""
    WORK.mkdir(parents=True, exist_ok=True)
    out = {}
    # normalize: the counts matrix of bench.py (20,000 × 20,000, ~2,420 non-zeros per cell).
    n, g, per_row = (3000, 4000, 400) if small else (20000, 20000, 2420)
    counts, _ = bench.counts_h5ad(n, g, per_row, small)
    out["normalize"] = dict(
        data=f"{n:,} × {g:,} sparse counts, seurat_v3 2,000 HVGs",
        latent=[bin_, "normalize", counts, "-o", WORK / "norm.h5ad", "--hvg", "2000", "--hvg-flavor", "seurat_v3",
                "--timing", "-q"],
        compute="stage_s",
        anchor=[sys.executable, "-c", NORMALIZE_PY, counts, WORK / "norm_scanpy.h5ad"], anchor_name="scanpy",
        target=("anchor", 3.0))
    # pca: pca_bench's seeded log-normalised matrix.
    n = 5000 if small else 30000
    dense = pca_bench.dataset(n)
    out["pca"] = dict(
        data=f"{n:,} × 2,000 dense log-normalised, k = 50",
        latent=[bin_, "pca", dense, "-o", WORK / "pca.h5ad", "--timing", "-q"], compute="fit_s",
        anchor=[sys.executable, "-c", PCA_PY, dense, WORK / "pca_scanpy.h5ad"], anchor_name="scanpy covariance_eigh",
        target=("anchor", 2.0, "compute", 1.2))
    # vae: vae_bench's seeded dense matrix; PyTorch from .venv-torch.
    n, epochs = (2000, 2) if small else (10000, 5)
    vdata = vae_bench.dataset(n, 2000, False)
    torch_py = os.environ.get("LATENT_TORCH_PYTHON") or vae_bench.torch_python()
    if torch_py:
        out["vae"] = dict(
            data=f"{n:,} × 2,000 dense, 256-128-16, {epochs} epochs",
            latent=[bin_, "vae", vdata, "-o", WORK / "vae", "--hidden", "256,128", "--latent", "16", "--epochs", epochs,
                    "--timing", "-q"], compute="train_s",
            anchor=[torch_py, "-c", VAE_PY, vdata, WORK / "vae_torch", epochs], anchor_name="PyTorch",
            target=("compute", 1.15))
    else:
        log("stages: PyTorch could not be installed into .venv-torch; vae left out")
    # enrich: the quickstart's PCA of HSMM, made once by latent (not timed).
    k = 2 if small else 10
    pca_in = WORK / f"hsmm_pca_k{k}.h5ad"
    if not pca_in.exists():
        run([bin_, "import", HSMM, "-o", WORK / "hsmm.h5ad", "-q"])
        run([bin_, "normalize", WORK / "hsmm.h5ad", "-o", WORK / "hsmm_norm.h5ad", "--method", "log1p", "--min-cells", 3,
             "--hvg", 2000, "-q"])
        run([bin_, "pca", WORK / "hsmm_norm.h5ad", "-o", pca_in, "--k", k, "-q"])
    out["enrich"] = dict(
        data=f"HSMM, 2,000 HVGs × {k} PCs, GO BP, 1,000 permutations",
        latent=[bin_, "enrich", pca_in, "--key", "varm/PCs", "--gene-sets", "go_bp", "--gene-names", "gene_short_name",
                "-o", WORK / "enrich.tsv", "-q"], compute=None,
        anchor=[sys.executable, "-c", ENRICH_PY, pca_in, WORK / "enrich_gseapy.tsv", GO_BP], anchor_name="GSEApy prerank",
        target=("anchor", 2.0))
    out["quickstart"] = dict(
        data="Pipelines/quickstart.yaml (HSMM: import, log1p + 2,000 HVGs, PCA k = 10, GSEA GO BP top 3)",
        latent=[bin_, "run", QUICKSTART, "--cache", WORK / "qs-cache", "--results", WORK / "qs-results", "-q"],
        compute=None, fresh=[WORK / "qs-cache", WORK / "qs-results"],
        anchor=[sys.executable, "-c", QUICKSTART_PY, HSMM, WORK / "qs-python", GO_BP], anchor_name="scanpy + GSEApy script",
        target=("anchor", 3.0))
    return out


def measure(case, rounds, warmup):
    """Best of `rounds` for latent and the anchor, taking turns; with `warmup`, one untimed run of
    each first (files in the page cache, numba's compiled kernels in scanpy's cache)."""
    best = {}
    if warmup:
        for tool in ("latent", "anchor"):
            for p in case.get("fresh", []):
                shutil.rmtree(p, ignore_errors=True)
            run(case[tool], env=anchor_env() if tool == "anchor" else None)
    for _ in range(rounds):
        for tool in ("latent", "anchor"):
            for p in case.get("fresh", []):
                shutil.rmtree(p, ignore_errors=True)
            env = anchor_env() if tool == "anchor" else None
            wall, stdout, stderr = run(case[tool], env=env)
            if tool == "latent":
                t = timing_of(stderr)
                r = dict(wall=wall, compute=t.get(case["compute"]) if case["compute"] else None, timing=t)
                key = wall
            else:
                info = json.loads(stdout.strip().splitlines()[-1])
                inside = info.get("read", 0) + info.get("step", 0) + info.get("write", 0)
                r = dict(wall=wall, inside=inside, info=info)
                key = inside
            if tool not in best or key < best[tool]["key"]:
                best[tool] = dict(r, key=key)
    return best


# ---------------------------------------------------------------- machine

def machine(torch_info):
    model = "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    flags = open("/proc/cpuinfo").read()
    avx512 = "avx512f" in flags
    # numpy's BLAS first: once the system OpenBLAS is loaded here, threadpoolctl would list it too.
    numpy_blas = "?"
    try:
        import numpy  # noqa: F401
        from threadpoolctl import threadpool_info
        numpy_blas = "; ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture', '')}".strip()
                               for i in threadpool_info() if i.get("user_api") == "blas") or "?"
    except ImportError:
        pass
    blas = "?"
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        blas = f"{lib.openblas_get_config().decode()}, core {lib.openblas_get_corename().decode()}"
    except (OSError, AttributeError):
        pass
    torch_blas = (f"torch {torch_info['torch']}, MKL {'yes' if torch_info['mkl'] else 'no'}, "
                  f"CPU capability {torch_info['cpu_capability']}") if torch_info else "not run"
    load = os.getloadavg()
    return [f"CPU: {model}, {os.cpu_count()} cores, AVX-512 {'yes' if avx512 else 'no'}",
            f"latent's BLAS: system OpenBLAS ({blas}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')})",
            f"numpy/scanpy BLAS: {numpy_blas}",
            f"PyTorch: {torch_blas}",
            f"Load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; {time.strftime('%Y-%m-%d %H:%M')}"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latent", required=True)
    ap.add_argument("--small", action="store_true", help="small data, one round; results under Benchmarks/data/")
    ap.add_argument("--repeat", type=int, help="rounds (best of N); default 3, or 1 with --small")
    ap.add_argument("--cases", nargs="*", default=list(CASES), choices=CASES)
    ap.add_argument("--no-warmup", action="store_true", help="no untimed first run (default with --small)")
    a = ap.parse_args()
    rounds = a.repeat or (1 if a.small else 3)
    warmup = not (a.small or a.no_warmup)
    all_cases = cases(a.latent, a.small)
    header = ["stage", "data", "latent s (whole process)", "latent compute s", "whole / compute", "anchor",
              "anchor s (read + step + write)", "anchor process s", "anchor / latent", "target", "result"]
    rows, torch_info = [], None
    for name in a.cases:
        if name not in all_cases:
            continue
        c = all_cases[name]
        log(f"stages: {name} ({c['data']}), best of {rounds}")
        b = measure(c, rounds, warmup)
        lt, an = b["latent"], b["anchor"]
        if name == "vae":
            torch_info = an["info"]
        ratio = an["inside"] / lt["wall"]
        over = lt["wall"] / lt["compute"] if lt["compute"] else None
        checks, verdict = [], True
        t = c["target"]
        for kind, value in zip(t[::2], t[1::2]):
            if kind == "anchor":
                checks.append(f"≥ {value:g}× {c['anchor_name'].split()[0]}")
                verdict &= ratio >= value
            else:
                checks.append(f"whole ≤ {value:g}× compute")
                verdict &= over is not None and over <= value
        rows.append([name, c["data"], f"{lt['wall']:.2f}", f"{lt['compute']:.2f}" if lt["compute"] else "–",
                     f"{over:.2f}" if over else "–", c["anchor_name"], f"{an['inside']:.2f}", f"{an['wall']:.2f}",
                     f"{ratio:.2f}×", "; ".join(checks), "PASS" if verdict else "FAIL"])
        log("  " + " | ".join(rows[-1]))
    notes = machine(torch_info) + [
        f"Best of {rounds} round(s); in each round latent and the anchor ran one after the other"
        + (", after one untimed run of each (page cache, numba's cached kernels)." if warmup else
           " (no warm-up run: the anchor's first run includes numba compiling scanpy's kernels)."),
        "latent: wall time of the whole `latent …` process (read, compute, write), as a user waits for it; compute "
        "is the stage's own time from --timing (normalize stage_s, pca fit_s, vae train_s).",
        "Anchor: read + step + write timed inside one Python process (interpreter start and imports excluded); "
        "'anchor process s' is the whole process. The ratio uses the inside time, which favours the anchor.",
        "Defaults on both sides: latent writes gzip (libdeflate, level 2) what it encodes and carries unchanged arrays over as stored; anndata's write_h5ad "
        "writes uncompressed.",
    ]
    if a.small:
        dest, name = DATA, "stages_small"
    else:
        dest, name = RESULTS, "stages"
    dest.mkdir(parents=True, exist_ok=True)
    md = ["# Stages as users pay for them: latent beside its anchors", ""] + [f"- {n}" for n in notes[:5]] + [""]
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "---|" * len(header))
    md += ["| " + " | ".join(r) + " |" for r in rows]
    md += [""] + [f"- {n}" for n in notes[5:]]
    (dest / f"{name}.md").write_text("\n".join(md) + "\n")
    with open(dest / f"{name}.tsv", "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")
    print("\n".join(md))
    print(f"written: {dest / name}.md and .tsv", file=sys.stderr)


if __name__ == "__main__":
    main()
