"""`latent differential` and `latent consensus` through the binary: a small simulated data set
with categorical programs, VAEs of two seeds and ICA; the tables read back with pandas, the
planted program's latent called, determinism, bad input as one line, the pipeline stage after a
seed grid, and the report's sections."""
import io

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.special import erfc

from conftest import assert_bad_input, latent

DIFF_COLUMNS = ["groupby", "group", "reference", "latent", "name", "n_group", "n_reference", "mean_group", "mean_reference",
                "difference", "sign", "pairs", "probability", "log_bayes_factor", "direction"]
CONS_COLUMNS = ["model", "parameters", "seed", "run", "latent", "name", "consensus", "seeds", "reproducibility", "min_match",
                "top_set", "top_set_direction", "recurrence", "stable"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("diff")
    latent("simulate", "--cells", 400, "--genes", 300, "--programs", 3, "--program-size", 25, "--factors", "categorical",
           "--effect", "2", "--seed", 4, "-o", d / "sim.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "--hvg", 200, "-o", d / "norm.h5ad", "-q", check=True)
    for s in (0, 1):
        latent("vae", d / "norm.h5ad", "-o", d / f"vae{s}", "--latent", 4, "--hidden", "32", "--decoder", "linear", "--epochs", 30,
               "--threads", 1, "--seed", s, "-q", check=True)
        latent("enrich", d / f"vae{s}" / "embedding.h5ad", "--key", "varm/vae_loadings", "--gene-sets", d / "sim.programs.gmt",
               "--min-size", 5, "--permutations", 200, "-o", d / f"vae{s}" / "enrich.tsv", "-q", check=True)
    return d


def planted_embedding(d):
    """A VAE output directory written with anndata: 25 cells of group A and 35 of B, three named
    programs with Gaussian posteriors; P_UP's loadings sum positive, P_DOWN's negative (its
    latent is flipped by --directions auto), P_OFF has none (switched off)."""
    rng = np.random.default_rng(7)
    n_a, n_b, genes = 25, 35, 12
    mu = np.vstack([rng.normal([2.5, 2.0, 0.3], 0.5, (n_a, 3)), rng.normal(0.0, 0.5, (n_b, 3))]).astype(np.float32)
    logvar = rng.normal(-1.5, 0.3, (n_a + n_b, 3)).astype(np.float32)
    loadings = np.zeros((genes, 3), dtype=np.float32)
    loadings[:4, 0] = [0.5, 0.2, 0.1, -0.1]
    loadings[4:8, 1] = [-0.4, -0.3, -0.2, 0.1]
    obs = pd.DataFrame({"condition": pd.Categorical(["A"] * n_a + ["B"] * n_b)}, index=[f"c{i}" for i in range(n_a + n_b)])
    a = ad.AnnData(X=rng.random((n_a + n_b, genes)).astype(np.float32), obs=obs,
                   var=pd.DataFrame(index=[f"g{j}" for j in range(genes)]))
    a.obsm["X_vae"], a.obsm["X_vae_logvar"], a.varm["vae_loadings"] = mu, logvar, loadings
    a.uns["vae"] = {"latent_names": np.array(["P_UP", "P_DOWN", "P_OFF"], dtype=object), "seed": 0}
    d.mkdir()
    a.write_h5ad(d / "embedding.h5ad")
    sign = np.array([1.0, -1.0, 0.0])
    m, v = mu.astype(np.float64) * sign, np.exp(logvar.astype(np.float64))
    expected = []
    for j in range(3):
        x, y = m[:n_a, j][:, None], m[n_a:, j][None, :]
        p = 0.5 if sign[j] == 0 else float(np.mean(0.5 * erfc((y - x) / np.sqrt(2 * (v[:n_a, j][:, None] + v[n_a:, j][None, :])))))
        expected.append((p, 0.0 if sign[j] == 0 else np.log(p + 1e-12) - np.log(1 - p + 1e-12)))
    return expected


def test_differential_matches_numpy_on_a_planted_posterior(tmp_path):
    expected = planted_embedding(tmp_path / "vae")
    out = tmp_path / "d.tsv"
    r = latent("differential", tmp_path / "vae", "--groupby", "obs/condition", "--group", "A", "--reference", "B", "-o", out)
    assert r.rc == 0, r
    assert "gene programs, directions sum" in r.err
    t = pd.read_csv(out, sep="\t")
    assert list(t.columns) == DIFF_COLUMNS
    assert list(t.name) == ["P_UP", "P_DOWN", "P_OFF"] and list(t.sign) == [1, -1, 0]
    assert (t.pairs == 25 * 35).all(), "fewer pairs than the budget: every pair"
    for j, (p, bf) in enumerate(expected):
        assert abs(t.probability[j] - p) < 1e-6 and abs(t.log_bayes_factor[j] - bf) < 1e-5, (j, t.iloc[j], p, bf)
    # P_DOWN's raw latent rises in A, but its genes fall: with the sign it is "down"
    assert t.log_bayes_factor[0] > 2.3 and t.direction[0] == "up"
    assert t.log_bayes_factor[1] < -2.3 and t.direction[1] == "down"
    assert t.direction[2] == "none"
    # raw latents without directions: P_DOWN's probability is the complement
    r = latent("differential", tmp_path / "vae", "--groupby", "condition", "--group", "A", "--reference", "B", "--directions", "none",
               "-o", "-", "-q")
    raw = pd.read_csv(io.StringIO(r.out), sep="\t")
    assert abs(raw.probability[1] - (1 - expected[1][0])) < 1e-6
    # a program the group lasso switched off (uns program_active) is not tested, whatever its loadings
    a = ad.read_h5ad(tmp_path / "vae" / "embedding.h5ad")
    a.uns["vae"]["program_active"] = np.array([False, True, True])
    a.write_h5ad(tmp_path / "vae" / "embedding.h5ad")
    r = latent("differential", tmp_path / "vae", "--groupby", "condition", "--group", "A", "--reference", "B", "-o", "-", "-q")
    off = pd.read_csv(io.StringIO(r.out), sep="\t")
    assert list(off.sign) == [0, -1, 0] and off.probability[0] == 0.5 and off.direction[0] == "none"
    assert abs(off.probability[1] - expected[1][0]) < 1e-6


def test_differential_on_a_trained_vae_is_deterministic(data, tmp_path):
    out = tmp_path / "d.tsv"
    r = latent("differential", data / "vae0", "--groupby", "obs/factor_1", "--group", "on", "--reference", "off", "-o", out, "-q")
    assert r.rc == 0, r
    t = pd.read_csv(out, sep="\t")
    assert list(t.columns) == DIFF_COLUMNS
    assert len(t) == 4 and set(t.group) == {"on"} and set(t.reference) == {"off"}
    assert list(t.name) == [f"z{j}" for j in range(4)] and (t.sign == 1).all()
    # about 200 × 200 pairs exceed the budget of 5000: sampled pairs
    assert (t.pairs == 5000).all()
    assert ((t.probability >= 0) & (t.probability <= 1)).all()
    assert np.allclose(t.log_bayes_factor, np.log(t.probability + 1e-12) - np.log(1 - t.probability + 1e-12), atol=1e-6)
    again = tmp_path / "e.tsv"
    latent("differential", data / "vae0", "--groupby", "obs/factor_1", "--group", "on", "--reference", "off", "-o", again, "-q", check=True)
    assert out.read_bytes() == again.read_bytes()
    r = latent("differential", data / "vae0" / "embedding.h5ad", "--groupby", "factor_2", "--mode", "sampled", "-o", "-", "-q")
    assert r.rc == 0, r
    assert r.out.count("\trest\t") == 8   # off and on against the rest, 4 latents each


def test_differential_bad_input_is_one_line_and_writes_nothing(data, tmp_path):
    out = tmp_path / "d.tsv"
    r = latent("differential", data / "vae0", "--groupby", "obs/cell_type", "-o", out)
    assert_bad_input(r, "obs/cell_type", "no such obs column")
    assert not out.exists()
    r = latent("differential", data / "vae0", "--groupby", "factor_1", "--group", "maybe", "-o", out)
    assert_bad_input(r, "no category 'maybe'")
    assert not out.exists()
    r = latent("differential", data / "norm.h5ad", "--groupby", "factor_1", "-o", out)
    assert_bad_input(r, "obsm/X_vae", "missing")
    r = latent("differential", data / "vae0", "--groupby", "total_counts", "-o", out)
    assert_bad_input(r, "obs/total_counts", "continuous")
    assert not out.exists()


def test_consensus_of_two_seeds(data, tmp_path):
    out = tmp_path / "c.tsv"
    r = latent("consensus", data / "vae0", data / "vae1", "-o", out, "-q")
    assert r.rc == 0, r
    t = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert list(t.columns) == CONS_COLUMNS
    assert len(t) == 8 and set(t.seed.astype(str)) == {"0", "1"}
    rep = t.reproducibility.astype(float)
    assert ((rep >= 0) & (rep <= 1)).all()
    # two seeds: each latent's reproducibility is its one match, the same from both sides
    first = t[t.seed.astype(str) == "0"].sort_values("latent")
    second = t[t.seed.astype(str) == "1"]
    assert sorted(first.consensus.astype(int)) == [0, 1, 2, 3] and sorted(second.consensus.astype(int)) == [0, 1, 2, 3]
    for _, row in second.iterrows():
        assert np.isclose(float(row.reproducibility), float(first.iloc[int(row.consensus)].reproducibility))
    assert set(t.stable) <= {True, False}
    rec = t[t.top_set != "NA"].recurrence
    assert len(rec) > 0 and ((rec.astype(float) >= 0) & (rec.astype(float) <= 1)).all()
    # ICA finds the same components whatever its seed: every latent is stable
    for s in (1, 2):
        latent("ica", data / "norm.h5ad", "--k", 4, "--seed", s, "-o", tmp_path / f"ica{s}.h5ad", "-q", check=True)
    r = latent("consensus", tmp_path / "ica1.h5ad", tmp_path / "ica2.h5ad", "-o", "-", "-q")
    assert r.rc == 0, r
    ica = pd.read_csv(io.StringIO(r.out), sep="\t", keep_default_na=False)
    assert len(ica) == 8 and (ica.reproducibility.astype(float) > 0.99).all() and (ica.stable == True).all()  # noqa: E712
    # runs of different models have nothing to compare: bad input
    r = latent("consensus", data / "vae0", tmp_path / "ica1.h5ad", "-o", out.with_suffix(".x.tsv"))
    assert_bad_input(r, "no two runs share a model")
    assert not out.with_suffix(".x.tsv").exists()


def test_pipeline_stage_after_a_seed_grid_and_report(data, tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(f"""seed: 0
stages:
  normalize:
    input: {data / "sim.h5ad"}
    params: {{hvg: 200}}
  ica:
    input: normalize
    params: {{k: 4}}
    grid: {{seed: [0, 1, 2]}}
  enrich:
    input: ica
    gene-sets: {data / "sim.programs.gmt"}
    params: {{min-size: 5, permutations: 100}}
  consensus:
    input: ica
    enrich: enrich
  differential:
    input: ica
    params: {{groupby: factor_1}}
  report:
    input: [enrich, consensus, differential]
""")
    r = latent("run", p, "--cache", tmp_path / "cache", "--results", tmp_path / "results", "--threads", "1", "-q")
    assert r.rc == 0, r
    t = pd.read_csv(tmp_path / "results" / "consensus" / "default" / "consensus.tsv", sep="\t", keep_default_na=False)
    assert len(t) == 12 and set(t.seed.astype(str)) == {"0", "1", "2"}
    assert (t.seeds == 2).all()
    # ICA finds the same components whatever its seed
    assert (t.reproducibility.astype(float) > 0.9).sum() >= 9, t
    assert (t.top_set != "NA").any()
    html = (tmp_path / "results" / "report" / "default" / "report.html").read_text()
    assert 'id="consensus"' in html and "Reproducibility across seeds: ica" in html
    tables = tmp_path / "results" / "report" / "default" / "report_tables"
    assert (tables / "consensus.tsv").exists()
    # one differential table per ICA seed, each beside its model in the report
    for s in (0, 1, 2):
        d = pd.read_csv(tmp_path / "results" / "differential" / f"seed={s}" / "differential.tsv", sep="\t")
        assert len(d) == 8 and set(d.group) == {"off", "on"} and set(d.reference) == {"rest"}
    d = pd.read_csv(tables / "differential.tsv", sep="\t")
    assert len(d) == 24 and d.run.nunique() == 3
    assert html.count("<h4>Differential activity</h4>") == 3


def test_report_shows_differential_beside_its_model(data, tmp_path):
    latent("differential", data / "vae0", "--groupby", "factor_1", "-o", data / "vae0" / "differential.tsv", "-q", check=True)
    latent("consensus", data / "vae0", data / "vae1", "-o", data / "consensus.tsv", "-q", check=True)
    out = tmp_path / "report.html"
    r = latent("report", data, "-o", out, "-q")
    assert r.rc == 0, r
    html = out.read_text()
    assert "<h4>Differential activity</h4>" in html and "log Bayes factor by factor_1" in html
    assert 'id="consensus"' in html
    d = pd.read_csv(tmp_path / "report_tables" / "differential.tsv", sep="\t")
    assert len(d) == 8 and set(d.run) == {"vae0"}
