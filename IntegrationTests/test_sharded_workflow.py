"""Sharded normalize + PCA (issue 16): `latent pca --map-stats` / `latent stats merge` /
`latent pca --stats` per shard give the single-process PCA, and workflows/sharded.smk run by
Snakemake on shards of a small simulated file gathers the single-process arrays."""
import shutil
import subprocess
import sys
from pathlib import Path

import anndata as ad
import h5py
import numpy as np
import pytest

from conftest import BIN, ROOT, latent


def arrays(path):
    """Every dataset of an HDF5 file by path: values and dtype (what a reader sees)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def assert_same_arrays(a, b, skip=None):
    x, y = arrays(a), arrays(b)
    if skip:
        x = {k: v for k, v in x.items() if not k.startswith(skip)}
        y = {k: v for k, v in y.items() if not k.startswith(skip)}
    assert sorted(x) == sorted(y)
    for k in x:
        if isinstance(x[k], bytes) or isinstance(y[k], bytes):
            assert x[k] == y[k], k
            continue
        assert x[k].dtype == y[k].dtype, k
        np.testing.assert_array_equal(x[k], y[k], err_msg=k)


@pytest.fixture(scope="module")
def lognorm(tmp_path_factory):
    """3,000 × 300 log-normalised-like dense matrix: 3 shards of 1,024 rows (the last shorter)."""
    d = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(4)
    u, v = rng.gamma(2.0, 1.0, (3000, 5)), rng.gamma(1.0, 1.0, (5, 300)) * (rng.random((5, 300)) < 0.3)
    x = np.log1p(rng.poisson(u @ v + 0.3)).astype(np.float32)
    a = ad.AnnData(X=x)
    a.obs_names = [f"c{i}" for i in range(3000)]
    a.var_names = [f"g{j}" for j in range(300)]
    whole = d / "whole.h5ad"
    a.write_h5ad(whole)
    shards = []
    for s, lo in enumerate(range(0, 3000, 1024)):
        p = d / f"s{s}.h5ad"
        a[lo:lo + 1024].copy().write_h5ad(p)
        shards.append((p, lo))
    return whole, shards


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_pca_map_merge_apply_equals_the_single_run(lognorm, tmp_path, solver):
    whole, shards = lognorm
    args = ["--k", "8", "--solver", solver, "--seed", "3", "-q"]
    latent("pca", whole, "-o", tmp_path / "single.h5ad", *args, check=True)
    stats = []
    for p, lo in shards:
        s = tmp_path / f"{p.stem}.stats"
        latent("pca", p, "--row-offset", lo, "--map-stats", "-o", s, "-q", check=True)
        stats.append(s)
    latent("stats", "merge", *reversed(stats), "-o", tmp_path / "all.stats", check=True)
    single = ad.read_h5ad(tmp_path / "single.h5ad")
    scores = []
    for p, _ in shards:
        out = tmp_path / f"{p.stem}.pca.h5ad"
        latent("pca", p, "--stats", tmp_path / "all.stats", "-o", out, *args, check=True)
        part = ad.read_h5ad(out)
        np.testing.assert_array_equal(part.varm["PCs"], single.varm["PCs"])
        for key in ("variance", "variance_ratio"):
            np.testing.assert_array_equal(part.uns["pca"][key], single.uns["pca"][key])
        assert dict(part.uns["pca"]["params"]) == dict(single.uns["pca"]["params"])
        scores.append(part.obsm["X_pca"])
    np.testing.assert_array_equal(np.vstack(scores), single.obsm["X_pca"])


def test_map_stats_refuses_an_offset_off_the_blocks(lognorm, tmp_path):
    _, shards = lognorm
    r = latent("pca", shards[1][0], "--row-offset", 1000, "--map-stats", "-o", tmp_path / "s.stats")
    assert r.rc == 2 and "multiple of 1024" in r.err
    assert not (tmp_path / "s.stats").exists()


def test_streamed_pca_equals_in_memory(lognorm, tmp_path):
    """A --memory far below X's size: many chunks, the scores pass reads the file again."""
    whole, _ = lognorm
    latent("pca", whole, "-o", tmp_path / "a.h5ad", "--k", "8", "-q", check=True)
    latent("pca", whole, "-o", tmp_path / "b.h5ad", "--k", "8", "-q", "--memory", "64K", check=True)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()


def snakemake():
    exe = Path(sys.executable).parent / "snakemake"
    return str(exe) if exe.exists() else shutil.which("snakemake")


def test_sharded_snakemake_workflow_gives_the_single_process_bytes(tmp_path):
    """The gathered file (`latent import`'s concatenation encodes X, layers and obsm anew) is the
    single run's file byte for byte (its pca carries the stored chunks, rebuilt as written)."""
    exe = snakemake()
    assert exe, "snakemake is in IntegrationTests/requirements.txt: run make venv"
    counts = tmp_path / "counts.h5ad"
    latent("simulate", "--cells", 2500, "--genes", 400, "--programs", 4, "--program-size", 20, "-o", counts, "-q", check=True)
    config = tmp_path / "config.yaml"
    config.write_text(f"latent: {BIN}\ninput: {counts}\noutdir: out\nrows: 1024\nseed: 0\nthreads: 2\n"
                      "normalize:\n  hvg: 200\npca:\n  k: 10\n")
    r = subprocess.run([exe, "-s", ROOT / "workflows" / "sharded.smk", "--cores", "2", "--directory", tmp_path, "--quiet",
                        "--configfile", config], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # The same --threads as the workflow's jobs: OpenBLAS's last bits depend on it.
    latent("normalize", counts, "--hvg", 200, "-o", tmp_path / "norm.h5ad", "-q", "--threads", 2, check=True)
    latent("pca", tmp_path / "norm.h5ad", "--k", 10, "-o", tmp_path / "single.h5ad", "-q", "--threads", 2, check=True)
    assert len(list((tmp_path / "out" / "shards").glob("*.h5ad"))) == 3
    assert_same_arrays(tmp_path / "out" / "all.h5ad", tmp_path / "single.h5ad", skip="layers/")
    with h5py.File(tmp_path / "out" / "all.h5ad", "r") as f:
        gathered_layers = list(f["layers"]) if "layers" in f else []
    assert gathered_layers == ["counts"], "the gather stacks the shards' layers"
    assert_same_arrays(tmp_path / "out" / "all.h5ad", tmp_path / "single.h5ad")
    assert (tmp_path / "out" / "all.h5ad").read_bytes() == (tmp_path / "single.h5ad").read_bytes()
