#!/usr/bin/env bash
# make bench: latent beside the tools users would otherwise run (anndata, pandas, scanpy,
# scikit-learn, GSEApy) on the same seeded data. Results: Benchmarks/results/<name>.md and .tsv.
#
#   bash Benchmarks/run.sh                 # every benchmark: io, normalize, pca, enrich, vae, stages
#   bash Benchmarks/run.sh io              # one or more by name (make bench io stages)
#   bash Benchmarks/run.sh --small io      # quick check on small data (io, stages: results under Benchmarks/data/)
#
# io is Benchmarks/io_bench.py, pca Benchmarks/pca_bench.py, vae Benchmarks/vae_bench.py (PyTorch in
# .venv-torch, installed from PyPI when missing), stages Benchmarks/stages_bench.py (every stage as a
# whole process beside scanpy, PyTorch and GSEApy), integration Benchmarks/integration_bench.py
# (scvi-tools in .venv-scvi; not in the default set: run it by name), bigsparse
# Benchmarks/bigsparse_bench.py (> 2^31 non-zeros written and read back in a stream; by name only,
# ~10 GB of disk at full size); programs Benchmarks/programs_bench.py (planted gene programs beside
# expiMap: scarches in .venv-expimap) and Benchmarks/l0_mig.py (L0 gates and MIG; by name only,
# SEEDS="1 2 3" picks its seeds); atlas Benchmarks/atlas_bench.py (streamed stages at 250,000 and
# 1,300,000 simulated cells with their peak memory; by name only); normalize and enrich are
# Benchmarks/bench.py.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

small=()
which=()
for a in "$@"; do
  case "$a" in
    --small) small=(--small) ;;
    io|normalize|pca|enrich|vae|stages|integration|bigsparse|programs|atlas) which+=("$a") ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$a' (expected io, normalize, pca, enrich, vae, stages, integration, bigsparse, programs, atlas, --small)" >&2; exit 2 ;;
  esac
done
[ ${#which[@]} -gt 0 ] || which=(io normalize pca enrich vae stages)

# OpenBLAS 0.3.21 does not know Zen 5; SkylakeX kernels run on every AVX-512 machine (see Makefile).
if grep -q avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-SkylakeX}; fi

# Python anchors in the repo's venv, installed only when missing.
PY=$ROOT/.venv/bin/python
if [ ! -x "$PY" ]; then python3 -m venv .venv; fi
if ! "$PY" -c "import anndata" 2>/dev/null; then
  "$PY" -m pip install -q anndata h5py scipy pandas numpy
fi
for w in "${which[@]}"; do
  case "$w" in
    normalize) mods="scanpy skmisc"; pkgs="scanpy scikit-misc" ;;
    pca)       mods="scanpy sklearn"; pkgs="scanpy scikit-learn" ;;
    vae)       mods="anndata"; pkgs="anndata" ;;
    integration) mods="anndata sklearn pandas"; pkgs="anndata scikit-learn pandas" ;;
    enrich)    mods="gseapy"; pkgs="gseapy" ;;
    stages)    mods="scanpy skmisc gseapy threadpoolctl"; pkgs="scanpy scikit-misc gseapy threadpoolctl" ;;
    atlas)     mods="scanpy h5py"; pkgs="scanpy h5py" ;;
    *) continue ;;
  esac
  for m in $mods; do
    if ! "$PY" -c "import $m" 2>/dev/null; then "$PY" -m pip install -q $pkgs; break; fi
  done
done

# latent in release; show the compiler's complaint when the build fails.
log=$(mktemp)
if ! swift build -c release >"$log" 2>&1; then
  tail -40 "$log" >&2
  rm -f "$log"
  echo "run.sh: swift build -c release failed" >&2
  exit 1
fi
rm -f "$log"
BIN=$ROOT/.build/release/latent

status=0
rest=()
for w in "${which[@]}"; do
  if [ "$w" = io ]; then
    "$PY" Benchmarks/io_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  elif [ "$w" = pca ]; then
    "$PY" Benchmarks/pca_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  elif [ "$w" = vae ]; then
    "$PY" Benchmarks/vae_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  elif [ "$w" = stages ]; then
    "$PY" Benchmarks/stages_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  elif [ "$w" = bigsparse ]; then
    # > 2^31 non-zeros written and read back in a stream (Benchmarks/bigsparse_bench.py); --small: 20,000 cells.
    "$PY" Benchmarks/bigsparse_bench.py --bin "$BIN" --out Benchmarks/results/bigsparse${small[@]+-small}.md \
      ${small[@]+--cells 20000} || status=$?
  elif [ "$w" = programs ]; then
    # expiMap: scarches 0.6.1 (its last release, 2024) imports anndata.read and scvi-tools' old
    # layout, so it runs with anndata < 0.11 and scvi-tools 1.1.2 (the releases of its time), and
    # those with the jax/flax/optax/numpyro of early 2024 (newer ones fail at import; measured).
    # torch comes from .venv-torch when that exists (the vae bench's), else from PyPI.
    EX=$ROOT/.venv-expimap
    if ! "$EX/bin/python" -c "import scarches" 2>/dev/null; then
      python3 -m venv "$EX"
      if [ -d "$ROOT/.venv-torch" ]; then
        "$ROOT/.venv-torch/bin/python" -c "import site; print(site.getsitepackages()[0])" \
          > "$("$EX/bin/python" -c "import site; print(site.getsitepackages()[0])")/torch_shared.pth"
      fi
      "$EX/bin/pip" install -q "scarches==0.6.1" "scvi-tools==1.1.2" "anndata<0.11" "jax==0.4.26" "jaxlib==0.4.26" \
        "flax==0.8.2" "optax==0.2.2" "chex<0.1.87" "numpyro==0.14.0" "setuptools<70"
    fi
    "$PY" Benchmarks/programs_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} ${SEEDS:+--seeds $SEEDS} || status=$?
    "$PY" Benchmarks/l0_mig.py --latent "$BIN" ${SEEDS:+--seeds $SEEDS} || status=$?
  elif [ "$w" = atlas ]; then
    # Streamed normalize + HVG and PCA at 250,000 and 1,300,000 simulated cells with peak RSS, scanpy
    # in memory beside them at 250,000 (Benchmarks/atlas_bench.py; ~4 GB of disk per million cells).
    "$PY" Benchmarks/atlas_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  elif [ "$w" = integration ]; then
    "$PY" Benchmarks/integration_bench.py --latent "$BIN" ${small[@]+"${small[@]}"} || status=$?
  else
    rest+=("$w")
  fi
done
if [ ${#rest[@]} -gt 0 ]; then
  "$PY" Benchmarks/bench.py --latent "$BIN" ${small[@]+"${small[@]}"} "${rest[@]}" || status=$?
fi
exit $status
