"""PCA/ICA/NMF and enrichment through the command line: outputs open in anndata/scanpy with
scanpy's keys, tables read in pandas, results repeat for a seed, bad input fails cleanly."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, assert_bad_input, latent

FIXTURE = ROOT / "Tests/LatentModelsTests/Fixtures/hsmm_log_hvg.h5ad"


@pytest.fixture(scope="module")
def pca_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("pca")
    out = d / "pca.h5ad"
    latent("pca", FIXTURE, "-o", out, "--k", "20", "-q", check=True)
    return out


def test_pca_keys_match_scanpy_and_sklearn(pca_file):
    a = ad.read_h5ad(pca_file)
    ref = ad.read_h5ad(FIXTURE)
    assert a.obsm["X_pca"].shape == (a.n_obs, 20)
    assert a.varm["PCs"].shape == (a.n_vars, 20)
    np.testing.assert_allclose(a.uns["pca"]["variance_ratio"], ref.uns["pca"]["variance_ratio"][:20], rtol=1e-3)
    assert a.uns["pca"]["params"]["zero_center"]
    # loadings equal up to sign
    dots = np.sum(a.varm["PCs"] * ref.varm["PCs"][:, :20], axis=0)
    np.testing.assert_allclose(np.abs(dots), 1, atol=1e-3)


def test_scanpy_plots_from_our_pca(pca_file):
    sc = pytest.importorskip("scanpy")
    a = sc.read_h5ad(pca_file)
    sc.pp.neighbors(a, use_rep="X_pca", n_neighbors=10)
    assert "connectivities" in a.obsp


def test_ica_and_nmf_outputs(tmp_path):
    latent("ica", FIXTURE, "-o", tmp_path / "ica.h5ad", "--k", "5", "--seed", "3", "-q", check=True)
    latent("nmf", FIXTURE, "-o", tmp_path / "nmf.h5ad", "--k", "5", "--seed", "3", "-q", check=True)
    i = ad.read_h5ad(tmp_path / "ica.h5ad")
    n = ad.read_h5ad(tmp_path / "nmf.h5ad")
    assert i.obsm["X_ica"].shape == (i.n_obs, 5) and i.varm["ICs"].shape == (i.n_vars, 5)
    assert n.obsm["X_nmf"].min() >= 0 and n.varm["NMF_loadings"].min() >= 0
    np.testing.assert_allclose(i.obsm["X_ica"].std(axis=0), 1, atol=1e-3)
    # same seed, same bytes
    latent("nmf", FIXTURE, "-o", tmp_path / "nmf2.h5ad", "--k", "5", "--seed", "3", "-q", check=True)
    assert (tmp_path / "nmf.h5ad").read_bytes() == (tmp_path / "nmf2.h5ad").read_bytes()


def test_nmf_rejects_negative_input(tmp_path):
    latent("normalize", FIXTURE, "-o", tmp_path / "z.h5ad", "--method", "none", "--scale", "zscore", "-q", check=True)
    out = tmp_path / "o.h5ad"
    r = latent("nmf", tmp_path / "z.h5ad", "-o", out, "--k", "3")
    assert_bad_input(r, "negative value", "NMF needs non-negative data", output=out, directory=tmp_path)


def test_pca_k_too_large(tmp_path):
    out = tmp_path / "o.h5ad"
    r = latent("pca", FIXTURE, "-o", out, "--k", "5000")
    assert_bad_input(r, str(FIXTURE), "more than the", output=out, directory=tmp_path)


def test_enrich_pca_loadings_finds_myogenesis_and_cell_cycle(pca_file, tmp_path):
    out = tmp_path / "enrich.tsv"
    r = latent("enrich", pca_file, "--key", "varm/PCs", "--gene-sets", "go_bp", "--gene-names", "gene_short_name",
               "--permutations", "500", "--threads", "2", "-o", out, check=True)
    assert "gene sets kept" in r.err and "null: gene-permutation:500" in r.err
    t = pd.read_csv(out, sep="\t")
    assert list(t.columns) == ["latent", "method", "gene_set", "direction", "size", "es", "nes", "pval", "padj", "leading_edge", "null"]
    # sorted by latent, then p-value
    for _, g in t.groupby("latent"):
        assert g["pval"].is_monotonic_increasing
    top = t[t["padj"] < 0.01]
    names = " ".join(top["gene_set"])
    assert "MUSCLE" in names, "a muscle program among the significant sets"
    assert "CHROMOSOME_SEGREGATION" in names or "CELL_CYCLE" in names or "MITOTIC" in names


def test_enrich_stdout_json_top_and_repeatable(pca_file, tmp_path):
    args = ["enrich", pca_file, "--key", "varm/PCs", "--gene-sets", "progeny_top100", "--gene-names", "gene_short_name",
            "--min-size", "5", "--permutations", "200", "--top", "3", "--seed", "7"]
    a = latent(*args, "-o", "-", "--json", tmp_path / "e.json", check=True)
    b = latent(*args, "-o", "-", "--threads", "1", check=True)
    assert a.out == b.out
    t = pd.read_csv(pd.io.common.StringIO(a.out), sep="\t")
    assert t.groupby("latent").size().max() <= 3
    j = pd.read_json(tmp_path / "e.json")
    assert len(j) == len(t)


@pytest.mark.parametrize("method", ["ora", "projection"])
def test_enrich_other_methods_on_a_tsv(tmp_path, method):
    rng = np.random.default_rng(0)
    genes = sorted({g for line in open(ROOT / "GeneSets/progeny_top100.gmt") for g in line.split("\t")[2:]})
    L = pd.DataFrame(rng.standard_normal((len(genes), 2)), index=[g.strip() for g in genes], columns=["z1", "z2"])
    hypoxia = [g.strip() for g in open(ROOT / "GeneSets/progeny_top100.gmt").read().split("\n") if g.startswith("PROGENY_HYPOXIA")][0].split("\t")[2:]
    L.loc[L.index.isin(hypoxia), "z1"] += 3
    L.index.name = "gene"
    L.to_csv(tmp_path / "l.tsv", sep="\t")
    out = tmp_path / "o.tsv"
    latent("enrich", tmp_path / "l.tsv", "--gene-sets", "progeny_top100", "--method", method, "--permutations", "100",
           "--ora-top", "100", "-o", out, "-q", check=True)
    t = pd.read_csv(out, sep="\t")
    first = t[t["latent"] == "z1"].iloc[0]
    assert first["gene_set"] == "PROGENY_HYPOXIA" and first["direction"] == "up"
    if method == "ora":
        assert {"overlap", "odds_ratio"} <= set(t.columns)


def test_enrich_bad_inputs(tmp_path, pca_file):
    out = tmp_path / "o.tsv"
    r = latent("enrich", pca_file, "--key", "varm/nope", "--gene-sets", "go_bp", "-o", out)
    assert_bad_input(r, "/varm/nope", "no such key", output=out, directory=tmp_path)
    (tmp_path / "bad.gmt").write_text("ONLYNAME\n")
    r = latent("enrich", pca_file, "--key", "varm/PCs", "--gene-sets", tmp_path / "bad.gmt", "-o", out)
    assert_bad_input(r, "line 1", output=out, directory=tmp_path)
    (tmp_path / "lower.gmt").write_text("SET\tna\t" + "\t".join(f"gene{i}" for i in range(30)) + "\n")
    r = latent("enrich", pca_file, "--key", "varm/PCs", "--gene-sets", tmp_path / "lower.gmt", "-o", out)
    assert_bad_input(r, "no gene set passed the filters", output=out, directory=tmp_path)
