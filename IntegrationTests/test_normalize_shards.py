"""Sharded normalize (issue 16): per-shard statistics (map), `latent stats merge` (reduce) and
per-shard normalisation with the merged statistics give exactly the rows of the single-process
run; `stats merge` refuses files that do not fit together."""
import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import latent

CUTS = [0, 1024, 2048, 3000]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    d = tmp_path_factory.mktemp("shards")
    latent("simulate", "--cells", "3000", "--genes", "500", "--programs", "4", "--seed", "3",
           "-o", d / "all.h5ad", "-q", check=True)
    full = ad.read_h5ad(d / "all.h5ad")
    for k in range(len(CUTS) - 1):
        full[CUTS[k]:CUTS[k + 1]].copy().write_h5ad(d / f"s{k}.h5ad")
    return d


def dense(x):
    return x.toarray() if sp.issparse(x) else np.asarray(x)


def run_sharded(d, tag, options):
    passes = latent("normalize", d / "s0.h5ad", "-o", d / "unused.h5ad", "--passes", *options, check=True).out.split()
    merged = []
    for k, name in enumerate(passes):
        parts = []
        # Shards listed in reverse: merge must not depend on the order.
        for s in reversed(range(len(CUTS) - 1)):
            out = d / f"{tag}.s{s}.p{k}.stats"
            latent("normalize", d / f"s{s}.h5ad", "--row-offset", CUTS[s], *options, "--map-stats",
                   *sum((["--stats", m] for m in merged), []), "-o", out, "-q", check=True)
            parts.append(out)
        m = d / f"{tag}.all.p{k}.stats"
        latent("stats", "merge", *parts, "-o", m, "-q", check=True)
        assert name in latent("stats", "show", m, check=True).out
        merged.append(m)
    outs = []
    for s in range(len(CUTS) - 1):
        out = d / f"{tag}.s{s}.norm.h5ad"
        latent("normalize", d / f"s{s}.h5ad", "--row-offset", CUTS[s], *options,
               *sum((["--stats", m] for m in merged), []), "-o", out, "-q", check=True)
        outs.append(ad.read_h5ad(out))
    return passes, outs


@pytest.mark.parametrize("tag,options,passes", [
    # seurat after total sums its moments from the counts, in the pass that finds the totals.
    ("seurat", ["--min-genes", "5", "--min-cells", "3", "--hvg", "200"], ["counts", "totals"]),
    ("v3", ["--hvg", "150", "--hvg-flavor", "seurat_v3", "--scale", "zscore", "--max-value", "10"],
     ["counts", "hvg", "scale"]),
    ("plain", ["--min-genes", "5", "--hvg", "200"], ["counts"]),
])
def test_sharded_equals_single_process(sharded, tag, options, passes):
    d = sharded
    latent("normalize", d / "all.h5ad", *options, "-o", d / f"{tag}.single.h5ad", "-q", check=True)
    single = ad.read_h5ad(d / f"{tag}.single.h5ad")
    got_passes, shards = run_sharded(d, tag, options)
    assert got_passes == passes
    assert sum(s.n_obs for s in shards) == single.n_obs
    for s in shards:
        assert list(s.var_names) == list(single.var_names)
        for col in single.var.columns:
            np.testing.assert_array_equal(s.var[col].to_numpy(), single.var[col].to_numpy(), err_msg=col)
        assert s.uns.keys() == single.uns.keys()
    np.testing.assert_array_equal(np.concatenate([s.obs_names for s in shards]), single.obs_names)
    # Every row, every array: identical values (not merely close).
    np.testing.assert_array_equal(np.vstack([dense(s.X) for s in shards]), dense(single.X))
    np.testing.assert_array_equal(np.vstack([dense(s.layers["counts"]) for s in shards]), dense(single.layers["counts"]))
    for col in single.obs.columns:
        np.testing.assert_array_equal(np.concatenate([s.obs[col].to_numpy() for s in shards]), single.obs[col].to_numpy(),
                                      err_msg=col)


def test_stats_merge_refuses_gaps_and_other_options(sharded, tmp_path):
    d = sharded
    for s in (0, 2):
        latent("normalize", d / f"s{s}.h5ad", "--row-offset", CUTS[s], "--map-stats", "-o", tmp_path / f"s{s}.stats", "-q", check=True)
    r = latent("stats", "merge", tmp_path / "s0.stats", tmp_path / "s2.stats", "-o", tmp_path / "m.stats")
    assert r.rc == 2 and "gap" in r.err and r.err.count("\n") == 1, r
    assert not (tmp_path / "m.stats").exists()
    latent("normalize", d / "s1.h5ad", "--row-offset", CUTS[1], "--min-genes", "9", "--map-stats", "-o", tmp_path / "s1.stats", "-q", check=True)
    r = latent("stats", "merge", tmp_path / "s0.stats", tmp_path / "s1.stats", "-o", tmp_path / "m.stats")
    assert r.rc == 2 and "parameters" in r.err, r
    r = latent("normalize", d / "s1.h5ad", "--row-offset", "100", "--map-stats", "-o", tmp_path / "x.stats")
    assert r.rc == 2 and "1024" in r.err, r


@pytest.mark.parametrize("options", [["--min-cells", "3", "--hvg", "200", "--scale", "zscore"],
                                     ["--hvg", "150", "--hvg-flavor", "seurat_v3", "--target-sum", "10000"]])
def test_streamed_equals_in_memory_bytes(sharded, tmp_path, options):
    """A tiny --memory makes normalize stream in 1024-row chunks by itself: the same file, byte for byte."""
    d = sharded
    latent("normalize", d / "all.h5ad", *options, "-o", tmp_path / "mem.h5ad", "-q", check=True)
    r = latent("normalize", d / "all.h5ad", *options, "--memory", "64K", "--threads", "1", "-o", tmp_path / "stream.h5ad", check=True)
    assert "streaming in 3 chunks" in r.err, r
    assert (tmp_path / "mem.h5ad").read_bytes() == (tmp_path / "stream.h5ad").read_bytes()
