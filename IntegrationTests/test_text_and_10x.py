"""CSV/TSV and 10x inputs read exactly as pandas and scanpy read them."""
import gzip
import shutil

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp

from conftest import ROOT, assert_bad_input, latent


def test_geuvadis_csv_equals_pandas_and_joins_sample_sheet(tmp_path):
    src = ROOT / "Examples/geuvadis/geuvadis_sex_counts.csv.gz"
    r = latent("import", src, "--obs-table", ROOT / "Examples/geuvadis/geuvadis_sex_counts_obs.csv",
               "--counts", "-o", tmp_path / "g.h5ad", check=True)
    assert "rows are samples/cells" in r.err and "Ensembl" in r.err
    a = ad.read_h5ad(tmp_path / "g.h5ad")
    x = pd.read_csv(src, index_col=0)
    np.testing.assert_array_equal(np.asarray(a.X), x.to_numpy(np.float32))
    assert list(a.obs_names) == list(x.index) and list(a.var_names) == list(x.columns)
    assert list(a.obs["sex"].cat.categories) == ["Female", "Male"]
    assert a.obs["lib.size"].dtype == np.int64


def test_genes_in_rows_detected_and_transposed(tmp_path):
    rng = np.random.default_rng(0)
    genes = [f"ENSG{j:011d}" for j in range(300)]
    df = pd.DataFrame(rng.poisson(0.3, size=(300, 12)), index=genes, columns=[f"S{i}" for i in range(12)])
    df.index.name = "gene_id"
    df.to_csv(tmp_path / "bulk.tsv.gz", sep="\t")
    r = latent("import", tmp_path / "bulk.tsv.gz", "-o", tmp_path / "b.h5ad", check=True)
    assert "rows are genes" in r.err
    a = ad.read_h5ad(tmp_path / "b.h5ad")
    assert a.shape == (12, 300)
    dense = a.X.toarray() if sp.issparse(a.X) else a.X
    np.testing.assert_array_equal(dense, df.T.to_numpy(np.float32))
    # the override wins
    latent("import", tmp_path / "bulk.tsv.gz", "--orient", "cells-by-genes", "-o", tmp_path / "c.h5ad", "-q", check=True)
    assert ad.read_h5ad(tmp_path / "c.h5ad").shape == (300, 12)


def test_floats_quotes_crlf_and_r_style_header(tmp_path):
    text = '"","GENE_A","GENE_B","GENE_C"\r\n"cell 1",1.5,0,2e-3\r\n"cell 2",0,-3.25,1E2\r\n'
    (tmp_path / "r.csv").write_text(text.replace('"",', "", 1))   # R omits the corner cell
    latent("import", tmp_path / "r.csv", "-o", tmp_path / "r.h5ad", "--orient", "cells-by-genes", "-q", check=True)
    a = ad.read_h5ad(tmp_path / "r.h5ad")
    assert list(a.obs_names) == ["cell 1", "cell 2"]
    assert list(a.var_names) == ["GENE_A", "GENE_B", "GENE_C"]
    dense = a.X.toarray() if sp.issparse(a.X) else a.X
    np.testing.assert_array_equal(dense, np.array([[1.5, 0, 2e-3], [0, -3.25, 100]], dtype=np.float32))


def test_duplicate_gene_names_in_csv_made_unique(tmp_path):
    (tmp_path / "d.csv").write_text("cell,A,B,A\nc1,1,2,3\nc2,4,5,6\n")
    r = latent("import", tmp_path / "d.csv", "--orient", "cells-by-genes", "-o", tmp_path / "d.h5ad", check=True)
    assert "made unique" in r.err
    assert list(ad.read_h5ad(tmp_path / "d.h5ad").var_names) == ["A", "B", "A-1"]


def write_10x_dir(path, X, genes, barcodes, v3=True):
    """X: cells × genes counts. Written as Cell Ranger does: genes × cells coordinates."""
    path.mkdir()
    scipy.io.mmwrite(str(path / "matrix.mtx"), sp.coo_matrix(X.T).astype(np.int64), field="integer")
    feats = "\n".join(f"ID{j}\t{g}" + ("\tGene Expression" if v3 else "") for j, g in enumerate(genes)) + "\n"
    (path / ("features.tsv" if v3 else "genes.tsv")).write_text(feats)
    (path / "barcodes.tsv").write_text("\n".join(barcodes) + "\n")
    if v3:
        for name in ("matrix.mtx", "features.tsv", "barcodes.tsv"):
            with open(path / name, "rb") as f, gzip.open(path / (name + ".gz"), "wb") as g:
                shutil.copyfileobj(f, g)
            (path / name).unlink()


@pytest.mark.parametrize("v3", [True, False])
def test_10x_directory_matches_scanpy(tmp_path, v3):
    rng = np.random.default_rng(1)
    X = sp.random(40, 25, density=0.2, random_state=rng, format="csr")
    X.data = np.ceil(X.data * 20)
    genes = [f"G{j}" for j in range(24)] + ["G3"]        # one duplicated symbol
    barcodes = [f"AAACCTGAGAAACC{i:02d}-1" for i in range(40)]
    write_10x_dir(tmp_path / "mtx", X.toarray(), genes, barcodes, v3=v3)
    latent("import", tmp_path / "mtx", "-o", tmp_path / "x.h5ad", "-q", check=True)
    a = ad.read_h5ad(tmp_path / "x.h5ad")
    np.testing.assert_array_equal(a.X.toarray(), X.toarray().astype(np.float32))
    assert list(a.obs_names) == barcodes
    assert list(a.var["gene_ids"]) == [f"ID{j}" for j in range(25)]
    sc = pytest.importorskip("scanpy")
    ref = sc.read_10x_mtx(tmp_path / "mtx")
    assert list(a.var_names) == list(ref.var_names)
    np.testing.assert_array_equal(a.X.toarray(), ref.X.toarray())


def test_cellranger_h5_v3(tmp_path):
    rng = np.random.default_rng(2)
    X = sp.random(30, 20, density=0.3, random_state=rng, format="csr")
    X.data = np.ceil(X.data * 10)
    csc = X.T.tocsc()         # genes × cells, stored by cell
    with h5py.File(tmp_path / "f.h5", "w") as f:
        m = f.create_group("matrix")
        m["barcodes"] = np.array([f"BC{i}-1".encode() for i in range(30)])
        m["data"] = csc.data.astype(np.int32)
        m["indices"] = csc.indices.astype(np.int64)
        m["indptr"] = csc.indptr.astype(np.int64)
        m["shape"] = np.array([20, 30], dtype=np.int32)
        ft = m.create_group("features")
        ft["id"] = np.array([f"ENSG{j:011d}".encode() for j in range(20)])
        ft["name"] = np.array([f"GENE{j}".encode() for j in range(20)])
        ft["feature_type"] = np.array([b"Gene Expression"] * 20)
        ft["genome"] = np.array([b"GRCh38"] * 20)
    latent("import", tmp_path / "f.h5", "-o", tmp_path / "f.h5ad", "-q", check=True)
    a = ad.read_h5ad(tmp_path / "f.h5ad")
    np.testing.assert_array_equal(a.X.toarray(), X.toarray().astype(np.float32))
    assert list(a.var_names) == [f"GENE{j}" for j in range(20)]
    assert a.var["genome"].iloc[0] == "GRCh38"
    sc = pytest.importorskip("scanpy")
    ref = sc.read_10x_h5(tmp_path / "f.h5")
    np.testing.assert_array_equal(a.X.toarray(), ref.X.toarray())
    assert list(ref.obs_names) == list(a.obs_names)


def test_10x_entry_out_of_range(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "matrix.mtx").write_text("%%MatrixMarket matrix coordinate integer general\n%\n3 2 2\n1 1 5\n4 2 1\n")
    (d / "genes.tsv").write_text("a\tA\nb\tB\nc\tC\n")
    (d / "barcodes.tsv").write_text("x\ny\n")
    out = tmp_path / "o.h5ad"
    r = latent("import", d, "-o", out)
    assert_bad_input(r, str(d / "matrix.mtx") + ":line 5", "gene index 4 outside 1…3", output=out, directory=tmp_path)


def test_10x_missing_file(tmp_path):
    d = tmp_path / "bad"
    d.mkdir()
    (d / "matrix.mtx").write_text("%%MatrixMarket matrix coordinate integer general\n1 1 1\n1 1 1\n")
    out = tmp_path / "o.h5ad"
    r = latent("import", d, "-o", out)
    assert_bad_input(r, "features.tsv", output=out, directory=tmp_path)
