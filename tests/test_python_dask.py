"""ftplens.dask on a real local Dask cluster (two worker processes): a folder of many captures (the
bundled sample, the handmade captures, the shared corpus's FTP captures when present, and generated
ones) read as one partition per file, written to Parquet, read back with DuckDB, and counted against
`ftplens log` over the same files. The seed transfer's sha256 is checked against the served file's
content hashed by hashlib."""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
RECORDS = ("ftp", "transfer", "session", "anomaly")

for module in ("dask.distributed", "pyarrow", "pandas", "duckdb", "fsspec", "cffi"):
    pytest.importorskip(module, reason="%s is not installed (tests/requirements.txt)" % module)


@pytest.fixture(scope="module")
def release_build() -> Path:
    """The release library and CLI of this checkout (quick when target/ is current)."""
    for targets in (["-p", "ftplens", "--lib", "--bin", "ftplens"], ["-p", "ftplens-gen"]):
        subprocess.run(["cargo", "build", "--release", "--quiet", *targets], cwd=ROOT, check=True, timeout=1800)
    return ROOT / "target" / "release"


@pytest.fixture(scope="module")
def archive(release_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of captures from every source, names made unique by their origin."""
    folder = tmp_path_factory.mktemp("archive")
    sources = [harness.SEED_PCAP, *sorted(harness.HANDMADE_DIR.glob("*.pcap"))]
    corpus = harness.find_corpus()
    if corpus is None:
        print("SKIP part: no shared corpus (find_corpus); using the bundled and generated captures")
    else:
        sources += sorted(p for p in corpus.rglob("*") if "ftp" in p.name.lower()
                          and p.name.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz"))
                          and p.stat().st_size < 8 << 20)
    for i, src in enumerate(sources):
        shutil.copyfile(src, folder / ("%03d-%s-%s" % (i, src.parent.name, src.name)))
    for seed in range(16):
        out = folder / ("gen-%02d.pcap" % seed)
        size = "%dK" % (32 + 16 * seed)
        subprocess.run([str(release_build / "ftplens-gen"), "capture", "--size", size, "--seed", str(seed),
                        "-o", str(out)], check=True, capture_output=True, timeout=120)
    return folder


@pytest.fixture(scope="module")
def ftplens_package(release_build: Path):  # type: ignore[no-untyped-def]
    """The package from python/src over the release library, for this process and for the worker
    processes (which inherit the environment)."""
    saved = {k: os.environ.get(k) for k in ("FTPLENS_LIBRARY", "PYTHONPATH")}
    os.environ["FTPLENS_LIBRARY"] = str(release_build / "libftplens.so")
    src = str(ROOT / "python" / "src")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (src, saved["PYTHONPATH"]) if p)
    sys.path.insert(0, src)
    import ftplens.dask

    yield ftplens
    sys.path.remove(src)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def test_archive_on_a_local_cluster_to_parquet_read_by_duckdb(
    ftplens_package, archive: Path, release_build: Path, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    import dask
    import duckdb
    from dask.distributed import Client, LocalCluster

    ftplens = ftplens_package
    files = sorted(str(p) for p in archive.iterdir())
    assert len(files) >= 40

    # What the command says about the same files.
    proc = subprocess.run([str(release_build / "ftplens"), "log", "-j", "2", *files],
                          capture_output=True, timeout=300)
    assert proc.returncode in (0, 1, 3), proc.stderr.decode()[-2000:]
    cli = [json.loads(line) for line in proc.stdout.splitlines()]
    expected = collections.Counter((r["type"], r["file"]) for r in cli)
    assert all(expected[(t, f)] for t in ("ftp", "session") for f in files[:3])

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        frames = {t: ftplens.dask.read_captures(str(archive / "*"), record=t, errors="warn") for t in RECORDS}
        for t, ddf in frames.items():
            assert ddf.npartitions == len(files)
            assert list(ddf.columns) == list(ftplens.arrow_schema(t).names)
        dask.compute(*[ddf.to_parquet(str(tmp_path / t), write_index=False, compute=False)
                       for t, ddf in frames.items()])
        # Both worker processes did some of the work.
        done = client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.executed_count)
        assert len(done) == 2 and all(n > 0 for n in done.values()), done

    db = duckdb.connect()
    for t in RECORDS:
        rows = db.execute(
            "SELECT file, count(*) FROM read_parquet(?) GROUP BY file", [str(tmp_path / t / "*.parquet")]
        ).fetchall()
        got = {f: n for f, n in rows}
        want = {f: n for (tt, f), n in expected.items() if tt == t}
        assert got == want, t
        assert sum(got.values()) > 0, t

    sys.path.insert(0, str(ROOT / "tests" / "captures"))
    try:
        from make_seed import FILE_CONTENT
    finally:
        sys.path.pop(0)
    seed = str(archive / ("000-samples-" + harness.SEED_PCAP.name))
    (sha, size), = db.execute(
        'SELECT sha256, "bytes" FROM read_parquet(?) WHERE file = ?', [str(tmp_path / "transfer" / "*.parquet"), seed]
    ).fetchall()
    assert (sha, size) == (hashlib.sha256(FILE_CONTENT).hexdigest(), len(FILE_CONTENT))
