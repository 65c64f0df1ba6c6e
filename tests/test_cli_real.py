"""The ftplens CLI on captures of real servers and clients (tests/captures/real.py: pyftpdlib and
vsftpd with curl, ftplib and lftp, in a private network namespace), checked against the facts the
generator recorded (the served files' sha256 and sizes, REST offsets, modes) and against tshark's
built-in FTP dissector (the commands on the wire)."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def ftplens_bin():
    env = os.environ.get("FTPLENS_BIN")
    if env:
        return env
    subprocess.run(["cargo", "build", "--quiet", "--bin", "ftplens"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "ftplens")


def ftplens_log(binary, capture: dict, *extra):
    args = [binary, "log", capture["path"], *extra]
    for d in capture.get("decode_as", []):
        args += ["--ftp-port", d.split("==")[1].split(",")[0]]
    p = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def check(binary, capture: dict):
    recs = ftplens_log(binary, capture)
    transfers = [r for r in recs if r["type"] == "transfer"]
    for ft in capture["transfers"]:
        ports = {p for p in (ft["data"]["server_port"], ft["data"]["client_port"]) if p}
        same = [t for t in transfers if t.get("command") == ft["command"]
                and t.get("mode") == ft["mode"]
                and ports <= {t.get("data.orig_p"), t.get("data.resp_p")}]
        assert same, (capture["name"], ft["command"], transfers)
        if ft.get("sha256"):
            t = [t for t in transfers if t.get("sha256") == ft["sha256"]]
            assert t, (capture["name"], ft)
            t = t[0]
            assert t["bytes"] == ft["size"]
            assert t["offset"] == ft["offset"]
            assert t["mode"] == ft["mode"]
            assert t["command"] == ft["command"]
            assert (t["state"] == "complete") == (ft["offset"] == 0 and ft["command"] != "APPE")
    commands = [r["command"] for r in recs if r["type"] == "ftp"]
    assert commands == capture["commands"], capture["name"]
    names = {r["name"] for r in recs if r["type"] == "anomaly"}
    for r in recs:
        if r["type"] == "ftp":
            names.update(r.get("anomalies", []))
    assert set(capture["anomalies"]) <= names, (capture["name"], names)
    sessions = [r for r in recs if r["type"] == "session"]
    if "USER" in [c.upper() for c in capture["commands"]]:  # not when the login is inside TLS
        assert any(s.get("user") == capture["user"] for s in sessions), capture["name"]
        assert any(s["login"] == "success" for s in sessions) == capture["login_ok"]
    assert any(s.get("tls") for s in sessions) == capture["tls"]
    return recs


def test_real_captures_match_their_facts(ftplens_bin, real_captures):
    assert len(real_captures) >= 20, real_captures.errors
    for capture in real_captures:
        check(ftplens_bin, capture)


def test_real_extract_writes_the_served_files(ftplens_bin, real_captures, tmp_path):
    for capture in real_captures:
        out = tmp_path / capture["name"]
        p = subprocess.run([ftplens_bin, "extract", "-o", str(out), capture["path"]],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), p.stderr
        written = [json.loads(line) for line in p.stdout.splitlines()]
        for ft in capture["transfers"]:
            if not ft.get("sha256") or ft["direction"] == "listing":
                continue
            w = [x for x in written if x["sha256"] == ft["sha256"]]
            assert w, (capture["name"], ft, written)
            data = Path(w[0]["extracted"]).read_bytes()
            # A REST part sits at its offset: the bytes before it are a hole.
            assert harness.sha256_hex(data[ft["offset"]:]) == ft["sha256"]
            assert w[0]["extracted"].endswith(".partial") == (ft["offset"] > 0 or ft["command"] == "APPE")
            assert Path(w[0]["extracted"]).resolve().is_relative_to(out.resolve())


@pytest.mark.skipif(not harness.tshark_available(), reason="tshark not installed")
def test_commands_agree_with_tshark(ftplens_bin, real_captures, seed_capture):
    """Every request tshark's built-in dissector sees, in order, is a command record of ours."""
    captures = list(real_captures) + [seed_capture]
    for capture in captures:
        if capture.get("decode_as"):
            extra = sum((["-d", d] for d in capture["decode_as"]), [])
        else:
            extra = []
        rows = harness.tshark_fields(capture["path"], ["ftp.request.command", "ftp.response.code"],
                                     extra_args=extra, unprivileged=False, aggregator="\x1f")
        theirs = [c for r in rows for c in r["ftp.request.command"].split("\x1f") if c]
        recs = ftplens_log(ftplens_bin, capture)
        ours = [r["command"] for r in recs if r["type"] == "ftp"]
        if capture.get("tls"):
            # After AUTH TLS -> 234 tshark keeps trying to read the TLS bytes as FTP.
            theirs = theirs[:len(ours)]
        assert ours == theirs, capture["name"]
        codes = [c for r in rows for c in r["ftp.response.code"].split("\x1f") if c]
        ours_codes = [str(r["reply_code"]) for r in recs if r["type"] == "ftp" and "reply_code" in r]
        # Every final reply we paired is one tshark saw, in the same order.
        it = iter(codes)
        assert all(any(c == x for x in it) for c in ours_codes), capture["name"]


def _served_contents():
    """The files the real servers served, as tests/captures/real.py wrote them (not as we read them)."""
    sys.path.insert(0, str(ROOT / "tests" / "captures"))
    import real
    return [real.HELLO, real.BIG, real.SUB, real.APPE_START, real.APPE_MORE, real.UPLOAD]


def test_md5_and_sha1_of_the_served_files(ftplens_bin, real_captures, tmp_path):
    """--hash sha256,md5,sha1: every transfer of a whole served file carries hashlib's three
    digests of that file, in the log and in extract's manifest; the default is sha256 alone."""
    known = {hashlib.sha256(c).hexdigest(): c for c in _served_contents()}
    checked = 0
    for capture in real_captures:
        recs = ftplens_log(ftplens_bin, capture, "--hash", "sha256,md5,sha1")
        p = subprocess.run([ftplens_bin, "extract", "--hash", "md5,sha1,sha256", "-o",
                            str(tmp_path / capture["name"]), capture["path"]],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode in (0, 1), p.stderr
        manifest = [json.loads(line) for line in p.stdout.splitlines()]
        for t in (r for r in recs + manifest if r.get("sha256") in known):
            content = known[t["sha256"]]
            assert t["md5"] == hashlib.md5(content).hexdigest(), (capture["name"], t)
            assert t["sha1"] == hashlib.sha1(content).hexdigest(), (capture["name"], t)
            checked += 1
        default = ftplens_log(ftplens_bin, capture)
        assert not any("md5" in r or "sha1" in r for r in default)
    assert checked >= 20, checked
    first = real_captures.captures[0]
    only_md5 = ftplens_log(ftplens_bin, first, "--hash", "md5")
    assert not any("sha256" in r for r in only_md5)
    bad = subprocess.run([ftplens_bin, "log", "--hash", "crc32", first["path"]],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "crc32" in bad.stderr
