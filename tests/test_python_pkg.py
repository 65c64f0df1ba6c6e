"""The Python package as a user gets it: a fresh venv, `pip install ./python`, then its own test suite.

The install runs setuptools-rust (a release build of the crate as a cdylib, sharing target/ with the
rest of the test run, so it is quick when the library is already built) and cffi's build hook (the
declarations of include/ftplens.h compiled to _ffi.py); both come from the package index as build
requirements. Set FTPLENS_TEST_CLEAN_CLONE=1 to install from a `git clone` of
HEAD instead, with no target/ at all (a full release build: minutes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
import zipfile
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
    # Exactly what the README says, from the root of the clone; [test] adds pytest, dpkt and mypy.
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
    assert out[1].startswith(site) and Path(out[1]).name == "_libftplens.abi3.so", out
    assert out[2] == _cargo_version()
    assert out[3] == "Endpoint(host='192.168.1.109', port=26758)"
    pkg = Path(out[0]).parent
    assert (pkg / "py.typed").is_file()
    # cffi's out-of-line ABI module: the header's declarations, parsed at build time.
    assert "ftplens_capture_open" in (pkg / "_ffi.py").read_text()
    assert not (pkg / "_abigen.py").exists()


def _cargo_version() -> str:
    for line in (REPO / "Cargo.toml").read_text().splitlines():
        if line.startswith("version = "):
            return line.split('"')[1]
    raise AssertionError("no version in Cargo.toml")


def test_installed_package_analyses_the_sample(venv: Path, source: Path) -> None:
    """The bundled sample's transfer, with the sha256 of the file the seed server served (the content
    make_seed.py wrote, hashed here by hashlib: not ftplens's own output)."""
    sys.path.insert(0, str(REPO / "tests" / "captures"))
    try:
        from make_seed import FILE_CONTENT, FILE_NAME
    finally:
        sys.path.pop(0)
    py = str(venv / "bin" / "python")
    out = _run(
        [py, "-c", "import ftplens, json, sys; "
                   "print(json.dumps([r for r in ftplens.analyze(sys.argv[1]) if r['type'] == 'transfer']))",
         str(source / "samples" / "seed-pasv.pcap")],
        Path("/"), _env(venv), 120,
    )
    transfers = json.loads(out)
    assert len(transfers) == 1, transfers
    t = transfers[0]
    assert (t["command"], t["path"], t["direction"], t["state"]) == ("RETR", FILE_NAME, "download", "complete")
    assert t["bytes"] == len(FILE_CONTENT)
    assert t["sha256"] == hashlib.sha256(FILE_CONTENT).hexdigest()


def test_pip_wheel_is_tagged_for_the_platform(source: Path, tmp_path: Path) -> None:
    """`pip wheel ./python`: one wheel for every Python 3 on this platform (the library is loaded with
    dlopen and calls no Python C API), holding the core's cdylib."""
    if shutil.which("cargo") is None and not (Path.home() / ".cargo" / "bin" / "cargo").exists():
        pytest.skip("cargo is not installed")
    env = dict(os.environ)
    _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "-w",
          str(tmp_path), "./python"], source, env, 3600)
    (wheel,) = tmp_path.glob("ftplens-*.whl")
    name, version, py, abi, platform = wheel.stem.split("-")
    assert (name, version, py, abi) == ("ftplens", _cargo_version(), "py3", "none")
    machine = os.uname().machine
    assert platform in ("linux_" + machine,) or (platform.startswith("manylinux") and platform.endswith(machine))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        lib = z.read("ftplens/_libftplens.abi3.so")
    assert lib[:4] == b"\x7fELF"
    assert "ftplens/_ffi.py" in names and "ftplens/py.typed" in names


def test_package_test_suite_in_the_venv(venv: Path, source: Path) -> None:
    py = str(venv / "bin" / "python")
    out = _run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "python/tests"], source, _env(venv), 1800)
    last = out.strip().splitlines()[-1]
    assert " passed" in last and "failed" not in last and "error" not in last, out[-3000:]
