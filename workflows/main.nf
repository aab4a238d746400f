#!/usr/bin/env nextflow
/*
 * The latent stages as a Nextflow DSL2 pipeline: one process per stage, nf-core module style
 * (a `tag` per sample, `task.ext.args` for extra flags, a versions.yml beside every output).
 * Several datasets and a grid of PCA sizes fan out over the executor (local, or SLURM with
 * `-profile slurm`):
 *
 *   nextflow run workflows/main.nf --input 'data/*.h5ad' --k 10,20 --outdir results
 *   nextflow run workflows/main.nf -profile slurm --input samplesheet.csv
 *
 * --input: an .h5ad/CSV/10x path or glob, or a CSV sample sheet with columns `id,path`.
 */
nextflow.enable.dsl = 2

params.input      = "${projectDir}/../Examples/hsmm/hsmm_trapnell2014.h5ad"
params.outdir     = 'latent-nextflow'
params.latent     = 'latent'
params.seed       = 0
params.method     = 'log1p'
params.min_cells  = 3
params.hvg        = 2000
params.k          = '10'          // comma-separated: one PCA (and enrichment) per value
params.gene_sets  = 'go_bp'
params.gene_names = 'gene_short_name'
params.top        = 3

// nf-core's versions.yml, written with printf so no heredoc depends on indentation.
def versionsScript(String process) {
    """
    printf '"%s":\\n    latent: %s\\n' "${process}" "\$(${params.latent} --version)" > versions.yml
    """
}

process LATENT_IMPORT {
    tag "${meta.id}"
    label 'process_low'
    publishDir "${params.outdir}/${meta.id}", mode: 'copy'

    input:
    tuple val(meta), path(counts)

    output:
    tuple val(meta), path('dataset.h5ad'), emit: h5ad
    path 'versions.yml',                   emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    ${params.latent} import ${counts} -o dataset.h5ad --seed ${params.seed} --threads ${task.cpus} --quiet ${args} > /dev/null
    """ + versionsScript(task.process)
}

process LATENT_NORMALIZE {
    tag "${meta.id}"
    label 'process_medium'
    publishDir "${params.outdir}/${meta.id}", mode: 'copy'

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path('normalized.h5ad'), emit: h5ad
    path 'versions.yml',                      emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    ${params.latent} normalize ${h5ad} -o normalized.h5ad --method ${params.method} --min-cells ${params.min_cells} \\
        --hvg ${params.hvg} --seed ${params.seed} --threads ${task.cpus} --quiet ${args} > /dev/null
    """ + versionsScript(task.process)
}

process LATENT_PCA {
    tag "${meta.id} k=${meta.k}"
    label 'process_medium'
    publishDir "${params.outdir}/${meta.id}/k${meta.k}", mode: 'copy'

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path('pca.h5ad'), emit: h5ad
    path 'versions.yml',               emit: versions

    script:
    def args = task.ext.args ?: ''
    """
    ${params.latent} pca ${h5ad} -o pca.h5ad --k ${meta.k} --seed ${params.seed} --threads ${task.cpus} --quiet ${args} > /dev/null
    """ + versionsScript(task.process)
}

process LATENT_ENRICH {
    tag "${meta.id} k=${meta.k}"
    label 'process_medium'
    publishDir "${params.outdir}/${meta.id}/k${meta.k}", mode: 'copy'

    input:
    tuple val(meta), path(h5ad)

    output:
    tuple val(meta), path('enrich.tsv'), emit: tsv
    path 'versions.yml',                 emit: versions

    script:
    def args = task.ext.args ?: ''
    def names = params.gene_names ? "--gene-names ${params.gene_names}" : ''
    def top = params.top ? "--top ${params.top}" : ''
    """
    ${params.latent} enrich ${h5ad} --key varm/PCs --gene-sets ${params.gene_sets} ${names} ${top} \\
        -o enrich.tsv --seed ${params.seed} --threads ${task.cpus} --quiet ${args} > /dev/null
    """ + versionsScript(task.process)
}

workflow {
    def input = params.input.toString()
    def samples = input.endsWith('.csv') && !input.contains('*')
        ? Channel.fromPath(input).splitCsv(header: true).map { row -> [[id: row.id], file(row.path, checkIfExists: true)] }
        : Channel.fromPath(input, type: 'any', checkIfExists: true).map { f -> [[id: f.simpleName], f] }   // 'any': 10x directories too
    def ks = Channel.fromList(params.k.toString().tokenize(',').collect { it.trim() as Integer })

    LATENT_IMPORT(samples)
    LATENT_NORMALIZE(LATENT_IMPORT.out.h5ad)
    def grid = LATENT_NORMALIZE.out.h5ad.combine(ks).map { meta, h5ad, k -> [meta + [k: k], h5ad] }
    LATENT_PCA(grid)
    LATENT_ENRICH(LATENT_PCA.out.h5ad)

    LATENT_IMPORT.out.versions
        .mix(LATENT_NORMALIZE.out.versions, LATENT_PCA.out.versions, LATENT_ENRICH.out.versions)
        .map { it.text }
        .unique()                                   // one entry per process, not per task
        .collectFile(name: 'versions.yml', storeDir: "${params.outdir}/pipeline_info", sort: true)
}
