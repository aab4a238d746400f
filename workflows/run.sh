#!/usr/bin/env bash
# The latent stages as a plain shell script: each stage is one command that reads and writes files,
# so lab scripts, Snakemake and Nextflow compose them the same way.
#
#   workflows/run.sh COUNTS [OUTDIR] [GENE_SETS]
#   e.g. workflows/run.sh Examples/hsmm/hsmm_trapnell2014.h5ad out go_bp
# Environment: LATENT (the binary), HVG (default 2000), K (default 20), METHOD (normalize method,
# default total), GENE_NAMES (a var column with symbols, if the var names are not symbols).
set -euo pipefail
LATENT=${LATENT:-latent}
in=${1:?usage: run.sh COUNTS [OUTDIR] [GENE_SETS]}
out=${2:-latent-out}
sets=${3:-go_bp}
mkdir -p "$out"
"$LATENT" import "$in" -o "$out/dataset.h5ad" --quiet >/dev/null
"$LATENT" inspect "$out/dataset.h5ad" > "$out/dataset.summary.txt"
"$LATENT" normalize "$out/dataset.h5ad" --method "${METHOD:-total}" --min-cells 3 --hvg "${HVG:-2000}" \
  -o "$out/normalized.h5ad" --quiet >/dev/null
"$LATENT" pca "$out/normalized.h5ad" --k "${K:-20}" -o "$out/pca.h5ad" --quiet >/dev/null
"$LATENT" enrich "$out/pca.h5ad" --key varm/PCs --gene-sets "$sets" ${GENE_NAMES:+--gene-names "$GENE_NAMES"} \
  -o "$out/enrich.tsv" --quiet >/dev/null
echo "$out/enrich.tsv"
