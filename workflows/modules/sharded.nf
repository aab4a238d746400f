/*
 * Processes of workflows/sharded.nf, one `latent` subcommand each (nf-core module style: a tag,
 * a resource label, task.ext.args for extra flags). Included several times under aliases, since
 * normalize needs one map/merge round per statistics pass.
 */

process LATENT_SPLIT {
    label 'process_low'

    input:
    path h5ad

    output:
    path 'shards/*.h5ad', emit: shards

    script:
    """
    ${params.latent} split ${h5ad} --rows ${params.rows} -o shards --quiet ${task.ext.args ?: ''} > /dev/null
    """
}

// One shard's statistics for normalize pass `pass`, given the merged statistics of the passes
// before it (in pass order).
process LATENT_NORMALIZE_MAP {
    tag "${shard.baseName} p${pass}"
    label 'process_low'

    input:
    tuple val(index), path(shard), val(pass), path(earlier, stageAs: 'earlier/*')

    output:
    tuple val(pass), path("${shard.baseName}.normalize.p${pass}.stats")

    script:
    def stats = (earlier instanceof List ? earlier : [earlier]).findAll { it.name }.collect { "--stats ${it}" }.join(' ')
    """
    ${params.latent} normalize ${shard} --row-offset ${index * params.rows} ${params.normalize_args} \\
        --map-stats ${stats} -o ${shard.baseName}.normalize.p${pass}.stats --seed ${params.seed} --threads ${task.cpus} --quiet > /dev/null
    """
}

process LATENT_STATS_MERGE {
    tag "${name}"
    label 'process_low'

    input:
    tuple val(name), path(parts, stageAs: 'parts/*')

    output:
    path "${name}.stats"

    script:
    """
    ${params.latent} stats merge ${parts} -o ${name}.stats > /dev/null
    """
}

process LATENT_NORMALIZE_APPLY {
    tag "${shard.baseName}"
    label 'process_low'

    input:
    tuple val(index), path(shard), path(merged, stageAs: 'merged/*')

    output:
    tuple val(index), path("normalized/${shard.baseName}.h5ad")

    script:
    def stats = (merged instanceof List ? merged : [merged]).findAll { it.name }.collect { "--stats ${it}" }.join(' ')
    """
    mkdir -p normalized
    ${params.latent} normalize ${shard} --row-offset ${index * params.rows} ${params.normalize_args} ${stats} \\
        -o normalized/${shard.baseName}.h5ad --seed ${params.seed} --threads ${task.cpus} --quiet > /dev/null
    """
}

process LATENT_PCA_MAP {
    tag "${shard.baseName}"
    label 'process_low'

    input:
    tuple val(index), path(shard)

    output:
    path "${shard.baseName}.pca.stats"

    script:
    """
    ${params.latent} pca ${shard} --row-offset ${index * params.rows} ${params.pca_args} --map-stats \\
        -o ${shard.baseName}.pca.stats --threads ${task.cpus} --quiet > /dev/null
    """
}

process LATENT_PCA_APPLY {
    tag "${shard.baseName}"
    label 'process_low'

    input:
    tuple val(index), path(shard), path(stats)

    output:
    tuple val(index), path("pca/${shard.baseName}.h5ad")

    script:
    """
    mkdir -p pca
    ${params.latent} pca ${shard} ${params.pca_args} --stats ${stats} -o pca/${shard.baseName}.h5ad \\
        --seed ${params.seed} --threads ${task.cpus} --quiet > /dev/null
    """
}

process LATENT_GATHER {
    label 'process_medium'
    publishDir "${params.outdir}", mode: 'copy'

    input:
    path(parts, stageAs: 'parts/*')

    output:
    path 'all.h5ad'

    script:
    """
    ${params.latent} import ${parts} -o all.h5ad --quiet > /dev/null
    """
}
