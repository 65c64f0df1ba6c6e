"""Shared helpers for ftplens's pytest suites.

Import as `import harness` / `from harness import run_tshark` (tests/ is on
sys.path while pytest runs, because tests/conftest.py lives there).  The
fixtures built on these live in tests/conftest.py.

Captures and their facts
  ROOT, SAMPLES, SEED_PCAP, SEED_FACTS, CAPTURES_DIR, HANDMADE_DIR,
  DEFECTS_DIR
  load_captures(dir) -> CaptureSet           a dir with facts.json
  seed_capture() -> dict                      samples/seed-pasv.pcap's facts (+ "path")
  real_scenario_names() -> [str]              names real.py makes (for parametrize)
  handmade_names(pred=None) -> [str]          names in tests/captures/handmade (for parametrize)
  defect_names(pred=None) -> [str]            names in tests/captures/defects (for parametrize)
  make_real_captures(outdir) -> CaptureSet    run tests/captures/real.py (raises CapturesUnavailable)
  make_real_defect_captures(outdir)           the same for tests/captures/real_defects.py
  find_corpus() -> Path | None                /work/shared/corpus or ../shared/corpus
  check_generator_output(script, dir, out)    a capture generator still writes the committed files

Other Wiresharks (harness.roots)
  roots.debian_root(suite) -> Path            a cached debootstrap root: "trixie" (4.4), "forky" (4.6)
  roots.RootTshark(root)                      its tshark as nobody; .fields(), .build_c_plugin(), .install_lua()

tshark
  run_tshark(pcap, args, home=None, unprivileged=True, ...) -> CompletedProcess
  tshark_fields(pcap, fields, extra_args=(), home=None, ...) -> [dict]
  values(rows, field) -> [str]                non-empty values of a field, in frame order
  readable_copy(path) -> Path                 a copy uid 65534 can read (or path itself)
  stream_payload(pcap, display_filter, ...) -> bytes   TCP payload bytes matching a filter
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SEED_PCAP = SAMPLES / "seed-pasv.pcap"
SEED_FACTS = SAMPLES / "seed-pasv.facts.json"
CAPTURES_DIR = ROOT / "tests" / "captures"
HANDMADE_DIR = CAPTURES_DIR / "handmade"
DEFECTS_DIR = CAPTURES_DIR / "defects"
NOBODY = 65534

__all__ = [
    "ROOT", "SAMPLES", "SEED_PCAP", "SEED_FACTS", "CAPTURES_DIR", "HANDMADE_DIR", "DEFECTS_DIR",
    "NOBODY", "CaptureSet", "CapturesUnavailable", "load_captures", "seed_capture",
    "real_scenario_names", "handmade_names", "defect_names", "make_real_captures",
    "make_real_defect_captures", "find_corpus", "run_tshark", "tshark_fields", "values",
    "readable_copy", "stream_payload", "sha256_hex", "tshark_available", "check_generator_output",
]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Captures
# ---------------------------------------------------------------------------

class CapturesUnavailable(RuntimeError):
    """Real captures cannot be made here (no namespace, no tool, ...)."""


class CaptureSet:
    """The captures of one facts.json.

    .dir       the directory (Path)
    .facts     the whole facts.json (dict)
    .captures  list of per-capture facts dicts, each with an added "path" (str, absolute)
    .errors    scenarios that failed (real captures only)
    cs[name]   one capture's facts; cs.pcap(name) its Path; cs.names(pred) the names
    """

    def __init__(self, directory, facts: dict):
        self.dir = Path(directory)
        self.facts = facts
        self.captures = facts.get("captures", [])
        for c in self.captures:
            c["path"] = str(self.dir / c["pcap"])
        self.errors = facts.get("errors", [])
        self.by_name = {c["name"]: c for c in self.captures}

    def __getitem__(self, name: str) -> dict:
        return self.by_name[name]

    def __contains__(self, name) -> bool:
        return name in self.by_name

    def __iter__(self):
        return iter(self.captures)

    def __len__(self) -> int:
        return len(self.captures)

    def pcap(self, name: str) -> Path:
        return self.dir / self.by_name[name]["pcap"]

    def names(self, pred=None):
        return [c["name"] for c in self.captures if pred is None or pred(c)]

    def __repr__(self):
        return "CaptureSet(%s, %d captures)" % (self.dir, len(self.captures))


def load_captures(directory) -> CaptureSet:
    directory = Path(directory)
    with open(directory / "facts.json") as f:
        return CaptureSet(directory, json.load(f))


def seed_capture() -> dict:
    """The seed sample's facts (samples/seed-pasv.facts.json) plus "path"."""
    with open(SEED_FACTS) as f:
        facts = json.load(f)
    facts["path"] = str(SAMPLES / facts["pcap"])
    return facts


def handmade_names(pred=None):
    """Names of the committed hand-made captures (usable at collection time)."""
    try:
        return load_captures(HANDMADE_DIR).names(pred)
    except FileNotFoundError:
        return []


def defect_names(pred=None):
    """Names of the committed defect-class captures (usable at collection time)."""
    try:
        return load_captures(DEFECTS_DIR).names(pred)
    except FileNotFoundError:
        return []


def _import_real():
    spec = importlib.util.spec_from_file_location("ftplens_captures_real",
                                                  CAPTURES_DIR / "real.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def real_scenario_names():
    """The scenario names real.py makes, in order (no capture is made)."""
    return [fn.__name__ for fn in _import_real().SCENARIOS]


def real_prerequisites():
    """A list of what is missing for real captures (empty when all is there)."""
    missing = [t for t in ("tcpdump", "curl", "lftp", "openssl", "ip", "unshare")
               if shutil.which(t) is None]
    for mod in ("pyftpdlib", "OpenSSL"):
        if importlib.util.find_spec(mod) is None:
            missing.append("python module " + mod + " (pip install -r tests/requirements.txt)")
    return missing


def make_real_captures(outdir, names=None) -> CaptureSet:
    """Run tests/captures/real.py into outdir (in a fresh network namespace).

    Raises CapturesUnavailable with a reason when that is not possible.
    """
    missing = real_prerequisites()
    if missing:
        raise CapturesUnavailable("missing: " + ", ".join(missing))
    real = _import_real()
    try:
        facts = real.generate(str(outdir), names)
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        raise CapturesUnavailable(str(e)) from e
    return CaptureSet(outdir, facts)


def make_real_defect_captures(outdir) -> CaptureSet:
    """Run tests/captures/real_defects.py into outdir (real servers and clients in a fresh
    network namespace, plus the captures derived from them). Raises CapturesUnavailable."""
    missing = real_prerequisites()
    if missing:
        raise CapturesUnavailable("missing: " + ", ".join(missing))
    spec = importlib.util.spec_from_file_location("ftplens_captures_real_defects",
                                                  CAPTURES_DIR / "real_defects.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    try:
        facts = mod.generate(str(outdir))
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        raise CapturesUnavailable(str(e)) from e
    return CaptureSet(outdir, facts)


def check_generator_output(script, committed_dir, outdir) -> None:
    """Run a capture generator (`python3 SCRIPT OUTDIR`) and assert that it wrote exactly the
    committed files of committed_dir, byte for byte."""
    import filecmp
    p = subprocess.run([sys.executable, str(script), str(outdir)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    fresh = sorted(os.listdir(outdir))
    assert fresh == sorted(os.listdir(committed_dir)), "run %s and commit" % script
    _, mismatch, errors = filecmp.cmpfiles(outdir, committed_dir, fresh, shallow=False)
    assert not mismatch and not errors, "stale: %s; run %s and commit" % (mismatch, script)


def find_corpus():
    """The shared corpus of public captures, if present.

    $FTPLENS_CORPUS, then /work/shared/corpus, then ../shared/corpus beside the repo.
    """
    cands = []
    if os.environ.get("FTPLENS_CORPUS"):
        cands.append(Path(os.environ["FTPLENS_CORPUS"]))
    cands += [Path("/work/shared/corpus"), ROOT.parent / "shared" / "corpus"]
    for c in cands:
        if c.is_dir():
            return c
    return None


# ---------------------------------------------------------------------------
# tshark
# ---------------------------------------------------------------------------

def tshark_available() -> bool:
    return shutil.which("tshark") is not None


_READABLE_DIR = None
_DEFAULT_HOME = None


def _private_dir(prefix: str) -> Path:
    """A temp dir uid 65534 can enter, removed when the process exits."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    atexit.register(shutil.rmtree, d, True)
    return d


def _nobody_can_read(path: Path) -> bool:
    """Whether uid 65534 (no supplementary groups) can read path."""
    try:
        st = path.stat()
    except OSError:
        return False
    if not st.st_mode & stat.S_IROTH:
        return False
    for parent in path.resolve().parents:
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _as_nobody(unprivileged: bool) -> bool:
    return unprivileged and os.geteuid() == 0


def readable_copy(path) -> Path:
    """path itself if uid 65534 can read it, else a copy in a world-readable temp dir."""
    global _READABLE_DIR
    path = Path(path).resolve()
    if os.geteuid() != 0 or _nobody_can_read(path):
        return path
    if _READABLE_DIR is None:
        _READABLE_DIR = _private_dir("ftplens-readable-")
    key = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    dest_dir = _READABLE_DIR / key
    dest = dest_dir / path.name
    st = path.stat()
    if not dest.exists() or dest.stat().st_size != st.st_size \
            or dest.stat().st_mtime < st.st_mtime:
        dest_dir.mkdir(exist_ok=True)
        os.chmod(dest_dir, 0o755)
        shutil.copyfile(path, dest)
        os.chmod(dest, 0o644)
    return dest


def _default_home() -> Path:
    global _DEFAULT_HOME
    if _DEFAULT_HOME is None:
        _DEFAULT_HOME = _private_dir("ftplens-tshark-home-")
    return _DEFAULT_HOME


def run_tshark(pcap, args, home=None, unprivileged=True, env=None, check=False, timeout=600,
               text=True):
    """Run `tshark -r PCAP ARGS...` and return the CompletedProcess.

    pcap: a path, or None to run `tshark ARGS...` without -r (e.g. for -G).
    home: the HOME tshark sees (where personal plugins live); default: an empty
          private temp dir (never root's own HOME).
    unprivileged: when we are root, run as uid/gid 65534 through
          `setpriv --reuid=65534 --regid=65534 --clear-groups` (a root tshark
          ignores personal C plugins); the pcap is copied somewhere that user
          can read when needed.  Has no effect when not root.
    env: extra environment variables.  check: raise AssertionError on a non-zero exit.
    """
    nobody = _as_nobody(unprivileged)
    home = Path(home) if home is not None else _default_home()
    cmd = ["tshark"]
    if pcap is not None:
        cmd += ["-r", str(readable_copy(pcap) if nobody else Path(pcap))]
    cmd += [str(a) for a in args]
    if nobody:
        cmd = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + cmd
    e = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
         "LC_ALL": "C.UTF-8"}
    if env:
        e.update(env)
    cwd = str(home) if (not nobody or _nobody_can_read(home)) else "/"
    p = subprocess.run(cmd, env=e, capture_output=True, text=text, timeout=timeout, cwd=cwd)
    if check and p.returncode != 0:
        err = p.stderr if text else p.stderr.decode(errors="replace")
        raise AssertionError("%s exited %d\n%s" % (" ".join(cmd), p.returncode, err[-4000:]))
    return p


def tshark_fields(pcap, fields, extra_args=(), home=None, unprivileged=True, two_pass=True,
                  display_filter=None, aggregator=",", env=None):
    """One dict per frame: {field: raw value string ('' when absent)}.

    Uses `-T fields -E separator=/t -E occurrence=a -E aggregator=,` (and `-2`
    unless two_pass=False).  "frame.number" is always included.  Several
    occurrences of a field in a frame are joined by the aggregator, so a value
    that itself holds commas (a PORT argument) is ambiguous when a frame has
    more than one: pass aggregator="\\x1f" (or similar) when that matters.
    Raises AssertionError when tshark fails.
    """
    fields = list(fields)
    if "frame.number" not in fields:
        fields = ["frame.number"] + fields
    args = ["-n"] + (["-2"] if two_pass else [])
    if display_filter:
        args += ["-Y", display_filter]
    args += ["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
             "-E", "aggregator=" + aggregator]
    for f in fields:
        args += ["-e", f]
    args += list(extra_args)
    p = run_tshark(pcap, args, home=home, unprivileged=unprivileged, env=env, check=True)
    rows = []
    for line in p.stdout.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        rows.append(dict(zip(fields, parts)))
    return rows


def values(rows, field):
    """The non-empty values of field, in frame order."""
    return [r[field] for r in rows if r.get(field)]


def stream_payload(pcap, display_filter, extra_args=(), home=None, unprivileged=True) -> bytes:
    """The concatenated TCP payload of the frames matching display_filter, in
    frame order (fine for clean captures without retransmissions)."""
    rows = tshark_fields(pcap, ["tcp.payload"], extra_args=extra_args, home=home,
                         unprivileged=unprivileged, two_pass=False,
                         display_filter="(%s) && tcp.len > 0" % display_filter)
    return b"".join(bytes.fromhex(r["tcp.payload"].replace(":", "")) for r in rows)
