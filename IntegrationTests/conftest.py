"""Shared helpers for the command-line tests: they run the real `latent` binary and compare
what it writes with what the real clients (anndata, pandas, scipy) read."""
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = os.environ.get("LATENT_BIN", str(ROOT / ".build" / "release" / "latent"))
if not os.path.isabs(BIN):
    BIN = str(ROOT / BIN)


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.out}\nstderr:\n{self.err}"


def latent(*args, check=False, env=None):
    proc = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, env=env)
    r = Run(proc)
    if check and r.rc != 0:
        raise AssertionError(f"latent {' '.join(map(str, args))} failed:\n{r}")
    return r


@pytest.fixture
def run():
    return latent


def assert_bad_input(r, *fragments, output=None, directory=None):
    """The contract for bad input: exit 2, one `latent: ...` line on stderr naming the place,
    no traceback, and no output (nor a temporary file) left behind."""
    assert r.rc == 2, r
    lines = [l for l in r.err.splitlines() if l.strip()]
    errors = [l for l in lines if l.startswith("latent: ")]
    assert len(errors) == 1, r
    # Fragments that are not paths are looked for outside the (test-named) temporary paths.
    text = re.sub(r"/\S*pytest-of-[^ :]*", "<path>", errors[0])
    for f in fragments:
        where = errors[0] if f.startswith("/") else text
        assert f in where, f"{f!r} not in {where!r}"
    assert "Fatal error" not in r.err and "Stack dump" not in r.err, r
    if output is not None:
        assert not Path(output).exists(), f"{output} was left behind"
    if directory is not None:
        left = [p.name for p in Path(directory).iterdir() if ".tmp-" in p.name]
        assert not left, f"temporary files left: {left}"
