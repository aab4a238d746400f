"""`latent run`: the cache skips what is done, reruns exactly what changed, survives kill -9 and
concurrent runs with byte-identical results, and the Snakemake workflow writes the same files."""
import filecmp
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, ROOT, assert_bad_input, latent

TINY = """\
seed: 0
stages:
  simulate:
    params: {{cells: 300, genes: 400, programs: 6, program-size: 20}}
  normalize:
    input: simulate
    params: {{method: total, hvg: 300}}
  pca:
    input: normalize
    params: {{k: {k}}}
  nmf:
    input: normalize
    params: {{k: 6, max-iter: {nmf_iter}, tol: 0}}
  enrich-pca:
    stage: enrich
    input: pca
    gene-sets: simulate
    params: {{permutations: 200, min-size: 5}}
  enrich-nmf:
    stage: enrich
    input: nmf
    gene-sets: simulate
    params: {{permutations: 200, min-size: 5}}
"""


def write_tiny(path, k=6, nmf_iter=50):
    path.write_text(TINY.format(k=k, nmf_iter=nmf_iter))
    return path


def table(r):
    """The run's stdout: one dict per stage instance."""
    lines = r.out.strip().split("\n")
    header = lines[0].split("\t")
    return [dict(zip(header, l.split("\t"))) for l in lines[1:]]


def statuses(r):
    return {(row["name"], row["instance"]): row["status"] for row in table(r)}


def run_pipeline(pipeline, cache, results, *extra):
    r = latent("run", pipeline, "--cache", cache, "--results", results, *extra)
    assert r.rc == 0, r
    return r


def result_files(results):
    """Every output file in the results view (manifests excluded: they hold wall times)."""
    out = {}
    for stage in sorted(Path(results).iterdir()):
        for inst in sorted(stage.iterdir()):
            for f in sorted(inst.iterdir()):
                if f.name != "manifest.json":
                    out[f"{stage.name}/{inst.name}/{f.name}"] = f
    return out


def assert_same_results(a, b):
    fa, fb = result_files(a), result_files(b)
    assert sorted(fa) == sorted(fb)
    assert fa, "no result files"
    for name in fa:
        assert filecmp.cmp(fa[name], fb[name], shallow=False), f"{name} differs"


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    d = tmp_path_factory.mktemp("quickstart")
    # One thread, as the Snakemake rules get with --cores 1: pca's BLAS results differ in the last
    # bits between thread counts (see test_model_outputs_do_not_depend_on_threads), so the byte
    # comparison below needs the same count on both sides.
    first = run_pipeline(ROOT / "Pipelines" / "quickstart.yaml", d / "cache", d / "results", "--threads", "1")
    return d, first


def test_quickstart_second_run_executes_nothing_in_under_a_second(quickstart):
    d, first = quickstart
    assert set(statuses(first).values()) == {"ran"}
    assert [r["name"] for r in table(first)] == ["import", "normalize", "pca", "enrich"]
    t0 = time.monotonic()
    second = run_pipeline(ROOT / "Pipelines" / "quickstart.yaml", d / "cache", d / "results", "--threads", "1")
    elapsed = time.monotonic() - t0
    assert set(statuses(second).values()) == {"cached"}, second
    assert elapsed < 1.0, f"a fully cached run took {elapsed:.2f} s"
    enrich = (d / "results" / "enrich" / "default" / "enrich.tsv").read_text().splitlines()
    assert enrich[0].startswith("latent\tmethod\tgene_set")
    assert len(enrich) == 1 + 10 * 3    # --top 3 for each of 10 PCs


def test_changing_one_parameter_reruns_exactly_that_stage_and_its_descendants(tmp_path):
    p = write_tiny(tmp_path / "p.yaml")
    first = run_pipeline(p, tmp_path / "cache", tmp_path / "results")
    assert set(statuses(first).values()) == {"ran"}
    write_tiny(p, k=5)
    plan = run_pipeline(p, tmp_path / "cache", tmp_path / "results", "--dry-run")
    rows = {r["name"]: r for r in table(plan)}
    assert rows["pca"]["status"] == "run" and "k: 6 → 5" in rows["pca"]["reason"], rows["pca"]
    assert "pca reruns" in rows["enrich-pca"]["reason"], rows["enrich-pca"]
    second = run_pipeline(p, tmp_path / "cache", tmp_path / "results")
    ran = {name for (name, _), s in statuses(second).items() if s == "ran"}
    assert ran == {"pca", "enrich-pca"}, second
    assert {s for (name, _), s in statuses(second).items() if name not in ran} == {"cached"}
    # --force reruns a stage and what depends on it, even though it is cached; the bytes repeat.
    before = (tmp_path / "results" / "pca" / "default" / "pca.h5ad").read_bytes()
    forced = run_pipeline(p, tmp_path / "cache", tmp_path / "results", "--force", "normalize")
    ran = {name for (name, _), s in statuses(forced).items() if s == "ran"}
    assert ran == {"normalize", "pca", "nmf", "enrich-pca", "enrich-nmf"}
    assert (tmp_path / "results" / "pca" / "default" / "pca.h5ad").read_bytes() == before


def test_sigkill_mid_stage_then_resume_gives_the_bytes_of_a_clean_run(tmp_path):
    p = write_tiny(tmp_path / "p.yaml", nmf_iter=3000)
    cache, results = tmp_path / "cache", tmp_path / "results"
    plan = run_pipeline(p, cache, results, "--dry-run")
    nmf_key = next(r["key"] for r in table(plan) if r["name"] == "nmf")
    proc = subprocess.Popen([BIN, "run", p, "--cache", cache, "--results", results, "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tmp = cache / "tmp"
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None and not (tmp.exists() and any(f.name.startswith(nmf_key) for f in tmp.iterdir())):
        time.sleep(0.005)
    assert proc.poll() is None, "the run finished before nmf could be killed"
    time.sleep(0.2)                   # inside the NMF iterations
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not (cache / "entries" / nmf_key).exists(), "a killed stage left an entry"
    assert any(f.name.startswith(nmf_key) for f in tmp.iterdir()), "expected the killed build's debris"

    resumed = run_pipeline(p, cache, results)
    s = statuses(resumed)
    assert s[("nmf", "")] == "ran" and s[("simulate", "")] == "cached", resumed
    assert list(tmp.iterdir()) == [], "the next run removes a dead run's debris"
    clean = tmp_path / "clean"
    run_pipeline(p, clean / "cache", clean / "results")
    assert_same_results(results, clean / "results")


def test_two_concurrent_runs_on_one_cache_both_succeed_with_identical_outputs(tmp_path):
    p = write_tiny(tmp_path / "p.yaml", nmf_iter=400)
    cache = tmp_path / "cache"
    # --jobs 1 and 2 with the same threads per job (model stages key on them).
    procs = [subprocess.Popen([BIN, "run", p, "--cache", cache, "--results", tmp_path / f"results{i}", "--jobs", str(i + 1),
                               "--threads", str(2 * (i + 1)), "-q"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [pr.communicate(timeout=120) for pr in procs]
    for pr, (out, err) in zip(procs, outs):
        assert pr.returncode == 0, err
    runs = [[l.split("\t") for l in out.strip().split("\n")[1:]] for out, _ in outs]
    # Each instance was built once: by one run, while the other waited on its lock and used it.
    for a, b in zip(*runs):
        assert a[0] == b[0] and a[4] == b[4]
        assert sorted([a[3], b[3]]) == ["cached", "ran"], (a, b)
    assert_same_results(tmp_path / "results0", tmp_path / "results1")
    assert len(list((cache / "entries").iterdir())) == len(runs[0])


def test_validation_errors_name_the_line_and_run_nothing(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("stages:\n  simulate: {}\n  pca:\n    input: simulate\n    params: {k: ten}\n")
    r = latent("run", p, "--cache", tmp_path / "cache")
    assert_bad_input(r, f"{p}:5:", "parameter 'k' of stage 'pca' must be an integer")
    assert not (tmp_path / "cache").exists()
    p.write_text("stages:\n  simulate: {}\n  norm:\n    stage: normalize\n    input: simulat\n")
    assert_bad_input(latent("run", p, "--cache", tmp_path / "cache"), f"{p}:5:", "missing input", "simulat")


def test_cache_ls_gc_clean(tmp_path):
    p = write_tiny(tmp_path / "p.yaml")
    cache = tmp_path / "cache"
    first = run_pipeline(p, cache, tmp_path / "results")
    ls = latent("cache", "ls", "--cache", cache, check=True)
    rows = [l.split("\t") for l in ls.out.strip().split("\n")]
    assert rows[0][:4] == ["key", "stage", "name", "instance"]
    assert sorted(r[0] for r in rows[1:]) == sorted(r["key"] for r in table(first))
    old = {r["name"]: r["key"] for r in table(first)}
    write_tiny(p, k=4)
    second = run_pipeline(p, cache, tmp_path / "results")
    assert len(latent("cache", "ls", "--cache", cache, check=True).out.strip().split("\n")) == 1 + 8
    gc = latent("cache", "gc", p, "--cache", cache, check=True)
    assert sorted(gc.out.split()) == sorted([old["pca"], old["enrich-pca"]])
    left = [l.split("\t")[0] for l in latent("cache", "ls", "--cache", cache, check=True).out.strip().split("\n")[1:]]
    assert sorted(left) == sorted(r["key"] for r in table(second))
    latent("cache", "clean", "--cache", cache, check=True)
    assert latent("cache", "ls", "--cache", cache, check=True).out.strip().split("\n") == [ls.out.split("\n")[0]]


def test_snakemake_workflow_writes_the_same_files_as_latent_run(quickstart, tmp_path):
    d, _ = quickstart
    snakemake = Path(sys.executable).parent / "snakemake"
    if not snakemake.exists():
        snakemake = shutil.which("snakemake")
    assert snakemake, "snakemake is in IntegrationTests/requirements.txt: run make venv"
    r = subprocess.run([snakemake, "-s", ROOT / "workflows" / "Snakefile", "--cores", "1", "--directory", tmp_path, "--quiet",
                        "--config", f"latent={BIN}", f"input={ROOT / 'Examples/hsmm/hsmm_trapnell2014.h5ad'}", "outdir=out"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    for stage, name in [("import", "dataset.h5ad"), ("normalize", "normalized.h5ad"), ("pca", "pca.h5ad"), ("enrich", "enrich.tsv")]:
        ours = d / "results" / stage / "default" / name
        assert filecmp.cmp(tmp_path / "out" / name, ours, shallow=False), f"{name}: Snakemake and latent run differ"


def test_run_sh_still_runs(tmp_path):
    env = dict(os.environ, LATENT=BIN, K="5", HVG="300")
    sim = tmp_path / "sim.h5ad"
    latent("simulate", "--cells", 200, "--genes", 300, "--programs", 4, "--program-size", 20, "-o", sim, "-q", check=True)
    r = subprocess.run(["bash", ROOT / "workflows" / "run.sh", sim, tmp_path / "out", tmp_path / "sim.programs.gmt"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(tmp_path / "out" / "enrich.tsv")


def test_thread_sensitive_stages_key_on_their_thread_count(tmp_path):
    """OpenBLAS's results differ in the last bits between thread counts, so model stages (pca,
    ica, nmf, vae) carry the threads they ran with in their key; the other stages do not."""
    p = write_tiny(tmp_path / "p.yaml")
    first = run_pipeline(p, tmp_path / "cache", tmp_path / "results", "--threads", "1")
    assert set(statuses(first).values()) == {"ran"}
    again = run_pipeline(p, tmp_path / "cache", tmp_path / "results", "--threads", "1", "--dry-run")
    assert set(statuses(again).values()) == {"cached"}
    other = {name: s for (name, _), s in statuses(run_pipeline(p, tmp_path / "cache", tmp_path / "results",
                                                                 "--threads", "2", "--dry-run")).items()}
    assert other["simulate"] == "cached" and other["normalize"] == "cached", other
    assert other["pca"] == "run" and other["nmf"] == "run", other


def test_a_failing_stage_is_one_error_at_its_line_and_keep_going_runs_the_rest(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("stages:\n  simulate:\n    params: {cells: 50, genes: 60, programs: 2, program-size: 10}\n"
                 "  normalize:\n    input: simulate\n  pca:\n    input: normalize\n    grid: {k: [80, 5]}\n")
    cache = tmp_path / "cache"
    r = latent("run", p, "--cache", cache, "--results", tmp_path / "results")
    assert_bad_input(r, f"{p}:6:", "stage pca [k=80]", "more than the 49 centred components")
    s = statuses(r)
    assert s[("pca", "k=80")] == "failed" and s[("pca", "k=5")] == "skipped" and s[("normalize", "")] == "ran"
    assert list((cache / "tmp").iterdir()) == []
    r = latent("run", p, "--cache", cache, "--results", tmp_path / "results", "--keep-going")
    assert r.rc == 2
    s = statuses(r)
    assert s[("pca", "k=80")] == "failed" and s[("pca", "k=5")] == "ran" and s[("normalize", "")] == "cached"
    assert (tmp_path / "results" / "pca" / "k=5" / "pca.h5ad").exists()
    assert not (tmp_path / "results" / "pca" / "k=80").exists()


HANDOFF = """\
seed: 0
stages:
  simulate:
    params: {cells: 300, genes: 400, programs: 6, program-size: 20}
  normalize:
    input: simulate
    params: {method: total, hvg: 300}
  pca:
    input: normalize
    params: {k: 6}
  ica:
    input: normalize
    params: {k: 4}
  enrich:
    input: pca
    gene-sets: simulate
    params: {permutations: 200, min-size: 5}
  metrics:
    input: ica
"""


def test_run_hands_datasets_over_in_memory_and_its_entries_are_the_subcommands_bytes(tmp_path):
    """`latent run` gives each stage the last one's dataset in memory and writes the entries in
    the background; every file of every entry must still be byte for byte what the subcommands
    write when run by hand with the same parameters, seed and thread count."""
    p = tmp_path / "p.yaml"
    p.write_text(HANDOFF)
    results = tmp_path / "results"
    r = run_pipeline(p, tmp_path / "cache", results, "--threads", "1")
    assert set(statuses(r).values()) == {"ran"}, r
    assert not list((tmp_path / "cache" / "tmp").iterdir()), "the run left temporary entries"
    h = tmp_path / "by-hand"
    h.mkdir()
    common = ["--seed", 0, "--threads", 1, "-q"]
    latent("simulate", "--cells", 300, "--genes", 400, "--programs", 6, "--program-size", 20, "-o", h / "sim.h5ad", *common, check=True)
    latent("normalize", h / "sim.h5ad", "--method", "total", "--hvg", 300, "-o", h / "normalized.h5ad", *common, check=True)
    latent("pca", h / "normalized.h5ad", "--k", 6, "-o", h / "pca.h5ad", *common, check=True)
    latent("ica", h / "normalized.h5ad", "--k", 4, "-o", h / "ica.h5ad", *common, check=True)
    latent("enrich", h / "pca.h5ad", "--key", "varm/PCs", "--gene-sets", h / "sim.programs.gmt", "--permutations", 200,
           "--min-size", 5, "-o", h / "enrich.tsv", *common, check=True)
    latent("metrics", h / "ica.h5ad", "--key", "obsm/X_ica", "-o", h / "metrics.tsv", *common, check=True)
    expected = {"simulate": ["sim.h5ad", "sim.programs.gmt"], "normalize": ["normalized.h5ad"], "pca": ["pca.h5ad"],
                "ica": ["ica.h5ad"], "enrich": ["enrich.tsv"], "metrics": ["metrics.tsv"]}
    for stage, names in expected.items():
        entry = results / stage / "default"
        assert sorted(f.name for f in entry.iterdir()) == sorted(names + ["manifest.json"]), stage
        for name in names:
            assert filecmp.cmp(entry / name, h / name, shallow=False), f"{stage}/{name}: latent run and the subcommand differ"


def test_run_carries_the_handed_over_x_as_stored_like_the_subcommand(tmp_path):
    """pca writes uncompressed here, so only a carried X is gzip: the entry's X must be the normalize
    entry's stored chunks, as `latent pca normalized.h5ad --compression none` carries them."""
    import h5py
    p = tmp_path / "p.yaml"
    p.write_text("seed: 0\nstages:\n  simulate: {params: {cells: 200, genes: 300, programs: 4, program-size: 20}}\n"
                 "  normalize: {input: simulate, params: {method: total, hvg: 200}}\n"
                 "  pca: {input: normalize, params: {k: 4, compression: none}}\n")
    results = tmp_path / "results"
    run_pipeline(p, tmp_path / "cache", results, "--threads", "1")
    h = tmp_path / "by-hand"
    h.mkdir()
    common = ["--seed", 0, "--threads", 1, "-q"]
    latent("simulate", "--cells", 200, "--genes", 300, "--programs", 4, "--program-size", 20, "-o", h / "sim.h5ad", *common, check=True)
    latent("normalize", h / "sim.h5ad", "--method", "total", "--hvg", 200, "-o", h / "normalized.h5ad", *common, check=True)
    latent("pca", h / "normalized.h5ad", "--k", 4, "--compression", "none", "-o", h / "pca.h5ad", *common, check=True)
    entry = results / "pca" / "default" / "pca.h5ad"
    with h5py.File(entry) as f:
        X = f["X"]
        arrays = [X] if isinstance(X, h5py.Dataset) else [X["data"], X["indices"], X["indptr"]]
        assert all(a.compression == "gzip" for a in arrays), "X was re-encoded, not carried"
        assert f["obsm/X_pca"].compression is None
    assert filecmp.cmp(entry, h / "pca.h5ad", shallow=False), "latent run's pca entry differs from the subcommand's output"
