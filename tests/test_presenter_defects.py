"""Issue 11's presenter-side defect classes, in real tshark with the C plugin and with the Lua fallback.

Each test reads one of the hand-made defect captures (tests/captures/defects/, written by
tests/captures/defects.py) and checks what tshark shows against the facts that capture was built to
contain (facts.json), never against output of ftplens itself:
- class 3: frames that carry the first or middle lines of a multi-line reply are labelled with
  those lines, not as part of an over-long line;
- class 4: a data connection with a capture gap is exported with every byte at its offset (the
  hole as zeros) under a name that says it is partial (C plugin: the fallback has no Export
  Objects);
- class 13: a data connection whose SYN is not in the capture, from the server's port 20, is tied
  to its command by both presenters (Wireshark offers it to port 20's ftp-data first).
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import (DEFECTS_DIR, _private_dir, load_captures, run_tshark, stream_payload,
                     tshark_available, tshark_fields)

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    not (tshark_available() and shutil.which("make") and shutil.which("cargo")
         and shutil.which("setpriv")),
    reason="needs tshark, libwireshark-dev, cargo, make and setpriv")


def _install(target: str) -> Path:
    home = _private_dir(f"ftplens-defects-{target}-")
    env = dict(os.environ, HOME=str(home))
    for args in (["plugin", "install-plugin"] if target == "c" else ["install-lua"],):
        p = subprocess.run(["make"] + args, cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"make {args} failed:\n{p.stdout[-2000:]}\n{p.stderr[-4000:]}"
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return home


@pytest.fixture(scope="module", params=["c", "lua"])
def home(request):
    return _install(request.param)


@pytest.fixture(scope="module")
def c_home():
    return _install("c")


@pytest.fixture(scope="module")
def caps():
    try:
        return load_captures(DEFECTS_DIR)
    except FileNotFoundError:
        pytest.skip("tests/captures/defects/ is missing (python3 tests/captures/defects.py)")


def _info_by_frame(pcap, home):
    rows = tshark_fields(pcap, ["frame.number", "_ws.col.Info"], home=home)
    return {int(r["frame.number"]): r["_ws.col.Info"] for r in rows}


def test_class3_frames_with_lines_of_a_multiline_reply_are_labelled(caps, home):
    facts = caps["c03_multiline_over_segments"]
    pcap = caps.pcap("c03_multiline_over_segments")
    frames = facts["multiline_frames"]
    code = 211
    info = _info_by_frame(pcap, home)
    tree = run_tshark(pcap, ["-2", "-V", "-O", "ftplens"], home=home, check=True).stdout
    assert "over-long line" not in tree
    seen = 0
    for f in frames[:-1]:  # every frame before the one with the closing line
        n = len(f["lines"])
        text = info[f["frame"]]
        assert text.startswith(f"Response: {code}-"), text
        if seen == 0:
            assert f["lines"][0].strip() in text, text
        else:
            want = f"line {seen + 1}" if n == 1 else f"lines {seen + 1}-{seen + n}"
            assert want in text, text
        seen += n
    last = info[frames[-1]["frame"]]
    assert last.startswith(f"Response: {code} "), last


def test_class4_export_keeps_bytes_at_their_offsets_and_names_the_file_partial(caps, c_home):
    facts = caps["c04_data_gap"]
    pcap = caps.pcap("c04_data_gap")
    (t,) = facts["transfers"]
    out = _private_dir("ftplens-defects-eo-")
    os.chmod(out, 0o777)
    run_tshark(pcap, ["-q", "--export-objects", f"ftplens,{out}"], home=c_home, check=True)
    names = os.listdir(out)
    assert names == [t["file"] + ".partial"], names
    exported = (out / names[0]).read_bytes()
    assert len(exported) == t["size"]
    # What the capture holds of the data connection, in order, as tshark's own TCP gives it.
    d = t["data"]
    captured = stream_payload(pcap, f"tcp.srcport=={d['server_port']} && tcp.dstport=={d['client_port']}",
                              home=c_home)
    assert len(captured) == t["captured_bytes"]
    at = 0
    for g in t["data_gaps"]:
        before = g["offset"] - at
        assert exported[at:g["offset"]] == captured[:before]
        assert exported[g["offset"]:g["offset"] + g["bytes"]] == bytes(g["bytes"])
        captured = captured[before:]
        at = g["offset"] + g["bytes"]
    assert exported[at:] == captured


def test_class13_data_connection_without_syn_is_tied_to_its_command(caps, home):
    facts = caps["c13_data_no_syn_port20"]
    pcap = caps.pcap("c13_data_no_syn_port20")
    (t,) = facts["transfers"]
    assert t["data_syn_frame"] is None and t["data"]["server_port"] == 20
    rows = tshark_fields(pcap, ["frame.number", "ftplens-data.command_frame", "ftplens-data.command",
                                "ftplens-data.setup_frame"],
                         extra_args=["-Y", f"tcp.port=={t['data']['client_port']} && tcp.len>0"],
                         home=home)
    assert rows, "no data frames"
    assert int(rows[0]["frame.number"]) == t["data_first_frame"]
    for r in rows:
        assert int(r["ftplens-data.command_frame"]) == t["command_frame"]
        assert r["ftplens-data.command"] == t["command"]
        assert int(r["ftplens-data.setup_frame"]) == t["setup_command_frame"]
