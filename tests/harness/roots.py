"""Other Wireshark releases for the tests: Debian roots made with debootstrap and cached.

Debian 12 (the host) has Wireshark 4.0. The newer releases the project is tested on come from newer
Debian suites, each unpacked once into ~/.cache/ftplens/<suite> (about a minute and 0.8-0.9 GB each)
and reused by every later run and every suite of tests (one lock file per root beside it):

    trixie  Debian 13       Wireshark 4.4, Lua 5.4
    forky   Debian testing  Wireshark 4.6, Lua 5.4

debian_root(suite) -> Path makes or finds the root (root only: debootstrap and chroot need it) and
raises RootUnavailable with the reason otherwise.
"""
from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.path.expanduser("~/.cache/ftplens"))
# Building the C plugin and running tshark there: tshark, its headers, and what pkg-config needs for them.
# setpriv (util-linux) is in every minbase root.
BASE_PACKAGES = ("tshark", "libwireshark-dev", "libglib2.0-dev", "pkg-config", "gcc", "libc6-dev",
                 "liblua5.4-dev")


@dataclass(frozen=True)
class Suite:
    name: str
    wireshark: str  # the major.minor its tshark must report
    extra_packages: tuple = ()
    # A debootstrap without a script for the suite is given the script of a suite it bootstraps like.
    script: str | None = None


SUITES = {
    "trixie": Suite("trixie", "4.4"),
    # The debootstrap of Debian 12 has no forky script (sid's works), and it does not resolve the virtual
    # package that forky's libfalcosecurity depends on; libre2-11 provides it.
    "forky": Suite("forky", "4.6", extra_packages=("libre2-11",), script="/usr/share/debootstrap/scripts/sid"),
}


class RootUnavailable(RuntimeError):
    """The root cannot be made or used here (not root, no debootstrap, no mirror, ...)."""


def mirror() -> str:
    """The Debian mirror this machine's apt uses (the URIs: line of its deb822 sources)."""
    src = Path("/etc/apt/sources.list.d/debian.sources")
    if src.exists():
        m = re.search(r"^URIs:\s*(\S+)", src.read_text(), re.M)
        if m:
            return m.group(1)
    return "http://deb.debian.org/debian"


def tshark_version_text(root: Path) -> str:
    """What `tshark -v` prints inside root ('' when it does not run)."""
    p = subprocess.run(["chroot", str(root), "tshark", "-v"], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else ""


def _usable(suite: Suite, root: Path) -> bool:
    if not (root / "usr/bin/tshark").exists():
        return False
    return re.search(r"TShark \(Wireshark\) %s\." % re.escape(suite.wireshark),
                     tshark_version_text(root)) is not None


def debian_root(name: str) -> Path:
    """The cached root of Debian suite `name` (a key of SUITES), made with debootstrap under its lock if
    it is not there yet. Never removes a working root; a partial one (an interrupted run) is made anew."""
    suite = SUITES[name]
    root = CACHE / suite.name
    if os.geteuid() != 0:
        raise RootUnavailable("debootstrap and chroot need root")
    if shutil.which("debootstrap") is None:
        raise RootUnavailable("debootstrap is not installed (tests/setup-packages.txt)")
    if suite.script and not Path(suite.script).exists():
        raise RootUnavailable(f"this debootstrap has no {suite.script}")
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{suite.name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / "usr/bin/tshark").exists():
            if not _usable(suite, root):
                raise RootUnavailable(f"{root} has no working tshark {suite.wireshark}")
            return root
        partial = CACHE / f"{suite.name}.partial"
        for d in (partial, root):
            if d.exists():
                mounted = [m for m in ("proc", "sys", "dev", "dev/pts") if os.path.ismount(d / m)]
                if mounted:
                    raise RootUnavailable(f"{d} is a partial root with {mounted} still mounted: unmount them")
                shutil.rmtree(d)
        log = CACHE / f"debootstrap-{suite.name}.log"
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(BASE_PACKAGES + suite.extra_packages),
               suite.name, str(partial), mirror()] + ([suite.script] if suite.script else [])
        with open(log, "w") as out:
            p = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=1500,
                               env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if p.returncode != 0:
            raise RootUnavailable(f"debootstrap {suite.name} failed ({p.returncode}); see {log}: "
                                  + log.read_text()[-1500:])
        partial.rename(root)
        if not _usable(suite, root):
            raise RootUnavailable(f"the {suite.name} root has no working tshark {suite.wireshark}")
        return root


class RootTshark:
    """The tshark of a root made by debian_root(), run as nobody with homes in a private dir inside the root.

    .version is its Wireshark major.minor ("4.4"); .inside(path) is a path as the chrooted tshark sees it.
    """

    def __init__(self, root: Path, prefix="ftplens-"):
        import tempfile
        self.root = root
        self.work = Path(tempfile.mkdtemp(prefix=prefix, dir=root / "tmp"))
        os.chmod(self.work, 0o755)
        self.caps = self.work / "caps"
        self.caps.mkdir()
        os.chmod(self.caps, 0o755)
        m = re.search(r"TShark \(Wireshark\) (\d+\.\d+)\.", tshark_version_text(root))
        self.version = m.group(1) if m else "?"
        self._rows = {}

    def inside(self, path: Path) -> str:
        return "/" + str(Path(path).relative_to(self.root))

    def home(self, name) -> Path:
        h = self.work / name
        h.mkdir()
        os.chmod(h, 0o755)
        return h

    def copy_in(self, path: Path) -> str:
        """path copied into the root where nobody can read it (once per path), as seen inside."""
        import hashlib
        path = Path(path)
        key = hashlib.sha256(str(path).encode()).hexdigest()[:10]
        dest = self.caps / f"{key}-{path.name}"
        if not dest.exists():
            shutil.copyfile(path, dest)
            os.chmod(dest, 0o644)
        return self.inside(dest)

    def tshark(self, home: Path, args, check=True, timeout=600):
        nobody = 65534
        cmd = ["chroot", str(self.root), "env", "-i", "HOME=" + self.inside(home), "PATH=/usr/bin:/bin",
               "LC_ALL=C.UTF-8", "setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups",
               "tshark"] + [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {p.returncode}\n{p.stderr[-3000:]}")
        return p

    def fields(self, home: Path, pcap: Path, fields, keylog=None, aggregator="\x1f", two_pass=True):
        """One dict per frame: {field: raw value ('' when absent)}, "frame.number" first. Kept per
        arguments: several tests compare the same run with different references."""
        key = (str(home), str(pcap), tuple(fields), str(keylog), aggregator, two_pass)
        if key not in self._rows:
            self._rows[key] = self._fields(home, pcap, fields, keylog, aggregator, two_pass)
        return self._rows[key]

    def _fields(self, home, pcap, fields, keylog, aggregator, two_pass):
        args = ["-n"] + (["-2"] if two_pass else []) + ["-r", self.copy_in(pcap), "-T", "fields", "-E",
                                                        "separator=/t", "-E", "occurrence=a",
                                                        "-E", "aggregator=" + aggregator]
        if keylog:
            args += ["-o", "tls.keylog_file:" + self.copy_in(keylog)]
        for f in ["frame.number"] + list(fields):
            args += ["-e", f]
        rows = []
        for line in self.tshark(home, args).stdout.splitlines():
            parts = line.split("\t")
            parts += [""] * (len(fields) + 1 - len(parts))
            rows.append(dict(zip(["frame.number"] + list(fields), parts)))
        return rows

    def build_c_plugin(self, home: Path) -> Path:
        """The C plugin compiled inside the root against its Wireshark's headers (with -Wall -Wextra, as
        mk/plugin.mk does) and linked with the core's static library that `make plugin` built on the host;
        installed in home's personal epan folder. Returns the .so; raises RootUnavailable with gcc's
        output when it does not build, AssertionError when it warns."""
        from harness import ROOT
        src = self.work / "plugin-src"
        if not src.exists():
            (src / "plugin-c").mkdir(parents=True)
            (src / "include").mkdir()
            shutil.copyfile(ROOT / "plugin-c/packet-ftplens.c", src / "plugin-c/packet-ftplens.c")
            shutil.copyfile(ROOT / "include/ftplens.h", src / "include/ftplens.h")
            shutil.copyfile(ROOT / "target/release/libftplens.a", src / "libftplens.a")
        epan = home / f".local/lib/wireshark/plugins/{self.version}/epan"
        epan.mkdir(parents=True)
        script = ("cd %s && gcc -shared -fPIC -O2 -std=gnu11 -Wall -Wextra -DPLUGIN_VERSION='\"0.1.0\"' "
                  "$(pkg-config --cflags wireshark) plugin-c/packet-ftplens.c libftplens.a "
                  "-Wl,--exclude-libs,ALL -Wl,--no-undefined -Wl,--gc-sections $(pkg-config --libs wireshark) "
                  "-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o %s/ftplens.so"
                  % (self.inside(src), self.inside(epan)))
        p = subprocess.run(["chroot", str(self.root), "sh", "-c", script], capture_output=True, text=True)
        if p.returncode != 0:
            raise RootUnavailable(f"the C plugin does not build against Wireshark {self.version}:\n"
                                  + p.stderr[-2000:])
        assert "warning" not in p.stderr, f"warnings against Wireshark {self.version}'s headers:\n{p.stderr}"
        for d, _, files in os.walk(home):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        return epan / "ftplens.so"

    def install_lua(self, home: Path) -> str:
        """`make install-lua` with no arguments into home, with this root's tshark first on PATH (a wrapper
        that runs it chrooted), as a user of that Wireshark would run it. Returns make's output."""
        from harness import ROOT
        bin_dir = self.work / "bin"
        if not bin_dir.exists():
            bin_dir.mkdir()
            wrapper = bin_dir / "tshark"
            wrapper.write_text('#!/bin/sh\nexec chroot "%s" tshark "$@"\n' % self.root)
            wrapper.chmod(0o755)
        env = dict(os.environ, HOME=str(home), PATH="%s:%s" % (bin_dir, os.environ.get("PATH", "")))
        env.pop("LUA_VERSION", None)
        p = subprocess.run(["make", "install-lua"], cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"make install-lua failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
        for d, _, files in os.walk(home):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        return p.stdout

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)
