"""The C ABI driven from C (fuzz/c/replay.c) over every committed fuzz seed and crash input, under
valgrind (no error, no leak) and under ASan + UBSan: scripts/valgrind-clib.sh.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_c_abi_replay_under_valgrind_and_sanitizers():
    for tool in ("valgrind", "cc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    p = subprocess.run(["bash", "scripts/valgrind-clib.sh"], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    assert "no error, no leak" in p.stdout
    assert p.stdout.count(" 0 failed checks") == 2, p.stdout
