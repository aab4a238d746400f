"""`latent vae` and `latent vae encode` trained and encoded from disk (issue 16): a tiny --memory
forces the chunk-shuffling loader through many windows and the encoder through many chunks; the
outputs must be the bytes of the in-memory run, for CSR and dense X, with and without a batch
covariate, and anndata must read them."""
import anndata as ad
import h5py
import numpy as np
import pytest
import scipy.sparse as sp

from conftest import assert_bad_input, latent

FILES = ("model.h5", "embedding.h5ad", "history.tsv")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    # 20,000 cells: 20 blocks of 1,024 rows, 3 shuffle groups of 8 blocks, so that a 64K budget
    # reads 3 windows an epoch and minibatches span windows.
    d = tmp_path_factory.mktemp("vae_stream")
    latent("simulate", "--cells", 20000, "--genes", 300, "--programs", 4, "--program-size", 20, "--batches", 2,
           "--seed", 3, "-o", d / "sim.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "--hvg", 100, "-o", d / "sparse.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "--hvg", 100, "--scale", "zscore", "-o", d / "dense.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "--hvg", 150, "-o", d / "wide.h5ad", "-q", check=True)
    return d


def train(src, out, memory, *args):
    r = latent("vae", src, "-o", out, "--latent", 4, "--hidden", 32, "--epochs", 2, "--threads", 2, "-q",
               "--memory", memory, "--timing", *args)
    assert r.rc == 0, r
    return r


@pytest.mark.parametrize("kind,args", [
    ("sparse", ()),
    ("sparse", ("--likelihood", "nb", "--batch-key", "obs/batch")),
    ("dense", ()),
    ("dense", ("--batch-key", "obs/batch", "--encode-covariates")),
])
def test_streamed_training_gives_the_in_memory_bytes(data, tmp_path, kind, args):
    src = data / f"{kind}.h5ad"
    mem = train(src, tmp_path / "mem", "1G", *args)
    streamed = train(src, tmp_path / "streamed", "64K", *args)
    assert "streamed=false" in mem.err and "streamed=true" in streamed.err
    windows = int(streamed.err.split("windows=")[1].split()[0])
    assert windows >= 6, streamed.err          # 3 groups an epoch, 2 epochs
    for f in FILES:
        assert (tmp_path / "mem" / f).read_bytes() == (tmp_path / "streamed" / f).read_bytes(), f
    again = train(src, tmp_path / "again", "64K", *args)
    assert again.rc == 0
    for f in FILES:
        assert (tmp_path / "again" / f).read_bytes() == (tmp_path / "streamed" / f).read_bytes(), f
    a, x = ad.read_h5ad(tmp_path / "streamed" / "embedding.h5ad"), ad.read_h5ad(src)
    assert a.obsm["X_vae"].shape == (20000, 4) and np.isfinite(a.obsm["X_vae"]).all()
    assert sp.issparse(a.X) == (kind == "sparse")
    X, X0 = (a.X.toarray(), x.X.toarray()) if kind == "sparse" else (a.X, x.X)
    assert np.array_equal(X, X0), "X is carried unchanged"
    assert sorted(a.layers) == sorted(x.layers)
    # The training saw every block: the history's losses are finite and the embedding varies.
    assert a.obsm["X_vae"].std(axis=0).max() > 0.01


@pytest.mark.parametrize("src", ["sparse", "wide"])
def test_streamed_encode_gives_the_in_memory_bytes(data, tmp_path, src):
    train(data / "sparse.h5ad", tmp_path / "vae", "1G")
    outs = {}
    for memory in ("1G", "64K"):
        out = tmp_path / f"enc_{memory}.h5ad"
        r = latent("vae", "encode", tmp_path / "vae" / "model.h5", data / f"{src}.h5ad", "-o", out, "--memory", memory, "-q")
        assert r.rc == 0, r
        outs[memory] = out.read_bytes()
    assert outs["1G"] == outs["64K"]
    e, emb = ad.read_h5ad(tmp_path / "enc_64K.h5ad"), ad.read_h5ad(tmp_path / "vae" / "embedding.h5ad")
    # The same cells and model genes encode to the training run's embedding, to the bit.
    assert np.array_equal(e.obsm["X_vae"], emb.obsm["X_vae"])
    assert np.array_equal(e.obsm["X_vae_logvar"], emb.obsm["X_vae_logvar"])
    assert list(e.var_names) == list(emb.var_names)
    assert (e.X != emb.X).nnz == 0 and (e.layers["counts"] != emb.layers["counts"]).nnz == 0
    with h5py.File(tmp_path / "enc_64K.h5ad") as f:
        assert f["X"].attrs["encoding-type"] == "csr_matrix"


def test_a_bad_value_deep_in_a_streamed_file_names_its_cell(data, tmp_path):
    x = ad.read_h5ad(data / "dense.h5ad")
    x.X[5000, 7] = np.nan
    bad = tmp_path / "bad.h5ad"
    x.write_h5ad(bad)
    out = tmp_path / "out"
    r = latent("vae", bad, "-o", out, "--epochs", 1, "--memory", "64K", "-q")
    assert_bad_input(r, "non-finite value NaN", f"obs '{x.obs_names[5000]}' (row 5001)", f"var '{x.var_names[7]}' (column 8)",
                     output=out, directory=tmp_path)


def test_decode_in_chunks_gives_the_same_bytes_for_any_budget(data, tmp_path):
    train(data / "sparse.h5ad", tmp_path / "vae", "1G", "--batch-key", "obs/batch")
    outs = {}
    for memory in ("1G", "64K"):
        out = tmp_path / f"dec_{memory}.h5ad"
        r = latent("vae", "decode", tmp_path / "vae" / "model.h5", tmp_path / "vae" / "embedding.h5ad", "-o", out,
                   "--transform-batch", "batch1", "--memory", memory, "-q")
        assert r.rc == 0, r
        outs[memory] = out.read_bytes()
    assert outs["1G"] == outs["64K"]
    a, emb = ad.read_h5ad(tmp_path / "dec_64K.h5ad"), ad.read_h5ad(tmp_path / "vae" / "embedding.h5ad")
    assert a.shape == emb.shape and isinstance(a.X, np.ndarray) and np.isfinite(a.X).all()
    assert np.array_equal(a.obsm["X_vae"], emb.obsm["X_vae"]) and list(a.obs_names) == list(emb.obs_names)
    assert a.uns["vae"]["transform_batch"] == "batch1"


def test_csc_input_cannot_stream_but_trains_and_encodes_as_csr(data, tmp_path):
    # CSC cannot be cut by rows: it is read whole (whatever --memory) and gives the CSR model.
    a = ad.read_h5ad(data / "sparse.h5ad")[:3000].copy()
    a.write_h5ad(tmp_path / "csr.h5ad")
    a.X, a.layers["counts"] = sp.csc_matrix(a.X), sp.csc_matrix(a.layers["counts"])
    a.write_h5ad(tmp_path / "csc.h5ad")
    train(tmp_path / "csr.h5ad", tmp_path / "csr", "1G", "--likelihood", "nb")
    train(tmp_path / "csc.h5ad", tmp_path / "csc", "64K", "--likelihood", "nb")
    for f in ("model.h5", "history.tsv"):
        assert (tmp_path / "csr" / f).read_bytes() == (tmp_path / "csc" / f).read_bytes(), f
    r = latent("vae", "encode", tmp_path / "csr" / "model.h5", tmp_path / "csc.h5ad", "-o", tmp_path / "enc.h5ad",
               "--memory", "64K", "-q")
    assert r.rc == 0, r
    e, emb = ad.read_h5ad(tmp_path / "enc.h5ad"), ad.read_h5ad(tmp_path / "csr" / "embedding.h5ad")
    assert np.array_equal(e.obsm["X_vae"], emb.obsm["X_vae"]) and sp.isspmatrix_csc(e.X)
