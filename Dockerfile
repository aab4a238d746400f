# latent in a container, for the `container:` directive of the Snakemake rules and Nextflow's
# `process.container` (see workflows/README.md):
#
#   docker build -t latent:0.1.0 .
#   docker run --rm -v "$PWD:/data" -w /data latent:0.1.0 latent pca norm.h5ad -o pca.h5ad --k 50
#   apptainer build latent.sif docker-daemon://latent:0.1.0      # HPC sites without docker
#
# Two stages: the Swift 6.3 toolchain on Debian bookworm builds and installs (`make install`:
# binary with the Swift runtime linked statically, shipped gene sets, completions, man page);
# the image that runs is bookworm-slim with only the runtime system libraries.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# The build's system libraries are the Makefile's APT_PACKAGES, installed by its `deps` target
# (one list to keep up to date); make and python3 (the man page) first. Their own layer, cached
# across source changes.
WORKDIR /src
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends make python3 pkg-config \
 && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
RUN make deps && rm -rf /var/lib/apt/lists/*
COPY . .
RUN make install PREFIX=/opt/latent

FROM ${RUNTIME_IMAGE}
# Runtime libraries of the same Debian release as the build (the shared-library packages of
# APT_PACKAGES: keep the two lists in step); procps because Nextflow reads task metrics with `ps`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhdf5-103-1 libopenblas0-pthread zlib1g libdeflate0 libgfortran5 libstdc++6 procps ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/latent/ /usr/local/
RUN latent --version && latent enrich --help >/dev/null
CMD ["latent", "--help"]
