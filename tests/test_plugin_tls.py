"""FTPS with the keys: the C plugin follows a control connection into TLS and its PROT P data channels.

A real exchange (pyftpdlib's TLS_FTPHandler and Python's ftplib.FTP_TLS, AUTH TLS, PBSZ 0, PROT P, PASV,
RETR) is recorded on the loopback of a private network namespace, with the client's TLS secrets written to
a key log. Given the key log, tshark decrypts the control connection and hands the clear lines back to
ftplens (ssl_starttls_ack), so the session goes on: USER, PASS, PROT P, the 227, the RETR. The data channel
is predicted from the decrypted 227 and dissected as ftplens-data over TLS, and its decrypted payload is
exported. Without the key log, only AUTH TLS and its 234 are visible.

Run as a script (`python3 tests/test_plugin_tls.py --make DIR`, inside `unshare -n`) it makes the capture.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_plugin_tshark import tshark  # noqa: E402,F401  (the shared fixture: plugin installed, tshark as nobody)

SECRET = b"PROT P keeps this file private.\r\n" * 40
PASV_PORT = 40123


# ------------------------------------------------------------------------------------------ the capture


def _make(outdir: Path) -> None:
    """Inside a fresh network namespace: serve, fetch, record. Writes ftps.pcap and keys.log."""
    import ftplib
    import ssl

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    root = outdir / "root"
    root.mkdir()
    (root / "secret.txt").write_bytes(SECRET)
    cert, key = outdir / "cert.pem", outdir / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=localhost", "-days", "2"], check=True, capture_output=True)

    pcap = outdir / "ftps.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-B", "65536", "-n", "-s", "0"]
                            + (["-Z", "root"] if os.geteuid() == 0 else []) + ["-w", str(pcap), "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dump.stderr.readline()  # "listening on lo, ..."
    time.sleep(0.2)

    auth = DummyAuthorizer()
    auth.add_user("alice", "s3cret", str(root), perm="elr")
    handler = TLS_FTPHandler
    handler.certfile, handler.keyfile = str(cert), str(key)
    handler.authorizer = auth
    handler.passive_ports = [PASV_PORT]
    server = FTPServer(("127.0.0.1", 21), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.1}, daemon=True)
    thread.start()
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.keylog_filename = str(outdir / "keys.log")
        ftp = ftplib.FTP_TLS(context=ctx)
        ftp.connect("127.0.0.1", 21, timeout=10)
        ftp.auth()
        ftp.login("alice", "s3cret")
        ftp.prot_p()
        buf = bytearray()
        ftp.retrbinary("RETR secret.txt", buf.extend)
        ftp.quit()
        assert bytes(buf) == SECRET
    finally:
        server.close_all()
        time.sleep(0.5)
        dump.terminate()
        dump.wait(timeout=10)
        dump.stderr.close()


def _unshare_prefix():
    return ["unshare", "-n", "--"] if os.geteuid() == 0 else ["unshare", "-r", "-n", "--"]


@pytest.fixture(scope="module")
def ftps(tmp_path_factory):
    missing = [t for t in ("tcpdump", "unshare", "ip", "openssl", "tshark") if shutil.which(t) is None]
    for mod in ("pyftpdlib", "OpenSSL"):
        try:
            __import__(mod)
        except ImportError:
            missing.append("python module " + mod)
    if missing:
        pytest.skip("cannot record FTPS here; missing: " + ", ".join(missing))
    out = Path(tempfile.mkdtemp(prefix="ftplens-ftps-", dir="/tmp"))
    p = subprocess.run(_unshare_prefix() + [sys.executable, __file__, "--make", str(out)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not (out / "keys.log").exists():
        shutil.rmtree(out, ignore_errors=True)
        pytest.skip("cannot record FTPS here (network namespace?): " + p.stderr[-1500:])
    for f in out.rglob("*"):
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    os.chmod(out, 0o755)
    yield out
    shutil.rmtree(out, ignore_errors=True)


# ------------------------------------------------------------------------------------------ the tests


FIELDS = ["ftplens.request.command", "ftplens.user", "ftplens.password", "ftplens.tls.mechanism",
          "ftplens.data.port", "ftplens-data.command", "ftplens-data.file", "ftplens-data.tls", "tcp.srcport",
          "tcp.dstport", "tcp.len", "frame.protocols"]


def _vals(rows, field):
    return [v for r in rows for v in r[field]]


def test_without_keys_only_the_upgrade_is_visible(tshark, ftps):
    rows = tshark.fields(ftps / "ftps.pcap", FIELDS)
    assert [c.upper() for c in _vals(rows, "ftplens.request.command")] == ["AUTH"]
    assert _vals(rows, "ftplens.tls.mechanism") == ["TLS"]
    assert not _vals(rows, "ftplens-data.command")


def test_with_keys_the_session_continues_inside_tls(tshark, ftps):
    keys = tshark.readable(ftps / "keys.log")
    rows = tshark.fields(ftps / "ftps.pcap", FIELDS, extra=["-o", f"tls.keylog_file:{keys}"])
    commands = [c.upper() for c in _vals(rows, "ftplens.request.command")]
    assert commands[:2] == ["AUTH", "USER"], commands
    assert {"PBSZ", "PROT", "PASV", "RETR", "QUIT"} <= set(commands), commands
    assert _vals(rows, "ftplens.user") == ["alice"]
    assert _vals(rows, "ftplens.password") == ["s3cret"]
    assert str(PASV_PORT) in _vals(rows, "ftplens.data.port")
    data = [r for r in rows if str(PASV_PORT) in r["tcp.srcport"] + r["tcp.dstport"] and r["tcp.len"] != ["0"]]
    assert data
    for r in data:
        layers = r["frame.protocols"][0].split(":")
        assert "ftplens-data" in layers and "tls" in layers, layers
        assert layers.index("ftplens-data") < layers.index("tls"), layers
        assert r["ftplens-data.command"] == ["RETR"] and r["ftplens-data.file"] == ["secret.txt"], r
        assert r["ftplens-data.tls"] in (["1"], ["True"]), r


def test_with_keys_the_protected_file_is_exported(tshark, ftps):
    keys = tshark.readable(ftps / "keys.log")
    out = tshark.outdir("eo-ftps")
    tshark.run(["-n", "-r", tshark.readable(ftps / "ftps.pcap"), "-q", "-o", f"tls.keylog_file:{keys}",
                "--export-objects", f"ftplens,{out}"])
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    assert got == {"secret.txt": hashlib.sha256(SECRET).hexdigest()}


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make"]:
        _make(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit("usage: test_plugin_tls.py --make DIR   (inside unshare -n)")
