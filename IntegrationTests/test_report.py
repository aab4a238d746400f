"""`latent metrics` and `latent report` on a small simulated run directory (simulate → normalize →
pca and ica → enrich → metrics → report): the tables beside the page, the planted programs found
again, and the page rendered by headless Chromium (Debian's `chromium`) without console errors."""
import os
import shutil
import struct
import subprocess

import pandas as pd
import pytest

from conftest import assert_bad_input, latent

K = 8


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed and could not be (make test installs it: apt-get install chromium)")


def render(html, png=None, dump_dom=False, size="1200,3000"):
    """Runs headless Chromium on a local file; returns (stdout, console lines from its log)."""
    args = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
            f"--window-size={size}", f"--user-data-dir={html.parent / '.chromium-profile'}"]
    args += [f"--screenshot={png}"] if png else []
    args += ["--dump-dom"] if dump_dom else []
    proc = subprocess.run(args + [f"file://{html}"], capture_output=True, text=True, timeout=120)
    console = [l for l in proc.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l or "ERR_" in l]
    return proc.stdout, console


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("report")
    latent("simulate", "--cells", "800", "--genes", "1500", "--programs", str(K), "--seed", "1", "-o", d / "sim.h5ad", "-q", check=True)
    latent("normalize", d / "sim.h5ad", "-o", d / "norm.h5ad", "-q", check=True)
    for model, key in (("pca", "PCs"), ("ica", "ICs")):
        latent(model, d / "norm.h5ad", "--k", str(K), "--seed", "2", "-o", d / f"{model}.h5ad", "-q", check=True)
        latent("enrich", d / f"{model}.h5ad", "--key", f"varm/{key}", "--gene-sets", d / "sim.programs.gmt", "--min-size", "5",
               "--permutations", "200", "--top", "5", "-o", d / f"enrich_{model}.tsv", "-q", check=True)
        latent("metrics", d / f"{model}.h5ad", "--key", f"obsm/X_{model}", "-o", d / f"metrics_{model}.tsv", "-q", check=True)
    out = d / "out"
    out.mkdir()
    r = latent("report", d, "-o", out / "report.html", "--color-by", "factor_2", "-q")
    assert r.rc == 0, r
    return d


def test_metrics_table_is_tidy_and_ranks_ica_above_pca(runs):
    t = {m: pd.read_csv(runs / f"metrics_{m}.tsv", sep="\t", keep_default_na=False) for m in ("pca", "ica")}
    assert list(t["ica"].columns) == ["model", "parameters", "seed", "metric", "latent", "factor", "value"]
    overall = {m: t[m][(t[m].latent == "all") & (t[m].factor == "all")].set_index("metric")["value"].astype(float) for m in t}
    for m in t:
        assert overall[m]["active_units"] == K
        assert set(t[m][t[m].metric == "mig"].factor) == {f"factor_{k}" for k in range(1, K + 1)} | {"all"}
        assert (t[m][t[m].metric == "mutual_info"].value.astype(float) >= 0).all()
    # ICA unmixes the independent programs; PCA's orthogonal rotation mixes them
    assert overall["ica"]["mig"] > overall["pca"]["mig"]
    assert overall["ica"]["dci_disentanglement"] > overall["pca"]["dci_disentanglement"]
    assert overall["ica"]["gaussian_tc"] < 0.05  # ICA's codes are whitened


def test_metrics_summary_and_bad_input(runs, tmp_path):
    r = latent("metrics", "--summary", runs / "metrics_pca.tsv", runs / "metrics_ica.tsv", "-o", "-", "-q")
    assert r.rc == 0, r
    s = pd.read_csv(pd.io.common.StringIO(r.out), sep="\t", keep_default_na=False)
    assert set(s.model) == {"pca", "ica"} and (s.runs == 1).all()
    assert_bad_input(latent("metrics", runs / "pca.h5ad", "--key", "obsm/X_vae", "-o", tmp_path / "m.tsv"), "obsm/X_vae", output=tmp_path / "m.tsv")
    assert_bad_input(latent("metrics", runs / "pca.h5ad", "--key", "obsm/X_pca", "--factors", "obs/nope", "-o", tmp_path / "m.tsv"),
                     "obs/nope", output=tmp_path / "m.tsv")
    assert_bad_input(latent("metrics", "--summary", runs / "enrich_pca.tsv", "-o", tmp_path / "s.tsv"), "not a metrics table", output=tmp_path / "s.tsv")


def test_report_tables_beside_the_page(runs):
    out = runs / "out"
    tables = out / "report_tables"
    names = {p.name for p in tables.iterdir()}
    assert {"runs.tsv", "comparison.tsv", "latents.tsv", "top_genes.tsv", "top_gene_sets.tsv", "covariates.tsv"} <= names
    assert not [p for p in out.iterdir() if ".tmp-" in p.name]
    runs_t = pd.read_csv(tables / "runs.tsv", sep="\t")
    assert sorted(runs_t.run) == ["ica", "pca"]
    latents = pd.read_csv(tables / "latents.tsv", sep="\t")
    assert len(latents) == 2 * K
    # the per-latent top gene set names the planted programs again
    ica = latents[(latents.run == "ica") & (latents.top_set_fdr < 0.05)]
    assert ica.top_set.nunique() >= 6, ica
    comparison = pd.read_csv(tables / "comparison.tsv", sep="\t").set_index("run")
    assert comparison.loc["ica", "distinct_significant_sets"] >= 6
    assert comparison.loc["ica", "planted_programs_recovered"] == ica.top_set.nunique()
    assert comparison.loc["ica", "mig"] > comparison.loc["pca", "mig"]


def test_report_is_self_contained_and_repeatable(runs, tmp_path):
    html = (runs / "out" / "report.html").read_text()
    assert "http://" not in html and "https://" not in html
    assert "<script src" not in html and "<link" not in html and "<img" not in html
    for section in ("overview", "comparison", "sweep", "models", "tables", "run-0-latent-0"):
        assert f'id="{section}"' in html
    r = latent("report", runs, "-o", tmp_path / "again.html", "--color-by", "factor_2", "-q")
    assert r.rc == 0, r
    assert (tmp_path / "again.html").read_text() == html.replace("report_tables/", "again_tables/")


def test_report_bad_input(tmp_path):
    (tmp_path / "empty").mkdir()
    assert_bad_input(latent("report", tmp_path / "empty", "-o", tmp_path / "r.html"), "found no model output", output=tmp_path / "r.html")
    assert not (tmp_path / "r_tables").exists()
    assert_bad_input(latent("report", tmp_path / "missing", "-o", tmp_path / "r.html"), "no such file", output=tmp_path / "r.html")


def test_report_of_one_file_and_color_by(runs, tmp_path):
    r = latent("report", runs / "ica.h5ad", "-o", tmp_path / "one.html", "--color-by", "factor_1", "-q")
    assert r.rc == 0, r
    html = (tmp_path / "one.html").read_text()
    assert "Distribution by factor_1" in html and "low (≤" in html  # a numeric column is cut at its tertiles
    assert pd.read_csv(tmp_path / "one_tables" / "runs.tsv", sep="\t").run.tolist() == ["ica"]
    assert_bad_input(latent("report", runs, "-o", tmp_path / "c.html", "--color-by", "nope"), "obs/nope", output=tmp_path / "c.html")


def test_console_check_catches_script_errors(tmp_path):
    """The check below would see a broken page: a thrown error shows up in Chromium's console log."""
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction();</script></body></html>")
    _, console = render(bad, dump_dom=True, size="400,300")
    assert any("Uncaught" in l for l in console), console


def test_chromium_renders_the_report(runs):
    html = runs / "out" / "report.html"
    png = runs / "out" / "report.png"
    _, console = render(html, png=png)
    assert console == [], console
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1200, 3000)
    assert len(data) > 50_000  # a page of charts, not a blank one
    dom, console = render(html, dump_dom=True)
    assert console == [], console
    # the script ran to its end (it marks the page with the number of sortable tables)
    assert 'data-ready="' in dom and 'data-ready="0"' not in dom
    for section in ("overview", "comparison", "sweep", "models", "tables"):
        assert f'id="{section}"' in dom
    assert dom.count("<svg") >= 2 * K * 3


def test_report_on_real_vae_runs(tmp_path):
    """A small β sweep with the real VAE: training curves, KL per latent, the traversal heatmap and
    the reconstruction-vs-β table come from its history.tsv, uns["vae"] and `latent traverse`."""
    latent("simulate", "--cells", "400", "--genes", "400", "--programs", "4", "--seed", "3", "-o", tmp_path / "sim.h5ad", "-q", check=True)
    latent("normalize", tmp_path / "sim.h5ad", "-o", tmp_path / "norm.h5ad", "-q", check=True)
    runs = tmp_path / "runs"
    runs.mkdir()
    for beta in ("1", "4"):
        d = runs / f"tc_b{beta}"
        latent("vae", tmp_path / "norm.h5ad", "-o", d, "--objective", "tc", "--beta", beta, "--latent", "5", "--epochs", "6", "--seed", "0", "-q", check=True)
        latent("traverse", d / "model.h5", "--latent", "0", "-o", d / "traverse_z0.tsv", "-q", check=True)
        latent("metrics", d / "embedding.h5ad", "--key", "obsm/X_vae", "-o", d / "metrics.tsv", "-q", check=True)
    r = latent("report", runs, "-o", tmp_path / "report.html", "-q")
    assert r.rc == 0, r
    html = (tmp_path / "report.html").read_text()
    for text in ("Reconstruction vs β", "KL per latent", "KL and total correlation", "Traversal:"):
        assert text in html, text
    sweep = pd.read_csv(tmp_path / "report_tables" / "sweep.tsv", sep="\t").set_index("run")
    history = pd.read_csv(runs / "tc_b4" / "history.tsv", sep="\t")
    assert sweep.loc["tc_b4", "beta"] == 4
    assert sweep.loc["tc_b4", "train_recon"] == pytest.approx(history["train_recon"].iloc[-1])
    assert sweep.loc["tc_b4", "epochs"] == history["epoch"].iloc[-1]
    _, console = render(tmp_path / "report.html", dump_dom=True)
    assert console == [], console


def test_report_names_planted_programs_found_by_a_beta_tcvae(tmp_path):
    """Eight PROGENy pathways planted in simulated counts: the report's comparison counts a
    program as recovered when it is some latent's top significant gene set. β-TCVAE should find
    at least 6 of the 8 (issue 7)."""
    latent("simulate", "--cells", 2000, "--genes", 2000, "--programs", 8, "--program-size", 40, "--factors", "mixed",
           "--gene-sets", "progeny_top100", "--seed", 0, "-o", tmp_path / "sim.h5ad", "-q", check=True)
    latent("normalize", tmp_path / "sim.h5ad", "--min-cells", 3, "--hvg", 1000, "-o", tmp_path / "norm.h5ad", "-q", check=True)
    run = tmp_path / "runs" / "tc"
    (tmp_path / "runs").mkdir()
    latent("vae", tmp_path / "norm.h5ad", "-o", run, "--objective", "tc", "--beta", 6, "--hidden", "128", "--latent", 10,
           "--epochs", 60, "--seed", 0, "-q", check=True)
    latent("enrich", run / "embedding.h5ad", "--key", "varm/vae_loadings", "--gene-sets", tmp_path / "sim.programs.gmt",
           "--min-size", 5, "-o", run / "enrich.tsv", "-q", check=True)
    r = latent("report", tmp_path / "runs", "-o", tmp_path / "report.html", "-q")
    assert r.rc == 0, r
    comparison = pd.read_csv(tmp_path / "report_tables" / "comparison.tsv", sep="\t").set_index("run")
    assert comparison.loc["tc", "planted_programs_recovered"] >= 6, comparison.loc["tc"]
