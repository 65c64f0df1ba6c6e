"""In-tree PEP 517 build backend for the ftplens Python package.

Why a custom backend rather than setuptools: the package is pure Python plus one prebuilt shared library
(no extension module), so all a build has to do is (1) run ``cargo build --release --lib`` on the Rust
crate, (2) generate ``ftplens/_abi.py`` from ``include/ftplens.h`` and (3) zip that up with a correct
platform tag. This backend does exactly that with the standard library alone: ``pip install ./python``
needs no build dependency from an index (build isolation installs nothing), and the wheel is tagged
``py3-none-<platform>`` (it works with any CPython 3, but only on the platform of the library).

Where the Rust crate is:

* ``$FTPLENS_SOURCE_DIR`` if set;
* ``<sdist>/rust`` when building from an sdist made by :func:`build_sdist`;
* the parent of ``python/`` in a clone of the repository (``pip install ./python``).

Knobs (environment):

* ``FTPLENS_LIBRARY=/path/libftplens.so`` bundles that library instead of running cargo (packagers);
* ``CARGO`` the cargo to run (default: ``cargo`` on PATH, then ``~/.cargo/bin/cargo``);
* ``CARGO_TARGET_DIR`` and every other cargo variable are honoured as usual.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple



def _toml(path: Path) -> Dict[str, Any]:
    # Imported here, not at module level: on Python < 3.11 the frontend imports this module to ask
    # get_requires_for_build_* for tomli before tomli is installed.
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)

PKG_DIR = Path(__file__).resolve().parents[1]  # python/
SRC = PKG_DIR / "src" / "ftplens"
NAME = "ftplens"
LIB_NAMES = ("libftplens.so", "libftplens.dylib", "ftplens.dll")

# Files of the Rust crate that an sdist must carry to rebuild the library.
RUST_PATHS = ("Cargo.toml", "Cargo.lock", "build.rs", "src", "include", "benches", "LICENSE", "LICENSE-MIT",
              "LICENSE-APACHE")


def _log(msg: str) -> None:
    print("ftplens-build: " + msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------- metadata
def _pyproject() -> Dict[str, Any]:
    return _toml(PKG_DIR / "pyproject.toml")["project"]  # type: ignore[no-any-return]


def _repo_root() -> Path:
    env = os.environ.get("FTPLENS_SOURCE_DIR")
    candidates = [Path(env)] if env else [PKG_DIR / "rust", PKG_DIR.parent]
    for root in candidates:
        if (root / "Cargo.toml").is_file() and (root / "include" / "ftplens.h").is_file():
            return root.resolve()
    raise RuntimeError(
        "ftplens-build: cannot find the Rust crate (Cargo.toml and include/ftplens.h) in %s; "
        "build from a clone of the repository or set FTPLENS_SOURCE_DIR"
        % ", ".join(str(c) for c in candidates)
    )


def _version() -> str:
    cargo = _toml(_repo_root() / "Cargo.toml")
    pkg = cargo.get("package", {})
    version = pkg.get("version")
    if isinstance(version, dict):  # version.workspace = true
        version = cargo.get("workspace", {}).get("package", {}).get("version")
    if not isinstance(version, str):
        raise RuntimeError("ftplens-build: no [package] version in Cargo.toml")
    return version


def _metadata(version: str) -> str:
    p = _pyproject()
    lines = [
        "Metadata-Version: 2.1",
        "Name: %s" % p["name"],
        "Version: %s" % version,
        "Summary: %s" % p.get("description", ""),
    ]
    if "requires-python" in p:
        lines.append("Requires-Python: %s" % p["requires-python"])
    lic = p.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append("License: %s" % lic["text"])
    for kw in p.get("keywords", []):
        lines.append("Keywords: %s" % kw)
    for c in p.get("classifiers", []):
        lines.append("Classifier: %s" % c)
    for label, url in p.get("urls", {}).items():
        lines.append("Project-URL: %s, %s" % (label, url))
    for dep in p.get("dependencies", []):
        lines.append("Requires-Dist: %s" % dep)
    for extra, deps in p.get("optional-dependencies", {}).items():
        lines.append("Provides-Extra: %s" % extra)
        for dep in deps:
            marker = 'extra == "%s"' % extra
            lines.append("Requires-Dist: %s; %s" % (dep, marker) if ";" not in dep else
                         "Requires-Dist: %s and %s" % (dep, marker))
    body = ""
    readme = p.get("readme")
    if isinstance(readme, str) and (PKG_DIR / readme).is_file():
        lines.append("Description-Content-Type: text/markdown")
        body = (PKG_DIR / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + body


def _tag() -> str:
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return "py3-none-%s" % plat


def _wheel_file(tag: str) -> str:
    return "Wheel-Version: 1.0\nGenerator: ftplens_build\nRoot-Is-Purelib: false\nTag: %s\n" % tag


def _dist_info(version: str) -> str:
    return "%s-%s.dist-info" % (NAME, version)


# ------------------------------------------------------------------------------------------- build
def _abi_source(root: Path) -> str:
    """Generate _abi.py from the header with ftplens/_abigen.py (loaded by path: importing the
    ftplens package itself would try to load the library)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_ftplens_abigen", SRC / "_abigen.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    header = (root / "include" / "ftplens.h").read_text(encoding="utf-8")
    return mod.generate(header, source="include/ftplens.h")  # type: ignore[no-any-return]


def _cargo() -> str:
    for c in (os.environ.get("CARGO"), shutil.which("cargo"), str(Path.home() / ".cargo" / "bin" / "cargo")):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise RuntimeError("ftplens-build: cargo not found (install Rust, or set CARGO or FTPLENS_LIBRARY)")


def _build_library(root: Path) -> Path:
    prebuilt = os.environ.get("FTPLENS_LIBRARY")
    if prebuilt:
        _log("bundling FTPLENS_LIBRARY=%s (cargo not run)" % prebuilt)
        return Path(prebuilt)
    cmd = [_cargo(), "build", "--release", "--lib", "--message-format=json-render-diagnostics",
           "--manifest-path", str(root / "Cargo.toml")]
    _log("running: %s" % " ".join(cmd))
    proc = subprocess.run(cmd, cwd=str(root), stdout=subprocess.PIPE, stderr=None, text=True)
    if proc.returncode != 0:
        raise RuntimeError("ftplens-build: cargo build failed (exit %d)" % proc.returncode)
    found: Optional[Path] = None
    for line in proc.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") != "compiler-artifact":
            continue
        target = msg.get("target", {})
        if target.get("name") != NAME or "cdylib" not in target.get("kind", []):
            continue
        for fn in msg.get("filenames", []):
            if Path(fn).name in LIB_NAMES:
                found = Path(fn)
    if found is None or not found.is_file():
        raise RuntimeError("ftplens-build: cargo did not report a cdylib artifact for %s" % NAME)
    _log("library: %s" % found)
    return found


def _package_files(root: Path) -> List[Tuple[str, bytes]]:
    """(path in the wheel, content) of the ftplens package: sources, generated _abi.py, library."""
    files: List[Tuple[str, bytes]] = []
    for path in sorted(SRC.rglob("*")):
        rel = path.relative_to(SRC)
        if (
            path.is_dir()
            or "__pycache__" in rel.parts
            or path.suffix in (".pyc", ".so", ".dylib", ".dll")
            or rel.as_posix() == "_abi.py"
        ):
            continue
        files.append(("%s/%s" % (NAME, rel.as_posix()), path.read_bytes()))
    files.append(("%s/_abi.py" % NAME, _abi_source(root).encode("utf-8")))
    lib = _build_library(root)
    name = next((n for n in LIB_NAMES if lib.name.endswith(n.rsplit(".", 1)[1])), lib.name)
    files.append(("%s/%s" % (NAME, name), lib.read_bytes()))
    return files


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode("ascii")
    return "sha256=%s,%d" % (digest, len(data))


def _write_wheel(wheel_directory: str, version: str, files: Iterable[Tuple[str, bytes]]) -> str:
    tag = _tag()
    dist_info = _dist_info(version)
    entries = list(files)
    entries += [
        ("%s/METADATA" % dist_info, _metadata(version).encode("utf-8")),
        ("%s/WHEEL" % dist_info, _wheel_file(tag).encode("utf-8")),
        ("%s/top_level.txt" % dist_info, (NAME + "\n").encode("utf-8")),
    ]
    record = "".join("%s,%s\n" % (p, _record_hash(d)) for p, d in entries)
    record += "%s/RECORD,,\n" % dist_info
    entries.append(("%s/RECORD" % dist_info, record.encode("utf-8")))
    wheel_name = "%s-%s-%s.whl" % (NAME, version, tag)
    out = Path(wheel_directory) / wheel_name
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0))
            mode = 0o755 if path.endswith((".so", ".dylib", ".dll")) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    _log("wrote %s" % out)
    return wheel_name


# ------------------------------------------------------------------------------------ PEP 517 hooks
def _requires() -> List[str]:
    return [] if sys.version_info >= (3, 11) else ["tomli>=1.1"]


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return _requires()


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return _requires()


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    return _requires()


def prepare_metadata_for_build_wheel(metadata_directory: str,
                                     config_settings: Optional[Dict[str, Any]] = None) -> str:
    version = _version()
    d = Path(metadata_directory) / _dist_info(version)
    d.mkdir(parents=True, exist_ok=True)
    (d / "METADATA").write_text(_metadata(version), encoding="utf-8")
    (d / "WHEEL").write_text(_wheel_file(_tag()), encoding="utf-8")
    (d / "top_level.txt").write_text(NAME + "\n", encoding="utf-8")
    return d.name


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                metadata_directory: Optional[str] = None) -> str:
    root = _repo_root()
    return _write_wheel(wheel_directory, _version(), _package_files(root))


def build_editable(wheel_directory: str, config_settings: Optional[Dict[str, Any]] = None,
                   metadata_directory: Optional[str] = None) -> str:
    """PEP 660: a .pth pointing at python/src; the generated _abi.py and the library are written next to
    the sources (both are git-ignored). Re-run after changing the header or the Rust code."""
    root = _repo_root()
    (SRC / "_abi.py").write_text(_abi_source(root), encoding="utf-8")
    lib = _build_library(root)
    shutil.copyfile(lib, SRC / "libftplens.so")
    pth = (str(SRC.parent) + "\n").encode("utf-8")
    return _write_wheel(wheel_directory, _version(), [("_ftplens_editable.pth", pth)])


def _standalone_manifest(text: str) -> str:
    """Cargo.toml without the workspace's other members (the sdist carries only the core crate)."""
    out: List[str] = []
    section = ""
    skipping = False
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if skipping:
            if "]" in stripped.split("#", 1)[0]:
                skipping = False
            continue
        if stripped.startswith("["):
            section = stripped
        if section == "[workspace]" and stripped.split("=", 1)[0].strip() in ("members", "default-members"):
            value = stripped.split("=", 1)[1].split("#", 1)[0]
            skipping = "[" in value and "]" not in value
            continue
        out.append(line)
    return "".join(out)


def _add_bytes(tf: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tf.addfile(info, io.BytesIO(data))


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """An sdist that rebuilds from scratch: the Python package plus the Rust crate under rust/."""
    root = _repo_root()
    version = _version()
    base = "%s-%s" % (NAME, version)
    out = Path(sdist_directory) / (base + ".tar.gz")

    def skip(info: tarfile.TarInfo) -> Optional[tarfile.TarInfo]:
        parts = Path(info.name).parts
        if "__pycache__" in parts or "target" in parts or ".pytest_cache" in parts:
            return None
        if info.name.endswith((".pyc", ".so")) or info.name.endswith("/_abi.py"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(out, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        for name in ("pyproject.toml", "README.md", "build_backend", "src", "examples", "tests"):
            if (PKG_DIR / name).exists():
                tf.add(str(PKG_DIR / name), arcname="%s/%s" % (base, name), filter=skip)
        if root != (PKG_DIR / "rust").resolve():
            for name in RUST_PATHS:
                if name == "Cargo.toml":
                    text = (root / name).read_text(encoding="utf-8")
                    _add_bytes(tf, "%s/rust/Cargo.toml" % base, _standalone_manifest(text).encode("utf-8"))
                elif (root / name).exists():
                    tf.add(str(root / name), arcname="%s/rust/%s" % (base, name), filter=skip)
        else:
            tf.add(str(root), arcname="%s/rust" % base, filter=skip)
        _add_bytes(tf, "%s/PKG-INFO" % base, _metadata(version).encode("utf-8"))
    _log("wrote %s" % out)
    return out.name


if __name__ == "__main__":  # pragma: no cover - manual: python build_backend/ftplens_build.py DIR
    print(build_wheel(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
