"""FTPS on a port other than 21, under Wireshark 4.0, 4.4 and 4.6, with the C plugin and with the Lua fallback.

A real exchange is recorded on the loopback of a private network namespace: vsftpd with a fresh self-signed
certificate listens on port 2221 (found by ftplens's heuristic, and registered in 4.6's tls.port table to
EtherNet/IP over TLS); curl asks for explicit FTPS (`--ssl-reqd`: AUTH SSL, PBSZ 0, PROT P), lists the
directory and fetches a file over two PASV data connections, with TLS 1.2 (so the certificate is sent in
clear) and without session reuse (so every data connection makes a full handshake and sends it too). curl
writes its TLS secrets to a key log (SSLKEYLOGFILE).

What is known without ftplens: the certificate (its DER, from openssl), the commands vsftpd logged, in order,
and that each of the three connections carries the certificate (tshark without ftplens finds it there by its
own TLS heuristics; the first test checks that). With ftplens installed:
- the certificate is still found in the control connection and in every data connection;
- with the key log, the decrypted commands are ftplens's, the same as vsftpd's log, and the data connections
  are ftplens-data for LIST and RETR.

The roots for 4.4 and 4.6 are those of tests/harness/roots.py. Run as a script
(`python3 tests/test_ftps_any_port.py --make DIR`, inside `unshare -n`) it makes the capture.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import ROOT, readable_copy, roots, tshark_fields  # noqa: E402

PORT = 2221
PASV_PORT = 40600
HELLO = b"".join(b"hello over FTPS, line %d\n" % i for i in range(1, 21))
AGG = "\x1f"
WIRESHARKS = {"4.0": None, "4.4": "trixie", "4.6": "forky"}  # version -> Debian root (None: this machine)


# ------------------------------------------------------------------------------------------ the capture


def _make(out: Path) -> None:
    """Inside a fresh network namespace: serve, fetch, record. Writes ftps.pcap, keys.log, cert.der and
    commands.json (the commands vsftpd logged)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    pub, empty = out / "pub", out / "empty"
    for d in (pub, empty):
        d.mkdir()
        os.chmod(d, 0o755)
    os.chmod(out, 0o755)
    (pub / "hello.txt").write_bytes(HELLO)
    cert, key = out / "cert.pem", out / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-subj", "/CN=ftplens-ftps-test", "-days", "2"], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER", "-out", str(out / "cert.der")],
                   check=True)
    log = out / "vsftpd.log"
    conf = {
        "listen": "YES", "listen_ipv6": "NO", "listen_address": "127.0.0.1", "listen_port": PORT,
        "background": "NO", "anonymous_enable": "YES", "local_enable": "NO", "write_enable": "NO",
        "anon_root": pub, "no_anon_password": "YES", "secure_chroot_dir": empty,
        "pasv_enable": "YES", "pasv_min_port": PASV_PORT, "pasv_max_port": PASV_PORT,
        "pasv_address": "127.0.0.1", "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
        # explicit FTPS, required for the login and the data; a new TLS session on every data connection
        "ssl_enable": "YES", "allow_anon_ssl": "YES", "force_anon_logins_ssl": "YES",
        "force_anon_data_ssl": "YES", "require_ssl_reuse": "NO", "ssl_ciphers": "HIGH",
        "rsa_cert_file": cert, "rsa_private_key_file": key,
        "log_ftp_protocol": "YES", "xferlog_enable": "YES", "xferlog_std_format": "NO",
        "vsftpd_log_file": log, "syslog_enable": "NO", "dual_log_enable": "NO",
    }
    (out / "vsftpd.conf").write_text("".join("%s=%s\n" % kv for kv in conf.items()))

    pcap = out / "ftps.pcap"
    dump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "--immediate-mode", "-n", "-s", "0", "-Z", "root",
                             "-w", str(pcap), "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dump.stderr.readline()  # "listening on lo, ..."
    time.sleep(0.2)
    server = subprocess.Popen(["vsftpd", str(out / "vsftpd.conf")], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while "LISTEN" not in subprocess.run(["ss", "-Hltn", "sport = :%d" % PORT], capture_output=True,
                                             text=True).stdout:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("vsftpd did not start: " + server.stderr.read())
            time.sleep(0.02)
        url = "ftp://127.0.0.1:%d/" % PORT
        subprocess.run(["curl", "-sS", "--max-time", "20", "--ssl-reqd", "--tls-max", "1.2", "--no-sessionid",
                        "-k", "--disable-epsv", "-o", str(out / "list.out"), url,
                        "-o", str(out / "hello.out"), url + "hello.txt"],
                       env=dict(os.environ, SSLKEYLOGFILE=str(out / "keys.log")), check=True, timeout=30)
        assert (out / "hello.out").read_bytes() == HELLO
        assert b"hello.txt" in (out / "list.out").read_bytes()
        time.sleep(0.3)
        server.terminate()
        server.wait(timeout=10)
        _other_tls_on_the_port(out, cert, key)
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=10)
        time.sleep(0.3)
        dump.terminate()
        dump.wait(timeout=10)
    commands = re.findall(r'FTP command: Client "[^"]*", "(.*)"\s*$', log.read_text(), re.M)
    (out / "commands.json").write_text(json.dumps(commands))


def _other_tls_on_the_port(out: Path, cert: Path, key: Path) -> None:
    """Then a TLS connection on the same port that is not FTP: openssl's test web server and client (an HTTP
    GET inside TLS 1.2), its secrets appended to the same key log."""
    server = subprocess.Popen(["openssl", "s_server", "-accept", "127.0.0.1:%d" % PORT, "-cert", str(cert),
                               "-key", str(key), "-www", "-tls1_2", "-quiet"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while "LISTEN" not in subprocess.run(["ss", "-Hltn", "sport = :%d" % PORT], capture_output=True,
                                             text=True).stdout:
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("openssl s_server did not start")
            time.sleep(0.02)
        p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % PORT, "-tls1_2", "-keylogfile",
                            str(out / "keys.log"), "-quiet", "-ign_eof"], input=b"GET / HTTP/1.0\r\n\r\n",
                           capture_output=True, timeout=20)
        assert b"HTTP/1.0 200" in p.stdout, p.stdout[:300] + p.stderr[-300:]
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(scope="module")
def ftps():
    missing = [t for t in ("tcpdump", "unshare", "ip", "ss", "openssl", "curl", "vsftpd", "tshark")
               if shutil.which(t) is None]
    if missing:
        pytest.skip("cannot record FTPS with vsftpd here; missing: " + ", ".join(missing))
    if os.geteuid() != 0:
        pytest.skip("vsftpd in a private network namespace needs root")
    out = Path(tempfile.mkdtemp(prefix="ftplens-ftps-2221-", dir="/tmp"))
    p = subprocess.run(["unshare", "-n", "--", sys.executable, __file__, "--make", str(out)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0 or not (out / "keys.log").exists():
        shutil.rmtree(out, ignore_errors=True)
        pytest.fail("recording FTPS with vsftpd and curl failed:\n" + p.stdout[-1500:] + p.stderr[-1500:])
    for f in out.rglob("*"):
        os.chmod(f, 0o755 if f.is_dir() else 0o644)
    yield out
    shutil.rmtree(out, ignore_errors=True)


# ------------------------------------------------------------------------------------------ the Wiresharks


def _open_up(tree: Path):
    for d, _, files in os.walk(tree):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)


class Host:
    """This machine's tshark (4.0), with a home."""

    def __init__(self, home):
        self.home = home

    def fields(self, pcap, fields, keylog=None):
        extra = ["-o", "tls.keylog_file:%s" % readable_copy(keylog)] if keylog else []
        return tshark_fields(pcap, fields, extra_args=extra, home=self.home, aggregator=AGG)


class InRoot:
    """A root's tshark, with a home inside the root."""

    def __init__(self, rt: roots.RootTshark, home):
        self.rt, self.home = rt, home

    def fields(self, pcap, fields, keylog=None):
        return self.rt.fields(self.home, pcap, fields, keylog, aggregator=AGG)


@pytest.fixture(scope="module", params=sorted(WIRESHARKS))
def wireshark(request):
    """(version, Debian root's RootTshark or None)."""
    suite = WIRESHARKS[request.param]
    if suite is None:
        yield request.param, None
        return
    try:
        rt = roots.RootTshark(roots.debian_root(suite), prefix="ftplens-ftps-")
    except (roots.RootUnavailable, OSError, subprocess.SubprocessError) as e:
        msg = f"no Debian {suite} root for Wireshark {request.param}: {e}"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    yield request.param, rt
    rt.cleanup()


def _host_home(kind):
    home = Path(tempfile.mkdtemp(prefix=f"ftplens-ftps-{kind}-"))
    env = dict(os.environ, HOME=str(home))
    targets = [["plugin"], ["install-plugin"]] if kind == "c" else [["install-lua"]]
    for t in targets:
        p = subprocess.run(["make"] + t, cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr[-3000:]
    _open_up(home)
    return home


@pytest.fixture(scope="module", params=["none", "c", "lua"])
def setup(request, wireshark):
    """tshark of that Wireshark with nothing, the C plugin, or the Lua fallback installed."""
    version, rt = wireshark
    kind = request.param
    if rt is None:
        home = Path(tempfile.mkdtemp(prefix="ftplens-ftps-none-")) if kind == "none" else _host_home(kind)
        os.chmod(home, 0o755)
        yield kind, version, Host(home)
        shutil.rmtree(home, ignore_errors=True)
        return
    home = rt.home(kind)
    if kind == "c":
        subprocess.run(["make", "plugin"], cwd=ROOT, check=True, capture_output=True)
        rt.build_c_plugin(home)
    elif kind == "lua":
        rt.install_lua(home)
    yield kind, version, InRoot(rt, home)


# ------------------------------------------------------------------------------------------ the tests

FIELDS = ["tcp.stream", "tcp.srcport", "tcp.dstport", "tls.handshake.certificate", "ftplens.request.command",
          "ftplens.tls.mechanism", "ftplens-data.command", "frame.protocols"]


def _hex(v):
    return v.replace(":", "").lower()


def _streams(rows):
    """tcp.stream -> (server port, [rows]); the server port is the one the client connected to (the first
    frame of each stream is its SYN)."""
    out = {}
    for r in rows:
        port = out[r["tcp.stream"]][0] if r["tcp.stream"] in out else int(r["tcp.dstport"])
        out.setdefault(r["tcp.stream"], (port, []))[1].append(r)
    return out


def test_the_certificate_is_in_every_connection(setup, ftps):
    """Without the keys: the control connection on 2221 and both data connections carry the server's
    certificate, as tshark finds it (with ftplens installed as without)."""
    kind, version, ts = setup
    cert = (ftps / "cert.der").read_bytes().hex()
    rows = ts.fields(ftps / "ftps.pcap", FIELDS if kind != "none" else [f for f in FIELDS if "ftplens" not in f])
    streams = _streams(rows)
    assert sorted(p for p, _ in streams.values()) == [PORT, PORT, PASV_PORT, PASV_PORT], streams.keys()
    for stream, (port, rs) in streams.items():
        certs = [_hex(r["tls.handshake.certificate"]).split(AGG) for r in rs if r["tls.handshake.certificate"]]
        assert any(cert in c for c in certs), f"{kind} under {version}: no certificate in stream {stream} ({port})"
    if kind != "none":
        commands = [r["ftplens.request.command"] for r in rows if r["ftplens.request.command"]]
        assert commands == ["AUTH"], commands  # the rest is inside TLS
        assert [r["ftplens.tls.mechanism"] for r in rows if r["ftplens.tls.mechanism"]] == ["SSL"]


def test_with_the_keys_the_decrypted_session_is_ftplens(setup, ftps):
    """With the key log: the commands are those vsftpd logged, in order, as ftplens fields, and the data
    connections are ftplens-data for the LIST and the RETR."""
    kind, version, ts = setup
    if kind == "none":
        pytest.skip("ftplens is not installed in this setup")
    logged = [c.split(" ")[0].upper() for c in json.loads((ftps / "commands.json").read_text())]
    assert logged[:2] == ["AUTH", "USER"] and "LIST" in logged and "RETR" in logged, logged
    rows = ts.fields(ftps / "ftps.pcap", FIELDS, keylog=ftps / "keys.log")
    commands = [c.upper() for r in rows for c in r["ftplens.request.command"].split(AGG) if c]
    assert commands == logged, f"{kind} under {version}"
    data = {s: {c for r in rs for c in r["ftplens-data.command"].split(AGG) if c}
            for s, (port, rs) in _streams(rows).items() if port == PASV_PORT}
    assert sorted(tuple(sorted(c)) for c in data.values()) == [("LIST",), ("RETR",)], data
    # the decrypted lines reach ftplens, never the protocol tls.port names for 2221 (EtherNet/IP)
    control = _streams(rows)[rows[0]["tcp.stream"]][1]
    assert not [r for r in control if "enip" in r["frame.protocols"].split(":")]


def test_another_tls_connection_on_the_port_is_not_ftp(setup, ftps):
    """The HTTP-in-TLS connection to port 2221 after the FTP session, with the keys: nothing of it is
    ftplens (the fallback's claim on 2221 in tls.port under 4.6 turns it away)."""
    kind, version, ts = setup
    if kind == "none":
        pytest.skip("ftplens is not installed in this setup")
    rows = ts.fields(ftps / "ftps.pcap", FIELDS + ["http.request.method"], keylog=ftps / "keys.log")
    last = max((s for s, (port, _) in _streams(rows).items() if port == PORT), key=int)
    other = _streams(rows)[last][1]
    assert any(r["tls.handshake.certificate"] for r in other)
    assert not [r for r in other if "ftplens" in r["frame.protocols"]], f"{kind} under {version}"
    assert not [r for r in other if r["ftplens.request.command"] or r["ftplens-data.command"]]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--make"]:
        _make(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit("usage: test_ftps_any_port.py --make DIR   (inside unshare -n)")
