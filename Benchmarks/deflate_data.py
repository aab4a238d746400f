"""Data for deflate_bench.c: the arrays latent compresses most, as raw little-endian files.

dense_f32.bin       30,000 x 2,000 log-normalised float32 (log1p of counts per 10,000; NB-like counts)
csr_data_f32.bin    CSR data of 10,000 x 20,000 counts, ~7 % non-zeros (float32)
csr_indices_i32.bin CSR column indices of the same matrix (int32)

Usage: python deflate_data.py OUTDIR; then, for each file, its first 20 MiB:
  head -c 20971520 OUTDIR/dense_f32.bin > t20.bin   (and c20.bin, i20.bin from the CSR files)
  ./deflate_bench t20.bin 4 1 2 3 4 6
"""
import sys
from pathlib import Path

import numpy as np

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)
n, g = 30000, 2000
mu = np.exp(rng.normal(-0.5, 1.5, g))
lib = np.exp(rng.normal(0, 0.3, n))
counts = rng.poisson(rng.gamma(2.0, np.outer(lib, mu) / 2.0)).astype(np.float32)
np.log1p(counts / counts.sum(1, keepdims=True) * 1e4).astype(np.float32).tofile(out / "dense_f32.bin")
n2, g2 = 10000, 20000
mu2 = np.exp(rng.normal(-3.5, 1.5, g2))
data, ind = [], []
for i in range(n2):
    c = rng.poisson(mu2 * np.exp(rng.normal(0, 0.3)))
    nz = np.nonzero(c)[0]
    ind.append(nz.astype(np.int32))
    data.append(c[nz].astype(np.float32))
np.concatenate(data).tofile(out / "csr_data_f32.bin")
np.concatenate(ind).tofile(out / "csr_indices_i32.bin")
