"""The C plugin inside the real tshark.

Builds the plugin (`make plugin`), installs it into a throwaway home (`HOME=<tmp> make install`), and runs
tshark as an unprivileged user (a root tshark ignores personal C plugins), then asserts the fields, the
data-channel association, export objects and the stats tree against the captures' facts.json, against
independent expectations (Suricata's for the corpus), and against the built-in `ftp` dissector where it is right.
"""

import ctypes
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HANDMADE = ROOT / "tests" / "captures" / "handmade"
CORPUS = Path(os.environ.get("FTPLENS_CORPUS", "/work/shared/corpus"))
SEED = ROOT / "samples" / "seed-pasv.pcap"
NOBODY = 65534


def _have(tool):
    return shutil.which(tool) is not None


pytestmark = pytest.mark.skipif(
    not (_have("tshark") and _have("pkg-config") and _have("cargo") and _have("make"))
    or subprocess.run(["pkg-config", "--exists", "wireshark"]).returncode != 0,
    reason="needs tshark, libwireshark-dev (pkg-config wireshark), cargo and make",
)


def _facts():
    path = HANDMADE / "facts.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())["captures"]


FACTS = _facts()
FACTS_BY_NAME = {c["name"]: c for c in FACTS}


# FTPLENS_TSHARK_ROOT=/path/to/a/root runs every test against the tshark of another root (chroot), with the
# plugin built against that root's headers (make plugin PLUGIN_SYSROOT=...): a debootstrap of Debian trixie
# gives Wireshark 4.4 (docs/architecture.md).
TSHARK_ROOT = Path(os.environ["FTPLENS_TSHARK_ROOT"]) if os.environ.get("FTPLENS_TSHARK_ROOT") else None


class Tshark:
    """tshark with the plugin installed in a private HOME, run as nobody when we are root."""

    def __init__(self, home: Path, root: Path = None):
        self.home = home
        self.work = home / "work"
        self.root = root

    def readable(self, path: Path) -> Path:
        """A copy of path that uid 65534 can read."""
        dest = self.work / path.parent.name / path.name
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(dest.parent, 0o755)
            shutil.copyfile(path, dest)
            os.chmod(dest, 0o644)
        return dest

    def outdir(self, name: str) -> Path:
        d = Path(tempfile.mkdtemp(prefix=name + "-", dir=self.work))
        os.chmod(d, 0o777)
        return d

    def _inside(self, arg) -> str:
        """A host path (or an argument holding one) as the chrooted tshark sees it."""
        s = str(arg)
        return s.replace(str(self.root), "") if self.root else s

    def run(self, args, check=True, timeout=600):
        cmd = ["tshark"] + [self._inside(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + cmd
        env = {"HOME": self._inside(self.home), "PATH": "/usr/bin:/bin" if self.root else
               os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
        if self.root:
            cmd = ["chroot", str(self.root), "env", "-i"] + [f"{k}={v}" for k, v in env.items()] + cmd
            env = dict(env, PATH=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                           cwd=self.work if not self.root else "/")
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}\nstderr:\n{p.stderr[-4000:]}")
        return p

    def version(self) -> str:
        return re.search(r"TShark \(Wireshark\) (\d+\.\d+)", self.run(["-v"]).stdout).group(1)

    def fields(self, pcap: Path, fields, extra=(), two_pass=True, display_filter=None):
        """One dict per packet: {field: [values]} (occurrences separated by the aggregator)."""
        args = ["-n", "-r", self.readable(pcap), "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a",
                "-E", "aggregator=\x1f", "-e", "frame.number"]
        for f in fields:
            args += ["-e", f]
        if two_pass:
            args.append("-2")
        if display_filter:
            args += ["-Y", display_filter]
        args += list(extra)
        out = self.run(args).stdout
        rows = []
        for line in out.splitlines():
            cols = line.split("\t")
            row = {"frame": int(cols[0])}
            for f, v in zip(fields, cols[1:]):
                row[f] = v.split("\x1f") if v else []
            rows.append(row)
        return rows


@pytest.fixture(scope="session")
def tshark():
    """The plugin built and installed (`make install`, into a private HOME) for the tshark under test."""
    sysroot = [f"PLUGIN_SYSROOT={TSHARK_ROOT}"] if TSHARK_ROOT else []
    subprocess.run(["make", "plugin"] + sysroot, cwd=ROOT, check=True, capture_output=True)
    home = Path(tempfile.mkdtemp(prefix="ftplens-plugin-home-", dir=str(TSHARK_ROOT / "tmp") if TSHARK_ROOT
                                 else "/tmp"))
    os.chmod(home, 0o755)
    env = dict(os.environ, HOME=str(home))
    # the Lua helper's install-lua does not know about sysroots: only the C plugin then
    target = ["install-plugin"] + sysroot if TSHARK_ROOT else ["install"]
    p = subprocess.run(["make"] + target, cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    (home / "work").mkdir()
    os.chmod(home / "work", 0o777)
    t = Tshark(home, TSHARK_ROOT)
    so = home / ".local/lib/wireshark/plugins" / t.version() / "epan" / "ftplens.so"
    assert so.is_file(), f"make install did not put the plugin at {so}"
    yield t
    shutil.rmtree(home, ignore_errors=True)


def values(rows, field):
    return [v for r in rows for v in r.get(field, [])]


def frames_with(rows, field):
    return [r["frame"] for r in rows if r.get(field)]


# ------------------------------------------------------------------------------------------ loading


def test_plugin_loads_and_registers(tshark):
    plugins = tshark.run(["-G", "plugins"]).stdout
    assert "ftplens.so" in plugins
    protocols = tshark.run(["-G", "protocols"]).stdout.splitlines()
    filters = {line.split("\t")[2] for line in protocols if line.count("\t") >= 2}
    assert {"ftplens", "ftplens-data", "ftp", "ftp-data"} <= filters


class _FieldInfo(ctypes.Structure):
    _fields_ = [("abbrev", ctypes.c_char_p), ("name", ctypes.c_char_p), ("blurb", ctypes.c_char_p),
                ("type", ctypes.c_uint32), ("frame_role", ctypes.c_uint32), ("data_protocol", ctypes.c_bool)]


class _ExpertInfo(ctypes.Structure):
    _fields_ = [("abbrev", ctypes.c_char_p), ("summary", ctypes.c_char_p), ("group", ctypes.c_uint32),
                ("severity", ctypes.c_uint32)]


def _registry():
    lib = ctypes.CDLL(str(ROOT / "target/release/libftplens.so"))
    lib.ftplens_field_count.restype = ctypes.c_size_t
    lib.ftplens_expert_count.restype = ctypes.c_size_t
    fields, experts = [], []
    for i in range(lib.ftplens_field_count()):
        fi = _FieldInfo()
        assert lib.ftplens_field_get(ctypes.c_size_t(i), ctypes.byref(fi)) == 0
        fields.append((fi.abbrev.decode(), fi.type, fi.frame_role, fi.data_protocol))
    for i in range(lib.ftplens_expert_count()):
        xi = _ExpertInfo()
        assert lib.ftplens_expert_get(ctypes.c_size_t(i), ctypes.byref(xi)) == 0
        experts.append((xi.abbrev.decode(), xi.group, xi.severity))
    return fields, experts


WS_TYPES = {0: "FT_NONE", 1: "FT_STRING", 2: "FT_UINT64", 3: "FT_BOOLEAN", 4: "FT_FRAMENUM",
            5: "FT_RELATIVE_TIME", 6: "FT_IPv4", 7: "FT_IPv6"}
# epan/proto.h PI_* values, as -T fields prints _ws.expert.group and _ws.expert.severity
WS_GROUPS = {1: 0x0a000000, 2: 0x09000000, 3: 0x07000000, 4: 0x02000000, 5: 0x03000000}
WS_SEVERITIES = {1: 0x00200000, 2: 0x00400000, 3: 0x00600000, 4: 0x00800000}


def test_fields_and_experts_match_the_core_registry(tshark):
    """Every registry entry is a Wireshark field (or expert) of the right type, under the right protocol."""
    fields, experts = _registry()
    assert fields and experts
    ws = {}
    for line in tshark.run(["-G", "fields"]).stdout.splitlines():
        cols = line.split("\t")
        if cols[0] == "F" and cols[2].startswith("ftplens"):
            ws[cols[2]] = (cols[3], cols[4])  # type, parent protocol
    for abbrev, ftype, _role, data in fields:
        assert abbrev in ws, f"{abbrev} not registered"
        assert ws[abbrev] == (WS_TYPES[ftype], "ftplens-data" if data else "ftplens"), abbrev
    # Experts are fields too (FT_NONE, filterable by their name). 4.0 has no "-G expert".
    for abbrev, _group, _severity in experts:
        assert ws.get(abbrev, ("", ""))[0] == "FT_NONE", f"expert {abbrev} not registered"
    assert len(ws) == len(fields) + len(experts)


def test_expert_group_and_severity_come_from_the_registry(tshark):
    if "port_bounce" not in FACTS_BY_NAME:
        pytest.skip("no port_bounce capture")
    _, experts = _registry()
    reg = {a: (WS_GROUPS[g], WS_SEVERITIES[s]) for a, g, s in experts}
    rows = tshark.fields(HANDMADE / "port_bounce.pcap", ["_ws.expert.group", "_ws.expert.severity",
                                                         "_ws.expert.message"], display_filter="ftplens.bounce")
    assert len(rows) == 1
    r = rows[0]
    pairs = list(zip(map(int, r["_ws.expert.group"]), map(int, r["_ws.expert.severity"])))
    assert reg["ftplens.bounce"] in pairs, (pairs, r["_ws.expert.message"])
    assert any("203.0.113.50" in m for m in r["_ws.expert.message"])


def test_install_target_uses_home(tmp_path):
    """HOME=... make install puts exactly one file in the versioned personal epan folder."""
    subprocess.run(["make", "plugin"], cwd=ROOT, check=True, capture_output=True)
    p = subprocess.run(["make", "install-plugin"], cwd=ROOT, env=dict(os.environ, HOME=str(tmp_path)),
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    epan = list(tmp_path.glob(".local/lib/wireshark/plugins/*/epan"))
    assert len(epan) == 1 and re.fullmatch(r"\d+\.\d+", epan[0].parent.name)
    assert sorted(x.name for x in epan[0].iterdir()) == ["ftplens.so"]


# ------------------------------------------------------------------------------------------ captures with facts
#
# Every capture that comes with facts (tests/captures/README.md's schema) is checked the same way: the
# hand-made corner cases, the seed sample, and the real server/client captures of tests/captures/real.py
# (made once per session by the shared harness's real_captures fixture, when this machine can).

FILE_TRANSFERS = ("RETR", "STOR", "STOU", "APPE")
CAPTURE_FIELDS = ["ftplens.request.command", "ftplens.request.arg", "ftplens.response.code", "ftplens.user",
                  "ftplens.password", "ftplens.login.success", "ftplens.data.port", "ftplens.data.mode",
                  "ftplens.anomaly", "ftplens.tls.mechanism", "ftplens-data.command", "ftplens-data.file",
                  "ftplens-data.path", "ftplens-data.mode", "ftplens-data.offset", "ftplens-data.setup_frame",
                  "ftplens-data.command_frame", "tcp.srcport", "tcp.dstport", "tcp.len", "tcp.stream",
                  "frame.protocols", "tcp.analysis.retransmission"]


def _real_names():
    try:
        import harness  # tests/harness, on sys.path through tests/conftest.py
        return harness.real_scenario_names()
    except Exception:  # the shared harness is not there (yet): no real captures
        return []


CAPTURES = ([("handmade", n) for n in FACTS_BY_NAME] + ([("seed", "seed-pasv")] if SEED.exists() else [])
            + [("real", n) for n in _real_names()])


def _params(captures):
    return [pytest.param(k, n, id=f"{k}-{n}") for k, n in captures]


@pytest.fixture(scope="module")
def capture_rows(tshark, request):
    """(kind, name) -> (facts, pcap Path, rows of CAPTURE_FIELDS), dissected once per module."""
    cache = {}

    def get(kind, name):
        if (kind, name) in cache:
            return cache[kind, name]
        if kind == "handmade":
            facts, pcap = FACTS_BY_NAME[name], HANDMADE / FACTS_BY_NAME[name]["pcap"]
        elif kind == "seed":
            facts, pcap = json.loads(SEED.with_suffix(".facts.json").read_text()), SEED
        else:
            try:
                real = request.getfixturevalue("real_captures")
            except pytest.FixtureLookupError:
                pytest.skip("no real_captures fixture (tests/conftest.py)")
            if name not in real:
                pytest.skip(f"real capture {name} was not made here")
            facts, pcap = real[name], real.pcap(name)
        cache[kind, name] = (facts, pcap, tshark.fields(pcap, CAPTURE_FIELDS))
        return cache[kind, name]

    return get


def _conn_rows(rows, conn):
    """The rows of one TCP connection of the facts (a port the facts do not know is None)."""
    known = {str(conn[k]) for k in ("client_port", "server_port") if conn.get(k) is not None}
    assert known
    return [r for r in rows if known <= set(r["tcp.srcport"] + r["tcp.dstport"])]


def _payload_rows(rows, conn):
    return [r for r in _conn_rows(rows, conn) if r["tcp.len"] not in (["0"], [])]


@pytest.mark.parametrize("kind,name", _params(CAPTURES))
def test_commands_and_login(capture_rows, kind, name):
    facts, _, rows = capture_rows(kind, name)
    commands = [c.upper() for c in values(rows, "ftplens.request.command")]
    # facts.json writes "<OVERLONG>" for a line too long to be a command (the core reports line_too_long)
    assert commands == [c.upper() for c in facts["commands"] if not c.startswith("<")]
    if facts["tls"]:
        return  # USER and PASS went inside TLS
    if facts.get("user"):
        assert facts["user"] in values(rows, "ftplens.user")
    if facts.get("password"):
        assert facts["password"] in values(rows, "ftplens.password")
    success = values(rows, "ftplens.login.success")
    if facts.get("login_ok"):
        assert {"1", "True", "true"} & set(success), success
    elif facts.get("user"):
        assert success and not {"1", "True", "true"} & set(success), success
    for anomaly in facts["anomalies"]:
        assert anomaly in values(rows, "ftplens.anomaly"), anomaly


def _transfer_matches(r, t):
    return (r["ftplens-data.command"] == [t["command"]]
            and r["ftplens-data.file"] == ([t["file"]] if t["file"] else [])
            and r["ftplens-data.mode"] == [t["mode"]]
            and ("command_frame" not in t or r["ftplens-data.command_frame"] == [str(t["command_frame"])])
            and (not t["offset"] or r["ftplens-data.offset"] == [str(t["offset"])]))


@pytest.mark.parametrize("kind,name", _params(CAPTURES))
def test_data_channels(capture_rows, kind, name):
    """Every data connection's payload is ftplens-data, tied to its transfer command, file and setup."""
    facts, _, rows = capture_rows(kind, name)
    if not facts["transfers"]:
        pytest.skip("no transfer in clear")
    used = set()
    for t in facts["transfers"]:
        assert str(t["advertised"]["port"]) in values(rows, "ftplens.data.port"), t["advertised"]
        assert t["mode"] in values(rows, "ftplens.data.mode")
        # The connection's ports may be reused by another transfer (fixed passive ports, facts that leave a
        # port unknown): take the first TCP stream on them not yet claimed whose payload is all this transfer.
        streams = {}
        for r in _payload_rows(rows, t["data"]):
            streams.setdefault(r["tcp.stream"][0], []).append(r)
        assert streams, f"no payload on the data connection {t['data']}"
        for sid, srows in streams.items():
            assert all("ftplens-data" in r["frame.protocols"][0].split(":") and r["ftplens-data.command"]
                       and r["ftplens-data.setup_frame"] for r in srows), (sid, srows[0])
        mine = [sid for sid, srows in streams.items()
                if sid not in used and all(_transfer_matches(r, t) for r in srows)]
        assert mine, (t, {sid: srows[0] for sid, srows in streams.items()})
        used.add(mine[0])
        if t.get("path"):
            # absolute once the session saw the cwd (PWD, CWD); else relative, as sent
            for r in streams[mine[0]]:
                (path,) = r["ftplens-data.path"]
                assert path == t["path"] or (not path.startswith("/") and t["path"].endswith("/" + path)), r


def _control_rows(rows, facts):
    return _conn_rows(rows, facts["control"])


@pytest.mark.parametrize("kind,name", _params(c for c in CAPTURES
                                             if c[0] != "handmade" or FACTS_BY_NAME[c[1]]["tls"]))
def test_tls_upgrade(capture_rows, kind, name):
    """After the 234, the control connection is handed to TLS (and nothing else is)."""
    facts, _, rows = capture_rows(kind, name)
    upgrade = frames_with(rows, "ftplens.tls.mechanism")
    if not facts["tls"]:
        assert not upgrade
        return
    assert len(upgrade) == 1
    # A retransmission's bytes go to no dissector (Wireshark's TCP already gave them once): real
    # captures made on a busy machine have some.
    later = [r for r in _control_rows(rows, facts) if r["frame"] > upgrade[0] and r["tcp.len"] != ["0"]
             and not r["tcp.analysis.retransmission"]]
    assert later and all("tls" in r["frame.protocols"][0].split(":") for r in later), later


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind,name", _params(CAPTURES))
def test_export_objects(tshark, capture_rows, kind, name):
    """--export-objects ftplens,DIR writes each file transferred in clear under its base name (REST: partial)."""
    facts, pcap, _ = capture_rows(kind, name)
    want = {}
    for t in facts["transfers"]:
        if t["command"] not in FILE_TRANSFERS:
            continue
        fname = os.path.basename(t["file"])
        if t["offset"]:
            fname += f".partial-at-{t['offset']}"
        want[fname] = t["sha256"]
    out = tshark.outdir("eo-" + name)
    tshark.run(["-n", "-r", tshark.readable(pcap), "-q", "--export-objects", f"ftplens,{out}"])
    got = {p.name: _sha256(p) for p in out.iterdir()}
    assert got == want


@pytest.mark.parametrize("kind,name", _params(c for c in CAPTURES
                                             if c[1] in ("control_port_2121", "port2121_curl")))
def test_heuristic_finds_a_nonstandard_port(capture_rows, kind, name):
    facts, _, rows = capture_rows(kind, name)
    assert facts["control"]["server_port"] != 21
    control = _control_rows(rows, facts)
    assert [c.upper() for c in values(control, "ftplens.request.command")] == facts["commands"]
    assert all("ftp:" not in r["frame.protocols"][0] + ":" for r in control)


def test_port_and_heuristic_preferences(tshark):
    """ftplens.heuristic off: port 2121 is not FTP, unless ftplens.tcp.port (the range preference) says so."""
    if "control_port_2121" not in FACTS_BY_NAME:
        pytest.skip("no control_port_2121 capture")
    pcap = HANDMADE / "control_port_2121.pcap"
    off = ["-o", "ftplens.heuristic:FALSE"]
    assert not values(tshark.fields(pcap, ["ftplens.request.command"], extra=off), "ftplens.request.command")
    rows = tshark.fields(pcap, ["ftplens.request.command"], extra=off + ["-o", "ftplens.tcp.port:21,2121"])
    assert values(rows, "ftplens.request.command") == FACTS_BY_NAME["control_port_2121"]["commands"]


def test_limit_preferences_reach_the_core(tshark):
    """Each core limit is a preference named as the core names it; ftplens.max_line:16 cuts the
    seed's 20-byte-plus replies, and the expert info says so."""
    registered = tshark.run(["-G", "defaultprefs"]).stdout
    for name in ("max_line", "max_reply_lines", "max_pending_commands", "max_expectations",
                 "expectation_timeout", "failed_login_alarm"):
        assert "#ftplens.%s: " % name in registered, name
    pcap = ROOT / "samples" / "seed-pasv.pcap"
    field = ["ftplens.anomaly"]
    assert "line_too_long" not in values(tshark.fields(pcap, field), "ftplens.anomaly")
    cut = values(tshark.fields(pcap, field, extra=["-o", "ftplens.max_line:16"]), "ftplens.anomaly")
    assert "line_too_long" in ",".join(cut)


def test_split_reply_is_reassembled_with_exact_positions(tshark):
    """The 227 split across two segments is one PDU; each field points at its own bytes (PDML pos/size)."""
    if "split_227" not in FACTS_BY_NAME:
        pytest.skip("no split_227 capture")
    pdml = tshark.run(["-n", "-2", "-r", tshark.readable(HANDMADE / "split_227.pcap"), "-T", "pdml",
                       "-Y", "ftplens.response.code == 227"]).stdout
    assert pdml.count("<packet>") == 1
    m = re.search(r'<field name="ftplens.response.code"[^>]*size="(\d+)"[^>]*show="227"', pdml)
    assert m and m.group(1) == "3", "the reply code is 3 bytes of the reassembled reply"
    assert re.search(r'<field name="ftplens.data.port"[^>]*show="\d+"', pdml)


def test_redissection_shows_the_same_items(tshark):
    """One pass and two passes agree on every frame's own items; the second pass adds response_in."""
    pcap = HANDMADE / "pipelined.pcap"
    if not pcap.exists():
        pytest.skip("no pipelined capture")
    fields = ["ftplens.request.command", "ftplens.response.code", "ftplens.data.port", "ftplens-data.command",
              "ftplens.request_in"]
    one = tshark.fields(pcap, fields, two_pass=False)
    two = tshark.fields(pcap, fields + ["ftplens.response_in"], two_pass=True)
    for a, b in zip(one, two):
        for f in fields:
            assert a[f] == b[f], (a["frame"], f)
    assert values(two, "ftplens.response_in"), "two-pass dissection shows response_in on requests"


def test_stats_tree(tshark):
    """-z ftplens,tree: sessions, logins by user and outcome, transfers by command and path."""
    name = "failed_logins_x4"
    if name not in FACTS_BY_NAME:
        pytest.skip("no failed_logins_x4 capture")
    out = tshark.run(["-n", "-q", "-r", tshark.readable(HANDMADE / FACTS_BY_NAME[name]["pcap"]),
                      "-z", "ftplens,tree"]).stdout
    for line in (r"FTP sessions\s+1\b", r"Logins by user and outcome\s+5\b", r" alice\s+5\b", r"  failure\s+4\b",
                 r"  success\s+1\b", r"Transfers by command and path\s+1\b", r" RETR\s+1\b",
                 r"  after-fail\.txt\s+1\b"):
        assert re.search("^" + line, out, re.M), (line, out)


# ------------------------------------------------------------------------------------------ vs the built-in


@pytest.mark.parametrize("kind,name", _params(c for c in CAPTURES if c[1] not in (
    "overlong_line", "split_227", "pipelined", "multiline_inner_digits", "list_nlst_lftp")))
def test_agrees_with_builtin_ftp(tshark, capture_rows, kind, name):
    """Where the built-in ftp dissector is right (one line per segment, no TLS: it only switches on the
    exact "AUTH TLS"), commands, args and codes agree, frame by frame."""
    facts, pcap, _ = capture_rows(kind, name)
    if facts["tls"]:
        pytest.skip("the built-in dissector reads TLS records as FTP lines after AUTH SSL")
    ours = tshark.fields(pcap, ["ftplens.request.command", "ftplens.request.arg", "ftplens.response.code"])
    port = facts["control"]["server_port"]
    builtin = tshark.fields(pcap, ["ftp.request.command", "ftp.request.arg", "ftp.response.code"],
                            extra=["--disable-protocol", "ftplens", "--disable-protocol", "ftplens-data",
                                   "-d", f"tcp.port=={port},ftp"])
    assert len(ours) == len(builtin)
    for a, b in zip(ours, builtin):
        assert (a["ftplens.request.command"], a["ftplens.request.arg"], a["ftplens.response.code"]) == \
            (b["ftp.request.command"], b["ftp.request.arg"], b["ftp.response.code"]), a["frame"]


def test_protocol_column_reads_ftp_and_ftp_data(tshark):
    """The Protocol column names what is on the wire, as the built-in does: FTP on control frames, FTP-DATA
    on data frames (seed-pasv.pcap: RETR seed.txt over one passive data connection)."""
    rows = tshark.fields(SEED, ["_ws.col.Protocol", "ftplens.request.command", "ftplens-data"])
    ctrl = [r["_ws.col.Protocol"] for r in rows if r["ftplens.request.command"]]
    data = [r["_ws.col.Protocol"] for r in rows if r["ftplens-data"]]
    assert ctrl and all(c == ["FTP"] for c in ctrl), ctrl
    assert data and all(c == ["FTP-DATA"] for c in data), data


def test_disabling_ftplens_gives_port_21_back_to_the_builtin(tshark):
    """--disable-protocol ftplens: port 21 and its data connections go to the built-in ftp / ftp-data
    dissectors again (no Decode As needed); enabled, ftplens has them and the built-in sees nothing."""
    fields = ["ftp.request.command", "ftp-data", "ftplens.request.command"]
    off = tshark.fields(SEED, fields, extra=["--disable-protocol", "ftplens"])
    assert "RETR" in values(off, "ftp.request.command")
    assert "USER" in values(off, "ftp.request.command")
    assert frames_with(off, "ftp-data"), "the built-in found no data connection"
    assert not values(off, "ftplens.request.command")
    on = tshark.fields(SEED, fields)
    assert "RETR" in values(on, "ftplens.request.command")
    assert not values(on, "ftp.request.command") and not frames_with(on, "ftp-data")
    # Decode As still wins while ftplens is enabled: the user's choice of the built-in on port 21 stands.
    chosen = tshark.fields(SEED, fields, extra=["-d", "tcp.port==21,ftp"])
    assert "RETR" in values(chosen, "ftp.request.command")
    assert not values(chosen, "ftplens.request.command")


# ------------------------------------------------------------------------------------------ real captures


def _corpus(rel):
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"{p} not available")
    return p


def test_real_active_mode_exports_match_suricata(tshark):
    """bug-4877: 4 PORT transfers (STOR and RETR of notepad.exe and test.pdf); Suricata's hashes."""
    pcap = _corpus("suricata-verify/bug-4877.pcap")
    out = tshark.outdir("eo-4877")
    tshark.run(["-n", "-r", tshark.readable(pcap), "-q", "--export-objects", f"ftplens,{out}"])
    got = sorted((p.name, _sha256(p)) for p in out.iterdir())
    notepad = "fefeac4c10bbe237cc6c861229ecaacbd2a366ac4fbd04a3862b62bd7a778093"
    pdf = "7d400735ff3054837da5d92a10ad2faa8b6825f100dc167a6b008e753015b382"
    assert len(got) == 4, got
    assert sorted(h for _, h in got) == sorted([notepad, notepad, pdf, pdf])
    assert {n for n, _ in got} >= {"notepad.exe", "test.pdf"}


def test_real_ephemeral_active_source_port(tshark):
    """HackChallenge: PORT then RETR with the server connecting from 60154; the built-in misses it."""
    pcap = _corpus("markofu/HackChallenge_Cmas2011.pcap")
    rows = tshark.fields(pcap, ["ftplens-data.command", "ftplens-data.file"],
                         display_filter="ftplens-data")
    assert rows
    assert set(values(rows, "ftplens-data.command")) == {"RETR"}
    assert "sqlite3.exe" in values(rows, "ftplens-data.file")[0]


def test_real_dictionary_attack_stats(tshark):
    pcap = _corpus("markofu/ftp-crack.pcap")
    out = tshark.run(["-n", "-q", "-r", tshark.readable(pcap), "-z", "ftplens,tree"]).stdout
    m = re.search(r"FTP sessions\s+(\d+)", out)
    assert m and int(m.group(1)) >= 700, out[:2000]
    assert re.search(r"failure\s+\d{3}", out), out[:2000]


def test_real_start_tls(tshark):
    pcap = _corpus("ndpi/ftp-start-tls.pcap")
    rows = tshark.fields(pcap, ["ftplens.tls.mechanism", "frame.protocols", "tcp.len"])
    up = frames_with(rows, "ftplens.tls.mechanism")
    assert len(up) == 1
    assert any("tls" in r["frame.protocols"][0] for r in rows if r["frame"] > up[0])


def test_corpus_runs_clean(tshark):
    """Every corpus capture dissects without a dissector bug or a warning from the plugin."""
    if not CORPUS.exists():
        pytest.skip("no corpus")
    pcaps = sorted(p for p in CORPUS.rglob("*") if p.suffix in (".pcap", ".pcapng"))
    assert pcaps
    for pcap in pcaps:
        p = tshark.run(["-n", "-2", "-r", tshark.readable(pcap), "-V"], check=False)
        assert p.returncode in (0, 2), (pcap, p.returncode, p.stderr[-2000:])  # 2: a cut-short capture file
        assert "Dissector bug" not in p.stdout and "Dissector bug" not in p.stderr, pcap
        assert "ftplens" not in p.stderr.lower(), (pcap, p.stderr[-2000:])
