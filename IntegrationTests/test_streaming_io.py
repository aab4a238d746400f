"""Streaming h5ad I/O from the command line (issue 16): streamed outputs open in anndata, many
samples concatenate as anndata.concat does, split + gather gives back the same bytes, and bad
inputs fail with one line and no output."""
import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import assert_bad_input, latent


def counts_adata(n, genes, seed, prefix="c", density=0.3):
    rng = np.random.default_rng(seed)
    X = sp.random(n, len(genes), density=density, format="csr", dtype=np.float32, random_state=rng)
    X.data = np.ceil(X.data * 20).astype(np.float32)
    obs = pd.DataFrame({"group": pd.Categorical(rng.choice(["x", "y"], n)), "score": rng.normal(size=n)},
                       index=[f"{prefix}{i}" for i in range(n)])
    var = pd.DataFrame({"gene_ids": [f"ENSG{g}" for g in genes]}, index=[f"SYM{g}" for g in genes])
    a = ad.AnnData(X=X, obs=obs, var=var)
    a.obsm["X_emb"] = rng.normal(size=(n, 2)).astype(np.float32)
    return a


def test_simulate_streams_same_bytes_any_chunk_and_anndata_reads_it(tmp_path):
    # A tiny --memory forces one-cell chunks; the default takes every cell in one chunk.
    for name, extra in (("big", ()), ("tiny", ("--memory", "64K"))):
        latent("simulate", "--cells", "300", "--genes", "200", "--programs", "3", "--program-size", "20", "--seed", "4",
               "-o", tmp_path / f"{name}.h5ad", "-q", *extra, check=True)
    assert (tmp_path / "big.h5ad").read_bytes() == (tmp_path / "tiny.h5ad").read_bytes()
    a = ad.read_h5ad(tmp_path / "tiny.h5ad")
    assert a.shape == (300, 200) and sp.issparse(a.X) and a.X.nnz > 0
    assert "simulation" in a.uns and "factor_1" in a.obs


def test_concat_with_batch_key_matches_anndata_concat(tmp_path):
    a = counts_adata(50, range(0, 30), 1)
    b = counts_adata(40, [*range(10, 40)][::-1], 2)        # other genes, other order
    c = counts_adata(30, range(5, 35), 3)
    for name, x in (("A", a), ("B", b), ("C", c)):
        x.write_h5ad(tmp_path / f"{name}.h5ad")
    out = tmp_path / "all.h5ad"
    r = latent("import", tmp_path / "A.h5ad", tmp_path / "B.h5ad", f"third={tmp_path / 'C.h5ad'}", "--batch-key", "sample",
               "--memory", "64K", "-o", out, check=True)
    assert r.out.strip() == str(out)
    got = ad.read_h5ad(out)
    for x in (a, b, c):                                    # align by ID, as we do
        x.var_names = x.var["gene_ids"].astype(str)
    ref = ad.concat({"A": a, "B": b, "third": c}, join="inner", label="sample", index_unique="-")
    assert list(got.obs_names) == list(ref.obs_names)
    assert list(got.var["gene_ids"]) == list(ref.var_names)
    assert list(got.obs["sample"].cat.categories) == ["A", "B", "third"]
    assert (got.obs["sample"].astype(str).values == ref.obs["sample"].astype(str).values).all()
    assert np.array_equal(got.X.toarray(), ref.X.toarray())
    assert got.X.has_sorted_indices
    assert np.allclose(got.obs["score"].values, ref.obs["score"].values)


def test_split_then_gather_gives_back_the_bytes(tmp_path):
    src = counts_adata(2600, range(40), 5)
    src.layers["counts"] = src.X.copy()
    src.layers["dense"] = src.X.toarray() * 0.5
    src.write_h5ad(tmp_path / "raw.h5ad")
    # An h5ad as latent writes it is what a single-process run gives.
    latent("import", tmp_path / "raw.h5ad", "-o", tmp_path / "one.h5ad", "-q", check=True)
    r = latent("split", tmp_path / "one.h5ad", "--rows", "1024", "-o", tmp_path / "shards", "--memory", "64K", "-q", check=True)
    shards = r.out.split()
    assert [s.rsplit("/", 1)[1] for s in shards] == ["shard_0000.h5ad", "shard_0001.h5ad", "shard_0002.h5ad"]
    parts = [ad.read_h5ad(s) for s in shards]
    assert [p.n_obs for p in parts] == [1024, 1024, 552]
    assert np.array_equal(parts[1].X.toarray(), src.X[1024:2048].toarray())
    assert np.array_equal(parts[2].obsm["X_emb"], src.obsm["X_emb"][2048:])
    assert np.array_equal(parts[2].layers["dense"], src.layers["dense"][2048:])
    latent("import", *shards, "-o", tmp_path / "gathered.h5ad", "--memory", "64K", "-q", check=True)
    assert (tmp_path / "gathered.h5ad").read_bytes() == (tmp_path / "one.h5ad").read_bytes()


def test_int32_indptr_and_dense_inputs_stream(tmp_path):
    a = counts_adata(1500, range(20), 6)
    a.write_h5ad(tmp_path / "a.h5ad")
    with h5py.File(tmp_path / "a.h5ad") as f:
        assert f["X/indptr"].dtype == np.int32
    d = a.copy()
    d.X = d.X.toarray()
    d.obs_names = [f"d{i}" for i in range(d.n_obs)]
    d.write_h5ad(tmp_path / "d.h5ad")
    latent("split", tmp_path / "a.h5ad", "--rows", "1024", "-o", tmp_path / "s", "-q", "--memory", "64K", check=True)
    back = ad.read_h5ad(tmp_path / "s" / "shard_0001.h5ad")
    assert np.array_equal(back.X.toarray(), a.X[1024:].toarray())
    with h5py.File(tmp_path / "s" / "shard_0001.h5ad") as f:
        assert f["X/indptr"].dtype == np.int64
    latent("split", tmp_path / "d.h5ad", "--rows", "1024", "-o", tmp_path / "sd", "-q", check=True)
    assert np.array_equal(ad.read_h5ad(tmp_path / "sd" / "shard_0000.h5ad").X, d.X[:1024])


def test_bad_inputs_fail_with_one_line_and_no_output(tmp_path):
    a = counts_adata(20, range(10), 7)
    a.write_h5ad(tmp_path / "a.h5ad")
    csc = a.copy()
    csc.X = sp.csc_matrix(csc.X)
    csc.write_h5ad(tmp_path / "csc.h5ad")
    r = latent("split", tmp_path / "csc.h5ad", "--rows", "1024", "-o", tmp_path / "out")
    assert_bad_input(r, str(tmp_path / "csc.h5ad"), "/X", "CSC")
    assert not any((tmp_path / "out").glob("*.h5ad"))
    r = latent("split", tmp_path / "a.h5ad", "--rows", "1000", "-o", tmp_path / "out2")
    assert r.rc == 2 and "multiple of 1024" in r.err
    b = counts_adata(20, range(1, 11), 8, prefix="b")
    b.write_h5ad(tmp_path / "b.h5ad")
    out = tmp_path / "ab.h5ad"
    r = latent("import", tmp_path / "a.h5ad", tmp_path / "b.h5ad", "-o", out)
    assert_bad_input(r, str(tmp_path / "b.h5ad"), "/var", output=out, directory=tmp_path)
    r = latent("import", tmp_path / "a.h5ad", tmp_path / "a.h5ad", "-o", out)
    assert_bad_input(r, "/obs", "c0", output=out, directory=tmp_path)
    with h5py.File(tmp_path / "a.h5ad", "r+") as f:
        f["X/indptr"][3] = 10_000
    r = latent("import", tmp_path / "a.h5ad", tmp_path / "b.h5ad", "--batch-key", "s", "-o", out)
    assert_bad_input(r, str(tmp_path / "a.h5ad"), "/X/indptr", output=out, directory=tmp_path)


def test_atlas_profile_has_real_data_statistics_for_any_chunk_and_thread_count(tmp_path):
    # 10x 1.3 M mouse brain cells: median 4,226 counts and 1,927 detected genes of 27,998 per cell.
    for name, extra in (("a", ("--threads", "2")), ("b", ("--threads", "1", "--memory", "64K"))):
        latent("simulate", "--cells", "600", "--genes", "28000", "--profile", "atlas", "--seed", "3",
               "-o", tmp_path / f"{name}.h5ad", "-q", *extra, check=True)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()
    X = ad.read_h5ad(tmp_path / "a.h5ad").X
    counts, detected = np.asarray(X.sum(1)).ravel(), np.diff(X.indptr)
    assert 3900 < np.median(counts) < 4600
    assert 1750 < np.median(detected) < 2150
    assert 0.06 < X.nnz / (X.shape[0] * X.shape[1]) < 0.08
    assert np.all(X.data == np.round(X.data)) and X.data.min() >= 1
    assert X.has_sorted_indices


def test_concat_of_10x_dir_cellranger_h5_and_h5ad(tmp_path):
    """The nf-core/scrnaseq case: samples in three formats, the same barcodes in every sample."""
    from test_text_and_10x import write_10x_dir
    sc = pytest.importorskip("scanpy")
    rng = np.random.default_rng(9)
    barcodes = [f"AAAC{i:04d}-1" for i in range(25)]
    XA = np.ceil(sp.random(25, 30, density=0.3, random_state=rng).toarray() * 9)
    (tmp_path / "A" / "outs").mkdir(parents=True)
    write_10x_dir(tmp_path / "A" / "outs" / "filtered_feature_bc_matrix", XA, [f"G{j}" for j in range(30)], barcodes)
    # B: a Cell Ranger v3 .h5 with genes ID5…ID34 (5 not in A, 5 of A missing)
    XB = sp.random(25, 30, density=0.3, random_state=rng, format="csr")
    XB.data = np.ceil(XB.data * 9)
    csc = XB.T.tocsc()
    with h5py.File(tmp_path / "B.h5", "w") as f:
        m = f.create_group("matrix")
        m["barcodes"] = np.array([b.encode() for b in barcodes])
        m["data"] = csc.data.astype(np.int32)
        m["indices"] = csc.indices.astype(np.int64)
        m["indptr"] = csc.indptr.astype(np.int64)
        m["shape"] = np.array([30, 25], dtype=np.int32)
        ft = m.create_group("features")
        ft["id"] = np.array([f"ID{j}".encode() for j in range(5, 35)])
        ft["name"] = np.array([f"G{j}".encode() for j in range(5, 35)])
        ft["feature_type"] = np.array([b"Gene Expression"] * 30)
        ft["genome"] = np.array([b"GRCh38"] * 30)
    refA = sc.read_10x_mtx(tmp_path / "A" / "outs" / "filtered_feature_bc_matrix", var_names="gene_ids")
    refB = sc.read_10x_h5(tmp_path / "B.h5", gex_only=False)
    refB.var_names = refB.var["gene_ids"]
    refC = refA[:, ::-1].copy()                      # C: an h5ad of A's cells, genes reversed
    refC.obs_names = [f"C{i}" for i in range(refC.n_obs)]
    c = refC.copy()
    c.var["gene_ids"] = c.var_names
    c.var_names = [f"G{s[2:]}" for s in c.var_names]
    c.write_h5ad(tmp_path / "C.h5ad")
    out = tmp_path / "all.h5ad"
    latent("import", tmp_path / "A" / "outs" / "filtered_feature_bc_matrix", tmp_path / "B.h5", tmp_path / "C.h5ad",
           "--batch-key", "sample", "-o", out, "-q", check=True)
    got = ad.read_h5ad(out)
    ref = ad.concat({"A": refA, "B": refB, "C": refC}, join="inner", label="sample", index_unique="-")
    assert got.n_vars == 25
    assert list(got.var["gene_ids"]) == list(ref.var_names)
    assert list(got.obs_names) == list(ref.obs_names)
    assert list(got.obs["sample"].cat.categories) == ["A", "B", "C"]
    np.testing.assert_array_equal(got.X.toarray(), ref.X.toarray())
