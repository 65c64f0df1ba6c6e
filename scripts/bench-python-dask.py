#!/usr/bin/env python3
"""Throughput of ftplens.dask.read_captures on a local Dask cluster with one and with two worker
processes, next to `ftplens log -j 1` and `-j 2` on the same files, and each worker's peak resident
size.

    cargo build --release -p ftplens --lib --bin ftplens && cargo build --release -p ftplens-gen
    python3 scripts/bench-python-dask.py                 # 48 generated captures of 1 MiB
    python3 scripts/bench-python-dask.py --files 200 --size 4M
    python3 scripts/bench-python-dask.py --dir /data/captures   # your own captures

Each run analyses every file and keeps the transfer records (what a user writing Parquet would
compute); times are wall-clock seconds of the whole run, the cluster's start-up excluded. The
command writes its JSON lines to /dev/null. Needs the [dask] extra and a release build.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parents[1]
RELEASE = ROOT / "target" / "release"


def generate(folder: Path, files: int, size: str) -> None:
    for seed in range(files):
        subprocess.run([str(RELEASE / "ftplens-gen"), "capture", "--size", size, "--seed", str(seed),
                        "-o", str(folder / ("gen-%03d.pcap" % seed))], check=True, capture_output=True)


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def run_dask(pattern: str, workers: int) -> Tuple[float, int, Dict[str, int]]:
    import ftplens.dask
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        # Imports are start-up, not analysis: warm each worker on one file.
        client.run(lambda: [__import__(m) for m in ("ftplens.dask", "pandas", "pyarrow")])
        ftplens.dask.read_captures(pattern, record="transfer", errors="ignore").partitions[0].compute()
        start = time.perf_counter()
        rows = len(ftplens.dask.read_captures(pattern, record="transfer", errors="ignore"))
        elapsed = time.perf_counter() - start
        peaks = client.run(peak_rss_kib)
    return elapsed, rows, peaks


def run_cli(files: List[str], jobs: int) -> float:
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        p = subprocess.run([str(RELEASE / "ftplens"), "log", "-j", str(jobs), *files], stdout=null,
                           stderr=subprocess.PIPE)
    if p.returncode not in (0, 1, 3):
        sys.exit("ftplens log failed: %s" % p.stderr.decode()[-2000:])
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", type=Path, help="captures to use instead of generated ones")
    ap.add_argument("--files", type=int, default=48, help="generated captures (default 48)")
    ap.add_argument("--size", default="1M", help="size of each generated capture (default 1M)")
    args = ap.parse_args()

    os.environ.setdefault("FTPLENS_LIBRARY", str(RELEASE / "libftplens.so"))
    src = str(ROOT / "python" / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)
    sys.path.insert(0, src)

    with tempfile.TemporaryDirectory(prefix="ftplens-bench-") as tmp:
        folder = args.dir or Path(tmp)
        if args.dir is None:
            generate(folder, args.files, args.size)
        files = sorted(str(p) for p in folder.iterdir() if p.is_file())
        total = sum(os.path.getsize(f) for f in files)
        mib = total / 1048576
        print("%d captures, %.1f MiB; %d CPUs; load average %.1f" % (len(files), mib, os.cpu_count() or 0,
                                                                      os.getloadavg()[0]))
        results = []
        for jobs in (1, 2):
            t = run_cli(files, jobs)
            results.append(("ftplens log -j %d" % jobs, t, None))
        for workers in (1, 2):
            t, rows, peaks = run_dask(os.path.join(str(folder), "*"), workers)
            results.append(("dask, %d worker%s" % (workers, "s" if workers > 1 else ""), t, peaks))
        base = results[0][1]
        print("%-22s %9s %9s %12s  %s" % ("run", "seconds", "MiB/s", "vs log -j 1", "peak RSS per worker"))
        for name, t, peaks in results:
            rss = ", ".join("%.0f MiB" % (v / 1024) for v in peaks.values()) if peaks else ""
            print("%-22s %9.2f %9.1f %11.2fx  %s" % (name, t, mib / t, base / t, rss))
        print("transfer rows: %d" % rows)


if __name__ == "__main__":
    main()
