"""Covariates (issue 14): `latent simulate --batches`, batch-aware `latent vae` (side inputs,
per-batch dispersions), `vae encode` with known/unknown categories, counterfactual
`vae decode --transform-batch`, and supervised subspaces — through the binary, read back with
anndata/h5py."""
import json

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import latent, assert_bad_input


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("cov")
    latent("simulate", "--cells", 900, "--genes", 300, "--programs", 4, "--program-size", 25, "--factors", "categorical",
           "--effect", 1.5, "--batches", 3, "--batch-effect", 0.8, "--seed", 3, "-o", d / "sim.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "--hvg", 200, "-o", d / "norm.h5ad", "-q", check=True)
    return d


def vae(data, out, *args, epochs=5):
    return latent("vae", data / "norm.h5ad", "-o", out, "--latent", 6, "--hidden", "32", "--epochs", epochs,
                  "--threads", 2, "-q", *args)


def test_simulated_batches_carry_the_planted_shifts(data, tmp_path):
    a = ad.read_h5ad(data / "sim.h5ad")
    assert isinstance(a.obs["batch"].dtype, pd.CategoricalDtype)
    assert list(a.obs["batch"].cat.categories) == ["batch1", "batch2", "batch3"]
    truth = a.uns["simulation"]["batches"]
    shift = np.asarray(truth["log_shift"])
    assert shift.shape == (3, 300)
    X = a.X.toarray() / a.obs["library_size"].to_numpy()[:, None]
    b = a.obs["batch"].cat.codes.to_numpy()
    means = np.stack([X[b == k].mean(0) for k in range(3)])
    expressed = (a.X.toarray().mean(0) > 3)
    assert expressed.sum() > 50
    for k in (1, 2):
        observed = np.log(means[k, expressed]) - np.log(means[0, expressed])
        planted = shift[k, expressed] - shift[0, expressed]
        assert np.corrcoef(observed, planted)[0, 1] > 0.95
        assert np.median(np.abs(observed - planted)) < 0.15
    # Deterministic; one batch is exactly the simulation without batches.
    for name, extra in (("one", ["--batches", 1]), ("none", []), ("again", ["--batches", 3, "--batch-effect", 0.8])):
        latent("simulate", "--cells", 900, "--genes", 300, "--programs", 4, "--program-size", 25, "--factors", "categorical",
               "--effect", 1.5, "--seed", 3, *extra, "-o", tmp_path / f"{name}.h5ad", "-q", check=True)
    assert (tmp_path / "one.h5ad").read_bytes() == (tmp_path / "none.h5ad").read_bytes()
    assert (tmp_path / "again.h5ad").read_bytes() == (data / "sim.h5ad").read_bytes()
    assert "batch" not in ad.read_h5ad(tmp_path / "none.h5ad").obs


def test_batch_aware_model_records_covariates_and_reruns_identically(data, tmp_path):
    args = ["--likelihood", "nb", "--batch-key", "obs/batch", "--covariates", "obs/factor_2",
            "--continuous-covariates", "obs/library_size", "--encode-covariates", "--dispersion", "gene-batch", "--seed", 7]
    for name in ("a", "b"):
        r = vae(data, tmp_path / name, *args)
        assert r.rc == 0, r
    for f in ("model.h5", "embedding.h5ad", "history.tsv"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    u = ad.read_h5ad(tmp_path / "a" / "embedding.h5ad").uns["vae"]
    c = u["covariates"]
    assert c["batch_key"] == "batch" and list(c["categories_batch"]) == ["batch1", "batch2", "batch3"]
    assert list(c["categories_factor_2"]) == ["off", "on"] and list(c["continuous"]) == ["library_size"]
    lib = ad.read_h5ad(data / "norm.h5ad").obs["library_size"].to_numpy()
    assert c["continuous_mean"][0] == pytest.approx(lib.mean(), rel=1e-9)
    assert c["continuous_sd"][0] == pytest.approx(lib.std(), rel=1e-9)
    assert list(u["latent_names"]) == [f"z{j}" for j in range(6)]
    with h5py.File(tmp_path / "a" / "model.h5") as f:
        design = json.loads(f.attrs["covariates"])
        assert [x["column"] for x in design["categorical"]] == ["batch", "factor_2"]
        width = 3 + 2 + 1
        assert f["parameters/decoder.0.side_weight"].shape == (width, 32)
        assert f["parameters/decoder.1.side_weight"].shape == (width, 200)
        assert f["parameters/encoder.0.side_weight"].shape == (width, 32)
        assert "parameters/encoder.1.side_weight" not in f
        assert f["parameters/decoder.log_theta"].shape == (3, 200)
    # A model without covariates has none of this.
    r = vae(data, tmp_path / "plain", "--likelihood", "nb", "--seed", 7)
    assert r.rc == 0, r
    with h5py.File(tmp_path / "plain" / "model.h5") as f:
        assert "covariates" not in f.attrs and not any("side_weight" in k for k in f["parameters"].keys())
    assert "covariates" not in ad.read_h5ad(tmp_path / "plain" / "embedding.h5ad").uns["vae"]


def test_encode_maps_known_categories_and_names_unknown_ones(data, tmp_path):
    r = vae(data, tmp_path / "m", "--batch-key", "obs/batch", "--encode-covariates", "--seed", 1)
    assert r.rc == 0, r
    model = tmp_path / "m" / "model.h5"
    # Known categories, in another order and a subset of cells: the same codes as training gave.
    a = ad.read_h5ad(data / "norm.h5ad")
    sub = a[a.obs["batch"] != "batch1"].copy()
    sub.obs["batch"] = sub.obs["batch"].astype(str).astype("category").cat.reorder_categories(["batch3", "batch2"])
    sub.write_h5ad(tmp_path / "sub.h5ad")
    r = latent("vae", "encode", model, tmp_path / "sub.h5ad", "-o", tmp_path / "enc.h5ad", "-q")
    assert r.rc == 0, r
    emb = ad.read_h5ad(tmp_path / "m" / "embedding.h5ad")
    enc = ad.read_h5ad(tmp_path / "enc.h5ad")
    keep = (emb.obs["batch"] != "batch1").to_numpy()
    np.testing.assert_allclose(enc.obsm["X_vae"], emb.obsm["X_vae"][keep], rtol=1e-5, atol=1e-5)
    # An unknown category: one line naming the file, the column and the category.
    bad = a.copy()
    bad.obs["batch"] = bad.obs["batch"].cat.rename_categories({"batch2": "batchX"})
    bad.write_h5ad(tmp_path / "bad.h5ad")
    r = latent("vae", "encode", model, tmp_path / "bad.h5ad", "-o", tmp_path / "out.h5ad")
    assert_bad_input(r, str(tmp_path / "bad.h5ad"), "obs/batch", "unknown category 'batchX'", output=tmp_path / "out.h5ad")
    # A missing column: one line.
    del bad.obs["batch"]
    bad.write_h5ad(tmp_path / "nocol.h5ad")
    r = latent("vae", "encode", model, tmp_path / "nocol.h5ad", "-o", tmp_path / "out.h5ad")
    assert_bad_input(r, str(tmp_path / "nocol.h5ad"), "obs/batch", "missing", output=tmp_path / "out.h5ad")
    # An unknown --transform-batch, and --transform-batch on a model without a batch key.
    r = latent("vae", "decode", model, tmp_path / "m" / "embedding.h5ad", "--transform-batch", "nope", "-o", tmp_path / "out.h5ad")
    assert_bad_input(r, "--transform-batch", "unknown batch 'nope'", output=tmp_path / "out.h5ad")


def test_bad_covariate_flags_are_one_line(data, tmp_path):
    r = vae(data, tmp_path / "x", "--batch-key", "obs/nope")
    assert_bad_input(r, "obs/nope", "missing")
    r = vae(data, tmp_path / "x", "--dispersion", "gene-batch", "--likelihood", "nb")
    assert r.rc == 2 and "--batch-key" in r.err
    r = vae(data, tmp_path / "x", "--continuous-covariates", "obs/batch")
    assert_bad_input(r, "obs/batch", "continuous covariate needs numbers")
    r = vae(data, tmp_path / "x", "--subspace", "obs/batch:7")
    assert r.rc == 2 and "--latent" in r.err


def test_transform_batch_decodes_towards_that_batch(data, tmp_path):
    r = vae(data, tmp_path / "m", "--likelihood", "nb", "--batch-key", "obs/batch", "--seed", 2, "--lr", 0.003, epochs=40)
    assert r.rc == 0, r
    model, emb = tmp_path / "m" / "model.h5", tmp_path / "m" / "embedding.h5ad"
    for name, extra in (("own", []), ("to2", ["--transform-batch", "batch2"])):
        r = latent("vae", "decode", model, emb, "-o", tmp_path / f"{name}.h5ad", "-q", *extra)
        assert r.rc == 0, r
    own, to2 = ad.read_h5ad(tmp_path / "own.h5ad"), ad.read_h5ad(tmp_path / "to2.h5ad")
    assert to2.uns["vae"]["transform_batch"] == "batch2"
    b = own.obs["batch"].to_numpy()
    def profile(x, cells):
        return np.log(np.asarray(x[cells]).mean(0) + 1e-3)
    a1, a2 = profile(own.X, b == "batch1"), profile(own.X, b == "batch2")
    moved = profile(to2.X, b == "batch1")
    # batch-1 cells decoded as batch 2 look like batch 2's cells, not like themselves (0.41 and
    # 0.14 of the distance for seeds 2 and 3 when written).
    assert np.abs(moved - a2).mean() < 0.7 * np.abs(moved - a1).mean()
    # and the decoded batch difference follows the planted one
    shift = np.asarray(ad.read_h5ad(data / "sim.h5ad").uns["simulation"]["batches"]["log_shift"])
    genes = ad.read_h5ad(data / "sim.h5ad").var_names.get_indexer(own.var_names)
    assert np.corrcoef(moved - a1, shift[1, genes] - shift[0, genes])[0, 1] > 0.8


def balanced_accuracy_nearest_centroid(x, y):
    """Nearest-centroid classifier, fitted on even cells and scored on odd ones."""
    train, test = np.arange(len(y)) % 2 == 0, np.arange(len(y)) % 2 == 1
    classes = np.unique(y)
    centroids = np.stack([x[train & (y == c)].mean(0) for c in classes])
    pred = classes[np.argmin(((x[test][:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)]
    return np.mean([np.mean(pred[y[test] == c] == c) for c in classes])


def test_supervised_subspaces_hold_their_covariates(data, tmp_path):
    r = vae(data, tmp_path / "s", "--objective", "tc", "--subspace", "obs/batch:2", "--subspace", "obs/factor_1:1",
            "--triplet-weight", 50, "--subspace-hsic", 20000, "--seed", 4, "--lr", 0.003, epochs=25)
    assert r.rc == 0, r
    a = ad.read_h5ad(tmp_path / "s" / "embedding.h5ad")
    u = a.uns["vae"]
    assert list(u["subspaces"]["batch"]) == [0, 1] and list(u["subspaces"]["factor_1"]) == [2]
    assert list(u["latent_names"]) == ["batch_0", "batch_1", "factor_1_0", "z3", "z4", "z5"]
    h = pd.read_csv(tmp_path / "s" / "history.tsv", sep="\t")
    assert {"train_triplet_batch", "train_triplet_factor_1"} <= set(h.columns)
    # each subspace against the free coordinates (HSIC on μ). 200 genes: the default weight (100000,
    # measured at 1,000 genes) collapsed the 1-d factor_1 subspace here (balanced accuracy 0.61,
    # HSIC is 0 when one block is constant); 20000 ≈ the same weight per gene
    assert {"train_hsic_batch", "train_hsic_factor_1"} <= set(h.columns)
    assert float(u["subspace_hsic"]) == 20000
    assert np.isfinite(h["train_hsic_batch"]).all() and (h["train_hsic_batch"] >= 0).all()
    assert h["train_triplet_batch"].iloc[-1] < h["train_triplet_batch"].iloc[0]
    z = a.obsm["X_vae"]
    batch, f1 = a.obs["batch"].to_numpy().astype(str), a.obs["factor_1"].to_numpy().astype(str)
    assert balanced_accuracy_nearest_centroid(z[:, [0, 1]], batch) >= 0.9
    assert balanced_accuracy_nearest_centroid(z[:, [2]], f1) >= 0.9
    with h5py.File(tmp_path / "s" / "model.h5") as f:
        p = json.loads(f.attrs["parameters"])["covariates"]
        assert p["subspaces"] == [{"key": "batch", "dims": 2}, {"key": "factor_1", "dims": 1}]
