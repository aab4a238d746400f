"""`make install`: the binary, the shipped gene sets, shell completions and the man page land under
PREFIX, and the installed `latent` finds its gene sets by name when run from anywhere else.

The test installs the binary under test (`make install-files BIN=…`): `make install` itself builds
first (Swift runtime linked statically), which would be a second full build here."""
import filecmp
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, ROOT


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("install") / "prefix"
    r = subprocess.run(["make", "-C", str(ROOT), "--no-print-directory", "install-files", f"PREFIX={p}", f"BIN={BIN}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return p


def clean_env():
    """No hints from the environment: the binary must find its files by itself."""
    return {k: v for k, v in os.environ.items() if k not in ("LATENT_GENESETS", "LATENT_DATA_DIR")}


def installed(prefix, *args, cwd):
    return subprocess.run([str(prefix / "bin" / "latent"), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=clean_env())


def test_files_are_in_place(prefix):
    assert os.access(prefix / "bin" / "latent", os.X_OK)
    shipped = sorted(f.name for f in (ROOT / "GeneSets").iterdir())
    assert sorted(f.name for f in (prefix / "share/latent/GeneSets").iterdir()) == shipped
    assert filecmp.cmp(prefix / "share/latent/GeneSets/go_bp.gmt", ROOT / "GeneSets/go_bp.gmt", shallow=False)
    man = (prefix / "share/man/man1/latent.1").read_text()
    assert man.startswith(".TH LATENT 1")
    for sub in ["IMPORT", "NORMALIZE", "PCA", "VAE", "ENRICH", "RUN"]:
        assert f'.SH "LATENT {sub}"' in man, sub
    assert "\\-\\-gene\\-sets" in man
    if shutil.which("man"):
        r = subprocess.run(["man", "-l", "-Tutf8", str(prefix / "share/man/man1/latent.1")], capture_output=True, text=True)
        text = re.sub(".\x08", "", r.stdout)     # overstrike (bold) as man renders it for a terminal
        assert r.returncode == 0 and "LATENT ENRICH" in text and "--gene-sets" in text, r.stderr
    bash = prefix / "share/bash-completion/completions/latent"
    r = subprocess.run(["bash", "-c", f"source {bash} && complete -p latent"], capture_output=True, text=True)
    assert r.returncode == 0 and "latent" in r.stdout, r.stderr
    assert "#compdef latent" in (prefix / "share/zsh/site-functions/_latent").read_text()
    assert "complete -c 'latent'" in (prefix / "share/fish/vendor_completions.d/latent.fish").read_text()


def test_installed_latent_finds_shipped_gene_sets_from_another_directory(prefix, tmp_path):
    work = tmp_path / "elsewhere"
    work.mkdir()
    # An extra collection that exists only in the installed copy proves which copy is used.
    first = (ROOT / "GeneSets/go_bp.gmt").read_text().split("\n", 1)[0]
    (prefix / "share/latent/GeneSets/only_installed.gmt").write_text("ONLY_INSTALLED\ttest\t" + first.split("\t", 2)[2] + "\n")
    try:
        r = installed(prefix, "simulate", "--cells", 150, "--genes", 1500, "--programs", 4, "--gene-sets", "go_bp",
                      "--seed", 1, "-o", "sim.h5ad", "-q", cwd=work)
        assert r.returncode == 0, r.stderr
        r = installed(prefix, "pca", "sim.h5ad", "--k", 4, "-o", "pca.h5ad", "-q", cwd=work)
        assert r.returncode == 0, r.stderr
        r = installed(prefix, "enrich", "pca.h5ad", "--key", "varm/PCs", "--gene-sets", "go_bp", "--permutations", 100,
                      "--min-size", 5, "--top", 1, "-o", "enrich.tsv", "-q", cwd=work)
        assert r.returncode == 0, r.stderr
        rows = (work / "enrich.tsv").read_text().splitlines()
        assert rows[0].startswith("latent\tmethod\tgene_set") and len(rows) > 1
        r = installed(prefix, "simulate", "--cells", 50, "--genes", 200, "--programs", 1, "--gene-sets", "only_installed",
                      "-o", "x.h5ad", "-q", cwd=work)
        # Found by name in PREFIX/share/latent/GeneSets (the run may still refuse the tiny set; not "not found").
        assert "no such file" not in r.stderr and "cannot open" not in r.stderr, r.stderr
    finally:
        (prefix / "share/latent/GeneSets/only_installed.gmt").unlink()


def test_an_unknown_collection_name_says_where_it_looked(prefix, tmp_path):
    r = installed(prefix, "simulate", "--cells", 50, "--genes", 200, "--gene-sets", "go_bq", "-o", "x.h5ad", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("latent: go_bq: no such file, and no shipped gene-set collection of that name in "), lines[0]
    assert str(prefix / "share/latent/GeneSets") in lines[0] and "go_bp" in lines[0], lines[0]
    assert "LATENT_GENESETS" in lines[0]
    assert not (tmp_path / "x.h5ad").exists()
