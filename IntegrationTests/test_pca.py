"""`latent pca`, `ica` and `nmf` on files anndata wrote: the outputs open in anndata (always) and
scanpy (when installed) under scanpy's keys, agree with scikit-learn, repeat for a seed, and bad
input fails with one line and exit 2."""
import numpy as np
import pytest

import anndata as ad
import pandas as pd
import scipy.sparse as sp

from conftest import assert_bad_input, latent


def expression(n=400, g=120, seed=0, density=1.0):
    """Log-normalised-like data: a few programs plus noise, non-negative, optionally sparse."""
    rng = np.random.default_rng(seed)
    u = rng.gamma(2.0, 1.0, size=(n, 4))
    v = rng.gamma(1.0, 1.0, size=(4, g)) * (rng.random((4, g)) < 0.3)
    x = np.log1p(rng.poisson(u @ v + 0.3)).astype(np.float32)
    if density < 1:
        x[rng.random(x.shape) > density] = 0
    return x


def write(path, x, sparse=False):
    n, g = x.shape
    a = ad.AnnData(X=sp.csr_matrix(x) if sparse else x,
                   obs=pd.DataFrame(index=[f"cell{i}" for i in range(n)]),
                   var=pd.DataFrame(index=[f"gene{j}" for j in range(g)]))
    a.write_h5ad(path)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("pcadata")
    x = expression()
    return x, write(d / "x.h5ad", x)


def pca(src, out, *args):
    latent("pca", src, "-o", out, "-q", *args, check=True)
    return ad.read_h5ad(out)


def test_anndata_reads_scanpys_keys(data, tmp_path):
    x, src = data
    a = pca(src, tmp_path / "p.h5ad", "--k", "10")
    assert a.obsm["X_pca"].shape == (400, 10) and a.obsm["X_pca"].dtype == np.float32
    assert a.varm["PCs"].shape == (120, 10)
    u = a.uns["pca"]
    assert set(u) >= {"variance", "variance_ratio", "params"}
    assert u["variance"].shape == (10,) and u["variance_ratio"].shape == (10,)
    assert bool(u["params"]["zero_center"]) and not bool(u["params"]["use_highly_variable"])
    assert u["params"]["svd_solver"] in ("exact", "randomized")
    pcs = a.varm["PCs"].astype(np.float64)
    np.testing.assert_allclose(pcs.T @ pcs, np.eye(10), atol=1e-5)
    # Scores are the centred data times the loadings; variance is their variance (ddof 1).
    xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(a.obsm["X_pca"], xc @ pcs, rtol=0, atol=1e-4 * np.abs(a.obsm["X_pca"]).max())
    np.testing.assert_allclose(u["variance"], (xc @ pcs).var(axis=0, ddof=1), rtol=1e-4)
    np.testing.assert_allclose(u["variance_ratio"], u["variance"] / x.astype(np.float64).var(axis=0, ddof=1).sum(), rtol=1e-6)
    assert np.all(np.diff(u["variance"]) <= 0)
    # sklearn's svd_flip: each component's largest-magnitude loading is positive.
    assert np.all(pcs[np.abs(pcs).argmax(axis=0), np.arange(10)] > 0)
    # X and the annotations come through unchanged.
    np.testing.assert_array_equal(a.X, x)
    assert list(a.obs_names[:2]) == ["cell0", "cell1"]


@pytest.mark.parametrize("solver", ["exact", "randomized", "auto"])
def test_matches_sklearn(data, tmp_path, solver):
    skd = pytest.importorskip("sklearn.decomposition")
    x, src = data
    a = pca(src, tmp_path / "p.h5ad", "--k", "20", "--solver", solver)
    ref = skd.PCA(n_components=20, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(a.uns["pca"]["variance_ratio"], ref.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(a.uns["pca"]["variance"], ref.explained_variance_, rtol=1e-4)
    # sklearn applies the same svd_flip, so the signs agree too.
    np.testing.assert_allclose(a.varm["PCs"], ref.components_.T, atol=1e-3)


def test_scanpy_reads_and_agrees(data, tmp_path):
    sc = pytest.importorskip("scanpy")
    x, src = data
    pca(src, tmp_path / "p.h5ad", "--k", "15")
    ours = sc.read_h5ad(tmp_path / "p.h5ad")
    theirs = sc.read_h5ad(src)
    sc.pp.pca(theirs, n_comps=15, svd_solver="arpack")
    np.testing.assert_allclose(ours.uns["pca"]["variance_ratio"], theirs.uns["pca"]["variance_ratio"], rtol=1e-4)
    dots = np.abs(np.sum(ours.varm["PCs"] * theirs.varm["PCs"], axis=0))
    np.testing.assert_allclose(dots, 1, atol=1e-4)
    sc.pp.neighbors(ours, use_rep="X_pca", n_neighbors=10)
    assert "connectivities" in ours.obsp


def test_no_center_is_scanpys_zero_center_false(data, tmp_path):
    sc = pytest.importorskip("scanpy")
    x, src = data
    a = pca(src, tmp_path / "p.h5ad", "--k", "8", "--no-center")
    assert not bool(a.uns["pca"]["params"]["zero_center"])
    theirs = sc.read_h5ad(src)
    sc.pp.pca(theirs, n_comps=8, zero_center=False, svd_solver="arpack")
    np.testing.assert_allclose(a.uns["pca"]["variance"], theirs.uns["pca"]["variance"], rtol=1e-4)
    np.testing.assert_allclose(a.uns["pca"]["variance_ratio"], theirs.uns["pca"]["variance_ratio"], rtol=1e-4)
    np.testing.assert_allclose(a.varm["PCs"], theirs.varm["PCs"], atol=1e-3)


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_sparse_input_is_centred_implicitly(tmp_path, solver):
    x = expression(n=600, g=150, seed=3, density=0.3)
    dense = pca(write(tmp_path / "d.h5ad", x), tmp_path / "pd.h5ad", "--k", "6", "--solver", solver)
    sparse = pca(write(tmp_path / "s.h5ad", x, sparse=True), tmp_path / "ps.h5ad", "--k", "6", "--solver", solver)
    assert sp.issparse(sparse.X), "X stays sparse in the output"
    np.testing.assert_allclose(sparse.uns["pca"]["variance"], dense.uns["pca"]["variance"], rtol=1e-5)
    np.testing.assert_allclose(sparse.varm["PCs"], dense.varm["PCs"], atol=1e-4)
    np.testing.assert_allclose(sparse.obsm["X_pca"], dense.obsm["X_pca"], atol=1e-4 * np.abs(dense.obsm["X_pca"]).max())


@pytest.mark.parametrize("solver", ["exact", "randomized"])
def test_same_seed_and_threads_same_bytes(data, tmp_path, solver):
    _, src = data
    args = ["--k", "12", "--solver", solver, "--seed", "7", "--threads", "2"]
    latent("pca", src, "-o", tmp_path / "a.h5ad", "-q", *args, check=True)
    latent("pca", src, "-o", tmp_path / "b.h5ad", "-q", *args, check=True)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()


def test_wide_data_uses_the_observation_side(tmp_path):
    skd = pytest.importorskip("sklearn.decomposition")
    x = expression(n=60, g=3000, seed=5)
    a = pca(write(tmp_path / "w.h5ad", x), tmp_path / "p.h5ad", "--k", "10")
    assert "observation Gram" in a.uns["pca"]["params"]["method"]
    ref = skd.PCA(n_components=10, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(a.uns["pca"]["variance_ratio"], ref.explained_variance_ratio_, rtol=1e-4)
    np.testing.assert_allclose(a.varm["PCs"], ref.components_.T, atol=1e-3)


def test_many_sparse_genes_beyond_memory_stream_randomized_passes(tmp_path):
    """No Gram statistics (under 2 % dense) and more than --memory: block Krylov over the rows
    of the file, agreeing with sklearn as the in-memory run does."""
    skd = pytest.importorskip("sklearn.decomposition")
    x = expression(n=3000, g=600, seed=9, density=0.015)
    src = write(tmp_path / "s.h5ad", x, sparse=True)
    a = pca(src, tmp_path / "p.h5ad", "--k", "5", "--memory", "100K")
    assert "streamed passes" in a.uns["pca"]["params"]["method"]
    ref = skd.PCA(n_components=5, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(a.uns["pca"]["variance_ratio"], ref.explained_variance_ratio_, rtol=1e-3)
    cos = np.abs(np.sum(a.varm["PCs"] * ref.components_.T, axis=0))
    assert np.all(cos >= 0.9999), cos


def test_bad_inputs(data, tmp_path):
    x, src = data
    out = tmp_path / "o.h5ad"
    r = latent("pca", src, "-o", out, "--k", "500")
    assert_bad_input(r, "--k 500 is more than the 120 centred components", "choose --k 120 or fewer",
                     output=out, directory=tmp_path)
    bad = x.copy()
    bad[5, 7] = np.nan
    r = latent("pca", write(tmp_path / "nan.h5ad", bad), "-o", out, "--k", "3")
    assert_bad_input(r, "non-finite value NaN", "cell5", "gene7", output=out, directory=tmp_path)
    r = latent("pca", write(tmp_path / "const.h5ad", np.ones((10, 5), dtype=np.float32)), "-o", out, "--k", "2")
    assert_bad_input(r, "the data are constant", output=out, directory=tmp_path)
    r = latent("pca", src, "-o", out, "--k", "0")
    assert_bad_input(r, "--k", output=out, directory=tmp_path)
    r = latent("pca", src, "-o", out, "--solver", "magic")
    assert_bad_input(r, "solver", output=out, directory=tmp_path)
    neg = x.copy()
    neg[3, 2] = -1
    r = latent("nmf", write(tmp_path / "neg.h5ad", neg), "-o", out, "--k", "3")
    assert_bad_input(r, "X[row 4, column 3]: negative value -1.0: NMF needs non-negative data", output=out, directory=tmp_path)


def test_ica_and_nmf_follow_the_same_key_pattern(data, tmp_path):
    x, src = data
    latent("ica", src, "-o", tmp_path / "i.h5ad", "--k", "4", "--seed", "1", "-q", check=True)
    latent("nmf", src, "-o", tmp_path / "n.h5ad", "--k", "4", "-q", check=True)
    i, n = ad.read_h5ad(tmp_path / "i.h5ad"), ad.read_h5ad(tmp_path / "n.h5ad")
    assert i.obsm["X_ica"].shape == (400, 4) and i.varm["ICs"].shape == (120, 4)
    xc = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(i.obsm["X_ica"], xc @ i.varm["ICs"], atol=1e-3)
    np.testing.assert_allclose(i.obsm["X_ica"].std(axis=0), 1, atol=1e-3)
    assert i.uns["ica"]["params"]["fun"] == "logcosh"
    assert n.obsm["X_nmf"].shape == (400, 4) and n.varm["NMF_loadings"].shape == (120, 4)
    assert n.obsm["X_nmf"].min() >= 0 and n.varm["NMF_loadings"].min() >= 0
    err = np.linalg.norm(x - n.obsm["X_nmf"] @ n.varm["NMF_loadings"].T)
    np.testing.assert_allclose(n.uns["nmf"]["reconstruction_err"], err, rtol=1e-4)
    assert n.uns["nmf"]["params"]["solver"] == "cd" and n.uns["nmf"]["params"]["init"] == "nndsvda"


def test_nmf_matches_sklearn_default(data, tmp_path):
    skd = pytest.importorskip("sklearn.decomposition")
    x, src = data
    latent("nmf", src, "-o", tmp_path / "n.h5ad", "--k", "4", "--max-iter", "400", "-q", check=True)
    ours = ad.read_h5ad(tmp_path / "n.h5ad").uns["nmf"]["reconstruction_err"]
    theirs = skd.NMF(n_components=4, max_iter=400, random_state=0).fit(x.astype(np.float64)).reconstruction_err_
    assert abs(ours - theirs) <= 1e-3 * theirs, (ours, theirs)
