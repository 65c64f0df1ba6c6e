"""Honest tests of the defect-class captures (tests/captures/defects.py) themselves.

As in test_captures.py, only tshark's BUILT-IN dissectors read the captures here: the facts
each capture was built to contain are what the presenters' tests assert against, so the
facts are checked against an independent reader first.
"""
from __future__ import annotations

import pytest

import harness
from harness import DEFECTS_DIR, sha256_hex
from test_captures import ftp_rows, transfer_payloads

pytestmark = pytest.mark.skipif(not harness.tshark_available(), reason="tshark not installed")

DEFECTS = harness.defect_names()


def test_defect_files_are_up_to_date(tmp_path):
    """The committed files are exactly what defects.py writes now."""
    harness.check_generator_output(harness.CAPTURES_DIR / "defects.py", DEFECTS_DIR, tmp_path)


def test_every_class_has_a_capture(defect_captures):
    assert sorted({c["defect"]["class"] for c in defect_captures}) == list(range(1, 14))


@pytest.mark.parametrize("name", DEFECTS)
def test_exchanges_with_builtin_ftp(defect_captures, name):
    """Each reply of the facts is in its frame with its code and first line, and each
    command in its frame, as the built-in ftp dissector reads them."""
    c = defect_captures[name]
    by_frame = {int(r["frame.number"]): r for r in ftp_rows(c)}
    for x in c["exchanges"]:
        r = by_frame[x["reply_frame"]]
        heads = [line.decode() for line in r["payload"].split(b"\r\n")]
        assert any(h[:3] == str(x["code"]) and h[4:] == x["lines"][0] for h in heads), (x, heads)
        if x["command_frame"] is not None:
            line = by_frame[x["command_frame"]]["payload"].decode()
            assert line.split(" ", 1)[0].rstrip("\r\n").upper() == x["command"], (x, line)
    for x in c["incomplete_commands"]:
        payload = by_frame[x["command_frame"]]["payload"]
        assert payload == ("%s %s" % (x["command"], x["arg"])).encode()
        assert x["command_frame"] == max(by_frame), "the capture ends with the cut command"
    for x in c["exchanges"]:
        if x["incomplete"]:
            text = by_frame[x["reply_frame"]]["payload"]
            assert not text.endswith(b"\r\n") or c["gaps"] or c.get("reset_frame"), x


@pytest.mark.parametrize("name", DEFECTS)
def test_data_bytes(defect_captures, name):
    """Each transfer's data connection carries the stated bytes (those the capture has)."""
    c = defect_captures[name]
    for t in c["transfers"]:
        payloads = transfer_payloads(c, t)
        assert len(payloads) == 1, (t, len(payloads))
        if t.get("partial"):
            assert len(payloads[0]) == t["captured_bytes"]
            continue
        assert (len(payloads[0]), sha256_hex(payloads[0])) == (t["size"], t["sha256"]), t


def test_gaps_are_where_the_facts_say(defect_captures):
    """tshark's TCP analysis finds a lost segment exactly at each gap."""
    for c in defect_captures:
        if not c["gaps"]:
            continue
        p = harness.run_tshark(c["path"], ["-n", "-T", "fields", "-e", "frame.number", "-Y",
                                           "tcp.analysis.lost_segment"], check=True)
        lost = [int(x) for x in p.stdout.split()]
        assert lost, c["name"]
        for g in c["gaps"]:
            assert g["bytes"] > 0 and g["after_frame"] < g["before_frame"]
            assert g["before_frame"] in lost, (g, lost)


def test_special_shapes(defect_captures):
    d = defect_captures
    # class 3: the multi-line reply is spread over several frames, each a few lines
    c = d["c03_multiline_over_segments"]
    by_frame = {int(r["frame.number"]): r for r in ftp_rows(c)}
    frames = c["multiline_frames"]
    assert len(frames) == 4
    for f in frames:
        assert by_frame[f["frame"]]["payload"].count(b"\r\n") == len(f["lines"])
    # class 5: the 226 comes before the last data segment
    t = d["c05_226_before_last_data"]["transfers"][0]
    assert t["final_reply_frame"] < t["late_data_frames"][0]
    # class 6: no SYN on the control connection; one capture has only the server's side
    for name in ("c06_no_syn_control", "c06_server_side_only"):
        rows = ftp_rows(d[name])
        first = rows[0]
        assert first["tcp.flags.syn"] in ("0", "False") and first["tcp.srcport"] == "21"
        assert first["payload"].startswith(b"220 ")
    rows = ftp_rows(d["c06_server_side_only"])
    assert not [r for r in rows if r["tcp.dstport"] == "21"]
    # class 7: 425 and 221 in one segment
    c = d["c07_425_and_221_in_one_segment"]
    f = c["unmatched_replies"][0]["reply_frame"]
    payload = {int(r["frame.number"]): r for r in ftp_rows(c)}[f]["payload"]
    assert payload.startswith(b"425 ") and b"\r\n221 " in payload
    # class 13: the data connection from port 20 has no SYN
    c = d["c13_data_no_syn_port20"]
    rows = [r for r in ftp_rows(c) if "20" in (r["tcp.srcport"], r["tcp.dstport"])]
    assert rows and not [r for r in rows if r["tcp.flags.syn"] in ("1", "True")]
