"""Stages that only add keys carry their input's unchanged arrays over as stored (same chunks and
filters, never re-encoded); changed arrays are written anew; anndata reads both. Also: nullable
columns keep their missing values, and encodings anndata does not know are refused."""
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import anndata as ad
from conftest import assert_bad_input, latent


def counts_adata(sparse, n=120, g=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.poisson(rng.gamma(1.0, 2.0, g), size=(n, g)).astype(np.float32)
    a = ad.AnnData(X=sp.csr_matrix(X) if sparse else X,
                   obs=pd.DataFrame({"batch": pd.Categorical(["a", "b"] * (n // 2))}, index=[f"c{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[f"g{j}" for j in range(g)]))
    a.layers["counts"] = a.X.copy()
    return a


def x_arrays(f):
    """X's stored arrays by name: the dataset itself, or data/indices/indptr of a CSR group."""
    X = f["X"]
    return {"X": X} if isinstance(X, h5py.Dataset) else {k: X[k] for k in ("data", "indices", "indptr")}


def stored_chunks(d):
    """Every chunk's filter mask and raw (still compressed) bytes, or the raw array if contiguous."""
    if d.chunks is None:
        return d[()].tobytes()
    return [d.id.read_direct_chunk(d.id.get_chunk_info(i).chunk_offset) for i in range(d.id.get_num_chunks())]


@pytest.mark.parametrize("sparse", [True, False], ids=["csr", "dense"])
@pytest.mark.parametrize("compression", ["gzip", None], ids=["gzip", "plain"])
def test_pca_carries_x_as_stored(tmp_path, sparse, compression):
    src, out = tmp_path / "in.h5ad", tmp_path / "pca.h5ad"
    a = counts_adata(sparse)
    a.write_h5ad(src, compression=compression)
    # --compression none for what pca writes: the carried X must still be the input's gzip X.
    latent("pca", src, "-o", out, "--k", 3, "--compression", "none", check=True)
    with h5py.File(src) as fi, h5py.File(out) as fo:
        xi, xo = x_arrays(fi), x_arrays(fo)
        assert xi.keys() == xo.keys()
        for k in xi:
            assert xo[k].dtype == xi[k].dtype and xo[k].chunks == xi[k].chunks
            assert xo[k].compression == xi[k].compression and xo[k].shuffle == xi[k].shuffle
            assert stored_chunks(xo[k]) == stored_chunks(xi[k]), k
        assert fo["obsm/X_pca"].compression is None
        assert {k: str(v) for k, v in fo["X"].attrs.items()} == {k: str(v) for k, v in fi["X"].attrs.items()}
    back, orig = ad.read_h5ad(out), ad.read_h5ad(src)
    get = (lambda m: m.toarray()) if sparse else (lambda m: m)
    assert type(back.X) is type(orig.X) and back.X.dtype == orig.X.dtype
    np.testing.assert_array_equal(get(back.X), get(orig.X))
    np.testing.assert_array_equal(get(back.layers["counts"]), get(orig.layers["counts"]))
    pd.testing.assert_frame_equal(back.obs, orig.obs)
    assert back.obsm["X_pca"].shape == (a.n_obs, 3)


def test_large_contiguous_x_is_copied_exactly(tmp_path):
    # anndata writes a dense X without compression as one contiguous dataset; from 4 MiB on,
    # latent copies its bytes file to file (copy_file_range) instead of through HDF5.
    src = tmp_path / "in.h5ad"
    a = counts_adata(False, n=1400, g=800, seed=3)
    a.obsm["X_other"] = np.arange(a.n_obs * 2, dtype=np.float64).reshape(-1, 2)
    a.write_h5ad(src)
    with h5py.File(src) as f:
        assert f["X"].chunks is None and f["X"].nbytes >= 4 << 20
    outs = [tmp_path / "a.h5ad", tmp_path / "b.h5ad"]
    for out in outs:
        latent("pca", src, "-o", out, "--k", 3, check=True)
    assert outs[0].read_bytes() == outs[1].read_bytes()
    with h5py.File(src) as fi, h5py.File(outs[0]) as fo:
        for key in ("X", "layers/counts"):
            assert fo[key].chunks is None and fo[key].dtype == fi[key].dtype and fo[key].shape == fi[key].shape
            assert fo[key][()].tobytes() == fi[key][()].tobytes(), key
            assert dict(fo[key].attrs) == dict(fi[key].attrs), key
    back = ad.read_h5ad(outs[0])
    np.testing.assert_array_equal(back.X, a.X)
    np.testing.assert_array_equal(back.layers["counts"], a.layers["counts"])
    np.testing.assert_array_equal(back.obsm["X_other"], a.obsm["X_other"])
    assert back.obsm["X_pca"].shape == (a.n_obs, 3)


def test_normalize_writes_a_new_x(tmp_path):
    src, out = tmp_path / "in.h5ad", tmp_path / "norm.h5ad"
    counts_adata(True).write_h5ad(src, compression="gzip")
    latent("normalize", src, "-o", out, "--method", "log1p", check=True)
    orig, back = ad.read_h5ad(src), ad.read_h5ad(out)
    assert not np.allclose(back.X.toarray(), orig.X[:, :back.n_vars].toarray())
    expected = orig[:, back.var_names].X.toarray()
    np.testing.assert_allclose(back.X.toarray(), np.log1p(expected), rtol=1e-6)
    with h5py.File(src) as fi, h5py.File(out) as fo:
        assert stored_chunks(fo["X/data"]) != stored_chunks(fi["X/data"])


def test_carried_outputs_are_byte_identical_across_runs(tmp_path):
    src = tmp_path / "in.h5ad"
    counts_adata(False).write_h5ad(src, compression="gzip")
    for name in ("a.h5ad", "b.h5ad"):
        latent("pca", src, "-o", tmp_path / name, "--k", 4, "--threads", 2, check=True)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()


def test_nullable_columns_round_trip(tmp_path):
    src, out, pca = tmp_path / "in.h5ad", tmp_path / "out.h5ad", tmp_path / "pca.h5ad"
    a = counts_adata(True, n=6, g=5)
    a.obs["n_int"] = pd.array([1, None, 3, 4, None, 6], dtype="Int64")
    a.obs["n_u8"] = pd.array([1, 2, None, 250, 5, 6], dtype="UInt8")
    a.obs["n_i32"] = pd.array([None, -2, 3, 4, 5, 6], dtype="Int32")
    a.obs["n_bool"] = pd.array([True, None, False, True, None, False], dtype="boolean")
    a.write_h5ad(src)
    # A nullable string column as anndata stores one (write_elem: write_h5ad would make it categorical).
    with h5py.File(src, "a") as f:
        with ad.settings.override(allow_write_nullable_strings=True):
            ad.io.write_elem(f["obs"], "n_str", pd.array(["x", None, "y", "z", "w", None], dtype="string"))
        f["obs"].attrs["column-order"] = list(f["obs"].attrs["column-order"]) + ["n_str"]
    with h5py.File(src) as f:
        assert f["obs/n_str"].attrs["encoding-type"] == "nullable-string-array"
    expected = ad.read_h5ad(src).obs
    latent("import", src, "-o", out, check=True)
    latent("pca", out, "-o", pca, "--k", 2, check=True)
    for path in (out, pca):
        got = ad.read_h5ad(path).obs
        for col in ("n_int", "n_u8", "n_i32", "n_bool", "n_str"):
            pd.testing.assert_series_equal(got[col], expected[col], check_index_type=False)
    with h5py.File(out) as f:
        assert f["obs/n_int"].attrs["encoding-type"] == "nullable-integer"
        assert f["obs/n_bool"].attrs["encoding-type"] == "nullable-boolean"
        assert f["obs/n_u8/values"].dtype == np.uint8


def add_unknown(where):
    def edit(f):
        if where == "X":
            f["X"].attrs["encoding-type"] = "sparse_tensor"
        elif where == "layers":
            f["layers/counts"].attrs["encoding-type"] = "zarr-matrix"
        elif where == "obsm":
            d = f.create_dataset("obsm/X_odd", data=np.zeros((6, 2), dtype=np.float32))
            d.attrs["encoding-type"] = "mystery-array"
            d.attrs["encoding-version"] = "0.1.0"
        elif where == "uns":
            d = f.create_dataset("uns/odd", data=np.zeros(3))
            d.attrs["encoding-type"] = "mystery-array"
            d.attrs["encoding-version"] = "0.1.0"
        elif where == "obs":
            g = f.create_group("obs/odd")
            g.attrs["encoding-type"] = "nullable-float"
            g.attrs["encoding-version"] = "0.1.0"
            f["obs"].attrs["column-order"] = ["batch", "odd"]
    return edit


@pytest.mark.parametrize("where,path", [("X", "/X"), ("layers", "/layers/counts"), ("obsm", "/obsm/X_odd"),
                                        ("uns", "/uns/odd"), ("obs", "/obs/odd")])
def test_unknown_encodings_are_refused(tmp_path, where, path):
    src, out = tmp_path / "odd.h5ad", tmp_path / "out.h5ad"
    counts_adata(True, n=6, g=5).write_h5ad(src)
    with h5py.File(src, "a") as f:
        add_unknown(where)(f)
    with pytest.raises(Exception):
        ad.read_h5ad(src)  # anndata refuses these too
    r = latent("pca", src, "-o", out, "--k", 2)
    assert_bad_input(r, f":{path}:", "unknown encoding-type", output=out, directory=tmp_path)


@pytest.mark.parametrize("command", [["import"], ["normalize"], ["pca"], ["ica"], ["nmf"], ["simulate"],
                                     ["vae", "train"], ["vae", "encode"], ["vae", "decode"]])
def test_every_h5ad_writer_takes_the_compression_flags(command):
    r = latent(*command, "--help")
    assert r.rc == 0, r
    assert "--compression <compression>" in r.out and "--compression-level" in r.out, r.out
