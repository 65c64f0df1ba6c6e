"""The installed C library: `make install-lib PREFIX=...`, pkg-config, examples/c/example.c, valgrind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Dict

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "c" / "example.c"


def _need(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.skip("not installed: %s" % ", ".join(missing))


def _cargo_version() -> str:
    m = re.search(r'^version\s*=\s*"([^"]+)"', (REPO / "Cargo.toml").read_text(), re.M)
    assert m, "no version in Cargo.toml"
    return m.group(1)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _need("make", "cargo", "readelf")
    p = tmp_path_factory.mktemp("prefix")
    proc = subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "install-lib", "PREFIX=%s" % p],
        capture_output=True, text=True, timeout=3000,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return p


def _env(prefix: Path) -> Dict[str, str]:
    env = dict(os.environ)
    env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")
    env["LD_LIBRARY_PATH"] = str(prefix / "lib")
    return env


@pytest.fixture(scope="module")
def example(prefix: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/c/example.c built exactly as the README says, against the temporary PREFIX."""
    _need("cc", "pkg-config")
    work = tmp_path_factory.mktemp("example")
    shutil.copy(EXAMPLE, work / "example.c")
    proc = subprocess.run(
        ["sh", "-c", "cc example.c $(pkg-config --cflags --libs ftplens)"],
        cwd=work, env=_env(prefix), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return work / "a.out"


def _soname(path: Path) -> str:
    out = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True, check=True).stdout
    m = re.search(r"\(SONAME\)\s+Library soname: \[([^\]]+)\]", out)
    return m.group(1) if m else ""


def test_installed_layout(prefix: Path) -> None:
    lib = prefix / "lib"
    version = _cargo_version()
    real = lib / ("libftplens.so.%s" % version)
    assert real.is_file() and not real.is_symlink()
    assert os.readlink(lib / "libftplens.so.0") == real.name
    assert os.readlink(lib / "libftplens.so") == "libftplens.so.0"
    assert (lib / "libftplens.a").is_file()
    assert (prefix / "include" / "ftplens.h").read_bytes() == (REPO / "include" / "ftplens.h").read_bytes()
    assert (lib / "pkgconfig" / "ftplens.pc").is_file()


def test_soname_is_libftplens_so_0(prefix: Path) -> None:
    """build.rs sets -Wl,-soname,libftplens.so.0 on the cdylib; programs then record the .so.0 name."""
    assert _soname(prefix / "lib" / "libftplens.so.0") == "libftplens.so.0"


def test_static_library_exports_the_abi(prefix: Path) -> None:
    _need("nm")
    out = subprocess.run(
        ["nm", "--defined-only", "-g", str(prefix / "lib" / "libftplens.a")],
        capture_output=True, text=True, check=True,
    ).stdout
    header = (REPO / "include" / "ftplens.h").read_text()
    declared = set(re.findall(r"\b(ftplens_\w+)\s*\(", header))
    assert declared and all(re.search(r" T %s$" % f, out, re.M) for f in declared)


def test_pkg_config(prefix: Path) -> None:
    _need("pkg-config")
    env = _env(prefix)

    def pc(*args: str) -> str:
        return subprocess.run(
            ["pkg-config", *args, "ftplens"], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert pc("--modversion") == _cargo_version()
    assert pc("--cflags") == "-I%s" % (prefix / "include")
    assert pc("--libs") == "-L%s -lftplens" % (prefix / "lib")
    assert pc("--variable=static_libs").startswith(str(prefix / "lib" / "libftplens.a"))


def test_example_output(prefix: Path, example: Path) -> None:
    out = subprocess.run(
        [str(example)], env=_env(prefix), capture_output=True, text=True, timeout=60, check=True
    ).stdout
    lines = out.splitlines()
    assert lines[0] == "libftplens %s" % _cargo_version()
    assert "parse_line: 227 -> 192.168.1.109:26758 (104*256+134)" in lines
    assert "frame  2 C>S COMMAND USER ftpuser" in lines
    assert "frame  5 S>C LOGIN user=ftpuser password=s3cret state=success failures=0" in lines
    assert (
        'frame  9 S>C DATA_EXPECTED channel=1 mode=PASV data=192.168.1.109:26758 peer=192.168.1.106:any '
        'arithmetic="192.168.1.109:26758 (104*256+134)"'
    ) in lines
    started = [line for line in lines if "TRANSFER_STARTED" in line]
    assert len(started) == 1 and started[0].startswith("frame 10 C>S TRANSFER_STARTED channel=1 RETR readme.txt")
    ended = [line for line in lines if "TRANSFER_ENDED" in line]
    assert len(ended) == 1 and ended[0].startswith("frame 12 S>C TRANSFER_ENDED channel=1 RETR readme.txt")
    assert ended[0].endswith("outcome=complete")
    assert "frame  9 S>C REPLY 227 Entering Passive Mode (192,168,1,109,104,134). (answers PASV of frame 8 after 0.500 s)" in lines
    assert not [line for line in lines if "ANOMALY" in line]


def test_example_links_to_the_soname(example: Path) -> None:
    out = subprocess.run(["readelf", "-d", str(example)], capture_output=True, text=True, check=True).stdout
    assert "Shared library: [libftplens.so.0]" in out, out


def test_example_under_valgrind(prefix: Path, example: Path) -> None:
    _need("valgrind")
    proc = subprocess.run(
        ["valgrind", "--leak-check=full", "--error-exitcode=1", str(example)],
        env=_env(prefix), capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        hint = ""
        if "static_cstr" in proc.stderr and "possibly lost" in proc.stderr:
            hint = ("\nhint: 'possibly lost' blocks from ffi::static_cstr: a HashMap in a static is only "
                    "reachable through an interior pointer (hashbrown's ctrl bytes); a BTreeMap, or c\"...\" "
                    "literals, keep the interned strings 'still reachable', which valgrind accepts.")
        pytest.fail("valgrind exit %d\n%s%s" % (proc.returncode, proc.stderr[-5000:], hint), pytrace=False)
    assert "ERROR SUMMARY: 0 errors" in proc.stderr
    assert "TRANSFER_ENDED channel=1" in proc.stdout


def test_static_link(prefix: Path, tmp_path: Path) -> None:
    """The same example linked with libftplens.a needs no libftplens at run time."""
    _need("cc", "pkg-config")
    shutil.copy(EXAMPLE, tmp_path / "example.c")
    env = _env(prefix)
    subprocess.run(
        ["sh", "-c", "cc example.c $(pkg-config --cflags ftplens) $(pkg-config --variable=static_libs ftplens) "
                     "-o example-static"],
        cwd=tmp_path, env=env, check=True, capture_output=True, text=True, timeout=300,
    )
    del env["LD_LIBRARY_PATH"]
    out = subprocess.run(
        [str(tmp_path / "example-static")], env=env, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "outcome=complete" in out
    needed = subprocess.run(["readelf", "-d", str(tmp_path / "example-static")], capture_output=True,
                            text=True, check=True).stdout
    assert "libftplens" not in needed


def test_destdir_staging_and_uninstall(prefix: Path, tmp_path: Path) -> None:
    """DESTDIR stages the files while ftplens.pc keeps the final PREFIX; uninstall-lib removes them."""
    make = ["make", "--no-print-directory", "-C", str(REPO)]
    args = ["PREFIX=/usr", "DESTDIR=%s" % tmp_path]
    subprocess.run(make + ["install-lib"] + args, check=True, capture_output=True, timeout=3000)
    pc = (tmp_path / "usr" / "lib" / "pkgconfig" / "ftplens.pc").read_text()
    assert "prefix=/usr\n" in pc and "libdir=/usr/lib\n" in pc and str(tmp_path) not in pc
    assert (tmp_path / "usr" / "include" / "ftplens.h").is_file()
    subprocess.run(make + ["uninstall-lib"] + args, check=True, capture_output=True, timeout=600)
    left = [p for p in tmp_path.rglob("*") if p.is_file() or p.is_symlink()]
    assert left == []
