"""Round trips through the real client: anndata writes, latent reads and writes back,
anndata reads ours — values, names and column types must survive."""
import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import latent


def make_adata(X, seed=0):
    rng = np.random.default_rng(seed)
    n, g = X.shape
    obs = pd.DataFrame(
        {
            "n_counts": rng.random(n) * 1000,                              # float64
            "score32": rng.random(n).astype(np.float32),                   # float32
            "hours": rng.integers(0, 72, n).astype(np.int64),              # int64
            "well": rng.integers(0, 96, n).astype(np.int32),               # int32
            "is_doublet": rng.random(n) < 0.1,                             # bool
            "batch": pd.Categorical(rng.choice(["b1", "b2", "b3"], n)),    # categorical
            "stage": pd.Categorical(rng.choice(["early", "mid", "late"], n),
                                    categories=["early", "mid", "late"], ordered=True),
            "note": [f"cell note {i} — ü" for i in range(n)],              # unique strings stay strings
        },
        index=[f"cell{i}" for i in range(n)],
    )
    var = pd.DataFrame(
        {"symbol": [f"SYM{j}" for j in range(g)], "highly_variable": rng.random(g) < 0.5},
        index=[f"ENSG{j:011d}" for j in range(g)],
    )
    a = ad.AnnData(X=X, obs=obs, var=var)
    a.obsm["X_pca"] = rng.standard_normal((n, 5)).astype(np.float32)
    a.varm["PCs"] = rng.standard_normal((g, 5)).astype(np.float32)
    a.layers["counts"] = sp.random(n, g, density=0.3, format="csr", random_state=seed, dtype=np.float32)
    a.uns["title"] = "round trip"
    a.uns["k"] = 7
    a.uns["alpha"] = 0.25
    a.uns["flag"] = True
    a.uns["names"] = np.array(["x", "y", "z"], dtype=object)
    a.uns["curve"] = np.arange(6, dtype=np.float64).reshape(2, 3)
    a.uns["pca"] = {"variance_ratio": np.array([0.5, 0.3], dtype=np.float32),
                    "params": {"zero_center": True, "use_highly_variable": False, "method": "arpack"}}
    return a


def counts(n, g, density, seed, dtype):
    rng = np.random.default_rng(seed)
    m = sp.random(n, g, density=density, format="csr", random_state=rng, dtype=np.float64)
    m.data = np.ceil(m.data * 50)
    return m.astype(dtype)


CASES = {
    "dense_float32": lambda: counts(40, 25, 0.4, 1, np.float32).toarray(),
    "dense_float64": lambda: counts(40, 25, 0.4, 2, np.float64).toarray(),
    "dense_int64": lambda: counts(40, 25, 0.4, 3, np.int64).toarray(),
    "csr_float32": lambda: counts(60, 35, 0.1, 4, np.float32),
    "csr_float64_int64ptr": lambda: _with_int64_indptr(counts(60, 35, 0.1, 5, np.float64)),
    "csc_float32": lambda: counts(60, 35, 0.1, 6, np.float32).tocsc(),
    "csr_int32": lambda: counts(60, 35, 0.1, 7, np.int32),
}


def _with_int64_indptr(m):
    m.indptr = m.indptr.astype(np.int64)
    m.indices = m.indices.astype(np.int64)
    return m


def assert_same(a, b):
    """b (what latent wrote) holds a's values as float32, and a's names and column types."""
    assert b.shape == a.shape
    xa = a.X.toarray() if sp.issparse(a.X) else np.asarray(a.X)
    xb = b.X.toarray() if sp.issparse(b.X) else np.asarray(b.X)
    assert xb.dtype == np.float32
    np.testing.assert_array_equal(xb, xa.astype(np.float32))
    assert sp.issparse(b.X) == sp.issparse(a.X)
    assert list(b.obs_names) == list(a.obs_names)
    assert list(b.var_names) == list(a.var_names)
    for frame_a, frame_b in ((a.obs, b.obs), (a.var, b.var)):
        assert list(frame_b.columns) == list(frame_a.columns)
        for c in frame_a.columns:
            ca, cb = frame_a[c], frame_b[c]
            if isinstance(ca.dtype, pd.CategoricalDtype):
                assert isinstance(cb.dtype, pd.CategoricalDtype), c
                assert list(cb.cat.categories) == list(ca.cat.categories), c
                assert cb.cat.ordered == ca.cat.ordered, c
                assert list(cb.astype(object)) == list(ca.astype(object)), c
            else:
                assert cb.dtype == ca.dtype, (c, ca.dtype, cb.dtype)
                assert list(cb) == list(ca), c
    for k in a.obsm:
        np.testing.assert_array_equal(b.obsm[k], a.obsm[k])
    for k in a.varm:
        np.testing.assert_array_equal(b.varm[k], a.varm[k])
    for k in a.layers:
        np.testing.assert_array_equal(b.layers[k].toarray(), a.layers[k].toarray())
    ua, ub = dict(a.uns), dict(b.uns)
    ub.pop("latent_import", None)
    assert ub.keys() == ua.keys()
    assert ub["title"] == ua["title"] and ub["k"] == ua["k"] and ub["alpha"] == ua["alpha"]
    assert bool(ub["flag"]) is True
    assert list(ub["names"]) == list(ua["names"])
    np.testing.assert_array_equal(ub["curve"], ua["curve"])
    np.testing.assert_array_equal(ub["pca"]["variance_ratio"], ua["pca"]["variance_ratio"])
    assert ub["pca"]["params"] == ua["pca"]["params"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_round_trip(tmp_path, case):
    a = make_adata(CASES[case]())
    src, out = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    a.write_h5ad(src)
    r = latent("import", src, "-o", out, "--quiet", check=True)
    assert r.out.strip() == str(out)
    b = ad.read_h5ad(out)
    assert_same(a, b)
    assert b.uns["latent_import"]["format"] == "h5ad"


def test_round_trip_of_compressed_anndata_file(tmp_path):
    a = make_adata(counts(80, 40, 0.2, 8, np.float32))
    src, out = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    a.write_h5ad(src, compression="gzip")
    latent("import", src, "-o", out, "--compression", "none", "-q", check=True)
    assert_same(a, ad.read_h5ad(out))


def test_second_round_trip_is_stable_and_bytes_repeat(tmp_path):
    a = make_adata(counts(80, 40, 0.2, 9, np.float32))
    a.write_h5ad(tmp_path / "in.h5ad")
    latent("import", tmp_path / "in.h5ad", "-o", tmp_path / "b.h5ad", "-q", check=True)
    latent("import", tmp_path / "b.h5ad", "-o", tmp_path / "c.h5ad", "-q", "--threads", "1", check=True)
    latent("import", tmp_path / "b.h5ad", "-o", tmp_path / "d.h5ad", "-q", "--threads", "2", check=True)
    assert (tmp_path / "c.h5ad").read_bytes() == (tmp_path / "d.h5ad").read_bytes()
    assert_same(a, ad.read_h5ad(tmp_path / "c.h5ad"))


def test_duplicate_gene_names_made_unique_like_anndata(tmp_path):
    a = make_adata(counts(10, 6, 0.5, 10, np.float32))
    a.var_names = ["A", "B", "A", "A-1", "A", "C"]
    a.write_h5ad(tmp_path / "dup.h5ad")
    r = latent("import", tmp_path / "dup.h5ad", "-o", tmp_path / "out.h5ad", check=True)
    assert "made unique" in r.err
    expected = a.copy()
    expected.var_names_make_unique()
    assert list(ad.read_h5ad(tmp_path / "out.h5ad").var_names) == list(expected.var_names)


def test_inspect_json_reports_shape_sparsity_and_value_type(tmp_path):
    a = make_adata(counts(30, 20, 0.25, 11, np.float32))
    a.write_h5ad(tmp_path / "x.h5ad")
    r = latent("inspect", tmp_path / "x.h5ad", "--json", check=True)
    s = json.loads(r.out)
    assert (s["nObs"], s["nVars"]) == (30, 20)
    assert s["storage"] == "csr"
    assert s["nonzero"] == a.X.nnz
    assert s["valueType"] == "integer counts"
    assert s["obsColumns"]["batch"] == "categorical(3)"
    assert s["obsColumns"]["is_doublet"] == "bool"
    assert s["obsm"]["X_pca"] == [30, 5]
    text = latent("inspect", tmp_path / "x.h5ad", check=True).out
    assert "30 observations × 20 variables" in text and "integer counts" in text


def test_shipped_hsmm_file_round_trips(tmp_path):
    from conftest import ROOT
    src = ROOT / "Examples" / "hsmm" / "hsmm_trapnell2014.h5ad"
    latent("import", src, "-o", tmp_path / "hsmm.h5ad", "-q", check=True)
    a, b = ad.read_h5ad(src), ad.read_h5ad(tmp_path / "hsmm.h5ad")
    assert (a.X != b.X).nnz == 0
    pd.testing.assert_frame_equal(a.obs, b.obs)
    pd.testing.assert_frame_equal(a.var, b.var)
    assert b.uns["source"] == a.uns["source"]


def test_none_in_uns_is_read_as_absent_not_as_garbage(tmp_path):
    """scanpy's log1p leaves uns["log1p"]["base"] = None, which h5py stores as a dataset with a null
    dataspace: it must not come back as whatever bytes a scalar read returns."""
    a = ad.AnnData(X=np.random.default_rng(0).random((20, 8)).astype(np.float32))
    a.uns["log1p"] = {"base": None}
    a.uns["kept"] = 3.5
    src, out = tmp_path / "in.h5ad", tmp_path / "out.h5ad"
    a.write_h5ad(src)
    latent("import", src, "-o", out, "-q", check=True)
    b = ad.read_h5ad(out)
    assert b.uns["kept"] == 3.5
    assert b.uns.get("log1p", {}).get("base") is None
