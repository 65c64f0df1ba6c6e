"""Shared pytest fixtures for ftplens (helpers are in tests/harness/).

Fixtures
  real_captures      session  CaptureSet made once by tests/captures/real.py in a temp dir
                              (set FTPLENS_REAL_CAPTURES=DIR to reuse/keep a dir); skips
                              with the reason when real captures cannot be made here.
  handmade_captures  session  CaptureSet of the committed tests/captures/handmade/
  defect_captures    session  CaptureSet of the committed tests/captures/defects/ (issue classes)
  real_defect_captures session CaptureSet made once by tests/captures/real_defects.py
  seed_capture       session  facts dict of samples/seed-pasv.pcap (with "path")
  corpus_dir         session  Path of the shared corpus, or skip ("../shared/corpus absent: ...")
  tshark_home        function an empty HOME dir that uid 65534 can use

Plain helpers (import harness): run_tshark, tshark_fields, values, stream_payload,
readable_copy, load_captures, ...
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def real_captures(tmp_path_factory):
    keep = os.environ.get("FTPLENS_REAL_CAPTURES")
    if keep and (Path(keep) / "facts.json").exists():
        return harness.load_captures(keep)
    outdir = Path(keep) if keep else tmp_path_factory.mktemp("real-captures")
    try:
        return harness.make_real_captures(outdir)
    except harness.CapturesUnavailable as e:
        pytest.skip("real captures cannot be made here (needs root, "
                    "tcpdump, curl, lftp, pyftpdlib): %s" % e)


@pytest.fixture(scope="session")
def real_defect_captures(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("real-defect-captures")
    try:
        return harness.make_real_defect_captures(outdir)
    except harness.CapturesUnavailable as e:
        pytest.skip("real defect captures cannot be made here (needs root, tcpdump, "
                    "pyftpdlib, vsftpd): %s" % e)


@pytest.fixture(scope="session")
def handmade_captures():
    return harness.load_captures(harness.HANDMADE_DIR)


@pytest.fixture(scope="session")
def defect_captures():
    return harness.load_captures(harness.DEFECTS_DIR)


@pytest.fixture(scope="session")
def seed_capture():
    return harness.seed_capture()


@pytest.fixture(scope="session")
def corpus_dir():
    d = harness.find_corpus()
    if d is None:
        pytest.skip("../shared/corpus absent: set FTPLENS_CORPUS or put the shared corpus at "
                    "/work/shared/corpus or ../shared/corpus beside the repository")
    return d


@pytest.fixture
def tshark_home():
    d = tempfile.mkdtemp(prefix="ftplens-home-")
    os.chmod(d, 0o755)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)
