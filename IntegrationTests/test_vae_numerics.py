"""The β-TCVAE estimator stays finite on z-scored real data whatever the learning rate: these
runs stopped with "the loss is -nan" before the encoder's log σ² was bounded (see
VAENetwork+Numerics.swift)."""
from pathlib import Path

import anndata as ad
import numpy as np
import pytest

from conftest import ROOT, latent

FIXTURE = ROOT / "IntegrationTests" / "fixtures" / "bladder100_rma.csv.gz"


@pytest.fixture(scope="module")
def zscored(tmp_path_factory):
    d = tmp_path_factory.mktemp("numerics")
    raw, z = d / "raw.h5ad", d / "z.h5ad"
    latent("import", FIXTURE, "-o", raw, "-q", check=True)
    latent("normalize", raw, "-o", z, "--method", "none", "--scale", "zscore", "-q", check=True)
    return d, z


@pytest.mark.parametrize("lr", [0.05, 0.1])
def test_tc_vae_on_zscored_microarray_stays_finite(zscored, lr):
    d, z = zscored
    out = d / f"tc{lr}"
    r = latent("vae", z, "-o", out, "--objective", "tc", "--batch-size", 32, "--lr", lr, "--epochs", 40,
               "--threads", 1, "-q")
    assert r.rc == 0, r
    a = ad.read_h5ad(out / "embedding.h5ad")
    assert a.shape == (57, 100)
    assert np.isfinite(a.obsm["X_vae"]).all()
    lv = np.asarray(a.obsm["X_vae_logvar"])
    assert np.isfinite(lv).all() and (np.abs(lv) <= 20).all()
