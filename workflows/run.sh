#!/usr/bin/env bash
# The latent stages as a plain shell script: each stage is one command that reads and writes files,
# so lab scripts, Snakemake and Nextflow compose them the same way. Stages are added as they land.
#
#   workflows/run.sh COUNTS [OUTDIR]      e.g. workflows/run.sh Examples/geuvadis/geuvadis_sex_counts.csv.gz out
set -euo pipefail
LATENT=${LATENT:-latent}
in=${1:?usage: run.sh COUNTS [OUTDIR]}
out=${2:-latent-out}
mkdir -p "$out"
"$LATENT" import "$in" -o "$out/dataset.h5ad" --quiet
"$LATENT" inspect "$out/dataset.h5ad" > "$out/dataset.summary.txt"
echo "$out/dataset.h5ad"
