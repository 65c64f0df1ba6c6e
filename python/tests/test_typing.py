"""`mypy --strict` on the package as it is imported here (the installed copy in a venv, or
python/src): the public API is typed and stays so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ftplens


def test_mypy_strict_passes_on_the_package(tmp_path: Path) -> None:
    pytest.importorskip("mypy", reason="mypy is not installed (the [test] extra has it)")
    package = Path(ftplens.__file__).resolve().parent
    env = dict(os.environ)
    # An installed copy is found in site-packages (mypy refuses site-packages on MYPYPATH); a source
    # checkout through MYPYPATH.
    if package.parent.name != "site-packages":
        env["MYPYPATH"] = str(package.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull, "-p", "ftplens"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # nothing here shadows a module
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout
