"""An interrupted run (Ctrl-C, SIGTERM) leaves neither the output nor its temporary file."""
import signal
import subprocess
import time

import anndata as ad
import numpy as np
import scipy.sparse as sp

from conftest import BIN


def test_interrupt_while_writing_leaves_nothing(tmp_path):
    rng = np.random.default_rng(0)
    X = sp.random(20000, 3000, density=0.05, format="csr", random_state=rng, dtype=np.float32)
    ad.AnnData(X=X).write_h5ad(tmp_path / "in.h5ad")
    out = tmp_path / "out.h5ad"
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        p = subprocess.Popen([BIN, "import", tmp_path / "in.h5ad", "-o", out, "--compression-level", "9", "--threads", "1", "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.time() + 30
        while time.time() < deadline and not any(".tmp-" in f.name for f in tmp_path.iterdir()) and p.poll() is None:
            time.sleep(0.002)
        assert p.poll() is None, "the import finished before it could be interrupted"
        p.send_signal(sig)
        p.wait(timeout=30)
        assert p.returncode == code
        assert not out.exists()
        assert [f.name for f in tmp_path.iterdir()] == ["in.h5ad"]
