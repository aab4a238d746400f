"""Every malformed input gets one line `latent: FILE:PLACE: what is wrong`, exit code 2,
no traceback, and no output file left behind."""
import gzip

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import assert_bad_input, latent


def small_adata(n=6, g=4):
    X = sp.csr_matrix(np.arange(n * g, dtype=np.float32).reshape(n, g))
    return ad.AnnData(X=X, obs=pd.DataFrame(index=[f"c{i}" for i in range(n)]),
                      var=pd.DataFrame(index=[f"g{j}" for j in range(g)]))


def write_text(path, text, gz=False):
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def import_fails(tmp_path, src, *fragments, extra=()):
    out = tmp_path / "out.h5ad"
    r = latent("import", src, "-o", out, *extra)
    assert_bad_input(r, str(src), *fragments, output=out, directory=tmp_path)
    return r


# --- CSV / TSV ---------------------------------------------------------------------------

HEADER = "cell,ENSG00000000001,ENSG00000000002,ENSG00000000003\n"


def test_ragged_row(tmp_path):
    src = write_text(tmp_path / "x.csv", HEADER + "c1,1,2,3\nc2,1,2\n")
    import_fails(tmp_path, src, "line 3", "fields")


def test_non_numeric_cell(tmp_path):
    src = write_text(tmp_path / "x.csv.gz", HEADER + "c1,1,2,3\nc2,1,abc,3\n", gz=True)
    import_fails(tmp_path, src, "line 3, column 3", "abc")


@pytest.mark.parametrize("bad", ["NaN", "inf", "NA", ""])
def test_missing_or_non_finite(tmp_path, bad):
    src = write_text(tmp_path / "x.csv", HEADER + f"c1,1,2,3\nc2,1,{bad},3\n")
    import_fails(tmp_path, src, "line 3, column 3")


def test_negative_counts_when_counts_required(tmp_path):
    src = write_text(tmp_path / "x.csv", HEADER + "c1,1,2,3\nc2,1,-2,3\n")
    import_fails(tmp_path, src, "negative value -2", "'c2'", extra=("--counts",))
    # Without --counts, negative values are data (e.g. log ratios) and import succeeds.
    assert latent("import", src, "-o", tmp_path / "ok.h5ad", "-q").rc == 0


def test_non_integer_counts_when_counts_required(tmp_path):
    src = write_text(tmp_path / "x.csv", HEADER + "c1,1,2,3\nc2,1,2.5,3\n")
    import_fails(tmp_path, src, "non-integer value 2.5", extra=("--counts",))


def test_empty_matrix(tmp_path):
    src = write_text(tmp_path / "x.csv", HEADER)
    import_fails(tmp_path, src, "empty")


def test_duplicate_cell_names(tmp_path):
    src = write_text(tmp_path / "x.csv", HEADER + "c1,1,2,3\nc1,4,5,6\n")
    import_fails(tmp_path, src, "duplicate")


# --- h5ad --------------------------------------------------------------------------------

def test_not_hdf5(tmp_path):
    src = write_text(tmp_path / "x.h5ad", "this is not hdf5\n")
    import_fails(tmp_path, src, "not an HDF5 file")


def test_truncated_h5ad(tmp_path):
    small_adata(2000, 50).write_h5ad(tmp_path / "full.h5ad")
    data = (tmp_path / "full.h5ad").read_bytes()
    src = tmp_path / "trunc.h5ad"
    src.write_bytes(data[: len(data) // 3])
    import_fails(tmp_path, src, "truncated")


def test_missing_x(tmp_path):
    src = tmp_path / "nox.h5ad"
    small_adata().write_h5ad(src)
    with h5py.File(src, "a") as f:
        del f["X"]
    import_fails(tmp_path, src, ":/X:", "missing")


def test_missing_var(tmp_path):
    src = tmp_path / "novar.h5ad"
    small_adata().write_h5ad(src)
    with h5py.File(src, "a") as f:
        del f["var"]
    import_fails(tmp_path, src, ":/var:", "missing")


def test_unknown_encoding(tmp_path):
    src = tmp_path / "enc.h5ad"
    small_adata().write_h5ad(src)
    with h5py.File(src, "a") as f:
        f["X"].attrs["encoding-type"] = "coo_matrix"
    import_fails(tmp_path, src, ":/X:", "unknown encoding-type 'coo_matrix'")


def test_unknown_column_encoding(tmp_path):
    src = tmp_path / "col.h5ad"
    a = small_adata()
    a.obs["x"] = np.arange(a.n_obs)
    a.write_h5ad(src)
    with h5py.File(src, "a") as f:
        f["obs/x"].attrs["encoding-type"] = "awkward-array"
    import_fails(tmp_path, src, ":/obs/x:", "unknown encoding-type")


def test_mismatched_shapes(tmp_path):
    src = tmp_path / "shape.h5ad"
    small_adata().write_h5ad(src)
    with h5py.File(src, "a") as f:
        f["X"].attrs["shape"] = np.array([7, 4])
    import_fails(tmp_path, src, ":/X:", "indptr")


def test_obs_length_differs_from_x(tmp_path):
    src = tmp_path / "obs.h5ad"
    a = small_adata()
    a.write_h5ad(src)
    with h5py.File(src, "a") as f:
        del f["obs/_index"]
        f["obs"].create_dataset("_index", data=np.array([b"a", b"b"], dtype=object), dtype=h5py.string_dtype())
        f["obs/_index"].attrs["encoding-type"] = "string-array"
        f["obs/_index"].attrs["encoding-version"] = "0.2.0"
    import_fails(tmp_path, src, ":/obs:", "has 2 rows but X has 6 rows")


def test_nan_in_h5ad(tmp_path):
    src = tmp_path / "nan.h5ad"
    a = small_adata()
    a.X = a.X.toarray()
    a.X[3, 2] = np.nan
    a.write_h5ad(src)
    import_fails(tmp_path, src, "obs 'c3'", "var 'g2'", "NaN")


# --- usage -------------------------------------------------------------------------------

def test_missing_input_file(tmp_path):
    r = latent("import", tmp_path / "nope.csv", "-o", tmp_path / "o.h5ad")
    assert_bad_input(r, str(tmp_path / "nope.csv"), "no such file")


def test_usage_error_exits_2(tmp_path):
    r = latent("import", "--bogus")
    assert r.rc == 2 and r.err.startswith("latent: "), r


def test_output_must_be_h5ad(tmp_path):
    r = latent("import", "x.csv", "-o", tmp_path / "o.txt")
    assert r.rc == 2 and "h5ad" in r.err, r


def test_output_directory_missing(tmp_path):
    small_adata().write_h5ad(tmp_path / "a.h5ad")
    r = latent("import", tmp_path / "a.h5ad", "-o", tmp_path / "no" / "o.h5ad")
    assert_bad_input(r, "does not exist")


def test_failed_import_keeps_existing_output(tmp_path):
    """A failing run must not clobber the previous good output under the same name."""
    good = tmp_path / "a.h5ad"
    small_adata().write_h5ad(good)
    out = tmp_path / "out.h5ad"
    latent("import", good, "-o", out, "-q", check=True)
    before = out.read_bytes()
    bad = write_text(tmp_path / "bad.csv", HEADER + "c1,1,x,3\n")
    r = latent("import", bad, "-o", out)
    assert r.rc == 2
    assert out.read_bytes() == before


@pytest.mark.parametrize("name", ["damaged_heap.h5ad", "damaged_attribute.h5ad"])
def test_files_that_crash_libhdf5_are_bad_input(tmp_path, name):
    """Byte-flipped h5ad files found by fuzzing on which libhdf5 1.10 itself segfaults (its
    global-heap reader trusts the sizes it finds): still one line, exit 2, nothing written."""
    from conftest import ROOT
    src = ROOT / "IntegrationTests" / "fixtures" / name
    out = tmp_path / "out.h5ad"
    r = latent("import", src, "-o", out)
    assert_bad_input(r, str(src), output=out, directory=tmp_path)
