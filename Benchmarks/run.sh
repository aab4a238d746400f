#!/usr/bin/env bash
# make bench: latent beside the tools users would otherwise run (anndata, pandas, scanpy, GSEApy),
# on the same generated data, as ratios. Results: Benchmarks/results/*.md (and .tsv).
#   bash Benchmarks/run.sh [io|normalize|enrich ...]   (default: all; --small for a quick check)
set -euo pipefail
cd "$(dirname "$0")/.."
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi
swift build -c release >/dev/null
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if ! .venv/bin/python -c "import anndata, scanpy, gseapy, skmisc" 2>/dev/null; then
  .venv/bin/pip install -q anndata scanpy gseapy scikit-misc h5py scipy pandas
fi
.venv/bin/python Benchmarks/bench.py --latent .build/release/latent "$@"
