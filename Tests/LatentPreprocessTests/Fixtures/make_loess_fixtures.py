"""skmisc.loess reference fits for LoessTests (scikit-misc from PyPI, the package scanpy uses).

    .venv/bin/pip install scikit-misc
    .venv/bin/python Tests/LatentPreprocessTests/Fixtures/make_loess_fixtures.py

Writes, next to this script:
- loess_<case>.tsv with columns x, y, fitted (span 0.3; degree and surface as named), 17 significant
  digits: a smooth curve + noise (n = 500), the same with degree 1 and with surface="direct", x
  rounded to 0.1 so that most values are tied (n = 400, below skmisc's 500-point switch of the
  trace estimate), and the real case: log10 mean vs log10 variance (ddof = 1) of the non-constant
  genes of Examples/geuvadis/geuvadis_sex_counts.csv.gz, as scanpy's seurat_v3 flavor fits it;
- loess_cases.json: small inputs with their fitted values (and the trace of the operator where
  skmisc computes it exactly), or the error skmisc raises (where its fit() raises, ours must
  throw): tiny n, other spans, deep trees, heavy ties, all-equal x.

    .venv/bin/python .../make_loess_fixtures.py --random PATH [--count N] [--seed S]

writes N random cases (ties, spans, degrees, n up to 30,000) in the loess_cases.json format to PATH
instead; `LOESS_EXTRA_CASES=PATH swift test --filter LoessTests` checks them. Not committed.
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from skmisc.loess import loess

OUT = Path(__file__).resolve().parent
ROOT = Path(__file__).resolve().parents[3]


def skmisc_model(x, y, span=0.3, degree=2, surface="interpolate"):
    m = loess(np.asarray(x, np.float64), np.asarray(y, np.float64), span=span, degree=degree, surface=surface)
    m.fit()
    return m


def save(name, x, y, degree, surface="interpolate"):
    fitted = skmisc_model(x, y, 0.3, degree, surface).outputs.fitted_values
    pd.DataFrame({"x": x, "y": y, "fitted": fitted}).to_csv(
        OUT / f"loess_{name}.tsv", sep="\t", index=False, float_format="%.17g")


def case(name, x, y, span=0.3, degree=2, surface="interpolate"):
    """One small case; skmisc segfaults when ⌊n·span + 1e-5⌋ = 0, so such inputs are not run."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    assert math.floor(len(x) * span + 1e-5) >= 1
    out = {"name": name, "span": span, "degree": degree, "surface": surface,
           "x": x.tolist(), "y": y.tolist()}
    try:
        m = skmisc_model(x, y, span, degree, surface)
        out["fitted"] = m.outputs.fitted_values.tolist()
        if surface == "direct" or len(x) < 500:   # computed exactly, from the operator
            out["trace"] = float(m.outputs.trace_hat)
    except ValueError as e:
        msg = e.args[0]
        out["error"] = msg.decode(errors="replace") if isinstance(msg, bytes) else str(msg)
    return out


def small_cases():
    rng = np.random.default_rng(1)
    cases = []
    x = np.sort(rng.uniform(-3, 3, 60))
    y = x ** 3 / 9 - x + rng.normal(0, 0.4, 60)
    for span, degree in [(0.3, 2), (0.3, 1), (0.75, 2), (1.0, 2), (1.0, 1)]:
        cases.append(case(f"n60_span{span}_deg{degree}", x, y, span, degree))
    cases.append(case("n60_direct_deg2", x, y, 0.3, 2, "direct"))
    cases.append(case("n60_direct_deg1", x, y, 0.5, 1, "direct"))
    for n in (13, 14):   # ⌊0.3·n⌋ = 3 neighbours is too few for degree 2, 4 is enough
        xs = np.arange(n, dtype=np.float64)
        cases.append(case(f"n{n}_deg2", xs, xs ** 2 / 10 + rng.normal(0, 1, n)))
    cases.append(case("n9_deg1", np.arange(9.0), rng.normal(0, 1, 9)))      # 2 neighbours, degree 1: error
    cases.append(case("n10_deg1", np.arange(10.0), rng.normal(0, 1, 10)))    # a vertex fit on 1 weighted point
    xs = np.sort(rng.uniform(0, 10, 100))
    ys = np.sin(xs) + rng.normal(0, 0.3, 100)
    cases.append(case("n100_span0.05_tree_limit", xs, ys, 0.05))               # ≤ 1 point per cell
    cases.append(case("n100_span0.1_deep_tree", xs, ys, 0.1))
    big = 1e6 + np.sort(rng.uniform(0, 1e-3, 80))                               # offset, narrow range
    cases.append(case("offset_narrow", big, rng.normal(0, 1, 80)))
    cases.append(case("negative_unsorted", -rng.uniform(1, 2, 70), rng.normal(0, 1, 70)))
    cases.append(case("all_equal_x", np.full(50, 2.0), rng.normal(0, 1, 50)))
    cases.append(case("all_equal_zero", np.zeros(50), rng.normal(0, 1, 50)))
    two = np.repeat([0.0, 1.0], 25)
    cases.append(case("two_values_deg1", two, rng.normal(0, 1, 50), 0.3, 1))
    four = np.repeat([0.0, 1.0, 2.0, 3.0], 25)
    cases.append(case("four_values_span0.3", four, rng.normal(0, 1, 100)))       # singular local fits
    cases.append(case("four_values_span1", four, rng.normal(0, 1, 100), 1.0))
    ties = np.concatenate([np.zeros(40), np.linspace(1, 2, 60)])               # a vertex on 40 ties > nf
    cases.append(case("ties_on_vertex", ties, rng.normal(0, 1, 100)))
    ties = np.concatenate([np.zeros(10), np.linspace(1, 2, 90)])
    cases.append(case("ties_below_nf", ties, rng.normal(0, 1, 100)))
    return cases


def random_cases(count, seed=7):
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n = int(rng.choice([20, 50, 200, 499, 500, 1000, 5000, 30000]))
        span = float(rng.choice([0.1, 0.2, 0.3, 0.3, 0.5, 0.75, 1.0]))
        degree = int(rng.choice([1, 2]))
        x = rng.lognormal(0, 1, n)
        if rng.uniform() < 0.5:
            x = np.round(x, int(rng.integers(0, 3)))                         # ties
        y = np.log1p(x) + rng.normal(0, 0.3, n)
        if math.floor(n * span + 1e-5) < 1:
            continue
        cases.append(case(f"random{i}_n{n}_span{span}_deg{degree}", x, y, span, degree))
    return cases


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--random", type=Path)
    p.add_argument("--count", type=int, default=40)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    if a.random:
        a.random.write_text(json.dumps(random_cases(a.count, a.seed)))
        return

    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(0, 10, 500))
    y = np.sin(x) + 0.1 * x ** 1.5 + rng.normal(0, 0.3, 500)
    save("synthetic_deg2", x, y, 2)
    save("synthetic_deg1", x, y, 1)
    save("synthetic_direct", x, y, 2, "direct")
    xt = np.round(rng.uniform(0, 5, 400), 1)          # many tied x values, unsorted
    yt = np.cos(xt) + rng.normal(0, 0.2, 400)
    save("ties_deg2", xt, yt, 2)
    save("ties_deg1", xt, yt, 1)

    counts = pd.read_csv(ROOT / "Examples/geuvadis/geuvadis_sex_counts.csv.gz", index_col=0).to_numpy(np.float64)
    mean, var = counts.mean(0), counts.var(0, ddof=1)
    keep = var > 0
    save("geuvadis_meanvar", np.log10(mean[keep]), np.log10(var[keep]), 2)

    (OUT / "loess_cases.json").write_text(json.dumps(small_cases(), indent=0))


if __name__ == "__main__":
    main()
