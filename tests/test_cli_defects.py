"""The CLI on the defect-class captures (tests/captures/README.md) that the conversation layer fixed (classes 5,
6, 7, 8, 9, 11, 12), each checked against the facts the capture was built to contain
(tests/captures/defects/facts.json), never against the CLI's own output.
"""
from __future__ import annotations

import hashlib
import subprocess

from test_cli_real import ftplens_bin  # noqa: F401  (fixture)
from test_defects import cli, facts, of_type


def transfer_for(recs, ft):
    """The transfer record on the data connection the facts name."""
    ports = {ft["data"]["client_port"], ft["data"]["server_port"]}
    (t,) = [t for t in of_type(recs, "transfer")
            if {t.get("data.orig_p"), t.get("data.resp_p")} == ports]
    return t


def test_class5_data_after_the_final_reply_counts(ftplens_bin):
    for name in ("c05_226_before_any_data", "c05_226_before_last_data"):
        c = facts(name)
        (ft,) = c["transfers"]
        recs = cli(ftplens_bin, name)
        t = transfer_for(recs, ft)
        assert (t["command"], t["arg"], t["bytes"], t["sha256"], t["state"]) == \
            (ft["command"], ft["file"], ft["size"], ft["sha256"], "complete"), name
        assert "data_not_captured" not in t.get("partial_reasons", []), name
        # The RETR's own record is there once, with its final reply.
        (r,) = [r for r in of_type(recs, "ftp") if r.get("command") == "RETR"]
        assert (r["frame"], r["reply_code"]) == (ft["command_frame"], 226), name


def test_class6_no_syn_keeps_the_greeting_and_the_roles(ftplens_bin):
    c = facts("c06_no_syn_control")
    recs = cli(ftplens_bin, c["name"])
    (s,) = of_type(recs, "session")
    greeting = c["exchanges"][0]
    assert greeting["command"] is None
    assert s["banner"] == "\n".join(greeting["lines"])
    assert (s["id.orig_h"], s["id.orig_p"], s["id.resp_h"], s["id.resp_p"]) == (
        c["control"]["client_ip"], c["control"]["client_port"],
        c["control"]["server_ip"], c["control"]["server_port"])
    assert s["midstream"] is True and s["login"] == "success" and s["user"] == c["user"]
    got = [(r["command"], r["reply_code"]) for r in of_type(recs, "ftp")]
    assert got == [(x["command"], x["code"]) for x in c["exchanges"]
                   if x["command"] is not None and x["code"] >= 200]


def test_class7_an_unmatched_reply_is_a_record(ftplens_bin):
    c = facts("c07_425_and_221_in_one_segment")
    recs = of_type(cli(ftplens_bin, c["name"]), "ftp")
    (u,) = c["unmatched_replies"]
    (r,) = [r for r in recs if "command" not in r]
    assert (r["reply_code"], r["reply_frame"]) == (u["code"], u["reply_frame"])
    # A 221 answering nothing is a server closing: not an unmatched_reply anomaly (RFC 959 5.4).
    (f,) = c["failed_transfers"]
    (retr,) = [r for r in recs if r.get("command") == f["command"]]
    assert (retr["arg"], retr["reply_code"]) == (f["file"], f["code"])
    assert "unmatched_reply" not in retr.get("anomalies", [])


def test_class8_unknown_fields_are_left_out(ftplens_bin):
    c = facts("c08_unknown_fields")
    recs = cli(ftplens_bin, c["name"])
    (u,) = c["uncaptured_transfers"]
    (lost,) = [t for t in of_type(recs, "transfer") if t.get("command") == u["command"]]
    assert (lost["arg"], lost["command_frame"], lost["bytes"]) == (u["file"], u["command_frame"], 0)
    assert "data_not_captured" in lost["partial_reasons"]
    assert "data.orig_p" not in lost
    # The command's time is known (its frame's), the data's is not: no ts of 0.
    assert lost["ts"] > 0
    (d,) = c["data_without_command"]
    t = transfer_for(recs, d)
    assert (t["bytes"], t["sha256"]) == (d["size"], d["sha256"])
    assert "no_command" in t["partial_reasons"]
    for absent in ("command", "command_frame", "arg", "path"):
        assert absent not in t, absent
    # The server side is known from the PASV reply: the bytes went to the client.
    assert t["direction"] == "download"
    for a in of_type(recs, "anomaly"):
        assert a.get("frame", 1) > 0, a


def test_class9_every_line_of_every_reply(ftplens_bin):
    c = facts("c09_multiline_text")
    recs = of_type(cli(ftplens_bin, c["name"]), "ftp")
    finals = [x for x in c["exchanges"] if x["command"] is not None and x["code"] >= 200]
    assert [r.get("reply_msg") for r in recs] == ["\n".join(x["lines"]) for x in finals]
    for x in c["exchanges"]:
        if x["command"] is not None and x["code"] < 200:
            (r,) = [r for r in recs if r["frame"] == x["command_frame"]]
            assert r["preliminary"] == [x["code"]]
            assert r["preliminary_msg"] == ["\n".join(x["lines"])]


def test_class11_direction_as_seen(ftplens_bin):
    c = facts("c11_direction_reversed")
    recs = cli(ftplens_bin, c["name"])
    for ft in c["transfers"]:
        t = transfer_for(recs, ft)
        assert (t["command"], t["direction"], t["sha256"]) == \
            (ft["command"], ft["direction"], ft["sha256"])
        assert "direction_mismatch" in t["partial_reasons"]
    names = [a["name"] for a in of_type(recs, "anomaly")]
    assert names.count("direction_mismatch") == len(c["transfers"])


def test_class12_a_listing_never_takes_a_directorys_name(ftplens_bin, tmp_path):
    c = facts("c12_list_then_cwd")
    p = subprocess.run([ftplens_bin, "extract", "--listings", "-o", str(tmp_path), c["path"]],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    for d in c["directories"]:
        assert (tmp_path / d.lstrip("/")).is_dir() or not (tmp_path / d.lstrip("/")).exists()
    for ft in c["transfers"]:
        files = [f for f in tmp_path.rglob("*") if f.is_file()
                 and hashlib.sha256(f.read_bytes()).hexdigest() == ft["sha256"]]
        assert len(files) == 1, ft
        rel = "/" + files[0].relative_to(tmp_path).as_posix()
        if ft["direction"] == "listing":
            assert rel not in c["directories"]
        else:
            assert rel == ft["path"]
