"""Writes the tiny Cell Ranger .h5 fixtures that TenXTests reads (run once; the outputs are committed).

    /work/main/.venv/bin/python Tests/LatentIOTests/Fixtures/make_tenx_h5.py

X (cells × genes) below is what every fixture holds. Cell Ranger stores genes × cells CSC, i.e. the
CSR arrays of X itself, with `shape` = [genes, cells]. Layouts follow Cell Ranger 3+ (`/matrix`) and
Cell Ranger 2 (`/<genome>`); integer widths are the ones Cell Ranger writes (data int32, indices and
indptr int64, shape int32).
"""
from pathlib import Path

import h5py
import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent

X = np.array([
    [0, 3, 0, 0, 1],
    [2, 0, 0, 5, 0],
    [0, 0, 0, 0, 0],
    [7, 1, 4, 0, 9],
], dtype=np.int32)
BARCODES = [b"AAACCTGAGAAACCAT-1", b"AAACCTGAGAAACCGC-1", b"AAACCTGAGAAACCTA-1", b"AAACCTGAGAAACGAG-1"]
IDS = [b"ENSG00000243485", b"ENSG00000237613", b"ENSG00000186092", b"ENSG00000238009", b"ENSG00000239945"]
NAMES = [b"MIR1302-2HG", b"FAM138A", b"OR4F5", b"FAM138A", b"AL627309.3"]  # FAM138A twice, as in real references


def csr():
    m = sp.csr_matrix(X)
    m.sort_indices()
    return m


def write_v3(path, indptr=None):
    m = csr()
    with h5py.File(path, "w") as f:
        g = f.create_group("matrix")
        g["barcodes"] = np.array(BARCODES)
        g["data"] = m.data.astype(np.int32)
        g["indices"] = m.indices.astype(np.int64)
        g["indptr"] = (m.indptr if indptr is None else np.array(indptr)).astype(np.int64)
        g["shape"] = np.array([X.shape[1], X.shape[0]], dtype=np.int32)
        ft = g.create_group("features")
        ft["id"] = np.array(IDS)
        ft["name"] = np.array(NAMES)
        ft["feature_type"] = np.array([b"Gene Expression"] * len(IDS))
        ft["genome"] = np.array([b"GRCh38"] * len(IDS))


def write_v2(path):
    m = csr()
    with h5py.File(path, "w") as f:
        g = f.create_group("hg19")
        g["barcodes"] = np.array(BARCODES)
        g["data"] = m.data.astype(np.int32)
        g["indices"] = m.indices.astype(np.int64)
        g["indptr"] = m.indptr.astype(np.int64)
        g["shape"] = np.array([X.shape[1], X.shape[0]], dtype=np.int32)
        g["genes"] = np.array(IDS)
        g["gene_names"] = np.array(NAMES)


if __name__ == "__main__":
    write_v3(HERE / "tenx_v3.h5")
    write_v2(HERE / "tenx_v2.h5")
    # indptr that decreases: must be rejected naming /matrix
    write_v3(HERE / "tenx_v3_bad_indptr.h5", indptr=[0, 2, 1, 4, 8])
