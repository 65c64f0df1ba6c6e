"""What the C plugin shows since it is glue over the core's dissection layer (ftplens_dissector_*),
through the real tshark: the transfer figures and forward links, the data frames' Info, listings shown
as lines of text, and the Flow Graph (-z flow,ftplens) under Wireshark 4.0 and 4.4.

The capture is written here with the hand-made capture writer, so its frame numbers, times and bytes
are known without ftplens; tshark's own tcp and frame fields (not ftplens's) say which frames carry
the data connections' payload and when.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import ROOT, roots, run_tshark, tshark_available, tshark_fields

sys.path.insert(0, str(Path(__file__).resolve().parent / "captures"))
import handmade  # noqa: E402

from test_presenter_defects import _install  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (tshark_available() and shutil.which("make") and shutil.which("cargo") and shutil.which("setpriv")),
    reason="needs tshark, libwireshark-dev, cargo, make and setpriv")

CLIENT = ("10.0.0.2", 40000)
SERVER = ("10.0.0.1", 21)
FILE = bytes(range(256)) * 40  # 10240 bytes, binary: several segments
LISTING = b"".join(b"-rw-r--r-- 1 ftp ftp %5d Jan 01 12:00 file%02d.txt\r\n" % (100 * i, i) for i in range(12))
PAUSE = 2.0  # seconds the server waits between the two halves of the file


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    """A login, a LIST over PASV, then a RETR over PASV whose second half comes PAUSE seconds later.
    Returns (pcap, frames): the frame numbers the writer gave the control lines."""
    path = tmp_path_factory.mktemp("dissect") / "dissect.pcap"
    s = handmade.Session("dissect", str(path), CLIENT, SERVER, "LIST and a paused RETR")
    s.open()
    s.login()
    f = {}
    s.cmd("PASV")
    s.reply("227 Entering Passive Mode (%s)." % handmade._port_args(SERVER[0], 50001))
    s.cmd("LIST")
    d = handmade.TcpConn(s.w, (CLIENT[0], 51001), (SERVER[0], 50001))
    d.open()
    s.reply("150 Here comes the directory listing.")
    d.send("b", LISTING)
    d.close(first="b")
    f["list_final"] = s.reply("226 Directory send OK.")
    s.cmd("TYPE I")
    s.reply("200 Switching to Binary mode.")
    s.cmd("PASV")
    f["pasv_reply"] = s.reply("227 Entering Passive Mode (%s)." % handmade._port_args(SERVER[0], 50002))
    f["retr"] = s.cmd("RETR big.bin")
    d = handmade.TcpConn(s.w, (CLIENT[0], 51002), (SERVER[0], 50002))
    d.open()
    s.reply("150 Opening BINARY mode data connection.")
    d.send("b", FILE[:5000])
    s.w.tick(PAUSE)
    d.send("b", FILE[5000:])
    d.close(first="b")
    f["final"] = s.reply("226 Transfer complete.")
    s.quit()
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path, f


@pytest.fixture(scope="module")
def home():
    return _install("c")


def _payload_frames(pcap, home, port):
    """(frame, epoch time, tcp.len) of the frames carrying the data connection's payload, by tshark's tcp."""
    rows = tshark_fields(pcap, ["frame.number", "frame.time_epoch", "tcp.len"], home=home,
                         display_filter="tcp.srcport==%d && tcp.len>0" % port)
    return [(int(r["frame.number"]), float(r["frame.time_epoch"]), int(r["tcp.len"])) for r in rows]


def test_transfer_figures_and_forward_links(capture, home):
    pcap, f = capture
    data = _payload_frames(pcap, home, 50002)
    assert sum(n for _, _, n in data) == len(FILE)
    first, last = data[0], data[-1]
    rows = {int(r["frame.number"]): r for r in tshark_fields(pcap, [
        "frame.number", "ftplens.transfer.data_frame", "ftplens.transfer.bytes", "ftplens.transfer.duration",
        "ftplens.transfer.throughput", "ftplens.transfer.first_frame", "ftplens.transfer.last_frame"], home=home)}
    # the passive reply and the transfer command point forward to the first data frame
    assert rows[f["pasv_reply"]]["ftplens.transfer.data_frame"] == str(first[0])
    assert rows[f["retr"]]["ftplens.transfer.data_frame"] == str(first[0])
    final = rows[f["final"]]
    assert final["ftplens.transfer.bytes"] == str(len(FILE))
    assert final["ftplens.transfer.first_frame"] == str(first[0])
    assert final["ftplens.transfer.last_frame"] == str(last[0])
    duration = float(final["ftplens.transfer.duration"])
    assert duration == pytest.approx(last[1] - first[1], abs=1e-6)
    assert duration >= PAUSE
    assert float(final["ftplens.transfer.throughput"]) == pytest.approx(len(FILE) / duration, rel=1e-3)
    # the LIST's figures on its own final reply, and nowhere else
    assert rows[f["list_final"]]["ftplens.transfer.bytes"] == str(len(LISTING))
    assert [n for n, r in rows.items() if r["ftplens.transfer.bytes"]] == [f["list_final"], f["final"]]


def test_data_frames_info_names_size_mode_direction_and_command(capture, home):
    pcap, _ = capture
    info = {int(r["frame.number"]): r["_ws.col.Info"]
            for r in tshark_fields(pcap, ["frame.number", "_ws.col.Info"], home=home)}
    for port, way, command in ((50001, "listing", "LIST"), (50002, "download", "RETR big.bin")):
        for frame, _, n in _payload_frames(pcap, home, port):
            assert info[frame] == "FTP data, %d bytes, %s (passive), %s" % (n, way, command)


def test_transfers_the_capture_holds_whole_are_complete(capture, home):
    """Both data connections open with a SYN and close with FINs in segments without payload (which no
    subdissector sees: the plugin tells the core from TCP's sequence analysis), and 226 confirms each."""
    pcap, _ = capture
    rows = tshark_fields(pcap, ["frame.number", "ftplens-data.complete", "ftplens-data.partial_reason"], home=home,
                         display_filter="ftplens-data")
    assert len(rows) == len(_payload_frames(pcap, home, 50001)) + len(_payload_frames(pcap, home, 50002))
    assert {(r["ftplens-data.complete"], r["ftplens-data.partial_reason"]) for r in rows} == {("1", "")}, rows[:3]


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """ftplens-gen's capture of 96 sessions open at once over 30 MB (458 transfers, every one whole, some
    segments reordered in pairs or sent twice): hundreds of FTP connections open at the same time, long
    data connections among them."""
    build = subprocess.run(["cargo", "build", "--release", "-q", "-p", "ftplens-gen"], cwd=ROOT,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-2000:]
    path = tmp_path_factory.mktemp("crowded") / "crowded.pcap"
    gen = subprocess.run([str(ROOT / "target" / "release" / "ftplens-gen"), "capture", "--size", "30M",
                          "--concurrent", "96", "--seed", "1", "-o", str(path)], capture_output=True, text=True)
    assert gen.returncode == 0, gen.stderr
    assert "458 transfers" in gen.stderr, gen.stderr
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


def test_every_transfer_of_a_crowded_capture_is_complete(crowded, home):
    """Every transfer the generator wrote is whole, so every data frame says complete. The FINs of each data
    connection are told however many FTP connections are open at once (the plugin followed at most 64, and
    55 of these transfers read no_fin). TCP is asked to hand its out-of-order segments to subdissectors:
    by default Wireshark keeps them from every subdissector, and a transfer with a segment reordered
    would read gaps (see the README)."""
    rows = tshark_fields(crowded, ["tcp.stream", "ftplens-data.complete", "ftplens-data.partial_reason"],
                         home=home, display_filter="ftplens-data",
                         extra_args=["-o", "tcp.no_subdissector_on_error:FALSE"])
    streams = {r["tcp.stream"] for r in rows}
    assert len(streams) == 458, len(streams)
    partial = sorted({(r["tcp.stream"], r["ftplens-data.partial_reason"]) for r in rows
                      if r["ftplens-data.complete"] != "1"})
    assert not partial, partial[:5]


@pytest.fixture(scope="module", params=["c", "lua"])
def either_home(request):
    return _install(request.param)


def test_with_tcps_default_a_hole_says_the_capture_may_hold_the_bytes(crowded, either_home):
    """With Wireshark's default, TCP keeps the out-of-order segments from ftplens: the transfers they
    belong to read gaps on every data frame, and their expert info, raised once per transfer on its
    data connection's first frame, says why, naming the preference (the C plugin and the Lua fallback
    alike: each reads the preference when the file opens)."""
    rows = tshark_fields(crowded, ["tcp.stream", "ftplens-data.complete", "ftplens-data.partial_reason",
                                   "_ws.expert.message"], home=either_home,
                         display_filter="ftplens-data.complete == 0",
                         aggregator="\x1f")
    assert rows, "the generator's reordered segments leave holes with TCP's default"
    said = {}
    for r in rows:
        assert set(r["ftplens-data.partial_reason"].split("\x1f")) <= {"gaps", "short"}, r
        messages = [m for m in r["_ws.expert.message"].split("\x1f") if m.startswith("partial: ")]
        said.setdefault(r["tcp.stream"], []).extend(messages)
    assert all(len(m) == 1 and "tcp.no_subdissector_on_error" in m[0] for m in said.values()), said


def test_a_listing_is_shown_as_lines_of_text(capture, home):
    pcap, _ = capture
    listing = [n for n, _, _ in _payload_frames(pcap, home, 50001)]
    binary = [n for n, _, _ in _payload_frames(pcap, home, 50002)]
    protocols = {int(r["frame.number"]): r["frame.protocols"].split(":")
                 for r in tshark_fields(pcap, ["frame.number", "frame.protocols"], home=home)}
    for n in listing:
        assert protocols[n][-2:] == ["ftplens-data", "data-text-lines"], protocols[n]
    for n in binary:  # a file's bytes stay under ftplens-data, as the built-in shows them
        assert protocols[n][-1] == "ftplens-data", protocols[n]
    tree = run_tshark(pcap, ["-n", "-2", "-V", "-Y", "frame.number==%d" % listing[0]], home=home,
                      check=True).stdout
    assert "Line-based text data" in tree
    for line in LISTING.decode().splitlines()[:3]:
        assert line in tree


def _check_flow(text, pcap, home):
    """`-z flow,ftplens,standard` prints each arrow as a label line (time, label cut to 20 characters,
    comment) over an arrow line: one arrow per command, per reply, and per data connection's first
    frame (this capture has one line per control segment)."""
    control = tshark_fields(pcap, ["frame.number"], home=home, display_filter="tcp.port==21 && tcp.len>0")
    arrows = [line for line in text.splitlines() if "------------------>" in line or "<------------------" in line]
    assert len(arrows) == len(control) + 2, text
    labels = [line for line in text.splitlines() if line.startswith("|") and "|FTP" in line]
    assert any("RETR big.bin" in line and line.endswith("|FTP: Request: RETR big.bin") for line in labels), text
    assert any("227 Entering Passive" in line for line in labels), text
    assert any("data: %d bytes, d" % len(FILE) in line and "FTP-DATA: FTP data, " in line for line in labels), text
    assert any("data: %d bytes, l" % len(LISTING) in line for line in labels), text


def test_flow_graph_under_4_0(capture, home):
    pcap, _ = capture
    out = run_tshark(pcap, ["-n", "-q", "-2", "-z", "flow,ftplens,standard"], home=home, check=True).stdout
    _check_flow(out, pcap, home)


def test_flow_graph_under_4_4(capture, home):
    pcap, _ = capture
    try:
        root = roots.debian_root("trixie")
    except roots.RootUnavailable as e:
        if os.environ.get("CI"):
            pytest.fail(str(e))
        pytest.skip(str(e))
    rt = roots.RootTshark(root)
    try:
        root_home = rt.home("c")
        subprocess.run(["make", "plugin"], cwd=ROOT, check=True, capture_output=True)
        rt.build_c_plugin(root_home)
        p = rt.tshark(root_home, ["-n", "-q", "-2", "-r", rt.copy_in(pcap), "-z", "flow,ftplens,standard"])
        _check_flow(p.stdout, pcap, home)
    finally:
        rt.cleanup()


def test_session_details_in_statistics(capture, home):
    """-z ftplens,tree has one node per session (client -> server) with its user, login result,
    failed logins, transfers and bytes, as the capture was written: alice logged in at the first
    try, and the LIST and the RETR moved len(LISTING) + len(FILE) bytes."""
    pcap, _ = capture
    out = run_tshark(pcap, ["-n", "-q", "-2", "-z", "ftplens,tree"], home=home, check=True).stdout
    lines = [re.split(r"\s{2,}", l.strip())[0] for l in out.splitlines()]
    node = "%s:%d -> %s:%d" % (CLIENT + SERVER)
    assert "Session details" in lines and node in lines, out
    details = lines[lines.index(node) + 1:]
    for want in ("user: alice", "login: success", "failed logins: 0", "transfers: 2",
                 "bytes: %d" % (len(LISTING) + len(FILE)), "TLS: no"):
        assert want in details, (want, out)
    assert "FTP sessions" in lines and "Logins by user and outcome" in lines


def test_no_ftp_knowledge_in_the_plugin():
    """The plugin is glue: no FTP verb or reply code is spelled in plugin-c/."""
    root = ROOT / "plugin-c"
    text = "\n".join(p.read_text() for p in root.glob("*.c"))
    for verb in ("USER", "PASS", "RETR", "STOR", "PASV", "PORT", "EPSV", "EPRT", "LIST", "AUTH", "PROT"):
        assert not re.search(r"\b%s\b" % verb, text), verb
    assert not re.search(r"\b(150|200|220|226|227|229|230|234|331|425|426|530)\b", text)
    assert sum(len(p.read_text().splitlines()) for p in root.glob("*.c")) <= 700


def test_no_ftp_verb_in_the_capture_reader():
    """src/capture/ reads captures, reassembles TCP and writes records: it names no FTP verb in its
    code (comments may say what a listing is) and leaves pairing and binding to the core."""
    code = []
    for p in sorted((ROOT / "src" / "capture").glob("*.rs")):
        for line in p.read_text().splitlines():
            line = line.split("//")[0]
            code.append(line)
    text = "\n".join(code)
    for verb in ("USER", "PASS", "RETR", "STOR", "STOU", "APPE", "PASV", "PORT", "EPSV", "EPRT",
                 "LPRT", "LPSV", "LIST", "NLST", "MLSD", "AUTH", "PROT", "TYPE", "REST"):
        assert not re.search(r"\b%s\b" % verb, text), verb
