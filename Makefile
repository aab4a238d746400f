# latent: two commands do all set-up on a fresh machine —
#   make demo   install what is missing, build, run the bundled example end to end
#   make test   the same set-up, then every test (Swift unit tests + CLI and anndata round trips)
#   make report-screenshot   the report of the bundled example, rendered by headless Chromium

SHELL := /bin/bash
SWIFT ?= swift
BIN := .build/release/latent
VENV := .venv
PY := $(VENV)/bin/python
APT_PACKAGES := libhdf5-dev libopenblas-dev liblapacke-dev zlib1g-dev libdeflate-dev pkg-config
DEMO_OUT ?= demo-out
# OpenBLAS 0.3.21 does not know Zen 5 and falls back to Haswell kernels; SkylakeX ones are
# about 2x faster there and run on every AVX-512 machine. Only set where AVX-512 exists.
export OPENBLAS_CORETYPE ?= $(shell grep -q avx512f /proc/cpuinfo 2>/dev/null && echo SkylakeX)

.PHONY: all deps chromium build demo test test-swift test-cli venv bench clean report-screenshot install install-files

all: build

# System libraries, installed only when pkg-config cannot find them.
deps:
	@if ! pkg-config --exists hdf5 openblas libdeflate 2>/dev/null || [ ! -f /usr/include/zlib.h ]; then \
	  echo "installing $(APT_PACKAGES)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	fi

# Headless Chromium (Debian's package) renders the report in its test and for report-screenshot.
# Installed only when missing; if apt cannot install it, the rendering test says so and skips.
chromium:
	@if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then \
	  echo "installing chromium"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  ( $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null ) \
	    || echo "chromium could not be installed: the report rendering test will be skipped"; \
	fi

build: deps
	$(SWIFT) build -c release

# Python tools the tests compare against (anndata reads our files), in a local venv.
venv: $(VENV)/.ready
$(VENV)/.ready: IntegrationTests/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r IntegrationTests/requirements.txt
	touch $@

demo: build
	@mkdir -p $(DEMO_OUT)
	@echo "== GEUVADIS RNA-seq counts (CSV.gz, samples in rows) + sample sheet -> h5ad -> DESeq2 normalisation -> PCA -> which PC is chrY?"
	$(BIN) import Examples/geuvadis/geuvadis_sex_counts.csv.gz --obs-table Examples/geuvadis/geuvadis_sex_counts_obs.csv \
	  --var-table Examples/geuvadis/geuvadis_sex_counts_var.csv --counts -o $(DEMO_OUT)/geuvadis.h5ad
	$(BIN) inspect $(DEMO_OUT)/geuvadis.h5ad
	$(BIN) normalize $(DEMO_OUT)/geuvadis.h5ad --method median-of-ratios --min-cells 10 --hvg 3000 -o $(DEMO_OUT)/geuvadis_norm.h5ad
	$(BIN) pca $(DEMO_OUT)/geuvadis_norm.h5ad --k 10 -o $(DEMO_OUT)/geuvadis_pca.h5ad
	$(BIN) enrich $(DEMO_OUT)/geuvadis_pca.h5ad --key varm/PCs --gene-names symbol --gene-sets positional --min-size 5 \
	  --max-size 1000 --top 2 -o $(DEMO_OUT)/geuvadis_enrich.tsv
	@column -t -s $$'\t' $(DEMO_OUT)/geuvadis_enrich.tsv | cut -c1-150 | head -21
	@echo "== HSMM myoblast time course (h5ad, sparse FPKM) -> log1p + HVG -> PCA -> GO biological processes per PC"
	$(BIN) import Examples/hsmm/hsmm_trapnell2014.h5ad -o $(DEMO_OUT)/hsmm.h5ad
	$(BIN) normalize $(DEMO_OUT)/hsmm.h5ad --method log1p --min-cells 3 --hvg 2000 -o $(DEMO_OUT)/hsmm_norm.h5ad
	$(BIN) pca $(DEMO_OUT)/hsmm_norm.h5ad --k 10 -o $(DEMO_OUT)/hsmm_pca.h5ad
	$(BIN) enrich $(DEMO_OUT)/hsmm_pca.h5ad --key varm/PCs --gene-names gene_short_name --gene-sets go_bp --top 3 \
	  -o $(DEMO_OUT)/hsmm_enrich.tsv
	@column -t -s $$'\t' $(DEMO_OUT)/hsmm_enrich.tsv | cut -c1-150 | head -31
	@echo "== the same cells -> a β-VAE (10 latents, deep decoder) -> GO biological processes per latent"
	$(BIN) vae $(DEMO_OUT)/hsmm_norm.h5ad --latent 10 --hidden 128 --epochs 200 --batch-size 64 -o $(DEMO_OUT)/hsmm_vae
	$(BIN) enrich $(DEMO_OUT)/hsmm_vae/embedding.h5ad --key varm/vae_loadings --gene-names gene_short_name --gene-sets go_bp \
	  --top 1 -o $(DEMO_OUT)/hsmm_vae_enrich.tsv
	@column -t -s $$'\t' $(DEMO_OUT)/hsmm_vae_enrich.tsv | cut -c1-150 | head -11
	$(BIN) traverse $(DEMO_OUT)/hsmm_vae/model.h5 --latent 0 -o $(DEMO_OUT)/hsmm_vae_traverse_z0.tsv
	@echo "Outputs in $(DEMO_OUT)/ (h5ad files open in scanpy/anndata; TSV tables in pandas/R)."

test: deps venv chromium test-swift test-cli

# One release build with testing enabled serves both suites (numerical tests are 10-50x slower in
# debug; building twice with different flags would compile everything twice).
TESTBUILD := -c release -Xswiftc -enable-testing
test-swift:
	$(SWIFT) build $(TESTBUILD) --build-tests
	$(SWIFT) test $(TESTBUILD) --skip-build

test-cli: venv
	$(SWIFT) build $(TESTBUILD)
	LATENT_BIN=$(BIN) $(PY) -m pytest -q IntegrationTests

# The report of the bundled myoblast time course (PCA, ICA and NMF, GO BP enrichment, metrics
# against the time point and state), rendered to Benchmarks/results/report.png for people to look at.
REPORT_OUT ?= $(DEMO_OUT)/report
REPORT_PNG ?= Benchmarks/results/report.png
report-screenshot: build chromium
	@mkdir -p $(REPORT_OUT)/runs
	$(BIN) import Examples/hsmm/hsmm_trapnell2014.h5ad -o $(REPORT_OUT)/hsmm.h5ad -q
	$(BIN) normalize $(REPORT_OUT)/hsmm.h5ad --method log1p --min-cells 3 --hvg 2000 -o $(REPORT_OUT)/runs/norm.h5ad -q
	@for m in pca:PCs ica:ICs nmf:NMF_loadings; do model=$${m%%:*}; key=$${m#*:}; \
	  $(BIN) $$model $(REPORT_OUT)/runs/norm.h5ad --k 8 --seed 1 -o $(REPORT_OUT)/runs/$$model.h5ad -q && \
	  $(BIN) enrich $(REPORT_OUT)/runs/$$model.h5ad --key varm/$$key --gene-names gene_short_name --gene-sets go_bp --top 10 \
	    -o $(REPORT_OUT)/runs/enrich_$$model.tsv -q && \
	  $(BIN) metrics $(REPORT_OUT)/runs/$$model.h5ad --key obsm/X_$$model --factors obs/State,obs/Hours,obs/Pseudotime \
	    -o $(REPORT_OUT)/runs/metrics_$$model.tsv -q || exit 1; done
	$(BIN) vae $(REPORT_OUT)/runs/norm.h5ad --latent 8 --hidden 128 --epochs 200 --batch-size 64 --seed 1 -o $(REPORT_OUT)/runs/vae -q
	$(BIN) enrich $(REPORT_OUT)/runs/vae/embedding.h5ad --key varm/vae_loadings --gene-names gene_short_name --gene-sets go_bp \
	  --top 10 -o $(REPORT_OUT)/runs/vae/enrich.tsv -q
	$(BIN) metrics $(REPORT_OUT)/runs/vae/embedding.h5ad --key obsm/X_vae --factors obs/State,obs/Hours,obs/Pseudotime \
	  -o $(REPORT_OUT)/runs/vae/metrics.tsv -q
	$(BIN) traverse $(REPORT_OUT)/runs/vae/model.h5 --latent 0 -o $(REPORT_OUT)/runs/vae/traverse_z0.tsv -q
	$(BIN) differential $(REPORT_OUT)/runs/vae --groupby obs/State -o $(REPORT_OUT)/runs/vae/differential.tsv -q
	$(BIN) report $(REPORT_OUT)/runs -o $(REPORT_OUT)/report.html --color-by State --title "HSMM myoblast differentiation (Trapnell 2014)"
	@mkdir -p $(dir $(REPORT_PNG))
	$$(command -v chromium || command -v chromium-browser) --headless --no-sandbox --disable-gpu --hide-scrollbars \
	  --user-data-dir=$(REPORT_OUT)/.chromium-profile --window-size=1200,4000 --screenshot=$(abspath $(REPORT_PNG)) \
	  file://$(abspath $(REPORT_OUT))/report.html 2>/dev/null
	@echo "$(REPORT_PNG) (page: $(REPORT_OUT)/report.html)"

# `make bench` runs every benchmark; `make bench stages vae` only those named, SMALL=1 on small data.
ifneq ($(filter bench,$(MAKECMDGOALS)),)
BENCH_NAMES := $(filter-out bench,$(MAKECMDGOALS))
$(BENCH_NAMES): ; @:
endif
# Installing where Snakemake/Nextflow rules (or people) run it: the binary, the shipped gene sets
# (found at BIN/../share/latent/GeneSets), bash/zsh/fish completions and a man page, both
# generated by swift-argument-parser from the commands themselves. The Swift runtime is linked
# statically so the binary runs on nodes without a Swift toolchain (it still needs the system
# libraries: libhdf5, OpenBLAS/LAPACKE, zlib). `make install-files` installs an already built
# BIN without building (what the test does with its test build).
PREFIX ?= /usr/local
DESTDIR ?=
INSTALL_BUILD_FLAGS ?= -c release --static-swift-stdlib
install: deps
	$(SWIFT) build $(INSTALL_BUILD_FLAGS)
	$(MAKE) --no-print-directory install-files BIN=$$($(SWIFT) build $(INSTALL_BUILD_FLAGS) --show-bin-path)/latent

install-files:
	@test -x $(BIN) || { echo "no binary at $(BIN): run make build (or make install)"; exit 1; }
	@D=$(DESTDIR)$(PREFIX); set -e; \
	install -d $$D/bin $$D/share/latent/GeneSets $$D/share/man/man1 $$D/share/bash-completion/completions \
	  $$D/share/zsh/site-functions $$D/share/fish/vendor_completions.d; \
	install -m 755 $(BIN) $$D/bin/latent; \
	install -m 644 GeneSets/* $$D/share/latent/GeneSets/; \
	$(BIN) --generate-completion-script bash > $$D/share/bash-completion/completions/latent; \
	$(BIN) --generate-completion-script zsh > $$D/share/zsh/site-functions/_latent; \
	$(BIN) --generate-completion-script fish > $$D/share/fish/vendor_completions.d/latent.fish; \
	python3 tools/manpage.py $(BIN) > $$D/share/man/man1/latent.1; \
	echo "installed latent in $$D/bin (gene sets in $$D/share/latent/GeneSets, man page latent(1))"

bench: deps
	bash Benchmarks/run.sh $(if $(SMALL),--small) $(BENCH_NAMES)

clean:
	rm -rf .build $(DEMO_OUT)
