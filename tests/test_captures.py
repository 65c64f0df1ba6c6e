"""Honest tests of the capture makers themselves.

Every check here uses only tshark's BUILT-IN dissectors (ftp, ftp-data, tcp), never
ftplens: the captures and their facts.json are the ground truth the other suites
rely on, so they are checked against an independent reader.
"""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import pytest

import harness
from harness import (HANDMADE_DIR, SEED_PCAP, run_tshark, sha256_hex, stream_payload,
                     tshark_fields, values)

pytestmark = pytest.mark.skipif(not harness.tshark_available(), reason="tshark not installed")

FTP_FIELDS = ["ftp.request.command", "ftp.request.arg", "ftp.response.code", "ftp.response.arg",
              "ftp.passive.ip", "ftp.passive.port", "ftp.active.cip", "ftp.active.port",
              "ftp.eprt.af", "ftp.eprt.ip", "ftp.eprt.ipv6", "ftp.eprt.port", "ftp.epsv.port",
              "tcp.srcport", "tcp.dstport", "tcp.stream", "tcp.len"]

# The built-in dissector takes one request or reply line per segment; in these
# cases that is wrong on purpose, so its command list differs from the facts.
BUILTIN_MISREADS = {"pipelined", "split_227", "overlong_line"}


def decode_as(facts):
    args = []
    for d in facts.get("decode_as", []):
        args += ["-d", d]
    return args


ALL_FIELDS = FTP_FIELDS + ["ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.flags.syn",
                           "tcp.flags.ack", "tcp.payload"]


@functools.lru_cache(maxsize=None)
def _all_rows(path, decode):
    rows = tshark_fields(path, ALL_FIELDS, extra_args=list(decode))
    for r in rows:
        r["src"] = r["ip.src"] or r["ipv6.src"]
        r["dst"] = r["ip.dst"] or r["ipv6.dst"]
        r["payload"] = bytes.fromhex(r["tcp.payload"].replace(":", ""))
    return rows


def ftp_rows(facts):
    """Every frame of the capture (one tshark run per capture, cached) with the built-in
    ftp fields, addresses, ports, flags and the TCP payload (bytes, key "payload")."""
    return _all_rows(facts["path"], tuple(decode_as(facts)))


def builtin_commands(rows):
    # aggregator "," joins several occurrences; commands never hold commas
    out = []
    for v in values(rows, "ftp.request.command"):
        out += v.split(",")
    return out


def data_match(facts, t):
    """A predicate on rows: the transfer's data connection, in the direction the file
    bytes flow."""
    d = t["data"]
    down = t["direction"] != "upload"
    if t["initiator"] == "client":             # passive: the server's port is known
        port, ip, at_src = d["server_port"], d["server_ip"], down
    else:                                      # active: the client's port is known
        port, ip, at_src = d["client_port"], d["client_ip"], not down

    def match(r):
        if at_src:
            return r["tcp.srcport"] == str(port) and (not ip or r["src"] == ip)
        return r["tcp.dstport"] == str(port) and (not ip or r["dst"] == ip)
    return match


def transfer_payloads(facts, t):
    """Payload of each TCP stream carrying the transfer's bytes, in stream order."""
    match = data_match(facts, t)
    streams = {}
    for r in ftp_rows(facts):
        if r["payload"] and match(r):
            streams.setdefault(int(r["tcp.stream"]), bytearray()).extend(r["payload"])
    return [bytes(streams[k]) for k in sorted(streams)]


def payload_where(facts, pred) -> bytes:
    return b"".join(r["payload"] for r in ftp_rows(facts) if pred(r))


# ----------------------------------------------------------------------------- seed sample

def test_seed_sample_is_small_and_documented(seed_capture):
    assert SEED_PCAP.stat().st_size < 20 * 1024
    readme = (harness.SAMPLES / "README.md").read_text()
    assert seed_capture["files"]["seed.txt"]["sha256"] in readme


def test_seed_sample_with_builtin_ftp(seed_capture):
    rows = ftp_rows(seed_capture)
    reqs = [(r["ftp.request.command"], r["ftp.request.arg"]) for r in rows
            if r["ftp.request.command"]]
    assert reqs == [("USER", "alice"), ("PASS", "s3cret"), ("PASV", ""), ("RETR", "seed.txt"),
                    ("QUIT", "")]
    codes = values(rows, "ftp.response.code")
    assert codes == ["220", "331", "230", "227", "150", "226", "221"]
    r227 = [r for r in rows if r["ftp.response.code"] == "227"][0]
    assert r227["ftp.passive.ip"] == "192.168.1.109"
    assert r227["ftp.passive.port"] == "26758"
    assert r227["ftp.response.arg"] == "Entering Passive Mode (192,168,1,109,104,134)."
    ctrl = {(r["tcp.srcport"], r["tcp.dstport"]) for r in rows if r["ftp.request.command"]}
    assert ctrl == {("57658", "21")}


def test_seed_sample_data_connection(seed_capture):
    rows = tshark_fields(seed_capture["path"],
                         ["ip.src", "ip.dst", "tcp.srcport", "tcp.dstport", "ftp-data.command",
                          "ftp-data.setup-method"], display_filter="ftp-data")
    assert rows, "the built-in dissector finds the PASV data connection"
    assert {(r["ip.src"], r["tcp.srcport"], r["ip.dst"], r["tcp.dstport"]) for r in rows} == \
        {("192.168.1.109", "26758", "192.168.1.106", "58985")}
    assert {r["ftp-data.command"] for r in rows} == {"RETR seed.txt"}
    t = seed_capture["transfers"][0]
    payload = stream_payload(seed_capture["path"], "tcp.srcport == 26758")
    assert len(payload) == t["size"] == seed_capture["files"]["seed.txt"]["size"]
    assert sha256_hex(payload) == t["sha256"]


def test_seed_sample_has_only_the_two_connections(seed_capture):
    rows = tshark_fields(seed_capture["path"], ["tcp.stream", "ip.src", "ip.dst"])
    assert {r["tcp.stream"] for r in rows} == {"0", "1"}
    assert {r["ip.src"] for r in rows} == {"192.168.1.106", "192.168.1.109"}


# ----------------------------------------------------------------------------- hand-made

HANDMADE = harness.handmade_names()


def test_handmade_files_are_up_to_date(tmp_path):
    """The committed files are exactly what handmade.py writes now."""
    harness.check_generator_output(harness.CAPTURES_DIR / "handmade.py", HANDMADE_DIR, tmp_path)


def test_handmade_tcp_is_clean(handmade_captures):
    """Correct IP/TCP checksums, no TCP analysis complaints, nothing malformed."""
    for c in handmade_captures:
        p = run_tshark(c["path"], ["-n", "-o", "tcp.check_checksum:TRUE",
                                   "-o", "ip.check_checksum:TRUE", "-Y",
                                   "tcp.checksum.status == 2 || ip.checksum.status == 2 || "
                                   "tcp.analysis.flags || _ws.malformed || _ws.expert.severity "
                                   ">= error"] + decode_as(c), check=True)
        assert p.stdout.strip() == "", (c["name"], p.stdout)


@pytest.mark.parametrize("name", HANDMADE)
def test_handmade_commands_with_builtin_ftp(handmade_captures, name):
    c = handmade_captures[name]
    rows = ftp_rows(c)
    got = builtin_commands(rows)
    if c["tls"]:
        # after the 234 the built-in dissector reads TLS records as "commands"
        assert got[0] == c["commands"][0] and [x.upper() for x in c["commands"]] == ["AUTH"]
        assert "234" in values(rows, "ftp.response.code")
        return
    if name in BUILTIN_MISREADS:
        assert got[:2] == c["commands"][:2]
        return
    assert got == c["commands"]
    if c["user"]:
        user_args = [r["ftp.request.arg"] for r in rows if r["ftp.request.command"] == "USER"]
        pass_args = [r["ftp.request.arg"] for r in rows if r["ftp.request.command"] == "PASS"]
        assert user_args[-1] == c["user"] and pass_args[-1] == c["password"]
        assert len([x for x in values(rows, "ftp.response.code") if x == "530"]) == \
            c["failed_logins"]
        assert pass_args[:-1] == c.get("failed_passwords", [])


@pytest.mark.parametrize("name", HANDMADE)
def test_handmade_data_bytes(handmade_captures, name):
    """Each transfer's data connection is present and carries exactly the stated bytes."""
    c = handmade_captures[name]
    assert c["transfers"] or c.get("opaque_data_connections")
    for t in c["transfers"]:
        payloads = transfer_payloads(c, t)
        assert len(payloads) == 1, (t, len(payloads))
        assert len(payloads[0]) == t["size"] and sha256_hex(payloads[0]) == t["sha256"], t
        if t["file"] and t["offset"] == 0:
            assert c["files"][t["file"]]["sha256"] == t["sha256"]
        # the frame numbers in the facts point at the right frames
        by_frame = {int(r["frame.number"]): r for r in ftp_rows(c)}
        syn = by_frame[t["data_syn_frame"]]
        assert syn["tcp.flags.syn"] in ("1", "True") and syn["tcp.flags.ack"] in ("0", "False")
        assert int(by_frame[t["data_first_frame"]]["tcp.len"]) > 0
    for o in c.get("opaque_data_connections", []):
        payload = payload_where(c, lambda r: r["tcp.srcport"] == str(o["server_port"]))
        assert sha256_hex(payload) == o["sha256"]


def test_handmade_address_replies_with_builtin_ftp(handmade_captures):
    """Where the built-in dissector parses the address, it agrees with the facts."""
    h = handmade_captures
    r = [x for x in ftp_rows(h["pasv_nat_private"]) if x["ftp.response.code"] == "227"][0]
    assert (r["ftp.passive.ip"], r["ftp.passive.port"]) == ("10.0.0.5", "40000")
    r = [x for x in ftp_rows(h["active_srcport_2020"]) if x["ftp.request.command"] == "PORT"][0]
    assert (r["ftp.active.cip"], r["ftp.active.port"]) == ("192.0.2.10", "50000")
    r = [x for x in ftp_rows(h["port_bounce"]) if x["ftp.request.command"] == "PORT"][0]
    assert r["ftp.active.cip"] == "203.0.113.50"
    r = [x for x in ftp_rows(h["eprt_ipv4"]) if x["ftp.request.command"] == "EPRT"][0]
    assert (r["ftp.eprt.af"], r["ftp.eprt.ip"], r["ftp.eprt.port"]) == ("1", "192.0.2.10", "50001")
    r = [x for x in ftp_rows(h["eprt_ipv6"]) if x["ftp.request.command"] == "EPRT"][0]
    assert (r["ftp.eprt.af"], r["ftp.eprt.ipv6"], r["ftp.eprt.port"]) == \
        ("2", "2001:db8::10", "50002")
    r = [x for x in ftp_rows(h["epsv_ipv6"]) if x["ftp.response.code"] == "229"][0]
    assert r["ftp.epsv.port"] == "40001"
    r = [x for x in ftp_rows(h["control_port_2121"]) if x["ftp.response.code"] == "227"][0]
    assert r["ftp.passive.port"] == "40007"
    rows = ftp_rows(h["lpsv_ipv4"])
    assert "228" in values(rows, "ftp.response.code")
    c = h["multiline_inner_digits"]
    rows = ftp_rows(c)
    r = [x for x in rows if int(x["frame.number"]) == c["multiline_reply_frame"]][0]
    assert (r["ftp.response.code"], r["ftp.response.arg"]) == ("230", "Welcome, alice.")
    reply = r["payload"]
    assert reply.startswith(b"230-") and b"\r\n331 this inner line" in reply
    assert reply.endswith(b"\r\n230 Login successful.\r\n")


def test_handmade_special_shapes(handmade_captures):
    h = handmade_captures
    # the 227 really is split across two segments
    rows = ftp_rows(h["split_227"])
    split = h["split_227"]["split_frames"]
    lens = {int(r["frame.number"]): int(r["tcp.len"]) for r in rows}
    assert all(lens[f] > 0 for f in split) and len(split) == 4
    # pipelined: one segment holds both commands
    payloads = [r["payload"] for r in ftp_rows(h["pipelined"]) if r["tcp.dstport"] == "21"]
    assert b"TYPE I\r\nPASV\r\n" in payloads
    # the over-long line: 20,000 bytes without CRLF, over several segments
    c = h["overlong_line"]
    data = stream_payload(c["path"], "tcp.dstport == 21 && frame.number >= %d && frame.number <= %d"
                          % (c["overlong"]["first_frame"], c["overlong"]["last_frame"]))
    assert data == b"A" * 20000 + b"\r\n"
    # lower-case auth, and the bytes after 234 are a TLS record
    c = h["auth_tls_lower"]
    rows = ftp_rows(c)
    assert builtin_commands(rows)[0] == "auth"
    p = run_tshark(c["path"], ["-n", "-d", "tcp.port==21,tls", "-Y", "tls.handshake.type == 1"],
                   check=True)
    assert p.stdout.strip(), "a ClientHello follows the 234"


# ----------------------------------------------------------------------------- real

REAL = harness.real_scenario_names()


def test_real_captures_all_made(real_captures):
    assert not real_captures.errors, json.dumps(real_captures.errors, indent=1)
    skipped = [x["name"] for x in real_captures.facts.get("skipped", [])]
    assert sorted(real_captures.names() + skipped) == sorted(REAL)
    # about 12 s on an idle 2-core machine; the bound leaves room for a busy one
    assert real_captures.facts["seconds"] < 120
    for c in real_captures:
        assert os.path.getsize(c["path"]) == c["pcap_size"] > 24


@pytest.mark.parametrize("name", REAL)
def test_real_capture_with_builtin_ftp(real_captures, name):
    if name not in real_captures:
        pytest.skip("scenario failed: see test_real_captures_all_made")
    c = real_captures[name]
    rows = ftp_rows(c)
    got = builtin_commands(rows)
    codes = values(rows, "ftp.response.code")
    if c["tls"]:
        assert got[0] == "AUTH" and c["commands"] == ["AUTH"]
        assert "234" in codes
        return
    assert got == c["commands"]
    users = [r["ftp.request.arg"] for r in rows if r["ftp.request.command"] == "USER"]
    passes = [r["ftp.request.arg"] for r in rows if r["ftp.request.command"] == "PASS"]
    assert set(users) == {c["user"]} and set(passes) == {c["password"]}
    # the reply that follows the (last) PASS
    last_pass = max(int(r["frame.number"]) for r in rows if r["ftp.request.command"] == "PASS")
    after = [r["ftp.response.code"] for r in rows
             if int(r["frame.number"]) > last_pass and r["ftp.response.code"]]
    assert after[0] == ("230" if c["login_ok"] else "530")
    for t in c["transfers"]:
        adv = t["advertised"]
        if t["mode"] == "PASV":
            ports = [r["ftp.passive.port"] for r in rows if r["ftp.response.code"] == "227"]
            assert str(adv["port"]) in ports
        elif t["mode"] == "EPSV":
            ports = [r["ftp.epsv.port"] for r in rows if r["ftp.response.code"] == "229"]
            assert str(adv["port"]) in ports
        elif t["mode"] == "PORT":
            assert [(r["ftp.active.cip"], r["ftp.active.port"]) for r in rows
                    if r["ftp.request.command"] == "PORT"] == [(adv["ip"], str(adv["port"]))]
        elif t["mode"] == "EPRT":
            ip = "ftp.eprt.ipv6" if c["ip_version"] == 6 else "ftp.eprt.ip"
            assert [(r[ip], r["ftp.eprt.port"]) for r in rows
                    if r["ftp.request.command"] == "EPRT"] == [(adv["ip"], str(adv["port"]))]


@pytest.mark.parametrize("name", REAL)
def test_real_capture_data_bytes(real_captures, name):
    if name not in real_captures:
        pytest.skip("scenario failed: see test_real_captures_all_made")
    c = real_captures[name]
    transfers = c["transfers"] or c.get("encrypted_transfers", [])
    if not c["login_ok"]:
        assert not transfers
        return
    assert transfers
    by_filter = {}   # transfers sharing a data endpoint (list_nlst_*), in order
    for t in c["transfers"]:
        key = json.dumps([t["initiator"], t["direction"] == "upload", t["data"]], sort_keys=True)
        by_filter.setdefault(key, []).append(t)
    for flt, ts in by_filter.items():
        payloads = transfer_payloads(c, ts[0])
        assert len(payloads) == len(ts), flt
        for p, t in zip(payloads, ts):
            if t["sha256"] is None:     # content not recorded (lftp listings)
                assert p, t
                continue
            assert (len(p), sha256_hex(p)) == (t["size"], t["sha256"]), (flt, t)
    for t in c.get("encrypted_transfers", []):
        # the data connection is there, but its bytes are not the file's
        payloads = transfer_payloads(c, t)
        assert len(payloads) == 1 and payloads[0][:1] in (b"\x16", b"\x17"), t
        assert sha256_hex(payloads[0]) != t["sha256"] and t["sha256"] == c["files"][t["file"]][
            "sha256"]


def test_real_active_data_source_ports(real_captures):
    """pyftpdlib opens active data connections from an ephemeral port, not 20; vsftpd
    (connect_from_port_20) from 20."""
    seen = 0
    for c in real_captures:
        for t in c["transfers"]:
            if t["initiator"] != "server":
                continue
            if c["server"].startswith("vsftpd"):
                rows = [r for r in ftp_rows(c) if r["tcp.flags.syn"] in ("1", "True")
                        and r["tcp.flags.ack"] in ("0", "False")
                        and r["tcp.dstport"] == str(t["data"]["client_port"])]
                assert [r["tcp.srcport"] for r in rows] == ["20"] == [str(t["data"]["server_port"])]
                continue
            rows = [r for r in ftp_rows(c) if r["tcp.flags.syn"] in ("1", "True")
                    and r["tcp.flags.ack"] in ("0", "False")
                    and r["tcp.dstport"] == str(t["data"]["client_port"])]
            assert rows and all(r["tcp.srcport"] != "20" for r in rows)
            seen += 1
    assert seen >= 4


@pytest.mark.skipif(os.geteuid() != 0, reason="make_seed.py needs root (ip netns, veth)")
def test_make_seed_remakes_the_same_conversation(tmp_path, seed_capture):
    out = tmp_path / "seed.pcap"
    p = subprocess.run([sys.executable, str(harness.CAPTURES_DIR / "make_seed.py"), str(out)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 and "failed" in p.stderr and ": ip " in p.stderr:
        pytest.skip("cannot make network namespaces here: " + p.stderr[-500:])
    assert p.returncode == 0, p.stdout + p.stderr
    fresh = json.loads((tmp_path / "seed.facts.json").read_text())
    fresh["path"] = str(out)
    assert {k: v for k, v in fresh.items() if k not in ("path", "pcap")} == \
        {k: v for k, v in seed_capture.items() if k not in ("path", "pcap")}

    def conversation(facts):
        return [(r["src"], r["tcp.srcport"], r["dst"], r["tcp.dstport"], r["tcp.len"],
                 r["ftp.request.command"], r["ftp.request.arg"], r["ftp.response.code"],
                 r["ftp.response.arg"]) for r in ftp_rows(facts) if r["payload"]]
    assert conversation(fresh) == conversation(seed_capture)
