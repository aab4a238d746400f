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
# The build's system libraries: the Makefile's APT_PACKAGES (its `deps` target installs them on
# a bare machine; here they are in their own layer, cached across source changes).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhdf5-dev libopenblas-dev liblapacke-dev zlib1g-dev pkg-config make python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first (resolved online once, cached while only our sources change).
COPY Package.swift ./
RUN swift package resolve
COPY . .
RUN make install PREFIX=/opt/latent

FROM ${RUNTIME_IMAGE}
# Runtime libraries of the same Debian release as the build; procps because Nextflow reads
# task metrics with `ps`.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libhdf5-103-1 libopenblas0-pthread zlib1g libgfortran5 libstdc++6 procps ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/latent/ /usr/local/
RUN latent --version && latent enrich --help >/dev/null
CMD ["latent", "--help"]
