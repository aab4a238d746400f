"""latent's benchmarks beside the Python stack on the same data.

Each benchmark generates its data once (seeded, under Benchmarks/data/, git-ignored), times latent
and the anchor tool in fresh processes (wall clock, best of `--repeat`), records peak memory
(max RSS of the process), and writes Benchmarks/results/<name>.md and .tsv with the ratios.
"""
import argparse
import importlib.metadata
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "Benchmarks" / "data"
RESULTS = ROOT / "Benchmarks" / "results"


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"


def run(cmd, env=None):
    """Runs a command in a fresh process; returns (seconds, peak RSS in MB, stdout, stderr)."""
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{p.stderr[-2000:]}")
    lines = p.stderr.strip().splitlines()
    rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    return dt, rss, p.stdout, "\n".join(lines[:-1])


def py(code, repeat=1):
    best = None
    for _ in range(repeat):
        r = run([sys.executable, "-c", code])
        if best is None or r[0] < best[0]:
            best = r
    return best


def latent_run(args, bin_, repeat=1):
    best = None
    for _ in range(repeat):
        r = run([bin_, *args])
        if best is None or r[0] < best[0]:
            best = r
    return best


def timing_of(stderr):
    for line in stderr.splitlines():
        if line.startswith("timing:"):
            return {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    return {}


def write_result(name, title, header, rows, notes):
    RESULTS.mkdir(parents=True, exist_ok=True)
    md = [f"# {title}", "", f"Machine: {machine()}", ""]
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "---|" * len(header))
    for r in rows:
        md.append("| " + " | ".join(str(c) for c in r) + " |")
    md += [""] + [f"- {n}" for n in notes]
    (RESULTS / f"{name}.md").write_text("\n".join(md) + "\n")
    with open(RESULTS / f"{name}.tsv", "w") as f:
        f.write("\t".join(header) + "\n")
        for r in rows:
            f.write("\t".join(str(c) for c in r) + "\n")
    print("\n".join(md))


# ---------------------------------------------------------------- data

def counts_h5ad(n, g, nnz_per_row, small):
    """A sparse count matrix, n × g, about nnz_per_row non-zeros per row, written by anndata."""
    import anndata as ad
    import scipy.sparse as sp
    DATA.mkdir(parents=True, exist_ok=True)
    plain = DATA / f"counts_{n}x{g}.h5ad"
    gz = DATA / f"counts_{n}x{g}_gzip.h5ad"
    if plain.exists() and gz.exists():
        return plain, gz
    rng = np.random.default_rng(0)
    # Genes with log-normal expression levels and cells with log-normal depth, so the matrix has
    # realistic HVG structure: entry (i, j) is non-zero with probability depth_i · level_j.
    level = rng.lognormal(0, 1.0, g)
    p_gene = np.minimum(level / level.mean() * nnz_per_row / g, 0.95)
    indptr = [np.zeros(1, dtype=np.int64)]
    indices, data = [], []
    total = 0
    for start in range(0, n, 1000):
        m = min(1000, n - start)
        depth = rng.lognormal(0, 0.3, (m, 1))
        hit = rng.random((m, g), dtype=np.float32) < np.minimum(depth * p_gene, 0.99)
        r, c = np.nonzero(hit)
        indices.append(c.astype(np.int32))
        data.append((1 + rng.geometric(0.35, len(c))).astype(np.float32))
        counts = np.bincount(r, minlength=m)
        indptr.append(total + np.cumsum(counts))
        total += len(c)
    indptr = np.concatenate(indptr)
    X = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), indptr), shape=(n, g))
    names = [f"GENE{j}" for j in range(g)]
    names[:13] = [f"MT-{j}" for j in range(13)]
    a = ad.AnnData(X=X)
    a.obs_names = [f"cell{i}" for i in range(n)]
    a.var_names = names
    a.write_h5ad(plain)
    a.write_h5ad(gz, compression="gzip")
    return plain, gz


# ---------------------------------------------------------------- io

def bench_io(bin_, small, repeat):
    import anndata
    n, g, per_row = (5000, 2000, 100) if small else (50000, 20000, 2420)
    plain, gz = counts_h5ad(n, g, per_row, small)
    nc = 1000 if small else 10000
    csv = DATA / f"cells_{nc}x{g}.csv.gz"
    if not csv.exists():
        a = anndata.read_h5ad(plain)
        X = a.X[:nc].toarray().astype(np.int64)
        with gzip.open(csv, "wt", compresslevel=1) as f:
            f.write("cell," + ",".join(a.var_names) + "\n")
            for i in range(nc):
                f.write(a.obs_names[i] + "," + ",".join(map(str, X[i])) + "\n")
    import h5py
    with h5py.File(plain) as f:
        nnz = f["X/data"].shape[0]
    csr_mb = (nnz * 8 + (n + 1) * 8) / 2**20
    out = DATA / "out.h5ad"
    rows = []
    # anndata, each step in a fresh process so that memory is comparable
    timed = "import anndata, pandas, time; t=time.perf_counter(); {}; print(time.perf_counter()-t)"
    ad_read = py(timed.format(f"anndata.read_h5ad('{plain}')"), repeat)
    ad_read_gz = py(timed.format(f"anndata.read_h5ad('{gz}')"), repeat)
    ad_write = py(f"import anndata, time; a=anndata.read_h5ad('{plain}'); t=time.perf_counter(); a.write_h5ad('{out}'); print(time.perf_counter()-t)", repeat)
    ad_write_gz = py(f"import anndata, time; a=anndata.read_h5ad('{plain}'); t=time.perf_counter(); a.write_h5ad('{out}', compression='gzip'); print(time.perf_counter()-t)", 1)
    pd_csv = py(timed.format(f"pandas.read_csv('{csv}', index_col=0)"), 1)
    secs = lambda r: float(r[2].strip().splitlines()[-1])
    lt_plain = latent_run(["import", plain, "-o", out, "--compression", "none", "--timing", "-q"], bin_, repeat)
    lt_gz = latent_run(["import", gz, "-o", out, "--compression", "gzip", "--timing", "-q"], bin_, repeat)
    lt_csv = latent_run(["import", csv, "-o", out, "--compression", "none", "--timing", "-q"], bin_, repeat)
    tp, tg, tc = timing_of(lt_plain[3]), timing_of(lt_gz[3]), timing_of(lt_csv[3])

    def row(op, ours, theirs, rss, target):
        ratio = theirs / ours if ours > 0 else float("nan")
        ok = "PASS" if ratio >= target else "FAIL"
        rows.append([op, f"{ours:.2f}", f"{theirs:.2f}", f"{ratio:.1f}×", f"{rss:.0f}", f"{rss / csr_mb:.2f}", f"≥{target}× {ok}"])

    row("read h5ad (uncompressed)", tp["read_s"], secs(ad_read), lt_plain[1], 1)
    row("write h5ad (uncompressed)", tp["write_s"], secs(ad_write), lt_plain[1], 1)
    row("read h5ad (gzip)", tg["read_s"], secs(ad_read_gz), lt_gz[1], 1)
    row("write h5ad (gzip)", tg["write_s"], secs(ad_write_gz), lt_gz[1], 1)
    row(f"read CSV.gz ({nc:,} × {g:,})", tc["read_s"], secs(pd_csv), lt_csv[1], 5)
    notes = [
        f"Data: {n:,} cells × {g:,} genes, {nnz:,} non-zeros (CSR arrays {csr_mb:.0f} MB), integer counts; generated by bench.py (seed 0).",
        f"anndata {anndata.__version__}: each read or write timed inside its own fresh Python process (interpreter start excluded); pandas.read_csv(index_col=0).",
        "latent: `latent import IN -o OUT --timing`; read and write times as it reports them; peak RSS is the whole latent process (read + write).",
        f"Peak RSS of anndata: read {ad_read[1]:.0f} MB, write {ad_write[1]:.0f} MB (process total, interpreter included).",
        "Target (issue 2): no slower than anndata on each operation, ≥5× faster than pandas on CSV, peak memory < 1.5× the CSR arrays.",
    ]
    write_result("io", "I/O: latent import vs anndata and pandas", ["operation", "latent s", "anchor s", "anchor/latent", "latent peak MB", "peak / CSR bytes", "target"], rows, notes)


# ---------------------------------------------------------------- normalize

def bench_normalize(bin_, small, repeat):
    import scanpy
    n, g, per_row = (5000, 2000, 100) if small else (50000, 20000, 2420)
    plain, _ = counts_h5ad(n, g, per_row, small)
    out = DATA / "norm.h5ad"
    code = f"""
import scanpy as sc, time, warnings, json
warnings.filterwarnings('ignore')
a = sc.read_h5ad('{plain}')
t = {{}}
s = time.perf_counter(); sc.pp.filter_cells(a, min_genes=10); sc.pp.filter_genes(a, min_cells=3); t['filter'] = time.perf_counter() - s
s = time.perf_counter(); sc.pp.highly_variable_genes(a, flavor='seurat_v3', n_top_genes=2000); t['hvg_seurat_v3'] = time.perf_counter() - s
s = time.perf_counter(); sc.pp.normalize_total(a); t['normalize_total'] = time.perf_counter() - s
s = time.perf_counter(); sc.pp.log1p(a); t['log1p'] = time.perf_counter() - s
print(json.dumps(t))
"""
    sp_ = py(code, repeat)
    steps = json.loads(sp_[2].strip().splitlines()[-1])
    scanpy_total = sum(steps.values())
    lt = latent_run(["normalize", plain, "-o", out, "--min-genes", "10", "--min-cells", "3", "--hvg", "2000",
                     "--hvg-flavor", "seurat_v3", "--compression", "none", "--timing", "-q"], bin_, repeat)
    t = timing_of(lt[3])
    ratio = scanpy_total / t["stage_s"]
    rows = [["filter + QC + normalize_total + log1p + HVG seurat_v3 (2,000)", f"{t['stage_s']:.2f}", f"{scanpy_total:.2f}",
             f"{ratio:.1f}×", f"{lt[1]:.0f}", f"{sp_[1]:.0f}", "≥2× " + ("PASS" if ratio >= 2 else "FAIL")]]
    notes = [f"scanpy {importlib.metadata.version('scanpy')} steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()) + " (timed inside one process, reading excluded).",
             f"latent: the stage alone as `--timing` reports it (stage_s; read {t.get('read_s', 0):.2f} s and write {t.get('write_s', 0):.2f} s excluded); latent also computes all QC metrics, which the scanpy column leaves out.",
             f"Data: {n:,} × {g:,} sparse counts (the I/O benchmark's file).",
             "Target (issue 3): the whole stage ≥2× faster than scanpy's sum of steps, peak memory no higher (peak MB columns: latent, scanpy; both whole processes)."]
    write_result("normalize", "normalize: latent vs scanpy", ["work", "latent s", "scanpy s", "scanpy/latent", "latent peak MB", "scanpy peak MB", "target"], rows, notes)


# ---------------------------------------------------------------- enrich

def bench_enrich(bin_, small, repeat):
    import gseapy
    rng = np.random.default_rng(0)
    gmt = ROOT / "GeneSets" / "go_bp.gmt"
    genes = sorted({x for line in open(gmt) for x in line.rstrip("\n").split("\t")[2:]})
    nl = 2 if small else 16
    L = rng.standard_normal((len(genes), nl)).astype(np.float32)
    DATA.mkdir(parents=True, exist_ok=True)
    tsv = DATA / f"loadings_{nl}.tsv"
    with open(tsv, "w") as f:
        f.write("gene\t" + "\t".join(f"L{j}" for j in range(nl)) + "\n")
        for i, g in enumerate(genes):
            f.write(g + "\t" + "\t".join(f"{v:.6g}" for v in L[i]) + "\n")
    out = DATA / "enrich.tsv"
    lt = latent_run(["enrich", tsv, "--gene-sets", gmt, "--permutations", "1000", "-o", out, "-q", "--threads", "2"], bin_, repeat)
    # GSEApy on one ranked list against a 500-set sample of GO BP (a full list takes minutes);
    # per set-and-list cost is then scaled to the same 16 lists × all sets.
    sets = [line for line in open(gmt) if 15 <= len(line.split("\t")) - 2 <= 500]
    sub = DATA / "go_bp_500.gmt"
    sub.write_text("".join(sets[:: max(1, len(sets) // 500)][:500]))
    one = DATA / "rank0.rnk"
    with open(one, "w") as f:
        for i, g in enumerate(genes):
            f.write(f"{g}\t{L[i, 0]:.6g}\n")
    code = f"""
import gseapy, time
t = time.perf_counter()
gseapy.prerank(rnk='{one}', gene_sets='{sub}', min_size=15, max_size=500, permutation_num=1000, seed=0, threads=2, outdir=None, verbose=False)
print(time.perf_counter() - t)
"""
    gp = py(code, 1)
    gp_s = float(gp[2].strip().splitlines()[-1])
    n_sets = len(sets)
    gp_full = gp_s * (n_sets / 500) * nl
    ratio = gp_full / lt[0]
    rows = [[f"{nl} latents × GO BP ({n_sets:,} sets of 15–500) × 1,000 permutations", f"{lt[0]:.2f}", f"{gp_full:.0f} (scaled)", f"{ratio:.0f}×",
             "≥50× " + ("PASS" if ratio >= 50 else "FAIL"), f"{lt[1]:.0f}"]]
    notes = [f"GSEApy {gseapy.__version__} prerank (threads=2) measured on 1 list × 500 GO BP sets: {gp_s:.1f} s; scaled linearly to {nl} lists × {n_sets:,} sets.",
             "latent: `latent enrich loadings.tsv --gene-sets go_bp.gmt --permutations 1000 --threads 2`, whole process (reading the GMT included), gene permutations shared across sets of equal size, multilevel refinement for p below the permutation floor.",
             f"Loadings: {len(genes):,} genes (every GO BP gene) × {nl} latents, standard normal (seed 0).",
             "Target (issue 8): ≥50× faster than GSEApy; under 9 s for 16 latents × GO BP × 1,000 permutations."]
    write_result("enrich", "enrich: latent GSEA vs GSEApy prerank", ["work", "latent s", "GSEApy s", "GSEApy/latent", "target", "latent peak MB"], rows, notes)


# ---------------------------------------------------------------- pca

def bench_pca(bin_, small, repeat):
    import anndata as ad
    import sklearn
    rows = []
    notes = []
    sizes = [2000] if small else [20000, 100000]
    g, k = 2000, 50
    for n in sizes:
        path = DATA / f"lognorm_{n}x{g}.h5ad"
        if not path.exists():
            rng = np.random.default_rng(1)
            # A low-rank signal (30 programs) plus noise, on a log-normalised-like scale.
            u = rng.standard_normal((n, 30)).astype(np.float32)
            v = (rng.standard_normal((30, g)) * np.linspace(3, 0.3, 30)[:, None]).astype(np.float32)
            X = np.log1p(np.abs(u @ v + rng.standard_normal((n, g)).astype(np.float32)))
            ad.AnnData(X=X.astype(np.float32)).write_h5ad(path)
        out = DATA / "pca.h5ad"
        results = {}
        for solver in ("exact", "randomized"):
            r = latent_run(["pca", path, "-o", out, "--k", str(k), "--solver", solver, "--timing", "-q"], bin_, repeat)
            results[solver] = (timing_of(r[3])["fit_s"], r[1])
            ratio_code = f"import anndata; a = anndata.read_h5ad('{out}'); print(list(a.uns['pca']['variance_ratio']))"
            results[solver + "_ratio"] = json.loads(py(ratio_code)[2].strip().splitlines()[-1].replace("np.float64(", "").replace(")", ""))
        code = f"""
import anndata, scanpy as sc, time, json, numpy as np
from sklearn.decomposition import PCA
a = anndata.read_h5ad('{path}')
out = {{}}
for solver in ('arpack', 'randomized'):
    b = a.copy(); t = time.perf_counter(); sc.pp.pca(b, n_comps={k}, svd_solver=solver, random_state=0); out[solver] = time.perf_counter() - t
    out[solver + '_ratio'] = [float(x) for x in b.uns['pca']['variance_ratio']]
try:
    t = time.perf_counter(); PCA(n_components={k}, svd_solver='covariance_eigh').fit(a.X); out['covariance_eigh'] = time.perf_counter() - t
except Exception as e:
    out['covariance_eigh'] = float('nan')
print(json.dumps(out))
"""
        sp_ = json.loads(py(code)[2].strip().splitlines()[-1])
        fastest = min(v for key, v in sp_.items() if not key.endswith("_ratio") and v == v)
        exact_ratio = np.array(results["exact_ratio"][:20])
        for solver in ("exact", "randomized"):
            t, rss = results[solver]
            err = float(np.max(np.abs(np.array(results[solver + "_ratio"][:20]) - exact_ratio) / exact_ratio))
            flops = 1.0 * n * g * g     # the covariance update (ssyrk), the dominant work of both solvers
            rows.append([f"{n:,} × {g:,}, k={k}, {solver}", f"{t:.2f}", f"{fastest:.2f}", f"{fastest / t:.1f}×",
                         f"{err:.1e}", f"{flops / t / 1e9:.0f}", f"{rss:.0f}", "≥2× " + ("PASS" if fastest / t >= 2 else "FAIL")])
        arp_err = float(np.max(np.abs(np.array(sp_["arpack_ratio"][:20]) - exact_ratio) / exact_ratio))
        notes.append(f"{n:,} × {g:,}: scanpy arpack {sp_['arpack']:.2f} s, randomized {sp_['randomized']:.2f} s, sklearn covariance_eigh {sp_['covariance_eigh']:.2f} s; scanpy arpack's top-20 variance ratios differ from latent exact by at most {arp_err:.1e} (relative).")
    notes += [f"scanpy {importlib.metadata.version('scanpy')}, scikit-learn {sklearn.__version__}; each timed inside one Python process on data already in memory. latent: fit time as `--timing` reports it (reading and writing excluded).",
              "accuracy: the largest relative difference of the top-20 variance ratios from latent's exact solver.",
              "GFLOP/s: the dominant work of both solvers, the n·g² covariance update (ssyrk), over the whole fit time. This machine's CPU reports no AVX-512, so OpenBLAS runs its Haswell kernels (DESIGN.md: ≈ 210 GFLOP/s sgemm peak on 2 cores; SkylakeX kernels are not available here).",
              "Why not 2× sklearn's covariance_eigh: both spend most of the time in the same BLAS covariance product (X.T @ X); latent's randomized solver removes the eigendecomposition cost (dsyevr of 2,000 × 2,000) but cannot beat the BLAS-bound Gram on this machine.",
              "Data: log1p(|U·V + noise|) with a 30-program low-rank signal, dense float32 (seeded).",
              "Target (issue 4): at least 2× faster than the fastest of scanpy arpack/randomized and sklearn covariance_eigh at equal accuracy."]
    write_result("pca", "pca: latent vs scanpy / scikit-learn", ["data and solver", "latent s", "fastest anchor s", "anchor/latent", "top-20 ratio error", "GFLOP/s", "latent peak MB", "target"], rows, notes)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("which", nargs="*", default=["io", "normalize", "pca", "enrich"])
    ap.add_argument("--latent", required=True)
    ap.add_argument("--small", action="store_true", help="a quick check on small data")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    for w in a.which:
        {"io": bench_io, "normalize": bench_normalize, "enrich": bench_enrich, "pca": bench_pca}[w](str(Path(a.latent).resolve()), a.small, a.repeat)
