"""The Lua fallback (lua/ftplens.lua and its native module ftplens_core.so) inside the real tshark.

A C plugin loads only into the Wireshark major.minor it was built for; the Lua fallback gives any Wireshark
with Lua the same analysis. These tests install it with `make install-lua` into throwaway homes and run tshark
as nobody (a root tshark 4.4 skips personal Lua plugins; 4.0 loads them, but the C plugin needs nobody):

- registration: the same protocols, fields (types, bases, blurbs, parents) and expert fields as the C plugin;
- parity: on every capture the C plugin's tests use (hand-made, the seed sample, the real server/client
  captures, the shared corpus), `tshark -2 -T fields` gives the same values for every ftplens field (the
  design's field contract and the rest of the registry), the expert infos and frame.protocols, as with the C
  plugin. A difference fails the test unless ALLOW below normalises it, with its reason beside it;
- the stale-port cleanup: a port claimed for a predicted data channel is given back when the transfer ends,
  so that an unrelated connection to that port a minute later is not ftplens-data;
- stepping aside when the C plugin is there, with a one-line message (`tshark --log-level=info`);
- where it matters: in a Debian 13 (trixie) root with its tshark 4.4 and a Debian forky root with its 4.6
  (both Lua 5.4), where the 4.0 C plugin cannot load, the fallback installed by `make install-lua` (no
  arguments: the Lua version is read from that tshark) gives what the C plugin gives under 4.0, capture for
  capture, and what the C plugin built against that Wireshark's headers gives. The roots are made once with
  debootstrap and cached in ~/.cache/ftplens/<suite> (tests/harness/roots.py).
"""
from __future__ import annotations

import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

import harness
from harness import ROOT, readable_copy, roots, run_tshark, tshark_fields

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
# Compared besides every registry field and expert field: every expert info of the frame ("Expert Info
# (Warning/Security): message"), the protocols the frame went through, and the Info column.
EXTRA = ["_ws.expert", "frame.protocols", "_ws.col.Info"]
AGG = "\x1f"


# ------------------------------------------------------------------------------------------ allow-list


@dataclass(frozen=True)
class Allowance:
    """A known difference between the fallback and the C plugin: accepted when `same(c, lua)` holds."""

    captures: str  # fnmatch pattern over capture ids ("handmade/auth_ssl", "corpus/ndpi/x.pcap", ...)
    fields: tuple  # fnmatch patterns over field names
    where: str  # "any"; "4.0" (host); "newer" (4.4 and 4.6 in their roots, against the C plugin under 4.0)
    same: Callable[[str, str], bool]
    reason: str


def _only_additions(capture, reason):
    """Under 4.4 and 4.6, frames that 4.0's TCP hands to no dissector are ftplens: where the C plugin under 4.0
    has nothing, the fallback may have something, and nothing else may differ."""
    return (Allowance(capture, ("ftplens*",), "newer", lambda c, lua: c == "", reason),
            Allowance(capture, ("frame.protocols",), "newer", lambda c, lua: "ftplens" not in c, reason))


ALLOW = [
    Allowance(
        "*", ("frame.protocols",), "any",
        lambda c, lua: lua.replace(":ftplens:tls", ":tls") == c,
        "After AUTH TLS/SSL is accepted the C plugin hands the connection to TLS with ssl_starttls_ack(). "
        "Wireshark's Lua has no such call, and pinfo.conversation takes only a Lua Proto, so the frames "
        "after the upgrade still reach ftplens.lua, which calls the tls dissector: frame.protocols reads "
        "...:tcp:ftplens:tls where the C plugin gives ...:tcp:tls. Every ftplens field is the same.",
    ),
    # Under Wireshark 4.4 and 4.6 the fallback is held to the C plugin's values under 4.0. What tshark
    # itself does differently there is normalised here; each difference was checked to be the same with
    # the C plugin built for that Wireshark (test_newer_lua_fallback_equals_the_c_plugin_built_for_it below
    # compares the two under the same Wireshark with nothing but the first allowance).
    Allowance(
        "*", ("ftplens.login.success", "ftplens.login.anonymous", "ftplens-data.tls"), "newer",
        lambda c, lua: c.replace("1", "True").replace("0", "False") == lua,
        "tshark 4.2 and later write FT_BOOLEAN values as True/False in -T fields output, 4.0 as 1/0: the "
        "same value.",
    ),
    Allowance(
        "*", ("ftplens*",), "newer",
        lambda c, lua: lua.replace("\\\\", "\\") == c,
        "tshark 4.2 and later escape a backslash in a string field's -T fields output as \\\\, 4.0 writes it as "
        "it is (a 257 reply quoting \\\"/\\\", a banner with ASCII art): the same string.",
    ),
    Allowance(
        "*", ("frame.protocols",), "newer",
        lambda c, lua: _ftplens_layers(lua.replace(":ftplens:tls", ":tls")) == _ftplens_layers(c),
        "Compared on the ftplens layers only: Wireshark 4.4's own dissectors name other layers than 4.0's "
        "(x509 inside TLS handshakes, data-text-lines, ...). The TLS remark of the first allowance applies.",
    ),
    *_only_additions(
        "corpus/markofu/ftp-crack.pcap",
        "A dictionary attack that reuses client ports. Wireshark 4.0's TCP takes the later connections on a "
        "reused port for retransmissions of the earlier one and hands their payload to no dissector; 4.4's "
        "TCP sees new connections, so under 4.4 both the fallback and the C plugin analyse 3485 frames that "
        "4.0 leaves bare. Only additions: no frame that 4.0 analyses differs.",
    ),
    *_only_additions(
        "corpus/ndpi/ftp.pcap",
        "Frame 74, the first 1440 bytes of the RETR, arrives after the second segment. Wireshark 4.0's TCP "
        "hands an out-of-order segment to no dissector (not even the built-in ftp-data); 4.6's hands it on, "
        "so under 4.6 both the fallback and the C plugin built for 4.6 make it ftplens-data. Only an addition.",
    ),
]


def _ftplens_layers(protocols):
    return [p for p in protocols.split(":") if p in ("ftplens", "ftplens-data")]


def _allowed(cid, field, where, c, lua):
    for a in ALLOW:
        if any(fnmatch.fnmatch(field, f) for f in a.fields) and a.where in ("any", where) \
                and fnmatch.fnmatch(cid, a.captures) and a.same(c, lua):
            return a
    return None


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
    """A home with only the C plugin (`make plugin install-plugin`)."""
    home = _private_dir("ftplens-c-home-")
    _make(["plugin"], home)
    _make(["install-plugin"], home)
    _open_up(home)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def _registry_fields(home):
    """Every ftplens field and expert field (the experts are FT_NONE fields: "1" where raised)."""
    out = run_tshark(None, ["-G", "fields"], home=home, check=True).stdout
    names = []
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[0] == "F" and re.match(r"ftplens(-data)?\.", cols[2]):
            names.append(cols[2])
    return sorted(names)


@pytest.fixture(scope="session")
def compared_fields(c_home):
    fields = _registry_fields(c_home)
    missing = [f for f in CONTRACT if f not in fields]
    assert not missing, f"the C plugin lacks contract fields {missing}"
    return fields + EXTRA


# ------------------------------------------------------------------------------------------ captures


def _corpus_files():
    d = harness.find_corpus()
    if d is None:
        return []
    return sorted(str(p.relative_to(d)) for p in d.rglob("*") if p.suffix in (".pcap", ".pcapng"))


def _real_names():
    try:
        return harness.real_scenario_names()
    except Exception:  # real.py not importable here: no real captures
        return []


# ftps/*: test_plugin_tls.py's FTPS exchange (AUTH TLS, PROT P, PASV, RETR), read without and with its
# TLS key log.
CAPTURE_IDS = (["handmade/" + n for n in harness.handmade_names()] + ["seed/seed-pasv"]
               + ["real/" + n for n in _real_names()] + ["corpus/" + f for f in _corpus_files()]
               + ["ftps/without-keys", "ftps/with-keys"])


@pytest.fixture(scope="session")
def ftps_dir():
    """ftps.pcap and keys.log, recorded by test_plugin_tls.py's maker in a private network namespace."""
    missing = [t for t in ("tcpdump", "unshare", "ip", "openssl") if shutil.which(t) is None]
    missing += [m for m in ("pyftpdlib", "OpenSSL") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip("cannot record FTPS here; missing: " + ", ".join(missing))
    out = _private_dir("ftplens-lua-ftps-")
    unshare = ["unshare", "-n", "--"] if os.geteuid() == 0 else ["unshare", "-r", "-n", "--"]
    p = subprocess.run(unshare + [sys.executable, str(ROOT / "tests/test_plugin_tls.py"), "--make", str(out)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not (out / "keys.log").exists():
        shutil.rmtree(out, ignore_errors=True)
        pytest.skip("cannot record FTPS here (network namespace?): " + p.stderr[-1500:])
    _open_up(out)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def _keylog(cid, request):
    """The TLS key log a capture is read with, if any."""
    return request.getfixturevalue("ftps_dir") / "keys.log" if cid == "ftps/with-keys" else None


@pytest.fixture(scope="session")
def capture_path(request):
    """capture id -> pcap Path (skips what this machine cannot have)."""

    def get(cid):
        kind, _, name = cid.partition("/")
        if kind == "handmade":
            return harness.HANDMADE_DIR / harness.load_captures(harness.HANDMADE_DIR)[name]["pcap"]
        if kind == "seed":
            return harness.SEED_PCAP
        if kind == "ftps":
            return request.getfixturevalue("ftps_dir") / "ftps.pcap"
        if kind == "real":
            real = request.getfixturevalue("real_captures")
            if name not in real:
                pytest.skip(f"real capture {name} was not made here")
            return real.pcap(name)
        corpus = harness.find_corpus()
        if corpus is None:
            pytest.skip("no shared corpus")
        return corpus / name

    return get


def _rows(pcap, fields, home, two_pass=True, keylog=None):
    extra = ["-o", "tls.keylog_file:%s" % readable_copy(keylog)] if keylog else []
    return tshark_fields(pcap, fields, home=home, aggregator=AGG, two_pass=two_pass, extra_args=extra)


@pytest.fixture(scope="session")
def c_rows(c_home, compared_fields, capture_path, request):
    """The C plugin's fields under the host's Wireshark 4.0, once per capture."""
    cache = {}

    def get(cid):
        if cid not in cache:
            cache[cid] = _rows(capture_path(cid), compared_fields, c_home, keylog=_keylog(cid, request))
        return cache[cid]

    return get


def _differences(cid, where, c, lua, fields):
    """Frame by frame, field by field: what differs and is not allowed, and the allowances used."""
    bad, used = [], set()
    assert len(c) == len(lua), f"{cid}: {len(c)} frames with the C plugin, {len(lua)} with Lua"
    for rc, rl in zip(c, lua):
        for f in fields:
            if rc[f] == rl[f]:
                continue
            a = _allowed(cid, f, where, rc[f], rl[f])
            if a:
                used.add(a.reason)
                continue
            bad.append((rc["frame.number"], f, rc[f].replace(AGG, " | "), rl[f].replace(AGG, " | ")))
    return bad, used


def _report(cid, bad):
    lines = [f"{cid}: {len(bad)} field values differ from the C plugin (frame, field, C, Lua):"]
    for frame, f, cv, lv in bad[:25]:
        tag = " [contract]" if f in CONTRACT else ""
        lines.append(f"  frame {frame} {f}{tag}: C={cv!r} Lua={lv!r}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ loading


def test_install_lua_puts_the_script_and_the_module_in_the_lua_plugin_folder(tmp_path):
    """`HOME=... make install-lua`: plugins/ftplens.lua and plugins/ftplens/ftplens_core.so, nothing else
    (Wireshark loads every *.lua in plugins/ and tries every .so in plugins/<x.y>/epan/)."""
    _make(["install-lua"], tmp_path)
    plugins = tmp_path / ".local/lib/wireshark/plugins"
    got = sorted(str(p.relative_to(plugins)) for p in plugins.rglob("*") if p.is_file())
    assert got == ["ftplens.lua", "ftplens/ftplens_core.so"]
    # The module takes the host's Lua: it links no liblua.
    ldd = subprocess.run(["ldd", str(plugins / "ftplens/ftplens_core.so")], capture_output=True, text=True).stdout
    assert "liblua" not in ldd


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


def test_registration_equals_the_c_plugin(lua_home, c_home):
    """Protocols, fields (type, parent, base, bitmask, blurb), expert fields and the heuristic pref."""
    def listing(home, what, keep):
        out = run_tshark(None, ["-G", what], home=home, check=True).stdout
        return sorted(line for line in out.splitlines() if keep(line))

    def ftplens_field(line):
        cols = line.split("\t")
        return len(cols) > 2 and (cols[0] == "P" and cols[2].startswith("ftplens")
                                  or cols[0] == "F" and re.match(r"ftplens(-data)?\.", cols[2]))

    c_fields, lua_fields = listing(c_home, "fields", ftplens_field), listing(lua_home, "fields", ftplens_field)
    assert len(c_fields) > 40
    assert lua_fields == c_fields
    assert "ftplens.heuristic" in run_tshark(None, ["-G", "currentprefs"], home=lua_home, check=True).stdout


# ------------------------------------------------------------------------------------------ parity (4.0)


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_same_fields_as_the_c_plugin(cid, lua_home, c_rows, compared_fields, capture_path, request):
    lua = _rows(capture_path(cid), compared_fields, lua_home, keylog=_keylog(cid, request))
    bad, _ = _differences(cid, "4.0", c_rows(cid), lua, compared_fields)
    assert not bad, _report(cid, bad)


def test_parity_is_not_vacuous(lua_home, c_rows, compared_fields, capture_path):
    """The fields compared are there: the seed sample's contract fields all have values."""
    rows = c_rows("seed/seed-pasv")
    present = {f for r in rows for f in CONTRACT if r[f]}
    assert {"ftplens.user", "ftplens.password", "ftplens.data.port", "ftplens-data.command",
            "ftplens-data.setup_frame", "ftplens.response_in", "ftplens.time"} <= present
    lua = _rows(capture_path("seed/seed-pasv"), compared_fields, lua_home)
    assert [r["ftplens-data.file"] for r in lua if r["ftplens-data.file"]]


def test_limit_preferences_reach_the_core(lua_home, capture_path):
    """The fallback registers the core's limits as preferences under the C plugin's names;
    ftplens.max_line:16 makes the seed's lines too long, as with the C plugin."""
    prefs = run_tshark(None, ["-G", "defaultprefs"], home=lua_home, check=True).stdout
    assert "#ftplens.max_line: 8192" in prefs and "#ftplens.failed_login_alarm: 3" in prefs
    pcap = capture_path("seed/seed-pasv")
    plain = tshark_fields(pcap, ["ftplens.anomaly"], home=lua_home)
    assert "line_too_long" not in ",".join(r["ftplens.anomaly"] for r in plain)
    cut = tshark_fields(pcap, ["ftplens.anomaly"], home=lua_home, extra_args=["-o", "ftplens.max_line:16"])
    assert "line_too_long" in ",".join(r["ftplens.anomaly"] for r in cut)


def test_protocol_column_reads_ftp_and_ftp_data(lua_home):
    """As the C plugin: FTP on control frames, FTP-DATA on data frames (the seed's RETR over PASV)."""
    rows = tshark_fields(harness.SEED_PCAP, ["_ws.col.Protocol", "ftplens.request.command", "ftplens-data"],
                         home=lua_home)
    ctrl = [r["_ws.col.Protocol"] for r in rows if r["ftplens.request.command"]]
    data = [r["_ws.col.Protocol"] for r in rows if r["ftplens-data"]]
    assert ctrl and set(ctrl) == {"FTP"}, ctrl
    assert data and set(data) == {"FTP-DATA"}, data


def test_builtin_back_with_decode_as(lua_home):
    """Lua 4.0 cannot see that ftplens is disabled, so the README's switch for the fallback is Decode As:
    --disable-protocol ftplens with -d tcp.port==21,ftp gives the built-in ftp and ftp-data back."""
    fields = ["ftp.request.command", "ftp-data", "ftplens.request.command"]
    rows = tshark_fields(harness.SEED_PCAP, fields, home=lua_home,
                         extra_args=["--disable-protocol", "ftplens", "-d", "tcp.port==21,ftp"])
    cmds = [r["ftp.request.command"] for r in rows if r["ftp.request.command"]]
    assert "USER" in cmds and "RETR" in cmds, cmds
    assert [r for r in rows if r["ftp-data"]], "the built-in found no data connection"
    assert not [r for r in rows if r["ftplens.request.command"]]


def test_transfer_open_at_capture_end_has_outcome_unknown(lua_home, c_home, tmp_path):
    """As the C plugin: once the first pass is over every session is finished, so a transfer the
    capture ends in the middle of shows the outcome "unknown", and the fallback's fields equal the
    plugin's there."""
    from test_plugin_edge import _endless_download

    os.chmod(tmp_path, 0o755)
    pcap = _endless_download(tmp_path / "endless.pcap")
    fields = ["ftplens-data.command", "ftplens-data.outcome", "ftplens-data.end_frame",
              "ftplens.transfer.outcome", "ftplens.transfer.file"]
    lua = _rows(pcap, fields, lua_home)
    data = [r for r in lua if r["ftplens-data.command"]]
    assert len(data) > 40 and {r["ftplens-data.outcome"] for r in data} == {"unknown"}
    assert [r["ftplens.transfer.outcome"] for r in lua if r["ftplens.transfer.outcome"]] == ["unknown"]
    assert lua == _rows(pcap, fields, c_home)


def test_one_pass_shows_what_two_passes_show(lua_home):
    """State is computed on the first pass only; a second pass shows the stored items (plus response_in)."""
    pcap = harness.HANDMADE_DIR / "pipelined.pcap"
    if not pcap.exists():
        pytest.skip("no pipelined capture")
    fields = ["ftplens.request.command", "ftplens.response.code", "ftplens.data.port", "ftplens-data.command",
              "ftplens.request_in", "ftplens.time"]
    one = _rows(pcap, fields, lua_home, two_pass=False)
    two = _rows(pcap, fields + ["ftplens.response_in"], lua_home, two_pass=True)
    for a, b in zip(one, two):
        for f in fields:
            assert a[f] == b[f], (a["frame.number"], f)
    assert any(r["ftplens.response_in"] for r in two)


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


def _payload_rows(rows, port):
    return [r for r in rows if str(port) in (r["tcp.srcport"], r["tcp.dstport"]) and r["tcp.len"] != "0"]


def _is_data(r):
    return "ftplens-data" in r["frame.protocols"].split(":")


def test_stale_port_cleanup_after_a_transfer(lua_home, tmp_path):
    """Two transfers on port 40500 a minute apart, the second not set up by FTP: only the first is
    ftplens-data (its port entry went when its connection was bound, and for good when the transfer ended)."""
    pcap = tmp_path / "stale_port.pcap"
    setup = _stale_port_capture(pcap, used=True, final_reply=True)
    rows = _rows(pcap, STALE_FIELDS, lua_home)
    first, second = _payload_rows(rows, 51000), _payload_rows(rows, 51001)
    assert first and second
    for r in first:
        assert _is_data(r) and r["ftplens-data.command"] == "RETR", r
        assert r["ftplens-data.file"] == "first.txt" and r["ftplens-data.setup_frame"] == str(setup), r
    for r in second:
        assert not _is_data(r) and not r["ftplens-data.command"], r


def test_stale_port_cleanup_after_a_failed_transfer(lua_home, tmp_path):
    """The predicted connection never comes (RETR fails with 550): the port entry goes when the transfer ends
    (after a few seconds' grace for a late connection), so the connection a minute later is not ftplens-data."""
    pcap = tmp_path / "stale_port_failed.pcap"
    _stale_port_capture(pcap, used=False, final_reply=True)
    rows = _rows(pcap, STALE_FIELDS, lua_home)
    later = _payload_rows(rows, 51001)
    assert later
    for r in later:
        assert not _is_data(r) and not r["ftplens-data.command"], r


def test_stale_port_claim_lasts_while_the_transfer_runs(lua_home, c_home, tmp_path):
    """The counter-test: the same capture cut before the 550. The transfer never ends, the prediction stays
    open and the port stays claimed, so the later connection (same client, same server, same port) is taken
    for the data channel, as the C plugin takes it. The cleanup above is what keeps it off."""
    pcap = tmp_path / "stale_port_open.pcap"
    setup = _stale_port_capture(pcap, used=False, final_reply=False)
    lua = _rows(pcap, STALE_FIELDS, lua_home)
    later = _payload_rows(lua, 51001)
    assert later and all(_is_data(r) and r["ftplens-data.setup_frame"] == str(setup) for r in later), later
    assert _rows(pcap, STALE_FIELDS, c_home) == lua


# ------------------------------------------------------------------------------------------ with the C plugin


def test_steps_aside_when_the_c_plugin_is_installed(c_rows, compared_fields):
    """`make install` puts both in the home: the C plugin registers ftplens, the script steps aside with one
    line in Wireshark's log, and tshark gives exactly the C plugin's fields."""
    home = _private_dir("ftplens-both-home-")
    try:
        _make(["install"], home)
        _open_up(home)
        plugins = run_tshark(None, ["-G", "plugins"], home=home, check=True).stdout
        assert "ftplens.so" in plugins and "ftplens.lua" in plugins
        quiet = run_tshark(None, ["-G", "protocols"], home=home, check=True)
        assert "ftplens" not in quiet.stderr.lower(), quiet.stderr  # nothing at the default log level
        assert [ln for ln in quiet.stdout.splitlines() if ln.split("\t")[2:3] == ["ftplens"]]
        told = run_tshark(None, ["--log-level", "info", "-G", "protocols"], home=home, check=True).stderr
        lines = [ln for ln in told.splitlines() if "ftplens.lua" in ln]
        assert len(lines) == 1 and "steps aside" in lines[0], told
        both = _rows(harness.SEED_PCAP, compared_fields, home)
        assert both == c_rows("seed/seed-pasv")
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


def test_newer_is_the_wireshark_and_lua_expected(newer, request):
    v = newer.tshark(newer.home("version-home"), ["-v"]).stdout
    assert re.search(r"TShark \(Wireshark\) %s\." % re.escape(newer.version), v), v[:300]
    assert newer.version in NEWER.values()
    assert re.search(r"(with|\+)Lua 5\.4\.", v.replace("with Lua", "withLua")), v


def test_newer_the_4_0_c_plugin_cannot_load(newer, c_home):
    """The C plugin built for 4.0, put in the newer Wireshark's personal epan folder, is refused."""
    home = newer.home("c40-home")
    so = next(c_home.glob(".local/lib/wireshark/plugins/*/epan/ftplens.so"))
    epan = home / f".local/lib/wireshark/plugins/{newer.version}/epan"
    epan.mkdir(parents=True)
    shutil.copyfile(so, epan / "ftplens.so")
    _open_up(home)
    p = newer.tshark(home, ["-G", "protocols"])
    assert not [ln for ln in p.stdout.splitlines() if ln.split("\t")[2:3] == ["ftplens"]]
    assert "ftplens.so" in p.stderr, p.stderr  # the loader says why it skipped it


def test_newer_a_module_for_the_wrong_lua_is_refused_cleanly(newer, lua_home):
    """The Lua 5.2 module under Lua 5.4: the script says so in one line and stays off; tshark runs on."""
    home = newer.home("wrong-lua-home")
    shutil.copytree(lua_home / ".local", home / ".local")
    _open_up(home)
    p = newer.tshark(home, ["-G", "protocols"])
    assert not [ln for ln in p.stdout.splitlines() if ln.split("\t")[2:3] == ["ftplens"]]
    lines = [ln for ln in p.stderr.splitlines() if "ftplens.lua" in ln]
    assert len(lines) == 1 and "ftplens_core" in lines[0], p.stderr


def test_newer_lua_fallback_registers_like_the_c_plugin(newer, newer_lua_home, c_home):
    def ftplens_lines(out):
        keep = []
        for line in out.splitlines():
            cols = line.split("\t")
            if len(cols) > 2 and cols[0] in ("P", "F") and re.match(r"ftplens(-data)?(\.|$)", cols[2]):
                keep.append(line)
        return sorted(keep)

    lua = ftplens_lines(newer.tshark(newer_lua_home, ["-G", "fields"]).stdout)
    c = ftplens_lines(run_tshark(None, ["-G", "fields"], home=c_home, check=True).stdout)
    assert lua == c


def _newer_fields(compared_fields):
    """Under 4.4 and 4.6: every ftplens field and frame.protocols. Not _ws.expert, which lists the expert infos
    of every dissector of the frame, and these Wiresharks' differ from 4.0's (TCP's SACK_PERM note, HTTP, DNS),
    nor the Info column, which other dissectors write too: ftplens's expert infos are compared as their fields
    here, and with their messages, like the Info column, against the C plugin built for the same Wireshark
    below."""
    return [f for f in compared_fields if f not in ("_ws.expert", "_ws.col.Info")]


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_newer_lua_fallback_gives_what_the_c_plugin_gives_under_4_0(cid, newer, newer_lua_home, c_rows,
                                                                    compared_fields, capture_path, request):
    lua = newer.fields(newer_lua_home, capture_path(cid), compared_fields, _keylog(cid, request), aggregator=AGG)
    bad, _ = _differences(cid, "newer", c_rows(cid), lua, _newer_fields(compared_fields))
    assert not bad, _report(cid, bad)


@pytest.fixture(scope="session")
def newer_c_home(newer, c_home):
    """The C plugin built inside the root against that Wireshark's headers (the core's static library is the
    one `make plugin` built), loaded there as a dissector plugin."""
    home = newer.home("c-home")
    try:
        newer.build_c_plugin(home)
    except roots.RootUnavailable as e:
        pytest.fail(str(e))
    plugins = newer.tshark(home, ["-G", "plugins"]).stdout
    # 4.2 and later list the type that plugin_describe() gives ("unknown" without it).
    assert re.search(r"^ftplens\.so\s*\t\S+\s*\tdissector\t", plugins, re.M), plugins
    protos = newer.tshark(home, ["-G", "protocols"]).stdout
    assert "\tftplens\t" in protos, f"the C plugin built for {newer.version} did not register"
    return home


@pytest.mark.parametrize("cid", CAPTURE_IDS)
def test_newer_lua_fallback_equals_the_c_plugin_built_for_it(cid, newer, newer_lua_home, newer_c_home,
                                                             compared_fields, capture_path, request):
    """Same Wireshark, both plugins: everything, expert infos included, with only the TLS remark."""
    pcap, keylog = capture_path(cid), _keylog(cid, request)
    c = newer.fields(newer_c_home, pcap, compared_fields, keylog, aggregator=AGG)
    lua = newer.fields(newer_lua_home, pcap, compared_fields, keylog, aggregator=AGG)
    bad, _ = _differences(cid, "newer-c", c, lua, compared_fields)
    assert not bad, _report(cid, bad)
