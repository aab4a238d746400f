"""`latent normalize` through the command line: scanpy/anndata read its output, the raw counts
survive in layers["counts"], and bad parameters or inputs fail with one clear line."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import ROOT, assert_bad_input, latent

HSMM = ROOT / "Examples" / "hsmm" / "hsmm_trapnell2014.h5ad"


def counts_adata(n=300, g=400, seed=0):
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.5, 2.0, size=g) * rng.lognormal(0, 0.3, size=(n, 1))
    X = sp.csr_matrix(rng.poisson(lam).astype(np.float32))
    names = [f"MT-{j}" if j < 5 else f"G{j}" for j in range(g)]
    return ad.AnnData(X=X, obs=pd.DataFrame({"batch": pd.Categorical(rng.choice(["a", "b"], n))},
                                            index=[f"c{i}" for i in range(n)]),
                      var=pd.DataFrame(index=names))


def test_output_opens_in_anndata_with_counts_layer(tmp_path):
    a = counts_adata()
    a.write_h5ad(tmp_path / "raw.h5ad")
    out = tmp_path / "norm.h5ad"
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", out, "--min-cells", "3", "--hvg", "100",
               "--max-mito", "0.5", "-q", check=True)
    assert r.out.strip() == str(out)
    b = ad.read_h5ad(out)
    assert b.n_vars == 100
    assert "counts" in b.layers
    # the counts layer holds the raw counts of the kept cells and genes
    raw = a[b.obs_names, b.var_names].X.toarray()
    np.testing.assert_array_equal(b.layers["counts"].toarray(), raw)
    for col in ("total_counts", "n_genes_by_counts", "pct_counts_mt"):
        assert col in b.obs
    assert b.var["highly_variable"].all()
    assert b.uns["hvg"]["flavor"] == "seurat"
    assert np.isfinite(b.X.toarray() if sp.issparse(b.X) else b.X).all()


def test_scaled_output_is_dense_and_clipped(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    latent("normalize", tmp_path / "raw.h5ad", "-o", tmp_path / "z.h5ad", "--hvg", "50", "--scale", "zscore",
           "--max-value", "3", "-q", check=True)
    b = ad.read_h5ad(tmp_path / "z.h5ad")
    assert isinstance(b.X, np.ndarray)
    assert b.X.max() <= 3 and b.X.min() >= -3


def test_same_seed_and_threads_give_identical_bytes(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    for k in ("1", "2"):
        latent("normalize", tmp_path / "raw.h5ad", "-o", tmp_path / f"n{k}.h5ad", "--hvg", "80", "--threads", "2",
               "-q", check=True)
    assert (tmp_path / "n1.h5ad").read_bytes() == (tmp_path / "n2.h5ad").read_bytes()


def test_non_integer_values_rejected_by_count_methods(tmp_path):
    out = tmp_path / "o.h5ad"
    r = latent("normalize", HSMM, "-o", out, "--method", "pearson-residuals")
    assert_bad_input(r, str(HSMM), "non-integer value", "requires raw counts", output=out, directory=tmp_path)


def test_bad_batch_key(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    out = tmp_path / "o.h5ad"
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", out, "--hvg", "10", "--batch-key", "nope")
    assert_bad_input(r, "obs/nope", "no such obs column", output=out, directory=tmp_path)


def test_filters_that_remove_everything(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    out = tmp_path / "o.h5ad"
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", out, "--min-counts", "1e12")
    assert_bad_input(r, "no cells pass the filters", output=out, directory=tmp_path)


@pytest.mark.parametrize("flag", [["--max-mito", "2"], ["--target-sum", "-1"], ["--hvg", "0"]])
def test_bad_parameters_exit_2(tmp_path, flag):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", tmp_path / "o.h5ad", *flag)
    assert r.rc == 2 and r.err.startswith("latent: "), r
    assert not (tmp_path / "o.h5ad").exists()


def test_scanpy_reads_normalized_output(tmp_path):
    sc = pytest.importorskip("scanpy")
    latent("normalize", HSMM, "-o", tmp_path / "h.h5ad", "--method", "log1p", "--min-cells", "3",
           "--hvg", "500", "-q", check=True)
    b = sc.read_h5ad(tmp_path / "h.h5ad")
    sc.pp.pca(b, n_comps=5)
    assert b.obsm["X_pca"].shape == (b.n_obs, 5)


def log_adata(tmp_path, mark):
    """Counts log-normalised by scanpy; `mark` keeps scanpy's uns["log1p"], otherwise latent must
    tell log-scale data from its values."""
    sc = pytest.importorskip("scanpy")
    a = counts_adata(n=300, g=400, seed=3)
    sc.pp.filter_genes(a, min_cells=1)
    sc.pp.normalize_total(a)
    sc.pp.log1p(a)
    if not mark:
        del a.uns["log1p"]
    path = tmp_path / "log.h5ad"
    a.write_h5ad(path)
    return path


@pytest.mark.parametrize("flavor", ["seurat", "cell_ranger"])
@pytest.mark.parametrize("mark", [True, False])
def test_log_input_with_method_none_selects_scanpys_genes(tmp_path, flavor, mark):
    sc = pytest.importorskip("scanpy")
    path = log_adata(tmp_path, mark)
    out = tmp_path / "hvg.h5ad"
    r = latent("normalize", path, "-o", out, "--method", "none", "--hvg", "60", "--hvg-flavor", flavor, check=True)
    assert "read as log-normalised (--input-type log)" in r.err, r
    ref = ad.read_h5ad(path)
    sc.pp.highly_variable_genes(ref, flavor=flavor, n_top_genes=60)
    b = ad.read_h5ad(out)
    assert list(b.var_names) == list(ref.var_names[ref.var["highly_variable"]])
    np.testing.assert_array_equal(b.X.toarray(), ref[:, b.var_names].X.toarray())


def test_dispersion_flavor_on_counts_with_method_none_says_what_to_do(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    out = tmp_path / "o.h5ad"
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", out, "--method", "none", "--hvg", "50")
    assert_bad_input(r, "X holds raw counts", "--input-type log", output=out, directory=tmp_path)
    # Said by the user, the type wins: the same file read as log-scale runs.
    latent("normalize", tmp_path / "raw.h5ad", "-o", out, "--method", "none", "--hvg", "50", "--input-type", "log",
           "-q", check=True)
    assert ad.read_h5ad(out).n_vars == 50


def test_timing_reports_the_stage_phases(tmp_path):
    counts_adata().write_h5ad(tmp_path / "raw.h5ad")
    r = latent("normalize", tmp_path / "raw.h5ad", "-o", tmp_path / "n.h5ad", "--hvg", "50", "--timing", "-q", check=True)
    line = next(l for l in r.err.splitlines() if l.startswith("timing:"))
    t = {k: float(v) for k, v in (kv.split("=") for kv in line.split()[1:])}
    # seurat after total takes the log of the selected genes only, after the cut (normalize_hvg).
    phases = ["validate_s", "qc_s", "filter_cells_s", "filter_genes_s", "normalize_s", "hvg_s", "hvg_subset_s",
              "normalize_hvg_s", "scale_s"]
    assert list(t) == ["read_s", "stage_s", "write_s"] + phases, line
    assert all(v >= 0 for v in t.values())
    # The phases split the stage's time: together no longer than it.
    assert sum(t[p] for p in phases) <= t["stage_s"] + 1e-3, line
