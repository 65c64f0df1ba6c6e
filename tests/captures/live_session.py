"""One live-capture scenario for tests/test_cli_live.py, run as root inside a private network
namespace (it re-executes itself under `unshare -n`): `ftplens log -i lo` and tcpdump both listen
on the namespace's loopback while a real pyftpdlib server and Python ftplib clients transfer files
(passive RETR, active RETR, STOR, LIST), one session left open; then ftplens gets SIGINT.

usage: live_session.py OUTDIR FTPLENS_BINARY [SIGNAL]
Writes OUTDIR/live.jsonl (ftplens's standard output), live.err, tcpdump.pcap and facts.json.
"""
from __future__ import annotations

import ftplib
import io
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real  # noqa: E402  (the server child and tcpdump wrapper the real captures use)
from netns_session import reexec_in_netns, retr_passive_then_active, served_root  # noqa: E402

INSIDE = "FTPLENS_LIVE_NETNS"


def wait_for(stream, needle: str, timeout: float = 15) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = real._readline_timeout(stream, max(0.1, deadline - time.monotonic()))
        seen += line
        if needle in line:
            return seen
    raise RuntimeError(f"{needle!r} not seen: {seen}")


def scenario(outdir: str, binary: str, sig: int) -> dict:
    root = served_root(outdir)
    pcap = os.path.join(outdir, "tcpdump.pcap")
    dump = real.Tcpdump(pcap, iface="lo", bpf="tcp")
    out = open(os.path.join(outdir, "live.jsonl"), "wb")
    live = subprocess.Popen([binary, "log", "-i", "lo", "--filter", "tcp"], stdout=out,
                            stderr=subprocess.PIPE, text=True)
    head = wait_for(live.stderr, "capturing on lo")
    server = real.Server({"user": real.USER, "password": real.PASSWORD, "root": root,
                          "host": "127.0.0.1", "port": 21, "passive_ports": [40000, 40001]})
    try:
        ftp = ftplib.FTP()
        ftp.connect("127.0.0.1", 21, timeout=10)
        ftp.login(real.USER, real.PASSWORD)
        retr_passive_then_active(ftp)
        ftp.set_pasv(True)
        ftp.storbinary("STOR upload.txt", io.BytesIO(real.UPLOAD))
        ftp.retrlines("LIST", lambda line: None)
        ftp.quit()
        # A second session, still open when the capture ends.
        still_open = ftplib.FTP()
        still_open.connect("127.0.0.1", 21, timeout=10)
        still_open.login(real.USER, real.PASSWORD)
        got = io.BytesIO()
        still_open.retrbinary("RETR hello.txt", got.write)
        # Records are written as they happen: the first session's are out before the signal.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(os.path.join(outdir, "live.jsonl"), "rb") as f:
                before = [json.loads(line) for line in f]
            if any(r["type"] == "session" for r in before):
                break
            time.sleep(0.05)
        time.sleep(0.3)
        live.send_signal(sig)
        _, tail = live.communicate(timeout=15)
        dropped = dump.stop()
        still_open.close()
    finally:
        server.stop()
        if live.poll() is None:
            live.kill()
    return {"exit": live.returncode, "stderr": head + tail, "before_signal": before,
            "tcpdump_dropped": dropped}


def main() -> int:
    outdir, binary = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    sig = int(sys.argv[3]) if len(sys.argv) > 3 else int(signal.SIGINT)
    rc = reexec_in_netns(__file__, [outdir, binary, str(sig)], INSIDE)
    if rc is not None:
        return rc
    facts = scenario(outdir, binary, sig)
    with open(os.path.join(outdir, "facts.json"), "w") as f:
        json.dump(facts, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
