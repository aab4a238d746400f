"""One process measured on its own: wall time, CPU time and peak resident memory (shared by the
benchmarks that report memory: atlas, bigsparse, vae_stream)."""
import os
import subprocess
import sys
import tempfile
import time
from collections import namedtuple

Measured = namedtuple("Measured", "wall cpu rss out err")


def measure(cmd, env=None):
    """Runs cmd to completion (output to temporary files, so a chatty process never blocks on a
    full pipe); exits with its stderr when it fails."""
    with tempfile.TemporaryFile("w+") as o, tempfile.TemporaryFile("w+") as e:
        t0 = time.perf_counter()
        p = subprocess.Popen([str(c) for c in cmd], stdout=o, stderr=e, text=True, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        o.seek(0)
        e.seek(0)
        out, err = o.read(), e.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(map(str, cmd))}\n{err[-3000:]}")
    return Measured(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, out, err)
