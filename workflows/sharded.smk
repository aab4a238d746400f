# normalize + PCA over row shards (issue 16): split → statistics per shard (map) → their sum
# (reduce) → each shard transformed with the global statistics (map) → gather. The statistics
# are exact sums formed per 1,024-row block, so the gathered file holds the arrays the
# single-process `latent normalize IN … -o n.h5ad && latent pca n.h5ad … -o p.h5ad` writes.
#
#   snakemake -s workflows/sharded.smk --cores 2 \
#       --config latent=.build/release/latent input=atlas.h5ad rows=65536 threads=2
#   snakemake -s workflows/sharded.smk --executor slurm --jobs 100    # see workflows/README.md
#
# Shards must start on 1,024-row statistics blocks (`rows` a multiple of 1,024), and the PCA
# shards must too: with cell filters in `normalize` (min-genes, max-mito, …) the filtered shards
# no longer start on blocks, and the PCA is then exact only up to rounding; filter in a first
# sharded run and split its output again for bytes-exact PCA.
import os
import shlex
import subprocess

configfile: os.path.join(workflow.basedir, "sharded.yaml")

LATENT = config.get("latent", "latent")
INPUT = config["input"]
OUT = config.get("outdir", "latent-sharded")
ROWS = int(config.get("rows", 65536))
SEED = config.get("seed", 0)
# Every job runs with this many threads: OpenBLAS's products differ in the last bits between
# thread counts, so the single-process run to compare with must use the same --threads.
THREADS = int(config.get("threads", 1))
if ROWS % 1024:
    raise ValueError(f"rows: {ROWS} is not a multiple of 1024 (shards must start on statistics blocks)")


def flags(section):
    """Stage parameters from config as command-line flags: {min-cells: 3} → --min-cells 3."""
    out = []
    for name, value in (config.get(section) or {}).items():
        flag = "--" + str(name).replace("_", "-")
        if value is True:
            out.append(flag)
        elif value is False or value is None:
            continue
        else:
            out.append(f"{flag} {value}")
    return " ".join(out)


NORMALIZE = flags("normalize")
PCA = flags("pca")
# The statistics passes these normalize options need, in order: one map/merge round each.
PASSES = subprocess.run(shlex.split(LATENT) + ["normalize", INPUT, "-o", os.devnull + ".h5ad", "--passes"]
                        + shlex.split(NORMALIZE), check=True, capture_output=True, text=True).stdout.split()

wildcard_constraints:
    name=r"[^/]+",
    p=r"\d+",


rule all:
    input:
        f"{OUT}/all.h5ad",


checkpoint split:
    input:
        INPUT,
    output:
        directory(f"{OUT}/shards"),
    log:
        f"{OUT}/logs/split.log",
    shell:
        "{LATENT} split {input} --rows {ROWS} -o {output} > /dev/null 2> {log}"


def shard_names(wildcards=None):
    """The shards `latent split` wrote, in row order (its names sort in row order)."""
    d = checkpoints.split.get().output[0]
    return sorted(glob_wildcards(os.path.join(d, "{name}.h5ad")).name)


def offset(wildcards):
    """The shard's first row in the whole matrix: every shard but the last has ROWS rows."""
    return shard_names().index(wildcards.name) * ROWS


def stats_flags(paths):
    return " ".join(f"--stats {p}" for p in paths)


def merged(passes):
    return [f"{OUT}/stats/normalize.p{q}.stats" for q in passes]


rule normalize_map:
    input:
        shard=f"{OUT}/shards/{{name}}.h5ad",
        stats=lambda w: merged(range(1, int(w.p))),
    output:
        f"{OUT}/stats/shards/{{name}}.normalize.p{{p}}.stats",
    params:
        offset=offset,
        stats=lambda w, input: stats_flags(input.stats),
    threads: THREADS
    log:
        f"{OUT}/logs/{{name}}.normalize.p{{p}}.log",
    shell:
        "{LATENT} normalize {input.shard} --row-offset {params.offset} {NORMALIZE} --map-stats {params.stats}"
        " -o {output} --seed {SEED} --threads {THREADS} > /dev/null 2> {log}"


rule normalize_merge:
    input:
        lambda w: [f"{OUT}/stats/shards/{n}.normalize.p{w.p}.stats" for n in shard_names()],
    output:
        f"{OUT}/stats/normalize.p{{p}}.stats",
    log:
        f"{OUT}/logs/normalize.p{{p}}.merge.log",
    shell:
        "{LATENT} stats merge {input} -o {output} > /dev/null 2> {log}"


rule normalize_apply:
    input:
        shard=f"{OUT}/shards/{{name}}.h5ad",
        stats=merged(range(1, len(PASSES) + 1)),
    output:
        f"{OUT}/normalized/{{name}}.h5ad",
    params:
        offset=offset,
        stats=lambda w, input: stats_flags(input.stats),
    threads: THREADS
    log:
        f"{OUT}/logs/{{name}}.normalize.log",
    shell:
        "{LATENT} normalize {input.shard} --row-offset {params.offset} {NORMALIZE} {params.stats}"
        " -o {output} --seed {SEED} --threads {THREADS} > /dev/null 2> {log}"


rule pca_map:
    input:
        f"{OUT}/normalized/{{name}}.h5ad",
    output:
        f"{OUT}/stats/shards/{{name}}.pca.stats",
    params:
        offset=offset,
    threads: THREADS
    log:
        f"{OUT}/logs/{{name}}.pca.map.log",
    shell:
        "{LATENT} pca {input} --row-offset {params.offset} {PCA} --map-stats -o {output}"
        " --seed {SEED} --threads {THREADS} > /dev/null 2> {log}"


rule pca_merge:
    input:
        lambda w: [f"{OUT}/stats/shards/{n}.pca.stats" for n in shard_names()],
    output:
        f"{OUT}/stats/pca.stats",
    log:
        f"{OUT}/logs/pca.merge.log",
    shell:
        "{LATENT} stats merge {input} -o {output} > /dev/null 2> {log}"


rule pca_apply:
    input:
        shard=f"{OUT}/normalized/{{name}}.h5ad",
        stats=f"{OUT}/stats/pca.stats",
    output:
        f"{OUT}/pca/{{name}}.h5ad",
    threads: THREADS
    log:
        f"{OUT}/logs/{{name}}.pca.log",
    shell:
        "{LATENT} pca {input.shard} {PCA} --stats {input.stats} -o {output}"
        " --seed {SEED} --threads {THREADS} > /dev/null 2> {log}"


rule gather:
    input:
        lambda w: [f"{OUT}/pca/{n}.h5ad" for n in shard_names()],
    output:
        f"{OUT}/all.h5ad",
    log:
        f"{OUT}/logs/gather.log",
    shell:
        "{LATENT} import {input} -o {output} > /dev/null 2> {log}"
