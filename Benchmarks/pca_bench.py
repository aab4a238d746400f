"""`latent pca` beside scanpy.pp.pca (arpack, randomized) and scikit-learn's covariance_eigh.

    bash Benchmarks/run.sh pca            # 20,000 and 100,000 cells × 2,000 genes, k = 50
    bash Benchmarks/run.sh --small pca    # 5,000 cells: a quick check

Data (seeded, generated once under Benchmarks/data/, git-ignored): counts from a low-rank model
of 20 gene programs — λ = s_i·exp(b_j + U_i·V_j), Poisson — normalised to 10,000 per cell and
log1p'd, dense float32: log-normalised single-cell data with real structure on top of noise.

Every method is timed on the same matrix, in its own process, best of --repeat runs:
- latent: the fit as `--timing` reports it (reading and writing excluded, like the Python timings
  of data already in memory), and the whole command's wall time and peak RSS beside it;
- scanpy.pp.pca(svd_solver="arpack" | "randomized") on an AnnData already in memory;
- sklearn PCA(svd_solver="covariance_eigh").fit_transform (the scores too, as the others give).

Accuracy is measured against a float64 reference (the eigendecomposition of the float64 gene
covariance): the largest relative error of the top-20 variance ratios and the largest principal
angle between the top-20 loading subspaces. GFLOP/s counts the dominant work of the covariance
methods, the n·g² of the Gram matrix, over the fit time; the machine's sgemm peak is measured with
the same OpenBLAS latent links (a 4,096³ sgemm).
"""
import argparse
import atexit
import functools
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Benchmarks" / "data"
RESULTS = ROOT / "Benchmarks" / "results"
G, K, PROGRAMS = 2000, 50, 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    avx512 = "avx512f" in open("/proc/cpuinfo").read()
    core = os.environ.get("OPENBLAS_CORETYPE", "auto")
    return (f"{os.cpu_count()} cores, {cpu}, AVX-512 {'yes' if avx512 else 'no'}, OPENBLAS_CORETYPE={core}, "
            f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")


def dataset(n):
    """The seeded log-normalised matrix, written once with anndata (dense float32)."""
    path = DATA / f"pca_lognorm_{n}x{G}.h5ad"
    if path.exists():
        return path
    import anndata as ad
    import pandas as pd
    DATA.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20_000 + n)
    b = rng.normal(-1.0, 1.2, G)                                   # gene baselines (log scale)
    v = rng.normal(0, 0.8, (PROGRAMS, G)) * (rng.random((PROGRAMS, G)) < 0.15)
    x = np.empty((n, G), dtype=np.float32)
    for lo in range(0, n, 10_000):                                 # chunks keep float64 temporaries small
        hi = min(n, lo + 10_000)
        u = rng.normal(0, 1, (hi - lo, PROGRAMS)) * np.linspace(1.2, 0.4, PROGRAMS)
        s = rng.lognormal(0, 0.35, (hi - lo, 1)) * 2.0
        counts = rng.poisson(s * np.exp(b + u @ v))
        total = np.maximum(counts.sum(axis=1, keepdims=True), 1)
        x[lo:hi] = np.log1p(counts * (1e4 / total)).astype(np.float32)
    a = ad.AnnData(X=x, obs=pd.DataFrame(index=[f"c{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[f"g{j}" for j in range(G)]))
    a.write_h5ad(path)
    return path


def reference(path):
    """Float64 top-k eigenpairs of the gene covariance, cached next to the data."""
    cache = path.with_suffix(".reference.npz")
    if cache.exists():
        r = np.load(cache)
        return r["ratio"], r["pcs"]
    import anndata as ad
    x = ad.read_h5ad(path).X
    mean = x.mean(axis=0, dtype=np.float64)
    c = np.zeros((G, G))
    for lo in range(0, x.shape[0], 10_000):
        blk = x[lo:lo + 10_000].astype(np.float64) - mean
        c += blk.T @ blk
    w, v = np.linalg.eigh(c)
    ratio, pcs = (w[::-1] / w.sum())[:K], v[:, ::-1][:, :K]
    np.savez(cache, ratio=ratio, pcs=pcs)
    return ratio, pcs


def accuracy(ratio, pcs, ref_ratio, ref_pcs, top=20):
    """(largest relative error of the `top` ratios, largest principal angle between the top
    subspaces in degrees)."""
    ratio = np.asarray(ratio, dtype=np.float64)[:top]
    err = float(np.max(np.abs(ratio - ref_ratio[:top]) / ref_ratio[:top]))
    a = np.asarray(pcs, dtype=np.float64)[:, :top]
    a, _ = np.linalg.qr(a)
    b = ref_pcs[:, :top]
    sin = np.linalg.norm(a - b @ (b.T @ a), 2)               # sine of the largest angle (exact near 0)
    return err, float(np.degrees(np.arcsin(min(1.0, sin))))


def run(cmd, env=None):
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{p.stderr[-3000:]}")
    lines = p.stderr.strip().splitlines()
    rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    return wall, rss, p.stdout, "\n".join(lines[:-1])


def time_latent(bin_, path, solver, repeat):
    import anndata as ad
    out = DATA / f"pca_out_{solver}.h5ad"
    best = None
    for _ in range(repeat):
        wall, rss, _, err = run([bin_, "pca", path, "-o", out, "--k", K, "--solver", solver, "--compression", "none",
                                 "--threads", "2", "--timing", "-q"])
        fit = next(float(kv.split("=")[1]) for line in err.splitlines() if line.startswith("timing:")
                   for kv in line.split()[1:] if kv.startswith("fit_s="))
        if best is None or fit < best["fit"]:
            best = {"fit": fit, "wall": wall, "rss": rss}
    a = ad.read_h5ad(out)
    best["ratio"] = np.asarray(a.uns["pca"]["variance_ratio"])
    best["pcs"] = np.asarray(a.varm["PCs"])
    best["method"] = str(a.uns["pca"]["params"]["method"])
    best["blocks"] = int(a.uns["pca"]["params"]["krylov_blocks"])
    out.unlink()
    return best


PY_ANCHORS = r"""
import json, sys, time, warnings
import numpy as np, anndata as ad, scanpy as sc
from sklearn.decomposition import PCA
warnings.filterwarnings("ignore")
path, k, method, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
a = ad.read_h5ad(path)
best = None
for _ in range(repeat):
    if method == "covariance_eigh":
        x = a.X
        t = time.perf_counter(); p = PCA(n_components=k, svd_solver="covariance_eigh"); p.fit_transform(x); dt = time.perf_counter() - t
        t = time.perf_counter(); PCA(n_components=k, svd_solver="covariance_eigh").fit(x); fit_only = time.perf_counter() - t
        ratio, pcs = p.explained_variance_ratio_, p.components_.T
    else:
        b = a.copy()
        t = time.perf_counter(); sc.pp.pca(b, n_comps=k, svd_solver=method, random_state=0); dt = time.perf_counter() - t
        fit_only = dt
        ratio, pcs = b.uns["pca"]["variance_ratio"], b.varm["PCs"]
    if best is None or dt < best["time"]:
        best = {"time": dt, "fit_only": fit_only, "ratio": [float(r) for r in ratio], "pcs": np.asarray(pcs).tolist()}
print(json.dumps(best))
"""


def time_anchor(path, method, repeat):
    wall, rss, out, _ = run([sys.executable, "-c", PY_ANCHORS, path, K, method, repeat])
    r = json.loads(out.strip().splitlines()[-1])
    r["rss"] = rss
    return r


SGEMM = r"""
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(void) {
  int n = 4096; float *a = malloc(4L*n*n), *b = malloc(4L*n*n), *c = malloc(4L*n*n);
  for (long i = 0; i < (long)n*n; i++) { a[i] = (float)(i % 13) / 13; b[i] = (float)(i % 7) / 7; }
  double best = 1e9;
  for (int r = 0; r < 3; r++) {
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec); if (dt < best) best = dt;
  }
  printf("%f %s\n", 2.0 * n * n * (double)n / best / 1e9, openblas_get_corename());
  return 0;
}
"""


GRAM = r"""
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
int main(int argc, char **argv) {
  long n = atol(argv[1]), g = atol(argv[2]);
  float *x = malloc(4L * n * g), *c = malloc(4L * g * g);
  for (long i = 0; i < n * g; i++) x[i] = (float)(i % 17) / 17;
  double best = 1e9;
  for (int r = 0; r < 3; r++) {
    struct timespec t0, t1; clock_gettime(CLOCK_MONOTONIC, &t0);
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, g, n, 1, x, g, 0, c, g);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec); if (dt < best) best = dt;
  }
  printf("%f\n", best);
  return 0;
}
"""


@functools.lru_cache(maxsize=None)
def compiled(source, name):
    """Builds a C program against the system OpenBLAS once per run (in a temporary directory
    removed at exit); None without a compiler."""
    d = tempfile.mkdtemp()
    atexit.register(shutil.rmtree, d, ignore_errors=True)
    src, exe = Path(d) / f"{name}.c", Path(d) / name
    src.write_text(source)
    cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "openblas"], capture_output=True, text=True).stdout.split()
    try:
        subprocess.run(["cc", "-O2", src, "-o", exe, *cflags], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return exe


def gram_floor(n, g):
    """Seconds of the Gram matrix XᵀX alone (one ssyrk, system OpenBLAS, 2 threads, best of 3): the
    floor under every covariance-based PCA of an n × g matrix on this machine."""
    exe = compiled(GRAM, "gram")
    if exe is None:
        return None
    out = subprocess.run([exe, str(n), str(g)], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="2")).stdout
    return float(out)


def krylov_passes(path, ref_ratio, ref_pcs):
    """What a Gram-free PCA would need: block Krylov directly on X (every block one pass X·Q and one
    Xᵀ·(XQ)), Rayleigh–Ritz on the whole Krylov space, for block sizes 60 and 100 and 2–6 products
    with XᵀX. Returns rows of (block, products, flops over the Gram's, accuracies)."""
    import anndata as ad
    x = np.asarray(ad.read_h5ad(path).X, dtype=np.float32)
    n, g = x.shape
    x -= x.mean(0, dtype=np.float64).astype(np.float32)
    var_total = float(np.var(x, axis=0, ddof=1, dtype=np.float64).sum())
    rng = np.random.default_rng(0)
    rows = []
    for b in (60, 100):
        q = np.linalg.qr(rng.standard_normal((g, b)).astype(np.float32))[0]
        blocks, products = [q], []
        for p in range(1, 7):
            y = x.T @ (x @ blocks[-1])
            products.append(y)
            qa, aq = np.hstack(blocks).astype(np.float64), np.hstack(products).astype(np.float64)
            t = qa.T @ aq
            theta, u = np.linalg.eigh((t + t.T) / 2)
            theta, u = theta[::-1][:K], u[:, ::-1][:, :K]
            ratio, pcs = theta / (n - 1) / var_total, qa @ u
            e20, a20 = accuracy(ratio, pcs, ref_ratio, ref_pcs)
            e50, a50 = accuracy(ratio, pcs, ref_ratio, ref_pcs, top=K)
            if p >= 2:
                rows.append((b, p, 4 * b * p / g, e20, a20, e50, a50))
            qa32 = np.hstack(blocks)
            y = y - qa32 @ (qa32.T @ y)
            y = y - qa32 @ (qa32.T @ y)
            blocks.append(np.linalg.qr(y)[0])
    return rows


def sgemm_peak():
    """GFLOP/s of a 4,096³ sgemm with the system OpenBLAS on 2 threads, or None without a C compiler."""
    exe = compiled(SGEMM, "peak")
    if exe is None:
        return None
    try:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
        gf, core = subprocess.run([exe], capture_output=True, text=True, env=env, check=True).stdout.split()
        return float(gf), core
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latent", required=True)
    ap.add_argument("--small", action="store_true", help="5,000 cells only")
    ap.add_argument("--sizes", type=int, nargs="*", help="numbers of cells (default 20000 100000)")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sizes = args.sizes or ([5000] if args.small else [20_000, 100_000])
    peak = sgemm_peak()
    log(f"sgemm peak: {peak}")
    rows, notes = [], []
    krylov = None
    import importlib.metadata as md
    for n in sizes:
        path = dataset(n)
        ref_ratio, ref_pcs = reference(path)
        log(f"{n} × {G}: data and float64 reference ready")
        # Every method once per round, best of --repeat rounds: on a shared host whose speed drifts,
        # taking turns slows all methods alike.
        results = {}
        def keep(name, r):
            if name not in results or r["fit"] < results[name]["fit"]:
                results[name] = r
        for _ in range(args.repeat):
            for solver in ("exact", "randomized"):
                keep(f"latent {solver}", time_latent(args.latent, path, solver, 1))
            for method in ("arpack", "randomized", "covariance_eigh"):
                name = f"sklearn {method}" if method == "covariance_eigh" else f"scanpy {method}"
                r = time_anchor(path, method, 1)
                keep(name, {"fit": r["time"], "fit_only": r["fit_only"], "rss": r["rss"], "ratio": np.array(r["ratio"]),
                            "pcs": np.array(r["pcs"])})
        for name, r in results.items():
            log(f"  {name}: {r['fit']:.3f} s")
        anchors = {k: v for k, v in results.items() if not k.startswith("latent")}
        fastest_name = min(anchors, key=lambda k: anchors[k]["fit"])
        fastest = anchors[fastest_name]["fit"]
        flops = float(n) * G * G
        for name, r in results.items():
            err, angle = accuracy(r["ratio"], r["pcs"], ref_ratio, ref_pcs)
            err_k, angle_k = accuracy(r["ratio"], r["pcs"], ref_ratio, ref_pcs, top=K)
            ours = name.startswith("latent")
            speed = f"{fastest / r['fit']:.2f}×" if ours else ""
            target = ("PASS" if fastest / r["fit"] >= 2 else "FAIL") if ours else ""
            gf = flops / r["fit"] / 1e9
            rows.append([f"{n:,} × {G:,}", name, f"{r['fit']:.3f}", f"{r['wall']:.2f}" if ours else "",
                         speed, target, f"{err:.1e}", f"{angle:.4f}", f"{err_k:.1e}", f"{angle_k:.3f}", f"{gf:.0f}",
                         f"{100 * gf / peak[0]:.0f}%" if peak else "", f"{r['rss']:.0f}"])
        lat = results["latent randomized"]
        floor = gram_floor(n, G)
        if floor:
            notes.append(f"{n:,} cells: the Gram XᵀX alone (one ssyrk, system OpenBLAS, 2 threads) takes {floor:.3f} s, "
                         f"{100 * floor / lat['fit']:.0f}% of latent randomized's fit; half the fastest anchor is {fastest / 2:.3f} s, "
                         f"so a covariance method can be at most {fastest / floor:.2f}× faster than it here.")
        if n == sizes[0]:
            krylov = krylov_passes(path, ref_ratio, ref_pcs)
        notes.append(f"{n:,} cells: fastest anchor {fastest_name} ({fastest:.3f} s"
                     f"{'; fit alone ' + format(anchors[fastest_name]['fit_only'], '.3f') + ' s' if fastest_name.startswith('sklearn') else ''}); "
                     f"latent randomized ran {lat['method']} ({lat['blocks']} Krylov blocks).")
    write(rows, notes, peak, md, krylov, sizes[0])


def write(rows, notes, peak, md, krylov=None, krylov_n=None):
    header = ["data", "method", "fit s", "latent wall s", "fastest anchor / latent", "≥2× target", "top-20 ratio error",
              "top-20 angle °", f"top-{K} ratio error", f"top-{K} angle °", "GFLOP/s (n·g²)", "of sgemm peak", "peak RSS MB"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    lines = ["# pca: latent vs scanpy / scikit-learn", "", f"Machine: {machine()}", ""]
    if peak:
        lines += [f"sgemm peak (4,096³, system OpenBLAS core `{peak[1]}`, 2 threads): {peak[0]:.0f} GFLOP/s.", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in rows]
    versions = ", ".join(f"{p} {md.version(p)}" for p in ("scanpy", "scikit-learn", "numpy", "anndata"))
    lines += [""] + [f"- {n}" for n in notes] + [
        f"- {versions}; latent with `--threads 2`, the anchors with numpy's own OpenBLAS on all cores.",
        "- fit s: latent's `--timing` fit (read and write excluded); anchors timed in-process on data already in memory "
        "(scanpy: `sc.pp.pca`; sklearn: `fit_transform`, i.e. with the scores, as latent and scanpy compute them). "
        "latent wall s: the whole command, including reading the h5ad and writing it uncompressed.",
        "- Accuracy against the float64 eigendecomposition of the covariance: largest relative error of the top-20 "
        f"(and all {K}) variance ratios, and the largest principal angle between the top-20 (all-{K}) loading subspaces; "
        "the components past the 20 programs lie in the noise floor, where neighbouring eigenvalues differ by ~1 %.",
        "- GFLOP/s: n·g² (the Gram matrix XᵀX, the dominant work of the covariance methods) over the fit time; "
        "for ARPACK and randomized SVD it is only a common yardstick, not the work they do.",
        "- Data: log1p(normalize_total(Poisson counts)) from 20 gene programs, dense float32, seeded.",
    ]
    if krylov:
        lines += ["", f"## Without the Gram: block Krylov directly on X ({krylov_n:,} cells, numpy float32)", "",
                  "Each product with XᵀX is two passes over X (X·Q, then Xᵀ·(XQ)); flops are 4·n·g·b per product, shown "
                  "as a multiple of the Gram's n·g². Rayleigh–Ritz on the whole Krylov space, accuracy against the same "
                  "float64 reference.", "",
                  "| block | products with XᵀX | flops / Gram's | top-20 ratio error | top-20 angle ° | "
                  f"top-{K} ratio error | top-{K} angle ° |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {b} | {p} | {f:.2f} | {e20:.1e} | {a20:.4f} | {e50:.1e} | {a50:.3f} |" for b, p, f, e20, a20, e50, a50 in krylov]
    (RESULTS / "pca.md").write_text("\n".join(lines) + "\n")
    with open(RESULTS / "pca.tsv", "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
