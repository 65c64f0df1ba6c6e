"""The presenters on the defect-class captures (tests/captures/defects/): the CLI, the C plugin and
the Lua fallback inside the real tshark, each checked against the facts the capture was built to
contain (never against another presenter's output).

One test per (class, presenter) that the presenter gets right. The pairs not here are still
wrong in that presenter and are listed, with the reason, in tests/captures/README.md
("Defect classes per presenter"); their owners add the test with the fix.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import harness
from harness import DEFECTS_DIR, load_captures, tshark_fields
from test_cli_real import ftplens_bin, ftplens_log  # noqa: F401  (fixture)

ROOT = harness.ROOT
DEFECTS = load_captures(DEFECTS_DIR)


def facts(name):
    return DEFECTS[name]


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def final_exchanges(c):
    """(command, code) of every final reply that answers a command, in order."""
    return [(x["command"], x["code"]) for x in c["exchanges"]
            if x["command"] is not None and x["code"] >= 200]


# ------------------------------------------------------------------------------------------ CLI


def cli(binary, name, *extra):
    return ftplens_log(binary, facts(name), *extra)


def of_type(recs, t):
    return [r for r in recs if r["type"] == t]


def test_cli_class1_gap_in_a_multiline_reply(ftplens_bin):
    """Every later reply pairs with its own command; the login (230 on the first line) succeeded;
    the gap is an anomaly."""
    c = facts("c01_gap_in_multiline")
    recs = cli(ftplens_bin, c["name"])
    got = [(r["command"], r.get("reply_code")) for r in of_type(recs, "ftp")]
    assert got == final_exchanges(c)
    by_cmd = {r["command"]: r for r in of_type(recs, "ftp")}
    for x in c["exchanges"]:
        if x["command"] in ("SYST", "PWD"):
            assert (by_cmd[x["command"]]["frame"], by_cmd[x["command"]]["reply_frame"]) == \
                (x["command_frame"], x["reply_frame"])
    (s,) = of_type(recs, "session")
    assert s["login"] == "success" and s["user"] == c["user"]
    assert "capture_gap" in {r["name"] for r in of_type(recs, "anomaly")}
    (t,) = of_type(recs, "transfer")
    assert (t["bytes"], t["sha256"]) == (c["transfers"][0]["size"], c["transfers"][0]["sha256"])


@pytest.mark.parametrize("name", ["c02_no_line_end_before_fin", "c02_multiline_open_at_rst"])
def test_cli_class2_unterminated_replies_are_reported(ftplens_bin, name):
    """The reply with no line end (or no closing line) is there, with its command and its text."""
    c = facts(name)
    recs = of_type(cli(ftplens_bin, name), "ftp")
    (x,) = [x for x in c["exchanges"] if x["incomplete"]]
    (r,) = [r for r in recs if r["command"] == x["command"]]
    assert (r.get("reply_code"), r.get("reply_msg"), r["frame"]) == \
        (x["code"], "\n".join(x["lines"]), x["command_frame"])
    assert r.get("reply_incomplete") is True


def test_cli_class2_cut_command_is_reported(ftplens_bin):
    c = facts("c02_cut_at_end_of_capture")
    (x,) = c["incomplete_commands"]
    recs = of_type(cli(ftplens_bin, c["name"]), "ftp")
    assert [(r["command"], r.get("arg"), r["frame"]) for r in recs][-1] == \
        (x["command"], x["arg"], x["command_frame"])
    assert "reply_code" not in recs[-1]
    assert recs[-1].get("command_incomplete") is True


def test_cli_class4_data_gap_is_partial_and_extract_keeps_offsets(ftplens_bin, tmp_path):
    c = facts("c04_data_gap")
    (ft,) = c["transfers"]
    (t,) = of_type(cli(ftplens_bin, c["name"]), "transfer")
    assert (t["state"], t["bytes"], t["gaps"]) == ("partial", ft["captured_bytes"], 1)
    p = subprocess.run([ftplens_bin, "extract", "-o", str(tmp_path), c["path"]],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr  # 1: a file is partial
    (f,) = list(tmp_path.iterdir())
    assert "partial" in f.name
    # The file's bytes, by construction (defects.py): byte i is (i * 13 + 7) & 0xFF.
    content = bytes((i * 13 + 7) & 0xFF for i in range(ft["size"]))
    data = f.read_bytes()
    (hole,) = ft["data_gaps"]
    assert data[:hole["offset"]] == content[:hole["offset"]]
    end = hole["offset"] + hole["bytes"]
    assert data[end:] == content[end:] and len(data) == ft["size"]


def test_cli_class9_banner_lines_without_their_code(ftplens_bin):
    c = facts("c09_multiline_text")
    (s,) = of_type(cli(ftplens_bin, c["name"]), "session")
    assert s["banner"] == "\n".join(c["exchanges"][0]["lines"])


def test_cli_class10_stou_takes_the_servers_name(ftplens_bin, tmp_path):
    c = facts("c10_stou")
    got = [(t["command"], t["path"], t["sha256"])
           for t in of_type(cli(ftplens_bin, c["name"]), "transfer")]
    assert got == [("STOU", t["path"], t["sha256"]) for t in c["transfers"]]


def test_cli_class13_data_without_syn_is_bound(ftplens_bin):
    c = facts("c13_data_no_syn_port20")
    (ft,) = c["transfers"]
    (t,) = of_type(cli(ftplens_bin, c["name"]), "transfer")
    assert (t["command"], t["arg"], t["bytes"], t["sha256"], t["data.orig_p"]) == \
        ("RETR", ft["file"], ft["size"], ft["sha256"], 20)


# ------------------------------------------------------------------------------ CLI, real servers


def test_cli_real_class1_gap_in_vsftpd_banner(ftplens_bin, real_defect_captures):
    """vsftpd's three-line banner, its last two segments cut out of the real capture: every reply
    pairs with its own command (ftplib's reading), the login succeeds, and the session's banner
    is the greeting's captured lines (closed only by the 331 that follows USER)."""
    if "vsftpd_gap_in_banner" not in real_defect_captures:
        pytest.skip("vsftpd is not installed: no vsftpd capture")
    c = real_defect_captures["vsftpd_gap_in_banner"]
    recs = ftplens_log(ftplens_bin, c)
    (s,) = of_type(recs, "session")
    assert s["login"] == "success" and s["user"] == c["user"]
    assert s["banner"] == "\n".join(c["welcome_captured"])
    got = {(r.get("command"), r.get("reply_code")) for r in of_type(recs, "ftp")}
    assert {(r["command"], r["code"]) for r in c["replies"] if r["code"] >= 200} <= got
    assert ("USER", 331) in got and ("PASS", 230) in got
    assert "capture_gap" in {r["name"] for r in of_type(recs, "anomaly")}


def test_cli_real_class9_vsftpd_banner_lines(ftplens_bin, real_defect_captures):
    if "vsftpd_banner_feat_ftplib" not in real_defect_captures:
        pytest.skip("vsftpd is not installed: no vsftpd capture")
    c = real_defect_captures["vsftpd_banner_feat_ftplib"]
    (s,) = of_type(ftplens_log(ftplens_bin, c), "session")
    assert s["banner"] == "\n".join(c["welcome"])


def test_cli_real_class10_stou_pyftpdlib(ftplens_bin, real_defect_captures):
    """pyftpdlib names each STOU file in its 150 or 125; the paths are the server's files."""
    c = real_defect_captures["stou_ftplib"]
    got = [(t["command"], t["path"], t["sha256"], t["bytes"])
           for t in of_type(ftplens_log(ftplens_bin, c), "transfer")]
    assert got == [("STOU", t["path"], t["sha256"], t["size"]) for t in c["transfers"]]
    assert sorted(t["path"] for t in c["transfers"]) == sorted(c["files"])


# ------------------------------------------------------------------------------------------ tshark

NEEDS = ("tshark", "cargo", "make", "pkg-config", "setpriv")
needs_tshark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in NEEDS)
    or subprocess.run(["pkg-config", "--exists", "wireshark"]).returncode != 0,
    reason="needs tshark, libwireshark-dev (pkg-config wireshark), cargo, make and setpriv")


def _home(target):
    home = Path(tempfile.mkdtemp(prefix="ftplens-defects-%s-" % target))
    env = dict(os.environ, HOME=str(home))
    for t in (["plugin", "install-plugin"] if target == "c" else ["install-lua"]):
        p = subprocess.run(["make", t], cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-3000:]
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return home


@pytest.fixture(scope="module", params=["c", "lua"])
def presenter(request):
    """(name, HOME) of a tshark with only the C plugin, or only the Lua fallback."""
    home = _home(request.param)
    yield request.param, home
    shutil.rmtree(home, ignore_errors=True)


FIELDS = ["ftplens.request.command", "ftplens.response.code", "ftplens.request_in",
          "ftplens.login.success", "ftplens.anomaly", "ftplens-data.command", "ftplens-data.file",
          "ftplens-data.path", "ftplens-data.complete", "ftplens-data.partial_reason",
          "ftplens.request.arg", "_ws.col.Protocol", "_ws.col.Info", "tcp.len"]


def rows(presenter, name, tree_in_first_pass=False):
    """One row per frame. tree_in_first_pass: run with a display filter that keeps every frame, so
    that tshark -2 builds a protocol tree in its first pass too, as Wireshark's GUI does (its
    colouring rules need one): only then does a Lua dissector read TCP sequence numbers, and so see
    the capture's holes (see the README, "The Lua fallback")."""
    _, home = presenter
    return {int(r["frame.number"]): r
            for r in tshark_fields(facts(name)["path"], FIELDS, home=home, aggregator=";",
                                   display_filter="frame" if tree_in_first_pass else None)}


def _exported(presenter, name):
    """--export-objects ftplens: {file name: sha256} (into a directory uid 65534 can write).
    None for the Lua fallback: Wireshark's Lua API cannot register an export-objects table."""
    kind, home = presenter
    if kind == "lua":
        return None
    out = Path(tempfile.mkdtemp(prefix="ftplens-defects-eo-"))
    os.chmod(out, 0o777)
    try:
        harness.run_tshark(facts(name)["path"],
                           ["-n", "-q", "--export-objects", "ftplens,%s" % out],
                           home=home, check=True)
        return {p.name: sha256(p.read_bytes()) for p in out.iterdir()}
    finally:
        shutil.rmtree(out, ignore_errors=True)


@needs_tshark
@pytest.mark.parametrize("name", ["c05_226_before_last_data", "c05_226_before_any_data"])
def test_tshark_class5_data_after_the_final_reply(presenter, name):
    """Every data frame, those after the 226 included, belongs to the RETR; the export is whole."""
    c = facts(name)
    (t,) = c["transfers"]
    r = rows(presenter, name)
    assert all(r[f]["ftplens-data.command"] == "RETR" and r[f]["ftplens-data.file"] == t["file"]
               for f in t["late_data_frames"] if int(r[f]["tcp.len"]) > 0)
    assert _exported(presenter, name) in (None, {t["file"]: t["sha256"]})


@needs_tshark
def test_tshark_class6_no_syn_control(presenter):
    """The greeting is shown, every reply answers its command, the login succeeds."""
    c = facts("c06_no_syn_control")
    r = rows(presenter, c["name"])
    for x in c["exchanges"]:
        assert r[x["reply_frame"]]["ftplens.response.code"] == str(x["code"]), x
        if x["command"] is not None:
            assert r[x["reply_frame"]]["ftplens.request_in"] == str(x["command_frame"]), x
            assert r[x["command_frame"]]["ftplens.request.command"] == x["command"], x
    assert {v["ftplens.login.success"] for v in r.values()} & {"1", "True"}
    (t,) = c["transfers"]
    assert _exported(presenter, c["name"]) in (None, {t["file"]: t["sha256"]})


@needs_tshark
def test_tshark_class7_both_replies_of_one_segment(presenter):
    c = facts("c07_425_and_221_in_one_segment")
    (u,) = c["unmatched_replies"]
    r = rows(presenter, c["name"])[u["reply_frame"]]
    assert r["ftplens.response.code"].split(";") == \
        [str(x["code"]) for x in c["exchanges"] if x["reply_frame"] == u["reply_frame"]]
    assert "transfer_failed" in r["ftplens.anomaly"].split(";")


@needs_tshark
def test_tshark_class1_gap_in_a_multiline_reply(presenter):
    """After the gap inside the 230, every later reply answers its own command (215 SYST, 257 PWD,
    227 PASV...), the login succeeded, and the gap is said."""
    c = facts("c01_gap_in_multiline")
    r = rows(presenter, c["name"], tree_in_first_pass=presenter[0] == "lua")
    for x in c["exchanges"]:
        if x["command"] is None or x["incomplete"]:
            continue
        assert str(x["code"]) in r[x["reply_frame"]]["ftplens.response.code"].split(";"), x
        assert r[x["reply_frame"]]["ftplens.request_in"].split(";")[-1] == str(x["command_frame"]), x
    assert {v["ftplens.login.success"] for v in r.values()} & {"1", "True"}
    assert any("capture_gap" in v["ftplens.anomaly"].split(";") for v in r.values())


@needs_tshark
@pytest.mark.parametrize("name", ["c02_no_line_end_before_fin", "c02_multiline_open_at_rst"])
def test_tshark_class2_unterminated_replies_are_shown(presenter, name):
    """The reply with no line end (or no closing line) is shown at its frame, answering its
    command."""
    c = facts(name)
    r = rows(presenter, name)
    (x,) = [x for x in c["exchanges"] if x["incomplete"]]
    row = r[x["reply_frame"]]
    assert str(x["code"]) in row["ftplens.response.code"].split(";"), row
    assert str(x["command_frame"]) in row["ftplens.request_in"].split(";"), row


@needs_tshark
def test_tshark_class2_cut_command_is_shown(presenter):
    """The last command, cut by the end of the capture, is shown at its frame."""
    c = facts("c02_cut_at_end_of_capture")
    r = rows(presenter, c["name"])
    for x in c["incomplete_commands"]:
        row = r[x["command_frame"]]
        assert (row["ftplens.request.command"], row["ftplens.request.arg"]) == \
            (x["command"], x["arg"]), row


@needs_tshark
def test_tshark_class3_each_frame_of_a_multiline_reply_is_labelled(presenter):
    """Every frame that carries lines of the multi-line 211 is FTP with a label of its own (not
    a bare TCP segment or an over-long-line note); the frame of its last line has the code."""
    c = facts("c03_multiline_over_segments")
    r = rows(presenter, c["name"])
    frames = c["multiline_frames"]
    for m in frames:
        row = r[m["frame"]]
        assert row["_ws.col.Protocol"] == "FTP", row
        assert "211" in row["_ws.col.Info"] and "over-long" not in row["_ws.col.Info"], row
    (x,) = [x for x in c["exchanges"] if x["command"] == "FEAT"]
    assert r[frames[-1]["frame"]]["ftplens.response.code"] == str(x["code"])


@needs_tshark
def test_tshark_class4_data_gap_is_partial(presenter):
    """Every data frame of the RETR says the transfer is not complete, because of the gap; the
    exported file keeps every captured byte at its offset (the hole is zeros) and is named partial."""
    c = facts("c04_data_gap")
    (t,) = c["transfers"]
    r = rows(presenter, c["name"], tree_in_first_pass=presenter[0] == "lua")
    data = [v for v in r.values() if v["ftplens-data.command"] == "RETR"]
    assert data
    for v in data:
        assert v["ftplens-data.complete"] in ("0", "False"), v
        assert "gaps" in v["ftplens-data.partial_reason"].split(";"), v
    kind, home = presenter
    if kind == "lua":
        return
    out = Path(tempfile.mkdtemp(prefix="ftplens-defects-eo-"))
    os.chmod(out, 0o777)
    try:
        harness.run_tshark(c["path"], ["-n", "-q", "--export-objects", "ftplens,%s" % out],
                           home=home, check=True)
        (f,) = list(out.iterdir())
        body = f.read_bytes()
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert "partial" in f.name and f.name.startswith(t["file"])
    (hole,) = t["data_gaps"]
    assert len(body) == t["size"]
    assert body[hole["offset"]:hole["offset"] + hole["bytes"]] == bytes(hole["bytes"])
    assert len(body[:hole["offset"]].rstrip(b"\0")) == hole["offset"]


@needs_tshark
def test_tshark_class10_stou_takes_the_servers_name(presenter):
    """The data frames of each STOU show the file the server named; the exported files carry
    those names."""
    c = facts("c10_stou")
    r = rows(presenter, c["name"])
    for t in c["transfers"]:
        row = r[t["data_first_frame"]]
        assert (row["ftplens-data.command"], row["ftplens-data.path"]) == ("STOU", t["path"]), row
    got = _exported(presenter, c["name"])
    if got is not None:
        assert sorted(got.values()) == sorted(t["sha256"] for t in c["transfers"])
        for t in c["transfers"]:
            assert any(t["server_name"] in name for name in got), (t["server_name"], got)


@needs_tshark
def test_tshark_class11_direction_against_the_command(presenter):
    """A RETR whose bytes went to the server (and a STOR the other way) is said: the anomaly on
    its command, and its data frames say it is not a complete transfer of what was asked."""
    c = facts("c11_direction_reversed")
    r = rows(presenter, c["name"])
    for t in c["transfers"]:
        assert "direction_mismatch" in r[t["command_frame"]]["ftplens.anomaly"].split(";"), t
        row = r[t["data_first_frame"]]
        assert "direction_mismatch" in row["ftplens-data.partial_reason"].split(";"), row
        assert row["ftplens-data.complete"] in ("0", "False"), row


@needs_tshark
def test_tshark_class13_data_without_syn_from_port_20(presenter):
    """The data connection from port 20 that has no SYN is tied to its RETR (the Lua fallback
    claims port 20 beside 21 for an active channel, since Wireshark offers a connection without
    its SYN to the lower port first)."""
    c = facts("c13_data_no_syn_port20")
    (t,) = c["transfers"]
    r = rows(presenter, c["name"])
    data = [f for f, v in r.items() if int(v["tcp.len"] or 0) > 0
            and f >= t["data_first_frame"] and v["ftplens-data.command"]]
    assert data and all(r[f]["ftplens-data.file"] == t["file"] for f in data)
    assert _exported(presenter, c["name"]) in (None, {t["file"]: t["sha256"]})
