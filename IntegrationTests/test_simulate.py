"""`latent simulate`: known programs that the model → enrichment chain must find again, and a
GMT that GSEApy reads."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import latent


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    d = tmp_path_factory.mktemp("sim")
    latent("simulate", "--cells", "1500", "--genes", "2500", "--programs", "8", "--seed", "1", "-o", d / "sim.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "-o", d / "norm.h5ad", "-q", check=True)
    return d


def recovered(d, model, key):
    latent(model, d / "norm.h5ad", "--k", "8", "--seed", "2", "-o", d / f"{model}.h5ad", "-q", check=True)
    out = latent("enrich", d / f"{model}.h5ad", "--key", key, "--gene-sets", d / "sim.programs.gmt", "--min-size", "5",
                 "--permutations", "200", "--top", "1", "-o", "-", "-q", check=True).out
    t = pd.read_csv(pd.io.common.StringIO(out), sep="\t")
    return set(t.loc[t["padj"] < 1e-3, "gene_set"])


def test_simulated_file_holds_truth(sim):
    a = ad.read_h5ad(sim / "sim.h5ad")
    assert a.shape == (1500, 2500)
    X = a.X.toarray()
    assert np.all(X == np.round(X)) and X.min() >= 0
    assert {f"factor_{k}" for k in range(1, 9)} <= set(a.obs.columns)
    assert isinstance(a.obs["factor_2"].dtype, pd.CategoricalDtype)
    progs = a.uns["simulation"]["programs"]
    assert len(progs) == 8 and all(len(p["genes"]) == 40 for p in progs.values())
    # negative binomial noise: variance above the mean for expressed genes
    m, v = X.mean(0), X.var(0)
    expressed = m > 5
    assert np.median(v[expressed] / m[expressed]) > 1.5


def test_gseapy_reads_our_gmt(sim):
    gseapy = pytest.importorskip("gseapy")
    sets = gseapy.read_gmt(str(sim / "sim.programs.gmt"))
    assert len(sets) == 8 and all(len(g) == 40 for g in sets.values())


def test_ica_and_pca_find_the_planted_programs(sim):
    assert len(recovered(sim, "ica", "varm/ICs")) >= 7
    assert len(recovered(sim, "pca", "varm/PCs")) >= 6


def test_same_seed_same_bytes(tmp_path):
    for name in ("a", "b"):
        latent("simulate", "--cells", "200", "--genes", "300", "--programs", "3", "--seed", "5", "-o", tmp_path / f"{name}.h5ad", "-q", check=True)
    assert (tmp_path / "a.h5ad").read_bytes() == (tmp_path / "b.h5ad").read_bytes()
    assert (tmp_path / "a.programs.gmt").read_text() == (tmp_path / "b.programs.gmt").read_text()


def test_one_effect_per_program(tmp_path):
    """`--effect 0.5,2`: programs of unequal strength, cycled over the programs and recorded in uns;
    the strong programs' genes vary more between on and off cells than the weak ones'."""
    out = tmp_path / "e.h5ad"
    latent("simulate", "--cells", "1000", "--genes", "300", "--programs", "4", "--factors", "categorical",
           "--effect", "0.5,2", "--seed", "2", "-o", out, "-q", check=True)
    a = ad.read_h5ad(out)
    progs = a.uns["simulation"]["programs"]
    assert [progs[f"PROGRAM_{k}"]["effect"] for k in range(1, 5)] == [0.5, 2.0, 0.5, 2.0]
    X = a.X.toarray()
    X = X / X.sum(1, keepdims=True)
    genes = {g: i for i, g in enumerate(a.var_names)}
    fold = []
    for k in range(1, 5):
        cols = [genes[g] for g in progs[f"PROGRAM_{k}"]["genes"]]
        on = (a.obs[f"factor_{k}"] == "on").to_numpy()
        fold.append(np.log(X[on][:, cols].mean() / X[~on][:, cols].mean()))
    assert max(fold[0], fold[2]) < 0.8 < 1.2 < min(fold[1], fold[3]), fold
    r = latent("simulate", "--effect", "1,x", "-o", tmp_path / "bad.h5ad")
    assert r.rc == 2 and "--effect" in r.err and not (tmp_path / "bad.h5ad").exists(), r
