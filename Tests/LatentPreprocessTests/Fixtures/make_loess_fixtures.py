"""skmisc.loess reference fits for LoessTests (scikit-misc from PyPI, as scanpy uses it).

    .venv/bin/python Tests/LatentPreprocessTests/Fixtures/make_loess_fixtures.py

Writes loess_<case>.tsv with columns x, y, fitted (span 0.3, degree as named), 17 significant digits.
"""
from pathlib import Path

import numpy as np
import pandas as pd
from skmisc.loess import loess

OUT = Path(__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[3]


def save(name, x, y, degree):
    m = loess(x, y, span=0.3, degree=degree)
    m.fit()
    pd.DataFrame({"x": x, "y": y, "fitted": m.outputs.fitted_values}).to_csv(
        OUT / f"loess_{name}.tsv", sep="\t", index=False, float_format="%.17g")


rng = np.random.default_rng(0)
x = np.sort(rng.uniform(0, 10, 500))
y = np.sin(x) + 0.1 * x ** 1.5 + rng.normal(0, 0.3, 500)
save("synthetic_deg2", x, y, 2)
save("synthetic_deg1", x, y, 1)
xt = np.round(rng.uniform(0, 5, 400), 1)          # many tied x values
save("ties_deg2", xt, np.cos(xt) + rng.normal(0, 0.2, 400), 2)

counts = pd.read_csv(ROOT / "Examples/geuvadis/geuvadis_sex_counts.csv.gz", index_col=0).to_numpy(np.float64)
mean, var = counts.mean(0), counts.var(0, ddof=1)
keep = var > 0
save("geuvadis_meanvar", np.log10(mean[keep]), np.log10(var[keep]), 2)
