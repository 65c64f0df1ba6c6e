"""The Lua fallback (lua/ftplens.lua and its native module ftplens_core.so) inside the real tshark.

A C plugin loads only into the Wireshark major.minor it was built for; the Lua fallback gives any Wireshark
with Lua the same analysis, through the same core type (ftplens::dissect::Dissector). These tests install it
with `make install-lua` into throwaway homes and run tshark as nobody (a root tshark 4.4 skips personal Lua
plugins; 4.0 loads them, but the C plugin needs nobody):

- registration: the core's protocols, fields and expert fields, as the C plugin registers them;
- facts: on every capture with recorded facts (the hand-made ones, the seed sample, the real server/client
  captures, the defect captures), what tshark shows with the fallback is what the capture was built to hold:
  the commands in order, the user and password, the login outcome, the reply that answers each command, every
  data connection tied to its command, file, mode and setup frame, the transfer's outcome and size, the TLS
  upgrade. Expected values come from facts.json, never from ftplens;
- a smaller agreement check with the C plugin where it is installed: the design's field contract on the
  hand-made captures and the seed sample;
- the stale-port cleanup: a port claimed for a predicted data channel does not make an unrelated connection to
  that port a minute later ftplens-data;
- stepping aside when the C plugin is there;
- where it matters: in a Debian 13 (trixie) root with its tshark 4.4 and a Debian forky root with its 4.6
  (both Lua 5.4), where the 4.0 C plugin cannot load, the fallback installed by `make install-lua` (no
  arguments: the Lua version is read from that tshark) passes the same fact checks. The roots are made once
  with debootstrap and cached in ~/.cache/ftplens/<suite> (tests/harness/roots.py).

What the Lua API cannot give is left out on purpose: Export Objects, the statistics tree and the Flow Graph
(no Lua registration for them), and TCP sequence numbers on tshark -2's first pass (no tree, so field
extractors are empty): segments are then taken in order, so a retransmission or a capture hole is not told.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import harness
from harness import ROOT, roots, run_tshark, tshark_fields

NEEDS = ("tshark", "cargo", "make", "pkg-config", "setpriv")
pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in NEEDS)
    or subprocess.run(["pkg-config", "--exists", "wireshark"]).returncode != 0,
    reason="needs tshark, libwireshark-dev (pkg-config wireshark), cargo, make and setpriv",
)

# docs/architecture.md, "The Wireshark field contract".
CONTRACT = [
    "ftplens.request.command", "ftplens.request.arg", "ftplens.response.code", "ftplens.response.arg",
    "ftplens.response.class", "ftplens.response.category", "ftplens.user", "ftplens.password",
    "ftplens.login.success", "ftplens.data.ip", "ftplens.data.ipv6", "ftplens.data.port", "ftplens.data.mode",
    "ftplens.request_in", "ftplens.response_in", "ftplens.time", "ftplens-data.command", "ftplens-data.file",
    "ftplens-data.path", "ftplens-data.setup_frame", "ftplens-data.command_frame", "ftplens-data.offset",
    "ftplens-data.mode",
]
FACT_FIELDS = [
    "ftplens.request.command", "ftplens.response.code", "ftplens.request_in", "ftplens.user",
    "ftplens.password", "ftplens.login.success", "ftplens.anomaly", "ftplens.data.port", "ftplens.data.mode",
    "ftplens.tls.mechanism", "ftplens.transfer.outcome", "ftplens.transfer.bytes",
    "ftplens-data.command", "ftplens-data.file", "ftplens-data.path", "ftplens-data.mode",
    "ftplens-data.offset", "ftplens-data.setup_frame", "ftplens-data.command_frame", "ftplens-data.outcome",
    "tcp.srcport", "tcp.dstport", "tcp.len", "tcp.stream", "frame.protocols", "_ws.col.Protocol",
    "_ws.expert.message",
]
AGG = "\x1f"
TRUE = {"1", "True", "true"}


# ------------------------------------------------------------------------------------------ installs


def _private_dir(prefix):
    d = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(d, 0o755)
    return d


def _open_up(tree: Path):
    """Make a home readable by uid 65534."""
    for d, _, files in os.walk(tree):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)


def _make(args, home: Path):
    env = dict(os.environ, HOME=str(home))
    p = subprocess.run(["make"] + list(args), cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, f"make {' '.join(args)} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    return p


@pytest.fixture(scope="session")
def lua_home():
    """A home with only the Lua fallback, built for the host tshark's Lua (`make install-lua`)."""
    home = _private_dir("ftplens-lua-home-")
    _make(["install-lua"], home)
    _open_up(home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def c_home():
    """A home with only the C plugin (`make plugin install-plugin`); skips where it does not build."""
    home = _private_dir("ftplens-c-home-")
    env = dict(os.environ, HOME=str(home))
    for target in ("plugin", "install-plugin"):
        p = subprocess.run(["make", target], cwd=ROOT, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            pytest.skip("the C plugin is not available here: " + p.stderr[-500:])
    _open_up(home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------------------------------ captures


def _real_names():
    try:
        return harness.real_scenario_names()
    except Exception:  # real.py not importable here: no real captures
        return []


HANDMADE = harness.load_captures(harness.HANDMADE_DIR)
DEFECTS = harness.load_captures(harness.DEFECTS_DIR)
CAPTURE_IDS = (["handmade/" + n for n in harness.handmade_names()] + ["seed/seed-pasv"]
               + ["real/" + n for n in _real_names()])


@pytest.fixture(scope="session")
def capture(request):
    """capture id -> (facts, pcap Path); skips what this machine cannot have."""

    def get(cid):
        kind, _, name = cid.partition("/")
        if kind == "handmade":
            return HANDMADE[name], HANDMADE.pcap(name)
        if kind == "defects":
            return DEFECTS[name], DEFECTS.pcap(name)
        if kind == "seed":
            return json.loads(harness.SEED_FACTS.read_text()), harness.SEED_PCAP
        real = request.getfixturevalue("real_captures")
        if name not in real:
            pytest.skip(f"real capture {name} was not made here")
        return real[name], real.pcap(name)

    return get


def _split(rows):
    """Each field's values as a list (several occurrences in one frame)."""
    return [{k: (v.split(AGG) if v else []) for k, v in r.items()} for r in rows]


class Lua:
    """Runs the fallback's tshark on the host (4.0) or in a newer root, rows kept per capture."""

    def __init__(self, fields_of):
        self.fields_of = fields_of
        self.cache = {}

    def rows(self, cid, pcap):
        if cid not in self.cache:
            rows = _split(self.fields_of(pcap, FACT_FIELDS))
            for r in rows:
                r["frame"] = int(r["frame.number"][0])
            self.cache[cid] = rows
        return self.cache[cid]


@pytest.fixture(scope="session")
def host_lua(lua_home):
    return Lua(lambda pcap, fields: tshark_fields(pcap, fields, home=lua_home, aggregator=AGG))


def values(rows, field):
    return [v for r in rows for v in r[field]]


def _conn_rows(rows, conn):
    """The rows of one TCP connection of the facts (a port the facts do not know is None)."""
    known = {str(conn[k]) for k in ("client_port", "server_port") if conn.get(k) is not None}
    assert known
    return [r for r in rows if known <= set(r["tcp.srcport"] + r["tcp.dstport"])]


def _payload_rows(rows, conn):
    return [r for r in _conn_rows(rows, conn) if r["tcp.len"] not in (["0"], [])]


def _by_frame(rows):
    return {r["frame"]: r for r in rows}


# ------------------------------------------------------------------------------------------ fact checks
# Each check takes the Lua runner, so that the newer Wiresharks run the very same checks.


def check_commands_and_login(lua, cid, capture):
    facts, pcap = capture(cid)
    rows = lua.rows(cid, pcap)
    commands = [c.upper() for c in values(rows, "ftplens.request.command")]
    # facts.json writes "<OVERLONG>" for a line too long to be a command (the core reports line_too_long)
    assert commands == [c.upper() for c in facts["commands"] if not c.startswith("<")]
    assert "FTP" in values(rows, "_ws.col.Protocol")
    # The script ran without error on every frame (a Lua error is an expert info of its own).
    assert not [m for m in values(rows, "_ws.expert.message") if m.startswith("Lua Error")]
    if facts["tls"]:
        return  # USER and PASS went inside TLS
    if facts.get("user"):
        assert facts["user"] in values(rows, "ftplens.user")
    if facts.get("password"):
        assert facts["password"] in values(rows, "ftplens.password")
    for pw in facts.get("failed_passwords", []):
        assert pw in values(rows, "ftplens.password")
    success = values(rows, "ftplens.login.success")
    if facts.get("login_ok"):
        assert TRUE & set(success), success
    elif facts.get("user"):
        assert success and not TRUE & set(success), success
    failures = [v for v in success if v not in TRUE]
    assert len(failures) == facts.get("failed_logins", 0), success
    for anomaly in facts["anomalies"]:
        assert anomaly in values(rows, "ftplens.anomaly"), anomaly


def _setup_frame(t):
    """The frame whose item announced the data connection: the passive reply, or the active command."""
    return t["setup_reply_frame"] if t["initiator"] == "client" else t["setup_command_frame"]


def _transfer_matches(r, t):
    return (r["ftplens-data.command"] == [t["command"]]
            and r["ftplens-data.file"] == ([t["file"]] if t["file"] else [])
            and r["ftplens-data.mode"] == [t["mode"]]
            and ("command_frame" not in t or r["ftplens-data.command_frame"] == [str(t["command_frame"])])
            and ("setup_reply_frame" not in t or r["ftplens-data.setup_frame"] == [str(_setup_frame(t))])
            and (not t["offset"] or r["ftplens-data.offset"] == [str(t["offset"])]))


def check_data_channels(lua, cid, capture):
    """Every data connection's payload is ftplens-data, tied to its transfer command, file, mode and setup
    frame; the transfer ends complete, with its size on the final reply."""
    facts, pcap = capture(cid)
    if not facts["transfers"]:
        pytest.skip("no transfer in clear")
    rows = lua.rows(cid, pcap)
    used = set()
    for t in facts["transfers"]:
        assert str(t["advertised"]["port"]) in values(rows, "ftplens.data.port"), t["advertised"]
        assert t["mode"] in values(rows, "ftplens.data.mode")
        if "setup_reply_frame" in t:
            assert str(t["advertised"]["port"]) in _by_frame(rows)[_setup_frame(t)]["ftplens.data.port"]
        # The connection's ports may be reused by another transfer (fixed passive ports): take the first
        # TCP stream on them not yet claimed whose payload is all this transfer.
        streams = {}
        for r in _payload_rows(rows, t["data"]):
            streams.setdefault(r["tcp.stream"][0], []).append(r)
        assert streams, f"no payload on the data connection {t['data']}"
        for sid, srows in streams.items():
            assert all("ftplens-data" in r["frame.protocols"][0].split(":") and r["ftplens-data.command"]
                       and r["_ws.col.Protocol"] == ["FTP-DATA"] for r in srows), (sid, srows[0])
        mine = [sid for sid, srows in streams.items()
                if sid not in used and all(_transfer_matches(r, t) for r in srows)]
        assert mine, (t, {sid: srows[0] for sid, srows in streams.items()})
        used.add(mine[0])
        for r in streams[mine[0]]:
            assert r["ftplens-data.outcome"] == ["complete"], r
            if t.get("path"):
                # absolute once the session saw the cwd (PWD, CWD); else relative, as sent
                (path,) = r["ftplens-data.path"]
                assert path == t["path"] or (not path.startswith("/") and t["path"].endswith("/" + path)), r
        if t.get("size") is not None:
            assert str(t["size"]) in values(rows, "ftplens.transfer.bytes"), t
    assert values(rows, "ftplens.transfer.outcome").count("complete") >= len(facts["transfers"])


def check_tls_upgrade(lua, cid, capture):
    """After the 234, the control connection's records go to TLS (and no other connection's do)."""
    facts, pcap = capture(cid)
    rows = lua.rows(cid, pcap)
    upgrade = [r["frame"] for r in rows if r["ftplens.tls.mechanism"]]
    if not facts["tls"]:
        assert not upgrade
        return
    assert len(upgrade) == 1
    later = [r for r in _conn_rows(rows, facts["control"]) if r["frame"] > upgrade[0] and r["tcp.len"] != ["0"]]
    assert later and all("tls" in r["frame.protocols"][0].split(":") for r in later), later
    assert not [r for r in later if r["ftplens.request.command"] or r["ftplens.response.code"]]


def check_exchanges(lua, cid, capture):
    """Every reply the facts pair with a command carries its code and points back at the command's frame."""
    facts, pcap = capture(cid)
    rows = _by_frame(lua.rows(cid, pcap))
    assert not [m for r in rows.values() for m in r["_ws.expert.message"] if m.startswith("Lua Error")]
    exchanges = [x for x in facts["exchanges"] if x.get("reply_frame") and x.get("code")]
    assert exchanges
    # A reply over several segments is shown on the frame that completes it.
    spread = [m["frame"] for m in facts.get("multiline_frames", [])]
    for x in exchanges:
        r = rows[spread[-1] if spread and x["reply_frame"] == spread[0] else x["reply_frame"]]
        assert str(x["code"]) in r["ftplens.response.code"], x
        if x.get("command") and x.get("command_frame"):
            assert str(x["command_frame"]) in r["ftplens.request_in"], x
            assert x["command"].upper() in [c.upper() for c in rows[x["command_frame"]]["ftplens.request.command"]]


# Defect captures whose facts the fallback can be held to: those without a capture hole (a hole is told
# by TCP sequence numbers, which tshark -2's first pass does not give Lua).
DEFECT_IDS = ["defects/" + n for n in harness.defect_names() if not DEFECTS[n].get("gaps")]


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_commands_and_login(host_lua, cid, capture):
    check_commands_and_login(host_lua, cid, capture)


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_data_channels(host_lua, cid, capture):
    check_data_channels(host_lua, cid, capture)


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_tls_upgrade(host_lua, cid, capture):
    check_tls_upgrade(host_lua, cid, capture)


@pytest.mark.parametrize("cid", DEFECT_IDS)
def test_replies_answer_their_commands(host_lua, cid, capture):
    check_exchanges(host_lua, cid, capture)


def test_fact_checks_are_not_vacuous(host_lua, capture):
    """The seed's facts are all there to check: user, password, login, PASV setup and the RETR's data."""
    facts, pcap = capture("seed/seed-pasv")
    rows = host_lua.rows("seed/seed-pasv", pcap)
    (t,) = facts["transfers"]
    assert values(rows, "ftplens.user") == [facts["user"]]
    assert values(rows, "ftplens.password") == [facts["password"]]
    data = [r for r in rows if r["ftplens-data.file"]]
    assert data and all(r["ftplens-data.file"] == [t["file"]] for r in data)
    assert sum(int(r["tcp.len"][0]) for r in data) == t["size"]


# ------------------------------------------------------------------------------------------ loading


def test_install_lua_puts_the_script_and_the_module_in_the_lua_plugin_folder(tmp_path):
    """`HOME=... make install-lua`: plugins/ftplens.lua and plugins/ftplens/ftplens_core.so, nothing else
    (Wireshark loads every *.lua in plugins/ and tries every .so in plugins/<x.y>/epan/)."""
    _make(["install-lua"], tmp_path)
    plugins = tmp_path / ".local/lib/wireshark/plugins"
    got = sorted(str(p.relative_to(plugins)) for p in plugins.rglob("*") if p.is_file())
    assert got == ["ftplens.lua", "ftplens/ftplens_core.so"]
    so = plugins / "ftplens/ftplens_core.so"
    # The module takes the host's Lua (it links no liblua) and nothing of Wireshark's: it looks up no
    # libwireshark symbol at run time either (no dlsym).
    ldd = subprocess.run(["ldd", str(so)], capture_output=True, text=True).stdout
    assert "liblua" not in ldd and "libwireshark" not in ldd and "libwsutil" not in ldd
    undefined = subprocess.run(["nm", "-D", "--undefined-only", str(so)], capture_output=True, text=True).stdout
    assert " lua_" in undefined and "dlsym" not in undefined, undefined


def test_lua_sources_hold_no_ftp_knowledge():
    """The script is glue within its budget: no FTP verb or reply code, at most 350 lines."""
    scripts = sorted((ROOT / "lua").glob("*.lua"))
    assert sum(len(p.read_text().splitlines()) for p in scripts) <= 350
    text = "\n".join(p.read_text() for p in scripts)
    for verb in ("USER", "PASS", "RETR", "STOR", "PASV", "EPSV", "PORT", "EPRT", "LIST", "AUTH", "PROT"):
        assert not re.search(r"\b%s\b" % verb, text), verb
    assert not re.search(r"\b[1-5][0-5][0-9]\b(?! ?(bytes|lines))", re.sub(r"--.*", "", text)), "a reply code?"


def test_lua_fallback_loads_and_registers(lua_home):
    p = run_tshark(None, ["-G", "plugins"], home=lua_home, check=True)
    assert "ftplens.lua" in p.stdout
    assert "ftplens" not in p.stderr.lower(), p.stderr
    protos = run_tshark(None, ["-G", "protocols"], home=lua_home, check=True).stdout.splitlines()
    names = {line.split("\t")[2] for line in protos if line.count("\t") >= 2}
    assert {"ftplens", "ftplens-data", "ftp", "ftp-data"} <= names
    heur = run_tshark(None, ["-G", "heuristic-decodes"], home=lua_home, check=True).stdout
    assert "tcp\tftplens\tT" in heur
    decodes = run_tshark(None, ["-G", "decodes"], home=lua_home, check=True).stdout
    assert "tcp.port\t21\tftplens" in decodes


def _ftplens_fields(home):
    out = run_tshark(None, ["-G", "fields"], home=home, check=True).stdout
    keep = []
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) > 2 and (cols[0] == "P" and cols[2].startswith("ftplens")
                              or cols[0] == "F" and re.match(r"ftplens(-data)?\.", cols[2])):
            keep.append(line)
    return sorted(keep)


def test_registration_is_the_core_registry(lua_home):
    """Every field of the core's registry (src/fields.rs) and every expert field, under its abbrev."""
    registry = (ROOT / "src/fields.rs").read_text()
    abbrevs = set(re.findall(r'"(ftplens(?:-data)?\.[a-z0-9_.]+)"', registry))
    got = {line.split("\t")[2] for line in _ftplens_fields(lua_home) if line.startswith("F")}
    assert len(abbrevs) > 40 and abbrevs <= got, abbrevs - got
    assert "ftplens.heuristic" in run_tshark(None, ["-G", "currentprefs"], home=lua_home, check=True).stdout


def test_limit_preferences_reach_the_core(lua_home, capture):
    """The fallback registers the core's limits as preferences under the C plugin's names;
    ftplens.max_line:16 makes the seed's lines too long."""
    prefs = run_tshark(None, ["-G", "defaultprefs"], home=lua_home, check=True).stdout
    assert "#ftplens.max_line: 8192" in prefs and "#ftplens.failed_login_alarm: 3" in prefs
    _, pcap = capture("seed/seed-pasv")
    plain = tshark_fields(pcap, ["ftplens.anomaly"], home=lua_home)
    assert "line_too_long" not in ",".join(r["ftplens.anomaly"] for r in plain)
    cut = tshark_fields(pcap, ["ftplens.anomaly"], home=lua_home, extra_args=["-o", "ftplens.max_line:16"])
    assert "line_too_long" in ",".join(r["ftplens.anomaly"] for r in cut)


def test_builtin_back_with_decode_as(lua_home):
    """Lua 4.0 cannot see that ftplens is disabled, so the README's switch for the fallback is Decode As:
    --disable-protocol ftplens with -d tcp.port==21,ftp gives the built-in ftp and ftp-data back."""
    fields = ["ftp.request.command", "ftp-data", "ftplens.request.command"]
    rows = tshark_fields(harness.SEED_PCAP, fields, home=lua_home,
                         extra_args=["--disable-protocol", "ftplens", "-d", "tcp.port==21,ftp"])
    cmds = [r["ftp.request.command"] for r in rows if r["ftp.request.command"]]
    facts = json.loads(harness.SEED_FACTS.read_text())
    assert cmds == facts["commands"], cmds
    assert [r for r in rows if r["ftp-data"]], "the built-in found no data connection"
    assert not [r for r in rows if r["ftplens.request.command"]]


def test_transfer_open_at_capture_end_has_outcome_unknown(lua_home, tmp_path):
    """Once the first pass is over every session is finished, so a transfer the capture ends in the middle
    of shows the outcome "unknown" on every data packet and on the transfer."""
    from test_plugin_edge import _endless_download

    os.chmod(tmp_path, 0o755)
    pcap = _endless_download(tmp_path / "endless.pcap")
    fields = ["ftplens-data.command", "ftplens-data.outcome", "ftplens.transfer.outcome", "tcp.len"]
    rows = tshark_fields(pcap, fields, home=lua_home, aggregator=AGG)
    data = [r for r in rows if r["ftplens-data.command"]]
    assert len(data) > 40 and {r["ftplens-data.outcome"] for r in data} == {"unknown"}
    assert [r["ftplens.transfer.outcome"] for r in rows if r["ftplens.transfer.outcome"]] == ["unknown"]


def test_one_pass_shows_what_two_passes_show(lua_home):
    """State is computed on the first pass only; a second pass shows the stored items (plus response_in)."""
    pcap = harness.HANDMADE_DIR / "pipelined.pcap"
    fields = ["ftplens.request.command", "ftplens.response.code", "ftplens.data.port", "ftplens-data.command",
              "ftplens.request_in", "ftplens.time"]
    one = tshark_fields(pcap, fields, home=lua_home, aggregator=AGG, two_pass=False)
    two = tshark_fields(pcap, fields + ["ftplens.response_in"], home=lua_home, aggregator=AGG)
    for a, b in zip(one, two):
        for f in fields:
            assert a[f] == b[f], (a["frame.number"], f)
    assert any(r["ftplens.response_in"] for r in two)
    assert [r["ftplens.request.command"] for r in one if r["ftplens.request.command"]]


def test_protocol_column_reads_ftp_and_ftp_data(lua_home):
    """As the C plugin: FTP on control frames, FTP-DATA on data frames (the seed's RETR over PASV)."""
    rows = tshark_fields(harness.SEED_PCAP, ["_ws.col.Protocol", "ftplens.request.command", "ftplens-data"],
                         home=lua_home)
    ctrl = [r["_ws.col.Protocol"] for r in rows if r["ftplens.request.command"]]
    data = [r["_ws.col.Protocol"] for r in rows if r["ftplens-data"]]
    assert ctrl and set(ctrl) == {"FTP"}, ctrl
    assert data and set(data) == {"FTP-DATA"}, data


# ------------------------------------------------------------------------------------------ stale ports


def _handmade_module():
    spec = importlib.util.spec_from_file_location("ftplens_handmade", harness.CAPTURES_DIR / "handmade.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _stale_port_capture(path: Path, used: bool, final_reply: bool):
    """PASV announces port 40500 and RETR asks for a file. used: a data connection from client port 51000
    carries it; else no connection comes and the server answers 550. final_reply=False cuts the control
    connection before the transfer's final reply (the transfer never ends). A minute later an unrelated
    connection goes from the same client, port 51001, to the same server port 40500: no FTP command set it
    up. Returns the frame of the 227."""
    hm = _handmade_module()
    s = hm.Session("stale_port", str(path), (hm.CLIENT, 40077), (hm.SERVER, 21), "stale port")
    s.open()
    s.login()
    s.cmd("PASV")
    setup = s.reply("227 Entering Passive Mode (%s)." % hm._port_args(hm.SERVER, 40500))
    s.cmd("RETR first.txt")
    if used:
        d = hm.TcpConn(s.w, (hm.CLIENT, 51000), (hm.SERVER, 40500))
        d.open()
        s.reply("150 Opening data connection.")
        d.b(b"the file that FTP set up\n")
        d.close(first="b")
    if final_reply:
        s.reply("226 Transfer complete." if used else "550 first.txt: no such file.")
    s.w.tick(60.0)
    other = hm.TcpConn(s.w, (hm.CLIENT, 51001), (hm.SERVER, 40500))
    other.open()
    other.a(b"GET /unrelated HTTP/1.0\r\n\r\n")
    other.b(b"unrelated bytes, not FTP data\n")
    other.close(first="b")
    if final_reply:
        s.cmd("QUIT")
        s.reply("221 Goodbye.")
        s.ctrl.close(first="b")
    s.w.close()
    return setup


STALE_FIELDS = ["tcp.srcport", "tcp.dstport", "tcp.len", "frame.protocols", "ftplens-data.command",
                "ftplens-data.file", "ftplens-data.setup_frame"]


def _stale_rows(rows, port):
    return [r for r in rows if str(port) in (r["tcp.srcport"], r["tcp.dstport"]) and r["tcp.len"] != "0"]


def _is_data(r):
    return "ftplens-data" in r["frame.protocols"].split(":")


def test_stale_port_cleanup_after_a_transfer(lua_home, tmp_path):
    """Two transfers on port 40500 a minute apart, the second not set up by FTP: only the first is
    ftplens-data."""
    pcap = tmp_path / "stale_port.pcap"
    setup = _stale_port_capture(pcap, used=True, final_reply=True)
    rows = tshark_fields(pcap, STALE_FIELDS, home=lua_home)
    first, second = _stale_rows(rows, 51000), _stale_rows(rows, 51001)
    assert first and second
    for r in first:
        assert _is_data(r) and r["ftplens-data.command"] == "RETR", r
        assert r["ftplens-data.file"] == "first.txt" and r["ftplens-data.setup_frame"] == str(setup), r
    for r in second:
        assert not _is_data(r) and not r["ftplens-data.command"], r


def test_stale_port_cleanup_after_a_failed_transfer(lua_home, tmp_path):
    """The predicted connection never comes (RETR fails with 550): the connection a minute later is not
    ftplens-data."""
    pcap = tmp_path / "stale_port_failed.pcap"
    _stale_port_capture(pcap, used=False, final_reply=True)
    later = _stale_rows(tshark_fields(pcap, STALE_FIELDS, home=lua_home), 51001)
    assert later
    for r in later:
        assert not _is_data(r) and not r["ftplens-data.command"], r


def test_stale_port_claim_lasts_while_the_transfer_runs(lua_home, tmp_path):
    """The counter-test: the same capture cut before the 550. The transfer never ends, the prediction stays
    open, so the later connection (same client, same server, same port) is taken for the data channel. The
    cleanup above is what keeps it off."""
    pcap = tmp_path / "stale_port_open.pcap"
    setup = _stale_port_capture(pcap, used=False, final_reply=False)
    later = _stale_rows(tshark_fields(pcap, STALE_FIELDS, home=lua_home), 51001)
    assert later and all(_is_data(r) and r["ftplens-data.setup_frame"] == str(setup) for r in later), later


# ------------------------------------------------------------------------------------------ with the C plugin


@pytest.mark.parametrize("cid", ["seed/seed-pasv"] + ["handmade/" + n for n in harness.handmade_names()])
def test_contract_fields_agree_with_the_c_plugin(cid, lua_home, c_home, capture):
    """Both glues draw the same core's views: the field contract is the same, frame for frame."""
    _, pcap = capture(cid)
    c = tshark_fields(pcap, CONTRACT, home=c_home, aggregator=AGG)
    lua = tshark_fields(pcap, CONTRACT, home=lua_home, aggregator=AGG)
    assert len(c) == len(lua)
    bad = [(a["frame.number"], f, a[f], b[f]) for a, b in zip(c, lua) for f in CONTRACT if a[f] != b[f]]
    assert not bad, bad[:20]


def test_steps_aside_when_the_c_plugin_is_installed(c_home):
    """`make install` puts both in the home: the C plugin registers ftplens, the script steps aside, silently
    unless WIRESHARK_LOG_LEVEL asks for info (one line), and tshark gives exactly the C plugin's fields."""
    home = _private_dir("ftplens-both-home-")
    try:
        _make(["install"], home)
        _open_up(home)
        plugins = run_tshark(None, ["-G", "plugins"], home=home, check=True).stdout
        assert "ftplens.so" in plugins and "ftplens.lua" in plugins
        quiet = run_tshark(None, ["-G", "protocols"], home=home, check=True)
        assert "ftplens" not in quiet.stderr.lower(), quiet.stderr  # nothing at the default log level
        assert [ln for ln in quiet.stdout.splitlines() if ln.split("\t")[2:3] == ["ftplens"]]
        told = run_tshark(None, ["-G", "protocols"], home=home, check=True,
                          env={"WIRESHARK_LOG_LEVEL": "info"}).stderr
        lines = [ln for ln in told.splitlines() if "ftplens.lua" in ln]
        assert len(lines) == 1 and "steps aside" in lines[0], told
        both = tshark_fields(harness.SEED_PCAP, CONTRACT, home=home, aggregator=AGG)
        assert both == tshark_fields(harness.SEED_PCAP, CONTRACT, home=c_home, aggregator=AGG)
    finally:
        shutil.rmtree(home, ignore_errors=True)


# ------------------------------------------------------------------------------------------ newer Wireshark

# Each newer Wireshark comes from a Debian root that tests/harness/roots.py makes once with debootstrap and
# caches in ~/.cache/ftplens/<suite>: trixie has 4.4 (Lua 5.4.7), forky 4.6 (Lua 5.4.9).
NEWER = {"trixie": "4.4", "forky": "4.6"}


@pytest.fixture(scope="session", params=sorted(NEWER), ids=lambda s: f"{s}-{NEWER[s]}")
def newer(request):
    try:
        root = roots.debian_root(request.param)
    except (roots.RootUnavailable, OSError, subprocess.SubprocessError) as e:
        msg = f"no Debian {request.param} root for the Wireshark {NEWER[request.param]} tests: {e}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    t = roots.RootTshark(root, prefix="ftplens-lua-")
    yield t
    t.cleanup()


@pytest.fixture(scope="session")
def newer_lua_home(newer):
    """The fallback installed by `make install-lua` with no arguments, the root's tshark on PATH: the Lua
    version is read from that tshark's -v (4.4 and 4.6 print it differently)."""
    home = newer.home("lua-home")
    out = newer.install_lua(home)
    assert "(Lua 5.4)" in out, out
    return home


@pytest.fixture(scope="session")
def newer_lua(newer, newer_lua_home):
    return Lua(lambda pcap, fields: newer.fields(newer_lua_home, pcap, fields, aggregator=AGG))


def test_newer_is_the_wireshark_and_lua_expected(newer):
    v = newer.tshark(newer.home("version-home"), ["-v"]).stdout
    assert re.search(r"TShark \(Wireshark\) %s\." % re.escape(newer.version), v), v[:300]
    assert newer.version in NEWER.values()
    assert re.search(r"(with|\+)Lua 5\.4\.", v.replace("with Lua", "withLua")), v


def test_newer_a_module_for_the_wrong_lua_is_refused_cleanly(newer, lua_home):
    """The Lua 5.2 module under Lua 5.4: the script says so in one line and stays off; tshark runs on."""
    home = newer.home("wrong-lua-home")
    shutil.copytree(lua_home / ".local", home / ".local")
    _open_up(home)
    p = newer.tshark(home, ["-G", "protocols"])
    assert not [ln for ln in p.stdout.splitlines() if ln.split("\t")[2:3] == ["ftplens"]]
    lines = [ln for ln in p.stderr.splitlines() if "ftplens.lua" in ln]
    assert len(lines) == 1 and "ftplens_core" in lines[0], p.stderr


def test_newer_lua_fallback_registers_the_core_registry(newer, newer_lua_home, lua_home):
    """The same protocols and fields as under 4.0 (the registry is the core's)."""
    def names(lines):
        return sorted(ln.split("\t")[2] for ln in lines)

    fields = newer.tshark(newer_lua_home, ["-G", "fields"]).stdout.splitlines()
    lua = [ln for ln in fields if len(ln.split("\t")) > 2 and re.match(r"ftplens(-data)?(\.|$)", ln.split("\t")[2])
           and ln[:2] in ("P\t", "F\t")]
    assert names(lua) == names(_ftplens_fields(lua_home))


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_newer_commands_and_login(newer_lua, cid, capture):
    check_commands_and_login(newer_lua, cid, capture)


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_newer_data_channels(newer_lua, cid, capture):
    check_data_channels(newer_lua, cid, capture)


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_newer_tls_upgrade(newer_lua, cid, capture):
    check_tls_upgrade(newer_lua, cid, capture)


@pytest.mark.parametrize("cid", DEFECT_IDS)
def test_newer_replies_answer_their_commands(newer_lua, cid, capture):
    check_exchanges(newer_lua, cid, capture)
