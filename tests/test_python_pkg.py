"""The Python package as a user gets it: a fresh venv, `pip install ./python`, then its own test suite.

The install runs the in-tree build backend, which runs `cargo build --release --lib` in the repository
(sharing target/ with the rest of the test run, so it is quick when the library is already built) and
bundles libftplens.so into the wheel. Set FTPLENS_TEST_CLEAN_CLONE=1 to install from a `git clone` of
HEAD instead, with no target/ at all (a full release build: minutes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: List[str], cwd: Path, env: Dict[str, str], timeout: int) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, "%s failed (%d):\n%s\n%s" % (
        " ".join(cmd), proc.returncode, proc.stdout[-6000:], proc.stderr[-6000:]
    )
    return proc.stdout


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("FTPLENS_TEST_CLEAN_CLONE") == "1":
        if shutil.which("git") is None:
            pytest.skip("git is not installed")
        clone = tmp_path_factory.mktemp("clone") / "ftplens"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=600)
        assert not (clone / "target").exists()
        return clone
    return REPO


@pytest.fixture(scope="module")
def venv(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("cargo") is None and not (Path.home() / ".cargo" / "bin" / "cargo").exists():
        pytest.skip("cargo is not installed")
    env = dict(os.environ)
    for var in ("FTPLENS_LIBRARY", "FTPLENS_HEADER", "PYTHONPATH", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(var, None)
    venv = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", str(venv)], source, env, 300)
    py = str(venv / "bin" / "python")
    # Exactly what the README says, from the root of the clone; [test] adds pytest and dpkt.
    _run([py, "-m", "pip", "install", "--disable-pip-version-check", "./python[test]"], source, env, 3600)
    return venv


def _env(venv: Path) -> Dict[str, str]:
    env = dict(os.environ)
    for var in ("FTPLENS_LIBRARY", "FTPLENS_HEADER", "PYTHONPATH"):
        env.pop(var, None)
    env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    return env


def test_installed_package_bundles_the_library(venv: Path, source: Path) -> None:
    py = str(venv / "bin" / "python")
    out = _run(
        [py, "-c", "import ftplens, os; print(ftplens.__file__); print(ftplens.library_path); "
                   "print(ftplens.__version__); "
                   "print(repr(ftplens.parse_line(b'227 Entering Passive Mode (192,168,1,109,104,134).').endpoint))"],
        Path("/"), _env(venv), 120,
    ).splitlines()
    site = str(venv)
    assert out[0].startswith(site), out  # the installed copy, not python/src
    assert out[1].startswith(site) and out[1].endswith("libftplens.so"), out
    assert out[3] == "Endpoint(host='192.168.1.109', port=26758)"
    pkg = Path(out[0]).parent
    assert (pkg / "py.typed").is_file()
    assert (pkg / "_abi.py").is_file()  # generated from include/ftplens.h at build time
    assert "GENERATED from include/ftplens.h" in (pkg / "_abi.py").read_text()


def test_package_test_suite_in_the_venv(venv: Path, source: Path) -> None:
    py = str(venv / "bin" / "python")
    out = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"], source, _env(venv), 1800)
    last = out.strip().splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last, out[-3000:]
