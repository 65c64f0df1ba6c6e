"""Export Objects that can be trusted (issue 12, item 6), through the real tshark with the C plugin.

The capture is written here with the hand-made capture writer, so what it holds is known without
ftplens: a text download confirmed by 226, a PNG download confirmed by 226, and a download the
server ends with 426 after ABOR. tshark's --export-objects writes only the files (the host and
content-type columns show in Wireshark's dialog, not in tshark), so this checks the names and
bytes; the type sniffing behind the content-type column is checked at the C ABI (src/ffi/tests.rs).
"""
import os
import shutil
import sys
from pathlib import Path

import pytest

from harness import _private_dir, run_tshark, tshark_available

sys.path.insert(0, str(Path(__file__).resolve().parent / "captures"))
import handmade  # noqa: E402

from test_presenter_defects import _install  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (tshark_available() and shutil.which("make") and shutil.which("cargo")
         and shutil.which("setpriv")),
    reason="needs tshark, libwireshark-dev, cargo, make and setpriv")

CLIENT = ("10.0.0.2", 40000)
SERVER = ("10.0.0.1", 21)
TEXT = b"plain words, line one\r\nline two\r\n" * 20
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(range(256)) * 4
CUT = b"the first part of a file that was never finished " * 30


def _aborted_download(s, port, fname, sent):
    """PASV, RETR, 150, part of the file, then ABOR and 426: the server never confirms the file."""
    s.cmd("PASV")
    s.reply("227 Entering Passive Mode (%s)." % handmade._port_args(SERVER[0], port))
    s.cmd("RETR " + fname)
    d = handmade.TcpConn(s.w, (CLIENT[0], 51010), (SERVER[0], port))
    d.open()
    s.reply("150 Opening BINARY mode data connection.")
    d.send("b", sent)
    s.cmd("ABOR")
    d.reset("a")
    s.reply("426 Connection closed; transfer aborted.")
    s.reply("226 ABOR command successful.")


@pytest.fixture(scope="module")
def pcap(tmp_path_factory):
    path = tmp_path_factory.mktemp("eo-trusted") / "eo.pcap"
    s = handmade.Session("eo_trusted", str(path), CLIENT, SERVER, "text, PNG and an aborted RETR")
    s.open()
    s.login()
    s.pasv(SERVER[0], 50001, client_port=51001, fname="notes.txt", content=TEXT)
    s.pasv(SERVER[0], 50002, client_port=51002, fname="img/logo.png", content=PNG)
    _aborted_download(s, 50003, "big.iso", CUT)
    s.quit()
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    return path


def test_confirmed_files_keep_their_names_and_an_aborted_one_is_named_partial(pcap):
    home = _install("c")
    out = _private_dir("ftplens-eo-trusted-")
    os.chmod(out, 0o777)
    run_tshark(pcap, ["-q", "--export-objects", f"ftplens,{out}"], home=home, check=True)
    got = {p.name: p.read_bytes() for p in Path(out).iterdir()}
    assert got == {"notes.txt": TEXT, "logo.png": PNG, "big.iso.partial": CUT}, sorted(got)


def test_a_download_the_capture_ends_in_is_named_partial_with_two_passes(tmp_path_factory):
    """The control connection ends before any final reply: the outcome is unknown, so partial. The
    core learns that at the end of the capture, which tshark's second pass (-2) can use."""
    path = tmp_path_factory.mktemp("eo-unknown") / "eo.pcap"
    s = handmade.Session("eo_unknown", str(path), CLIENT, SERVER, "a RETR the capture ends in")
    s.open()
    s.login()
    s.cmd("PASV")
    s.reply("227 Entering Passive Mode (%s)." % handmade._port_args(SERVER[0], 50004))
    s.cmd("RETR cut.bin")
    d = handmade.TcpConn(s.w, (CLIENT[0], 51004), (SERVER[0], 50004))
    d.open()
    s.reply("150 Opening BINARY mode data connection.")
    d.send("b", CUT)
    s.w.close()
    os.chmod(path.parent, 0o755)
    os.chmod(path, 0o644)
    home = _install("c")
    out = _private_dir("ftplens-eo-unknown-")
    os.chmod(out, 0o777)
    run_tshark(path, ["-2", "-q", "--export-objects", f"ftplens,{out}"], home=home, check=True)
    got = {p.name: p.read_bytes() for p in Path(out).iterdir()}
    assert got == {"cut.bin.partial": CUT}, sorted(got)
