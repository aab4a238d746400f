#!/usr/bin/env nextflow
/*
 * normalize + PCA over row shards (issue 16), as Nextflow DSL2: split → statistics per shard
 * (map) → their exact sum (reduce) → each shard transformed with the global statistics (map) →
 * gather. The same commands, and the same result, as workflows/sharded.smk (see README.md):
 *
 *   nextflow run workflows/sharded.nf --input atlas.h5ad --rows 131072 --latent $PWD/.build/release/latent
 *   nextflow run workflows/sharded.nf -profile slurm --input atlas.h5ad --normalize_args '--hvg 3000' --pca_args '--k 30'
 *
 * Resources and profiles (local, slurm) come from nextflow.config beside this file.
 */
nextflow.enable.dsl = 2

params.input          = null
params.rows           = 65536          // rows per shard: a multiple of 1024
params.outdir         = 'latent-sharded'
params.latent         = 'latent'
params.seed           = 0
params.normalize_args = '--hvg 2000'
params.pca_args       = '--k 50'

include { LATENT_SPLIT; LATENT_NORMALIZE_APPLY; LATENT_PCA_MAP; LATENT_PCA_APPLY; LATENT_GATHER } from './modules/sharded.nf'
include { LATENT_NORMALIZE_MAP as NORMALIZE_MAP_1; LATENT_NORMALIZE_MAP as NORMALIZE_MAP_2; LATENT_NORMALIZE_MAP as NORMALIZE_MAP_3 } from './modules/sharded.nf'
include { LATENT_STATS_MERGE as MERGE_1; LATENT_STATS_MERGE as MERGE_2; LATENT_STATS_MERGE as MERGE_3; LATENT_STATS_MERGE as MERGE_PCA } from './modules/sharded.nf'


workflow {
    if (!params.input) { error "--input: the .h5ad to shard" }
    if ((params.rows as int) % 1024 != 0) { error "--rows ${params.rows}: shards must start on 1,024-row statistics blocks" }
    // The statistics passes these normalize options need (one map/merge round each), from latent itself.
    def passes = "${params.latent} normalize ${params.input} -o /dev/null.h5ad --passes ${params.normalize_args}"
        .execute().text.readLines().findAll { it.trim() }
    if (passes.size() > 3) { error "normalize needs ${passes.size()} statistics passes; this workflow chains at most 3" }

    // (index, shard) in row order: `latent split` names its shards so that they sort in row order.
    shards = LATENT_SPLIT(file(params.input)).shards
        .flatten()
        .toSortedList { a, b -> a.name <=> b.name }
        .flatMap { l -> l.withIndex().collect { f, i -> tuple(i, f) } }

    // One map/merge round per pass; round p sees the merged files of rounds 1..p-1.
    mapSteps = [NORMALIZE_MAP_1, NORMALIZE_MAP_2, NORMALIZE_MAP_3]
    mergeSteps = [MERGE_1, MERGE_2, MERGE_3]
    merged = Channel.value([])
    passes.eachWithIndex { name, i ->
        def p = i + 1
        parts = mapSteps[i](shards.combine(Channel.of(p)).combine(merged.map { [it] }))
        one = mergeSteps[i](parts.map { it[1] }.collect().map { tuple("normalize.p${p}", it) })
        merged = merged.combine(one).map { prev, f -> prev + [f] }.first()
    }
    normalized = LATENT_NORMALIZE_APPLY(shards.combine(merged.map { [it] }))

    pcaStats = MERGE_PCA(LATENT_PCA_MAP(normalized).collect().map { tuple('pca', it) })
    pca = LATENT_PCA_APPLY(normalized.combine(pcaStats))
    LATENT_GATHER(pca.toSortedList { a, b -> a[0] <=> b[0] }.map { l -> l.collect { it[1] } })
}
