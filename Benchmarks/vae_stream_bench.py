#!/usr/bin/env python3
"""VAE training from disk vs in memory (issue 16): cells per second per epoch, loader stalls, peak RSS.

    python Benchmarks/vae_stream_bench.py                     # 100,000 cells x 2,000 HVGs (simulated)
    python Benchmarks/vae_stream_bench.py --cells 20000       # the same steps, small

Data: `latent simulate --cells N --genes 4000` (the atlas profile from 100,000 cells) then
`latent normalize --hvg 2000` (log-normalised CSR X, layers["counts"]), kept in --work (default Benchmarks/data/vae_stream, not in git).

Runs, interleaved A/B (the box is shared; best of --repeats per arm), the same command with
`--memory 16G` (X read whole: in memory) and with `--memory 64M` (streamed: the chunk-shuffling
loader reads windows of 8-block shuffle groups on a background thread). `--timing` gives
train_s (the epochs), loader_wait_s (time training waited for a window: the loader stalling it),
loader_read_s (time the loader's thread spent reading windows, overlapped with training; "loader
cells/s" = the training cells it could serve per second on a core of its own) and windows. Reports training cells / (train_s / epochs), the streamed/in-memory ratio, the
loader's share of the streamed training time, peak RSS, and whether both runs wrote the same bytes.
The issue's target: >= 20,000 cells/s per epoch from disk, the loader never the bottleneck.
"""
import argparse
import filecmp
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Benchmarks"))
from proc import measure  # noqa: E402


def run(cmd):
    """Runs cmd; returns (wall s, peak RSS bytes, stderr) of that process alone."""
    m = measure(cmd)
    return m.wall, m.rss, m.err


def timing(err):
    line = next(l for l in err.splitlines() if l.startswith("timing:"))
    return {k: v for k, v in (kv.split("=") for kv in line.split()[1:])}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells", type=int, default=100_000)
    ap.add_argument("--genes", type=int, default=4000)
    ap.add_argument("--hvg", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--small-memory", default="64M")
    ap.add_argument("--work", default=str(ROOT / "Benchmarks" / "data" / "vae_stream"))
    ap.add_argument("--bin", default=os.environ.get("LATENT_BIN", str(ROOT / ".build" / "release" / "latent")))
    ap.add_argument("--out", help="also write the Markdown table here")
    a = ap.parse_args()
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    sim, norm = work / f"sim_{a.cells}.h5ad", work / f"norm_{a.cells}_{a.hvg}.h5ad"
    if not norm.exists():
        run([a.bin, "simulate", "--cells", a.cells, "--genes", a.genes, "--threads", a.threads, "--seed", 1, "-o", sim, "-q"])
        run([a.bin, "normalize", sim, "--hvg", a.hvg, "--threads", a.threads, "-o", norm, "-q"])
    arms = {"in memory": "16G", "from disk": a.small_memory}
    best = {}
    for rep in range(a.repeats):
        for name, memory in arms.items():
            out = work / f"vae_{memory}"
            wall, rss, err = run([a.bin, "vae", norm, "-o", out, "--epochs", a.epochs, "--threads", a.threads,
                                  "--memory", memory, "--timing", "-q"])
            t = timing(err)
            t.update(wall=wall, rss=rss)
            if name not in best or float(t["train_s"]) < float(best[name]["train_s"]):
                best[name] = t
    same = all(filecmp.cmp(work / f"vae_{arms['in memory']}" / f, work / f"vae_{arms['from disk']}" / f, shallow=False)
               for f in ("model.h5", "embedding.h5ad", "history.tsv"))
    train_cells = a.cells - round(a.cells * 0.1)
    rows = []
    for name, t in best.items():
        per_epoch = float(t["train_s"]) / a.epochs
        read = float(t["loader_read_s"])
        rows.append((name, t["streamed"], train_cells / per_epoch, float(t["train_s"]), float(t["loader_wait_s"]),
                     int(t["windows"]), float(t["wall"]), t["rss"] / 2**20, read,
                     train_cells * a.epochs / read if read > 0 else float("nan")))
    lines = [f"VAE training, {a.cells:,} cells x {a.hvg:,} HVGs (CSR), {a.epochs} epochs, --threads {a.threads}, "
             f"defaults (hidden 128, latent 10, batch 128); best of {a.repeats}, interleaved",
             "",
             "| arm | streamed | cells/s per epoch | train s | loader wait s | loader read s | loader cells/s | windows | wall s | peak RSS MiB |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        cap = "" if r[9] != r[9] else f"{r[9]:,.0f}"
        lines.append(f"| {r[0]} | {r[1]} | {r[2]:,.0f} | {r[3]:.2f} | {r[4]:.2f} | {r[8]:.2f} | {cap} | {r[5]} | {r[6]:.1f} | {r[7]:.0f} |")
    disk, mem = rows[1], rows[0]
    lines += ["", f"from disk / in memory: {disk[2] / mem[2]:.2f}x the cells/s (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); loader wait {100 * disk[4] / disk[3]:.1f} % "
                  f"of the streamed training; same bytes: {same}"]
    text = "\n".join(lines)
    print(text)
    if a.out:
        Path(a.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
