#!/usr/bin/env python3
"""Writes and reads back, in a stream, a sparse matrix with more than 2^31 non-zeros (issue 16).

    python Benchmarks/bigsparse_bench.py                      # 1,300,000 x 28,000 (~2.6e9 non-zeros, ~10 GB on disk)
    python Benchmarks/bigsparse_bench.py --cells 20000        # the same steps, small (checks the logic)

Steps, each its own process so that its peak resident memory is its own:
  1. `latent simulate --profile atlas` writes the matrix chunk by chunk (H5ADStreamWriter);
  2. `latent split --rows R` reads it back in row chunks (H5ADMatrixSource, prefetching) and
     writes it again as one shard (R = the rows rounded up to 1024): every non-zero goes through
     the streamed reader and the streamed writer;
  3. h5py checks the copy: the same indptr (int64, last entry > 2^31 at full size) and the same
     data/indices on a few row ranges spread over the file (the far end included).
Reports wall time, CPU time and peak RSS per step, as Markdown (stdout and --out).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Benchmarks"))
from proc import measure  # noqa: E402


def run(cmd):
    """Runs cmd; returns (wall s, cpu s, peak RSS bytes, stdout) of that process alone."""
    m = measure(cmd)
    return m.wall, m.cpu, m.rss, m.out


def check_copy(a, b, samples=6):
    import h5py
    import numpy as np
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        pa, pb = fa["X/indptr"], fb["X/indptr"]
        assert pb.dtype == np.int64, pb.dtype
        ia, ib = pa[:], pb[:]
        assert np.array_equal(ia, ib), "indptr differs"
        nnz = int(ib[-1])
        rows = len(ib) - 1
        for k in range(samples):
            r0 = min(rows - 1, k * rows // (samples - 1)) if samples > 1 else 0
            r1 = min(rows, r0 + 64)
            lo, hi = int(ib[r0]), int(ib[r1])
            for name in ("data", "indices"):
                assert np.array_equal(fa["X"][name][lo:hi], fb["X"][name][lo:hi]), f"{name} differs in rows {r0}:{r1}"
        return nnz, rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=1_300_000)
    ap.add_argument("--genes", type=int, default=28_000)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--memory", default="2G", help="--memory given to latent (the streaming budget)")
    ap.add_argument("--bin", default=os.environ.get("LATENT_BIN", str(ROOT / ".build/release/latent")))
    ap.add_argument("--workdir", default=None, help="where the files go (default: a temporary directory, removed)")
    ap.add_argument("--out", default=None, help="also write the Markdown table here")
    a = ap.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bigsparse-"))
    work.mkdir(parents=True, exist_ok=True)
    big, shards = work / "big.h5ad", work / "shards"
    try:
        steps = []
        w, c, m, _ = run([a.bin, "simulate", "--cells", a.cells, "--genes", a.genes, "--profile", "atlas", "--programs", 8,
                          "--threads", a.threads, "--memory", a.memory, "--seed", 1, "-o", big, "-q"])
        steps.append(("simulate (stream write)", w, c, m))
        rows = (a.cells + 1023) // 1024 * 1024
        w, c, m, out = run([a.bin, "split", big, "--rows", rows, "-o", shards, "--threads", a.threads, "--memory", a.memory, "-q"])
        steps.append(("split (stream read + write)", w, c, m))
        t0 = time.perf_counter()
        nnz, nrows = check_copy(big, Path(out.split()[0]))
        steps.append(("h5py check", time.perf_counter() - t0, float("nan"), float("nan")))
        size = big.stat().st_size
        lines = [
            f"# Streamed write and read of a {nrows:,} x {a.genes:,} sparse matrix",
            "",
            f"{nnz:,} non-zeros ({'more' if nnz > 2**31 else 'FEWER'} than 2^31 = {2**31:,}); file {size / 1e9:.2f} GB; "
            f"--threads {a.threads} --memory {a.memory}; {os.cpu_count()} CPUs.",
            "",
            "| step | wall s | CPU s | peak RSS GB |",
            "|---|---:|---:|---:|",
        ]
        for name, w, c, m in steps:
            lines.append(f"| {name} | {w:.1f} | {c:.1f} | {m / 2**30:.2f} |")
        text = "\n".join(lines) + "\n"
        print(text)
        if a.out:
            Path(a.out).write_text(text)
    finally:
        if a.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
