"""`latent metrics --batch/--labels/--subspace` end to end: an .h5ad written by anndata with the
embedding of Tests/LatentModelsTests/Fixtures/scib_reference.json, whose numbers scib-metrics
computed (make_scib_fixture.py); the library's tolerances are tested in IntegrationMetricsTests."""
import json
import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, assert_bad_input, latent

FIX = json.loads((ROOT / "Tests/LatentModelsTests/Fixtures/scib_reference.json").read_text())


@pytest.fixture
def emb(tmp_path):
    a = ad.AnnData(X=np.asarray(FIX["X_pre"], dtype=np.float32))
    a.obs["sample"] = pd.Categorical(FIX["batch"])
    a.obs["cell_type"] = FIX["cell_type"]
    a.obs["depth"] = np.linspace(0, 1, a.n_obs)
    a.obsm["X_vae"] = np.asarray(FIX["X"], dtype=np.float32)
    a.obsm["X_pre"] = np.asarray(FIX["X_pre"], dtype=np.float32)
    a.uns["vae"] = {"objective": "tc", "beta": 1.0, "seed": 0, "subspaces": {"cell_type": np.arange(4)}}
    p = tmp_path / "emb.h5ad"
    a.write_h5ad(p)
    return p


def table(path):
    m = pd.read_csv(path, sep="\t")
    return {(r.metric, r.latent): r.value for r in m.itertuples()}


def test_scib_metrics_and_subspaces_from_the_command_line(emb, tmp_path):
    out = tmp_path / "m.tsv"
    latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "obs/sample", "--labels", "cell_type",
           "--unintegrated", "obsm/X_pre", "-o", out, "-q", check=True)
    t = table(out)
    ref = FIX["reference"]
    for m, tol in [("silhouette_label", 1e-5), ("bras", 1e-4), ("ilisi", 1e-3), ("clisi", 1e-3),
                   ("graph_connectivity", 1e-9), ("kbet", 0.01), ("pcr_comparison", 1e-4)]:
        assert t[(m, "all")] == pytest.approx(ref[m], abs=tol), m
    # (k-means NMI/ARI depend on the start, so bio conservation is checked in the Swift tests)
    assert t[("scib_batch_correction", "all")] == pytest.approx(FIX["aggregate"]["Batch correction"], abs=3e-3)
    assert t[("scib_total", "all")] == pytest.approx(
        0.4 * t[("scib_batch_correction", "all")] + 0.6 * t[("scib_bio_conservation", "all")], abs=1e-12)
    # the subspace recorded in uns["vae"] (cell_type → latents 0-3) is scored without a flag
    own, rest = t[("subspace_balanced_accuracy", "0-3")], t[("subspace_balanced_accuracy", "rest")]
    assert own > 0.8 and rest < 0.5
    # without --unintegrated: a PCA of X (here X_pre itself, 20 genes: all its components)
    out2 = tmp_path / "m2.tsv"
    latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "sample", "-o", out2, "-q", check=True)
    t2 = table(out2)
    assert t2[("pcr_batch_unintegrated", "all")] == pytest.approx(ref["pcr_batch_unintegrated"], abs=1e-4)
    assert ("scib_total", "all") not in t2  # no labels, no aggregate
    # X is read from the file through the streamed PCA, in row chunks within --memory (an atlas
    # never sits in memory whole; chunk invariance itself: PCAStreamTests): a tiny budget gives
    # the same table
    out4 = tmp_path / "m4.tsv"
    latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "sample", "--memory", "20K", "-o", out4, "-q", check=True)
    assert out4.read_bytes() == out2.read_bytes()
    # an X stored as CSC cannot be read by rows: it is read whole, and the table is the same
    import scipy.sparse as sp
    a = ad.read_h5ad(emb)
    a.X = sp.csc_matrix(a.X)
    a.write_h5ad(tmp_path / "csc.h5ad")
    out5 = tmp_path / "m5.tsv"
    latent("metrics", tmp_path / "csc.h5ad", "--key", "obsm/X_vae", "--batch", "sample", "-o", out5, "-q", check=True)
    assert table(out5)[("pcr_batch_unintegrated", "all")] == pytest.approx(t2[("pcr_batch_unintegrated", "all")], abs=1e-6)
    # same command, same bytes
    out3 = tmp_path / "m3.tsv"
    latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "obs/sample", "--labels", "cell_type",
           "--unintegrated", "obsm/X_pre", "-o", out3, "-q", check=True)
    assert out3.read_bytes() == out.read_bytes()


def test_bad_integration_inputs(emb, tmp_path):
    out = tmp_path / "bad.tsv"
    r = latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "obs/depth", "-o", out)
    assert_bad_input(r, "obs/depth", "categorical", output=out)
    # integer codes are categories: the batches as 0/1/2 give the same numbers as their names
    a = ad.read_h5ad(emb)
    a.obs["sample_code"] = a.obs["sample"].cat.codes.astype(np.int64)
    a.write_h5ad(tmp_path / "codes.h5ad")
    by_name, by_code = tmp_path / "n.tsv", tmp_path / "c.tsv"
    latent("metrics", emb, "--key", "obsm/X_vae", "--batch", "sample", "-o", by_name, "-q", check=True)
    latent("metrics", tmp_path / "codes.h5ad", "--key", "obsm/X_vae", "--batch", "sample_code", "-o", by_code, "-q", check=True)
    assert pd.read_csv(by_name, sep="\t")["value"].tolist() == pd.read_csv(by_code, sep="\t")["value"].tolist()
    r = latent("metrics", emb, "--key", "obsm/X_vae", "--labels", "obs/nope", "-o", out)
    assert_bad_input(r, "obs/nope", output=out)
    r = latent("metrics", emb, "--key", "obsm/X_vae", "--subspace", "obs/sample:6-9", "-o", out)
    assert_bad_input(r, "sample:6-9", "8 latents", output=out)
    r = latent("metrics", emb, "--key", "obsm/X_vae", "--subspace", "obs/sample", "-o", out)
    assert r.rc == 2 and "--subspace" in r.err and not out.exists()
    r = latent("metrics", emb, "--key", "obsm/X_vae", "--labels", "cell_type", "--kmeans-starts", "0", "-o", out)
    assert r.rc == 2 and "--kmeans-starts" in r.err and not out.exists()


def test_metrics_stage_takes_batch_labels_and_subspaces_and_the_report_shows_them(emb, tmp_path):
    pipe = tmp_path / "p.yaml"
    pipe.write_text(f"""\
seed: 0
stages:
  integration:
    stage: metrics
    input: {emb}
    params: {{key: obsm/X_vae, batch: obs/sample, labels: obs/cell_type, unintegrated: obsm/X_pre,
              subspaces: ["obs/sample:4-7"]}}
""")
    r = latent("run", pipe, "--cache", tmp_path / "cache", "--results", tmp_path / "results", "-q")
    assert r.rc == 0, r
    m = tmp_path / "results/integration/default/metrics.tsv"
    t = table(m)
    assert t[("kbet", "all")] == pytest.approx(FIX["reference"]["kbet"], abs=0.01)
    assert ("subspace_balanced_accuracy", "4-7") in t and ("subspace_balanced_accuracy", "0-3") in t
    # the run directory a user keeps: the embedding and its metrics table beside it
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(emb, run / "embedding.h5ad")
    shutil.copy(m, run / "metrics.tsv")
    latent("report", run, "-o", tmp_path / "report.html", "-q", check=True)
    html = (tmp_path / "report.html").read_text()
    assert 'id="integration"' in html and "Cells coloured by batch (sample)" in html
    integ = pd.read_csv(tmp_path / "report_tables/integration.tsv", sep="\t")
    assert integ.loc[0, "kbet"] == pytest.approx(t[("kbet", "all")])
    subs = pd.read_csv(tmp_path / "report_tables/subspaces.tsv", sep="\t")
    assert sorted(subs["covariate"]) == ["cell_type", "sample"]
