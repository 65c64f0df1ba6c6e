#!/usr/bin/env python3
"""Real FTP captures: a real server, real clients, captured by tcpdump.

    python3 tests/captures/real.py OUTDIR [SCENARIO ...]
    python3 -m tests.captures.real OUTDIR [SCENARIO ...]

Writes OUTDIR/<scenario>.pcap for each scenario and OUTDIR/facts.json (schema in
tests/captures/README.md).  Exit status 0 when every scenario worked, 1 when a
scenario failed (its error is in facts.json), 2 when nothing could be run (for
example no permission to create a network namespace).

All traffic stays inside a private network namespace: the script re-executes
itself under `unshare -n` (so it needs root), brings its loopback up, and only
ever talks to 127.0.0.1 and ::1 there.  The servers are pyftpdlib (TLS through
pyOpenSSL) and vsftpd (skipped when not installed); the clients are curl, lftp
and Python's ftplib.  Needs: python3 with pyftpdlib (and pyOpenSSL for the TLS
scenarios), tcpdump, curl, lftp, openssl, iproute2 (ip, ss), util-linux (unshare).

The module is stdlib-only apart from pyftpdlib, which is imported only in the
server child process.
"""
from __future__ import annotations

import ftplib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ENV_INSIDE = "FTPLENS_CAPTURE_NETNS"

USER = "alice"
PASSWORD = "s3cret"
BANNER = "ftplens test server (pyftpdlib) ready."

# Files served by the server (name -> bytes).  Deterministic.
HELLO = b"".join(b"hello from the ftplens capture generator, line %d\n" % i for i in range(1, 11))
BIG = bytes((i * 7 + 3) & 0xFF for i in range(6000))
SUB = b"a file in a sub directory\n" * 4
APPE_START = b"log line 1\nlog line 2\n"
APPE_MORE = b"appended line 3\nappended line 4\n"
UPLOAD = b"".join(b"uploaded by the client, line %d\n" % i for i in range(1, 21))


def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _tool_version(cmd) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].strip() if out else cmd[0]
    except (OSError, subprocess.SubprocessError):
        return cmd[0]


# ---------------------------------------------------------------------------
# The server child process
# ---------------------------------------------------------------------------

def serve(cfg: dict) -> None:
    """Run a pyftpdlib server as described by cfg; print READY once listening."""
    import logging
    logging.basicConfig(level=logging.WARNING)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.servers import FTPServer
    if cfg.get("tls"):
        from pyftpdlib.handlers import TLS_FTPHandler as Base
    else:
        from pyftpdlib.handlers import FTPHandler as Base

    auth = DummyAuthorizer()
    auth.add_user(cfg["user"], cfg["password"], cfg["root"], perm="elradfmwMT")

    rewrite = cfg.get("reply_rewrite") or {}

    cmdlog = cfg.get("cmdlog")

    class Handler(Base):
        def pre_process_command(self, line, cmd, arg):
            if cmdlog:
                with open(cmdlog, "a") as f:
                    f.write(json.dumps(line) + "\n")
            return super().pre_process_command(line, cmd, arg)

        def respond(self, resp, *args, **kw):
            for old, new in rewrite.items():
                if resp.startswith(old):
                    resp = new + resp[len(old):]
            return super().respond(resp, *args, **kw)

    Handler.authorizer = auth
    Handler.banner = cfg.get("banner", BANNER)
    Handler.passive_ports = cfg.get("passive_ports")
    Handler.auth_failed_timeout = 0.05
    if cfg.get("tls"):
        Handler.certfile = cfg["cert"]
        Handler.keyfile = cfg["key"]
    server = FTPServer((cfg["host"], cfg["port"]), Handler)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    print("READY", flush=True)
    server.serve_forever(timeout=0.1)


class Server:
    def __init__(self, cfg: dict, prefix=(), wait: bool = True):
        self.cfg = cfg
        self.proc = subprocess.Popen(
            list(prefix) + [sys.executable, os.path.abspath(__file__), "--serve", json.dumps(cfg)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait for the child's READY line (it is listening)."""
        line = _readline_timeout(self.proc.stdout, 15)
        if line.strip() != "READY":
            self.stop()
            raise RuntimeError("server did not start: %r %s" % (line, self.proc.stderr.read()))

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stderr.read() if self.proc.stderr else ""


VSFTPD = shutil.which("vsftpd") or ("/usr/sbin/vsftpd" if os.path.exists("/usr/sbin/vsftpd")
                                    else None)


class VsftpdServer:
    """vsftpd in the foreground, anonymous only, logging the FTP protocol.

    Same interface as Server: the commands it received go to cfg["cmdlog"] (one
    JSON string per line) when it stops.
    """

    def __init__(self, cfg: dict):
        self.cfg = cfg
        d = os.path.dirname(cfg["root"])
        self.log = os.path.join(d, "vsftpd.log")
        empty = os.path.join(d, "empty")
        os.makedirs(empty, exist_ok=True)
        for p in (d, empty):
            os.chmod(p, 0o755)
        lo, hi = (cfg.get("passive_ports") or [0])[0], (cfg.get("passive_ports") or [0])[-1]
        conf = {
            "listen": "YES", "listen_ipv6": "NO", "listen_address": cfg["host"],
            "listen_port": cfg["port"], "background": "NO",
            "anonymous_enable": "YES", "local_enable": "NO", "write_enable": "NO",
            "anon_root": cfg["root"], "no_anon_password": "NO", "secure_chroot_dir": empty,
            "pasv_enable": "YES", "pasv_min_port": lo, "pasv_max_port": hi,
            "port_enable": "YES", "connect_from_port_20": "YES",
            "seccomp_sandbox": "NO", "isolate": "NO", "isolate_network": "NO",
            "xferlog_enable": "YES", "xferlog_std_format": "NO", "log_ftp_protocol": "YES",
            "dual_log_enable": "NO", "syslog_enable": "NO", "vsftpd_log_file": self.log,
            "ftpd_banner": "ftplens test server (vsftpd) ready.",
        }
        conf.update(cfg.get("vsftpd_conf") or {})
        self.conf = os.path.join(d, "vsftpd.conf")
        with open(self.conf, "w") as f:
            f.writelines("%s=%s\n" % kv for kv in conf.items())
        self.proc = subprocess.Popen([VSFTPD, self.conf], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:   # listening? (no probe connection: it
            out = subprocess.run(["ss", "-Hltn", "sport = :%d" % cfg["port"]],  # would be
                                 capture_output=True, text=True).stdout     # captured)
            if "LISTEN" in out:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        err = self.stop()
        raise RuntimeError("vsftpd did not start: %s" % err)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        cmds = []
        if os.path.exists(self.log):
            with open(self.log, errors="replace") as f:
                for line in f:
                    m = re.search(r'FTP command: Client "[^"]*", "(.*)"\s*$', line)
                    if m:
                        cmds.append(m.group(1))
        if self.cfg.get("cmdlog"):
            with open(self.cfg["cmdlog"], "w") as f:
                f.writelines(json.dumps(c) + "\n" for c in cmds)
        return err


def _readline_timeout(stream, timeout: float) -> str:
    box = []
    t = threading.Thread(target=lambda: box.append(stream.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else ""


# ---------------------------------------------------------------------------
# tcpdump
# ---------------------------------------------------------------------------

class Tcpdump:
    """tcpdump -U on an interface, started and stopped around one scenario."""

    def __init__(self, path: str, iface: str = "lo", bpf: str = "tcp", netns_cmd=(),
                 wait: bool = True):
        # A big kernel buffer (-B, KiB): with --immediate-mode every packet can retire a
        # ring block, and a descheduled tcpdump on a busy machine would drop packets.
        cmd = list(netns_cmd) + ["tcpdump", "-i", iface, "-U", "--immediate-mode",
                                 "-B", "65536", "-s", "0", "-w", path]
        if os.geteuid() == 0:
            cmd[len(netns_cmd) + 1:len(netns_cmd) + 1] = ["-Z", "root"]
        cmd += bpf.split() if bpf else []
        self.path = path
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        self.head = ""
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait until tcpdump is listening (its "listening on" line)."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            line = _readline_timeout(self.proc.stderr, max(0.1, deadline - time.monotonic()))
            self.head += line
            if "listening on" in line:
                break
            if not line and self.proc.poll() is not None:
                raise RuntimeError("tcpdump failed: " + self.head)
        else:
            self.proc.kill()
            raise RuntimeError("tcpdump did not start: " + self.head)

    def stop(self, settle: float = 0.25) -> int:
        """Stop tcpdump; return how many packets it says were dropped."""
        time.sleep(settle)
        self.proc.send_signal(signal.SIGINT)
        try:
            _, err = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        self.tail = err or ""
        dropped = 0
        for line in self.tail.splitlines():
            m = re.match(r"\s*(\d+) packets? dropped by (kernel|interface)", line)
            if m:
                dropped += int(m.group(1))
        return dropped


class CaptureIncomplete(RuntimeError):
    pass


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------

class Ctx:
    """What every scenario gets: output dir, work dir, tool versions, counters."""

    def __init__(self, outdir: str):
        self.outdir = outdir
        self.work = tempfile.mkdtemp(prefix="ftplens-real-")
        self.curl = _tool_version(["curl", "--version"]).split(" (")[0]
        self.lftp = _tool_version(["lftp", "--version"]).replace("LFTP | ", "lftp ").split(" | ")[0]
        self.ftplib = "python ftplib %d.%d.%d" % sys.version_info[:3]
        try:
            from importlib.metadata import version
            self.server_name = "pyftpdlib " + version("pyftpdlib")
        except Exception:  # pragma: no cover - metadata missing
            self.server_name = "pyftpdlib"
        self._pasv = 40000
        self._active = 50000
        self._cert = None

    def pasv_port(self) -> int:
        self._pasv += 1
        return self._pasv

    def active_port(self) -> int:
        self._active += 1
        return self._active

    def root(self, name: str) -> str:
        """A fresh served directory with the standard files."""
        r = os.path.join(self.work, name, "root")
        os.makedirs(os.path.join(r, "sub", "dir"))
        for fname, content in (("hello.txt", HELLO), ("big.bin", BIG), ("log.txt", APPE_START)):
            with open(os.path.join(r, fname), "wb") as f:
                f.write(content)
        with open(os.path.join(r, "sub", "dir", "file.txt"), "wb") as f:
            f.write(SUB)
        return r

    def cert(self):
        if self._cert is None:
            d = os.path.join(self.work, "tls")
            os.makedirs(d, exist_ok=True)
            cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                           check=True, capture_output=True, timeout=60)
            self._cert = (cert, key)
        return self._cert


SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def base_facts(name, description, client, server_name, host, port):
    return {
        "name": name,
        "pcap": name + ".pcap",
        "origin": "real",
        "description": description,
        "server": server_name,
        "client": client,
        "ip_version": 6 if ":" in host else 4,
        "control": {"client_ip": host, "client_port": None, "server_ip": host,
                    "server_port": port},
        "user": USER,
        "password": PASSWORD,
        "login_ok": True,
        "failed_logins": 0,
        "commands": [],
        "modes": [],
        "tls": False,
        "files": {},
        "transfers": [],
        "anomalies": [],
        "decode_as": [] if port == 21 else ["tcp.port==%d,ftp" % port],
    }


def transfer(command, fname, mode, wire, *, direction="download", offset=0, adv_ip=None,
             adv_port=None, host="127.0.0.1", client_port=None, server_port=None, path=None):
    passive = mode in ("PASV", "EPSV", "LPSV")
    return {
        "command": command,
        "file": fname,
        "path": path,
        "direction": direction,
        "mode": mode,
        "offset": offset,
        "size": len(wire),
        "sha256": sha256(wire),
        "advertised": {"ip": adv_ip, "port": adv_port},
        "data": {"client_ip": host, "client_port": client_port if not passive else None,
                 "server_ip": host, "server_port": adv_port if passive else server_port},
        "initiator": "client" if passive else "server",
    }


def file_facts(**files):
    return {k.replace("__", "/").replace("_dot_", "."): {"size": len(v), "sha256": sha256(v)}
            for k, v in files.items()}


def _url(host, port, path=""):
    h = "[%s]" % host if ":" in host else host
    return "ftp://%s:%d/%s" % (h, port, path)


def run_scenario(ctx: Ctx, fn) -> dict:
    """Start server and tcpdump, run fn's client, stop both, return the facts."""
    spec = fn(ctx)   # dict: facts, server cfg extras, client callable
    facts = spec["facts"]
    pcap = os.path.join(ctx.outdir, facts["pcap"])
    cfg = {"host": facts["control"]["server_ip"], "port": facts["control"]["server_port"],
           "root": spec["root"], "user": USER, "password": PASSWORD,
           "passive_ports": spec.get("passive_ports")}
    cfg.update(spec.get("server", {}))
    cfg["cmdlog"] = os.path.join(ctx.work, facts["name"], "commands.log")
    server = None
    vsftpd = cfg.get("kind") == "vsftpd"
    if not vsftpd:   # start both at once; the server's start sends no packet
        server = Server(cfg, wait=False)
    try:
        dump = Tcpdump(pcap)
    except BaseException:
        if server:
            server.stop()
        raise
    try:
        if vsftpd:
            server = VsftpdServer(cfg)
        else:
            server.ready()
        spec["client"]()
        if "check" in spec:
            spec["check"]()
    finally:
        dropped = dump.stop()
        err = server.stop() if server else ""
    if dropped:
        raise CaptureIncomplete("tcpdump dropped %d packets: %s" % (dropped, dump.tail.strip()))
    facts["pcap_size"] = os.path.getsize(pcap)
    # The commands as the server received them, in order (an independent record).
    with open(cfg["cmdlog"]) as f:
        lines = [json.loads(line) for line in f]
    seen = [line.split(" ", 1)[0] for line in lines]
    want = facts["commands"]
    if not _is_subsequence([c.upper() for c in want], [c.upper() for c in seen]):
        raise RuntimeError("%s: expected commands %s in order, the server saw %s"
                           % (facts["name"], want, seen))
    facts["server_commands"] = seen
    if facts["tls"]:
        # Only the commands up to AUTH are visible in clear on the wire.
        upto = [c.upper() for c in seen].index("AUTH") + 1
        facts["commands"] = seen[:upto]
        facts["tls_command"] = lines[upto - 1]
    else:
        facts["commands"] = seen
    if err.strip():
        facts["server_log"] = err.strip().splitlines()[-20:]
    return facts


def _is_subsequence(want, seen) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in want)


def _run(cmd, ok_codes=(0,), timeout=30, **kw):
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, **kw)
    if p.returncode not in ok_codes:
        raise RuntimeError("%s exited %d: %s" % (" ".join(cmd), p.returncode,
                                                 p.stderr.decode(errors="replace")[-2000:]))
    return p


def _curl(*args, ok_codes=(0,)):
    return _run(["curl", "-sS", "--max-time", "20", "-u", "%s:%s" % (USER, PASSWORD)]
                + list(args), ok_codes=ok_codes)


def _crlf(text: bytes) -> bytes:
    """curl turns CRLF into LF for TYPE A listings; the wire (pyftpdlib) has CRLF."""
    return text if b"\r\n" in text else text.replace(b"\n", b"\r\n")


def _expect(got: bytes, want: bytes, what: str):
    if got != want:
        raise RuntimeError("%s: got %d bytes (sha256 %s), want %d bytes (sha256 %s)"
                           % (what, len(got), sha256(got), len(want), sha256(want)))


def _curl_retr(ctx, name, desc, mode, curl_args, host="127.0.0.1"):
    port = 21
    f = base_facts(name, desc, ctx.curl, ctx.server_name, host, port)
    root = ctx.root(name)
    out = os.path.join(ctx.work, name, "out")
    spec = {"facts": f, "root": root}
    if mode in ("PASV", "EPSV"):
        dport = ctx.pasv_port()
        spec["passive_ports"] = [dport]
        adv_ip = host if mode == "PASV" else None
        f["transfers"].append(transfer("RETR", "hello.txt", mode, HELLO, adv_ip=adv_ip,
                                       adv_port=dport, host=host, path="/hello.txt"))
    else:
        dport = ctx.active_port()
        bracket = "[%s]" % host if ":" in host else host
        curl_args = ["-P", "%s:%d-%d" % (bracket, dport, dport)] + curl_args
        f["transfers"].append(transfer("RETR", "hello.txt", mode, HELLO, adv_ip=host,
                                       adv_port=dport, host=host, client_port=dport,
                                       path="/hello.txt"))
    f["modes"] = [mode]
    f["commands"] = ["USER", "PASS", mode, "RETR", "QUIT"]
    f["files"] = {"hello.txt": {"size": len(HELLO), "sha256": sha256(HELLO)}}
    spec["client"] = lambda: _curl(*curl_args, "-o", out, _url(host, port, "hello.txt"))
    spec["check"] = lambda: _expect(open(out, "rb").read(), HELLO, name)
    return spec


@scenario
def pasv_retr_curl(ctx):
    return _curl_retr(ctx, "pasv_retr_curl", "curl --disable-epsv: PASV then RETR hello.txt",
                      "PASV", ["--disable-epsv"])


@scenario
def epsv_retr_curl(ctx):
    return _curl_retr(ctx, "epsv_retr_curl", "curl (EPSV by default) then RETR hello.txt",
                      "EPSV", [])


@scenario
def port_retr_curl(ctx):
    return _curl_retr(ctx, "port_retr_curl",
                      "curl -P --disable-eprt: active PORT; pyftpdlib connects from an "
                      "ephemeral port (not 20)", "PORT", ["--disable-eprt"])


@scenario
def eprt_retr_curl(ctx):
    return _curl_retr(ctx, "eprt_retr_curl", "curl -P: active EPRT |1|; server data from an "
                      "ephemeral port", "EPRT", [])


@scenario
def epsv_retr_ipv6_curl(ctx):
    return _curl_retr(ctx, "epsv_retr_ipv6_curl", "curl over IPv6 (::1): EPSV then RETR",
                      "EPSV", [], host="::1")


@scenario
def eprt_retr_ipv6_curl(ctx):
    return _curl_retr(ctx, "eprt_retr_ipv6_curl", "curl -P over IPv6 (::1): EPRT |2| then RETR",
                      "EPRT", [], host="::1")


def _ftplib_spec(ctx, name, desc, host, port, body, passive=True, pasv_port=True, tls=False):
    """A scenario whose client is ftplib; body(ftp, facts) runs after login."""
    f = base_facts(name, desc, ctx.ftplib, ctx.server_name, host, port)
    spec = {"facts": f, "root": ctx.root(name)}
    if pasv_port:
        spec["dport"] = ctx.pasv_port()
        spec["passive_ports"] = [spec["dport"]]
    if tls:
        cert, key = ctx.cert()
        spec["server"] = {"tls": True, "cert": cert, "key": key}

    def client():
        base = ftplib.FTP_TLS if tls else ftplib.FTP

        class cls(base):
            def makeport(self):
                sock = super().makeport()
                spec["active_port"] = sock.getsockname()[1]
                return sock
        kw = {}
        if tls:
            import ssl
            sc = ssl.create_default_context()
            sc.check_hostname = False
            sc.verify_mode = ssl.CERT_NONE
            kw["context"] = sc
        ftp = cls(**kw)
        ftp.connect(host, port, timeout=20)
        f["control"]["client_port"] = ftp.sock.getsockname()[1]
        if tls:
            ftp.auth()
        ftp.login(USER, PASSWORD)
        if tls:
            ftp.prot_p()
        ftp.set_pasv(passive)
        body(ftp, f, spec)
        ftp.quit()
    spec["client"] = client
    return spec


@scenario
def pasv_retr_ftplib(ctx):
    def body(ftp, f, spec):
        buf = bytearray()
        ftp.retrbinary("RETR hello.txt", buf.extend)
        _expect(bytes(buf), HELLO, "pasv_retr_ftplib")
        f["transfers"].append(transfer("RETR", "hello.txt", "PASV", HELLO, adv_ip="127.0.0.1",
                                       adv_port=spec["dport"], path="/hello.txt"))
    spec = _ftplib_spec(ctx, "pasv_retr_ftplib", "ftplib: TYPE I, PASV, RETR hello.txt",
                        "127.0.0.1", 21, body)
    f = spec["facts"]
    f.update(modes=["PASV"], commands=["USER", "PASS", "TYPE", "PASV", "RETR", "QUIT"],
             files=file_facts(hello_dot_txt=HELLO))
    return spec


@scenario
def port_retr_ftplib(ctx):
    def body(ftp, f, spec):
        buf = bytearray()
        ftp.retrbinary("RETR big.bin", buf.extend)
        _expect(bytes(buf), BIG, "port_retr_ftplib")
        f["transfers"].append(transfer("RETR", "big.bin", "PORT", BIG, adv_ip="127.0.0.1",
                                       adv_port=spec["active_port"],
                                       client_port=spec["active_port"], path="/big.bin"))
    spec = _ftplib_spec(ctx, "port_retr_ftplib", "ftplib active: PORT, RETR big.bin (6000 "
                        "bytes); server connects from an ephemeral port", "127.0.0.1", 21, body,
                        passive=False, pasv_port=False)
    spec["facts"].update(modes=["PORT"], commands=["USER", "PASS", "TYPE", "PORT", "RETR", "QUIT"],
                         files=file_facts(big_dot_bin=BIG))
    return spec


@scenario
def eprt_retr_ipv6_ftplib(ctx):
    def body(ftp, f, spec):
        buf = bytearray()
        ftp.retrbinary("RETR hello.txt", buf.extend)
        _expect(bytes(buf), HELLO, "eprt_retr_ipv6_ftplib")
        f["transfers"].append(transfer("RETR", "hello.txt", "EPRT", HELLO, adv_ip="::1",
                                       adv_port=spec["active_port"],
                                       client_port=spec["active_port"], host="::1",
                                       path="/hello.txt"))
    spec = _ftplib_spec(ctx, "eprt_retr_ipv6_ftplib", "ftplib active over IPv6: EPRT |2|::1|, "
                        "RETR hello.txt", "::1", 21, body, passive=False, pasv_port=False)
    spec["facts"].update(modes=["EPRT"], commands=["USER", "PASS", "TYPE", "EPRT", "RETR", "QUIT"],
                         files=file_facts(hello_dot_txt=HELLO))
    return spec


@scenario
def rest_retr_ftplib(ctx):
    off = 1000

    def body(ftp, f, spec):
        buf = bytearray()
        ftp.retrbinary("RETR big.bin", buf.extend, rest=off)
        _expect(bytes(buf), BIG[off:], "rest_retr_ftplib")
        f["transfers"].append(transfer("RETR", "big.bin", "PASV", BIG[off:], offset=off,
                                       adv_ip="127.0.0.1", adv_port=spec["dport"],
                                       path="/big.bin"))
    spec = _ftplib_spec(ctx, "rest_retr_ftplib", "ftplib: TYPE I, PASV, REST 1000, RETR big.bin "
                        "(resume)", "127.0.0.1", 21, body)
    spec["facts"].update(modes=["PASV"],
                         commands=["USER", "PASS", "TYPE", "PASV", "REST", "RETR", "QUIT"],
                         files=file_facts(big_dot_bin=BIG))
    return spec


@scenario
def rest_retr_curl(ctx):
    name, off = "rest_retr_curl", 2500
    f = base_facts(name, "curl -C 2500: PASV, REST 2500, RETR big.bin", ctx.curl,
                   ctx.server_name, "127.0.0.1", 21)
    dport = ctx.pasv_port()
    out = os.path.join(ctx.work, name + ".out")
    f.update(modes=["PASV"], commands=["USER", "PASS", "PASV", "REST", "RETR", "QUIT"],
             files=file_facts(big_dot_bin=BIG))
    f["transfers"].append(transfer("RETR", "big.bin", "PASV", BIG[off:], offset=off,
                                   adv_ip="127.0.0.1", adv_port=dport, path="/big.bin"))
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport],
            "client": lambda: _curl("--disable-epsv", "-C", str(off), "-o", out,
                                    _url("127.0.0.1", 21, "big.bin")),
            "check": lambda: _expect(open(out, "rb").read(), BIG[off:], name)}


@scenario
def stor_curl(ctx):
    name = "stor_curl"
    f = base_facts(name, "curl -T: PASV, STOR upload.txt", ctx.curl, ctx.server_name,
                   "127.0.0.1", 21)
    dport = ctx.pasv_port()
    root = ctx.root(name)
    src = os.path.join(ctx.work, "upload.txt")
    with open(src, "wb") as fh:
        fh.write(UPLOAD)
    f.update(modes=["PASV"], commands=["USER", "PASS", "PASV", "STOR", "QUIT"],
             files=file_facts(upload_dot_txt=UPLOAD))
    f["transfers"].append(transfer("STOR", "upload.txt", "PASV", UPLOAD, direction="upload",
                                   adv_ip="127.0.0.1", adv_port=dport, path="/upload.txt"))
    return {"facts": f, "root": root, "passive_ports": [dport],
            "client": lambda: _curl("--disable-epsv", "-T", src, _url("127.0.0.1", 21,
                                                                       "upload.txt")),
            "check": lambda: _expect(open(os.path.join(root, "upload.txt"), "rb").read(),
                                     UPLOAD, name)}


@scenario
def appe_curl(ctx):
    name = "appe_curl"
    f = base_facts(name, "curl -T --append: PASV, APPE log.txt (server file grows)", ctx.curl,
                   ctx.server_name, "127.0.0.1", 21)
    dport = ctx.pasv_port()
    root = ctx.root(name)
    src = os.path.join(ctx.work, "more.txt")
    with open(src, "wb") as fh:
        fh.write(APPE_MORE)
    f.update(modes=["PASV"], commands=["USER", "PASS", "PASV", "APPE", "QUIT"],
             files=file_facts(log_dot_txt=APPE_START + APPE_MORE))
    f["transfers"].append(transfer("APPE", "log.txt", "PASV", APPE_MORE, direction="upload",
                                   adv_ip="127.0.0.1", adv_port=dport, path="/log.txt"))
    return {"facts": f, "root": root, "passive_ports": [dport],
            "client": lambda: _curl("--disable-epsv", "--append", "-T", src,
                                    _url("127.0.0.1", 21, "log.txt")),
            "check": lambda: _expect(open(os.path.join(root, "log.txt"), "rb").read(),
                                     APPE_START + APPE_MORE, name)}


@scenario
def cwd_retr_curl(ctx):
    name = "cwd_retr_curl"
    f = base_facts(name, "curl ftp://host/sub/dir/file.txt: CWD sub, CWD dir, EPSV, RETR file.txt",
                   ctx.curl, ctx.server_name, "127.0.0.1", 21)
    dport = ctx.pasv_port()
    out = os.path.join(ctx.work, name + ".out")
    f.update(modes=["EPSV"], commands=["USER", "PASS", "CWD", "CWD", "EPSV", "RETR", "QUIT"],
             files=file_facts(sub__dir__file_dot_txt=SUB))
    f["transfers"].append(transfer("RETR", "file.txt", "EPSV", SUB, adv_port=dport,
                                   path="/sub/dir/file.txt"))
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport],
            "client": lambda: _curl("-o", out, _url("127.0.0.1", 21, "sub/dir/file.txt")),
            "check": lambda: _expect(open(out, "rb").read(), SUB, name)}


@scenario
def login_failed_curl(ctx):
    name = "login_failed_curl"
    f = base_facts(name, "curl with a wrong password: USER, PASS, 530, no transfer", ctx.curl,
                   ctx.server_name, "127.0.0.1", 21)
    f.update(password="wrong-password", login_ok=False, failed_logins=1,
             commands=["USER", "PASS"])
    f["real_password"] = PASSWORD
    return {"facts": f, "root": ctx.root(name),
            # curl exits 67 (login denied)
            "client": lambda: _run(["curl", "-sS", "--max-time", "20", "-u",
                                    USER + ":wrong-password", "-o", os.devnull,
                                    _url("127.0.0.1", 21, "hello.txt")], ok_codes=(67,))}


@scenario
def auth_tls_curl(ctx):
    name = "auth_tls_curl"
    f = base_facts(name, "curl --ssl-reqd -k: AUTH (SSL or TLS), 234, then everything encrypted "
                   "(control and data, PROT P)", ctx.curl, ctx.server_name, "127.0.0.1", 21)
    cert, key = ctx.cert()
    dport = ctx.pasv_port()
    out = os.path.join(ctx.work, name + ".out")
    f.update(tls=True, commands=["AUTH"], files=file_facts(hello_dot_txt=HELLO))
    # The transfer happens but is invisible: nothing in clear names it.
    f["encrypted_transfers"] = [transfer("RETR", "hello.txt", "EPSV", HELLO, adv_port=dport,
                                         path="/hello.txt")]
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport],
            "server": {"tls": True, "cert": cert, "key": key},
            "client": lambda: _curl("--ssl-reqd", "-k", "-o", out,
                                    _url("127.0.0.1", 21, "hello.txt")),
            "check": lambda: _expect(open(out, "rb").read(), HELLO, name)}


@scenario
def auth_tls_ftplib(ctx):
    def body(ftp, f, spec):
        buf = bytearray()
        ftp.retrbinary("RETR hello.txt", buf.extend)
        _expect(bytes(buf), HELLO, "auth_tls_ftplib")
        f["encrypted_transfers"] = [transfer("RETR", "hello.txt", "PASV", HELLO,
                                             adv_ip="127.0.0.1", adv_port=spec["dport"],
                                             path="/hello.txt")]
    spec = _ftplib_spec(ctx, "auth_tls_ftplib", "ftplib FTP_TLS: AUTH TLS, 234, then encrypted "
                        "USER/PASS/PBSZ/PROT P/PASV/RETR", "127.0.0.1", 21, body, tls=True)
    spec["facts"].update(tls=True, commands=["AUTH"], files=file_facts(hello_dot_txt=HELLO))
    return spec


@scenario
def port2121_curl(ctx):
    name = "port2121_curl"
    f = base_facts(name, "control on port 2121: curl --disable-epsv PASV RETR hello.txt",
                   ctx.curl, ctx.server_name, "127.0.0.1", 2121)
    dport = ctx.pasv_port()
    out = os.path.join(ctx.work, name + ".out")
    f.update(modes=["PASV"], commands=["USER", "PASS", "PASV", "RETR", "QUIT"],
             files=file_facts(hello_dot_txt=HELLO))
    f["transfers"].append(transfer("RETR", "hello.txt", "PASV", HELLO, adv_ip="127.0.0.1",
                                   adv_port=dport, path="/hello.txt"))
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport],
            "client": lambda: _curl("--disable-epsv", "-o", out,
                                    _url("127.0.0.1", 2121, "hello.txt")),
            "check": lambda: _expect(open(out, "rb").read(), HELLO, name)}


@scenario
def list_nlst_curl(ctx):
    name = "list_nlst_curl"
    f = base_facts(name, "curl: LIST of / then NLST of / (two sessions, EPSV)", ctx.curl,
                   ctx.server_name, "127.0.0.1", 21)
    dport = ctx.pasv_port()
    outs = [os.path.join(ctx.work, name + ".list"), os.path.join(ctx.work, name + ".nlst")]
    f.update(modes=["EPSV"], commands=["USER", "PASS", "EPSV", "LIST", "QUIT", "USER", "PASS",
                                       "EPSV", "NLST", "QUIT"])

    def client():
        _curl("-o", outs[0], _url("127.0.0.1", 21, ""))
        _curl("-l", "-o", outs[1], _url("127.0.0.1", 21, ""))

    def check():
        listing, names = (_crlf(open(p, "rb").read()) for p in outs)
        if b"hello.txt" not in listing or sorted(names.split()) != sorted(
                [b"big.bin", b"hello.txt", b"log.txt", b"sub"]):
            raise RuntimeError("unexpected listings %r %r" % (listing, names))
        f["transfers"][:] = [
            transfer("LIST", None, "EPSV", listing, direction="listing", adv_port=dport, path="/"),
            transfer("NLST", None, "EPSV", names, direction="listing", adv_port=dport, path="/")]
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport],
            "client": client, "check": check}


@scenario
def list_nlst_lftp(ctx):
    name = "list_nlst_lftp"
    f = base_facts(name, "lftp: ls (LIST) and nlist (NLST) with PASV, then get hello.txt",
                   ctx.lftp, ctx.server_name, "127.0.0.1", 21)
    dport = ctx.pasv_port()
    out = os.path.join(ctx.work, name + ".out")
    f.update(modes=["PASV"], commands=["USER", "PASS", "PASV", "LIST", "PASV", "NLST", "PASV",
                                       "RETR", "QUIT"], files=file_facts(hello_dot_txt=HELLO))
    # lftp reformats listings, so their bytes are not recorded (size/sha256 null).
    for cmd in ("LIST", "NLST"):
        t = transfer(cmd, None, "PASV", b"", direction="listing", adv_ip="127.0.0.1",
                     adv_port=dport, path="/")
        t.update(size=None, sha256=None)
        f["transfers"].append(t)
    f["transfers"].append(transfer("RETR", "hello.txt", "PASV", HELLO, adv_ip="127.0.0.1",
                                   adv_port=dport, path="/hello.txt"))
    script = ("set ftp:ssl-allow no; set ftp:passive-mode on; set ftp:prefer-epsv no; "
              "set net:max-retries 1; set net:timeout 10; set cmd:fail-exit yes; "
              "set xfer:clobber yes; ls; nlist; get hello.txt -o %s; bye" % out)

    def client():
        p = _run(["lftp", "-u", "%s,%s" % (USER, PASSWORD), "-p", "21", "-e", script,
                  "127.0.0.1"], timeout=30, stdin=subprocess.DEVNULL)
        f["client_stdout"] = p.stdout.decode(errors="replace").splitlines()
    return {"facts": f, "root": ctx.root(name), "passive_ports": [dport], "client": client,
            "check": lambda: _expect(open(out, "rb").read(), HELLO, name)}


class SkipScenario(Exception):
    """The scenario cannot run here (a server is not installed); recorded in "skipped"."""


ANON_USER, ANON_PASSWORD = "anonymous", "guest@example.org"


def _vsftpd_spec(ctx, name, desc, mode, curl_args, path="hello.txt", command="RETR"):
    if VSFTPD is None:
        raise SkipScenario("vsftpd is not installed (apt-get install vsftpd)")
    version = _tool_version(["dpkg-query", "-W", "-f=${Version}\\n", "vsftpd"]).split("-")[0]
    f = base_facts(name, desc, ctx.curl, "vsftpd " + version, "127.0.0.1", 21)
    f.update(user=ANON_USER, password=ANON_PASSWORD, modes=[mode])
    root = ctx.root(name)
    out = os.path.join(ctx.work, name + ".out")
    spec = {"facts": f, "root": root, "server": {"kind": "vsftpd"}}
    if mode in ("PASV", "EPSV"):
        dport = ctx.pasv_port()
        spec["passive_ports"] = [dport]
        adv = ("127.0.0.1" if mode == "PASV" else None, dport)
        client_port = None
    else:
        dport = ctx.active_port()
        spec["passive_ports"] = [ctx.pasv_port()]
        curl_args = ["-P", "127.0.0.1:%d-%d" % (dport, dport)] + curl_args
        adv = ("127.0.0.1", dport)
        client_port = dport
    # vsftpd's active data connections come from port 20 (connect_from_port_20=YES)
    server_port = None if mode in ("PASV", "EPSV") else 20
    f["commands"] = ["USER", "PASS", mode, command, "QUIT"]
    if command == "RETR":
        f["files"] = file_facts(hello_dot_txt=HELLO)
        f["transfers"].append(transfer("RETR", path, mode, HELLO, adv_ip=adv[0], adv_port=adv[1],
                                       client_port=client_port, server_port=server_port,
                                       path="/" + path))
        spec["check"] = lambda: _expect(open(out, "rb").read(), HELLO, name)
    else:
        def check():
            listing = _crlf(open(out, "rb").read())
            if b"hello.txt" not in listing:
                raise RuntimeError("unexpected listing %r" % listing)
            f["transfers"][:] = [transfer(command, None, mode, listing, direction="listing",
                                          adv_ip=adv[0], adv_port=adv[1], path="/")]
        spec["check"] = check
    url = _url("127.0.0.1", 21, path if command == "RETR" else "")
    spec["client"] = lambda: _run(["curl", "-sS", "--max-time", "20", "-u",
                                   "%s:%s" % (ANON_USER, ANON_PASSWORD)] + curl_args
                                  + ["-o", out, url])
    return spec


@scenario
def vsftpd_pasv_retr_curl(ctx):
    return _vsftpd_spec(ctx, "vsftpd_pasv_retr_curl", "vsftpd, anonymous: curl --disable-epsv "
                        "PASV, RETR hello.txt", "PASV", ["--disable-epsv"])


@scenario
def vsftpd_port_retr_curl(ctx):
    return _vsftpd_spec(ctx, "vsftpd_port_retr_curl", "vsftpd, anonymous: curl -P PORT, RETR "
                        "hello.txt; vsftpd connects from port 20", "PORT", ["--disable-eprt"])


@scenario
def vsftpd_epsv_list_curl(ctx):
    return _vsftpd_spec(ctx, "vsftpd_epsv_list_curl", "vsftpd, anonymous: curl EPSV, LIST /",
                        "EPSV", [], command="LIST")


# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------

def in_private_netns() -> bool:
    return os.environ.get(ENV_INSIDE) == "1"


def setup_loopback() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True, capture_output=True)


def run_all(outdir: str, names=None, scenarios=None) -> dict:
    """Run the scenarios (all, or those named) here; the caller must already be
    inside a private network namespace.  Writes pcaps + facts.json."""
    os.makedirs(outdir, exist_ok=True)
    ctx = Ctx(outdir)
    caps, errors, skipped = [], [], []
    t0 = time.monotonic()
    try:
        for fn in scenarios or SCENARIOS:
            if names and fn.__name__ not in names:
                continue
            t = time.monotonic()
            for attempt in range(1, 4):
                try:
                    facts = run_scenario(ctx, fn)
                    facts["seconds"] = round(time.monotonic() - t, 3)
                    facts["attempts"] = attempt
                    caps.append(facts)
                    break
                except SkipScenario as e:
                    skipped.append({"name": fn.__name__, "reason": str(e)})
                    break
                except CaptureIncomplete as e:   # a busy machine: try again
                    if attempt == 3:
                        errors.append({"name": fn.__name__, "error": str(e), "traceback": []})
                    shutil.rmtree(os.path.join(ctx.work, fn.__name__), ignore_errors=True)
                except Exception as e:  # keep going; report at the end
                    errors.append({"name": fn.__name__,
                                   "error": "%s: %s" % (type(e).__name__, e),
                                   "traceback": traceback.format_exc().splitlines()[-8:]})
                    break
    finally:
        shutil.rmtree(ctx.work, ignore_errors=True)
    facts = {"schema": 1, "generator": "tests/captures/real.py", "captures": caps,
             "errors": errors, "skipped": skipped, "seconds": round(time.monotonic() - t0, 3)}
    with open(os.path.join(outdir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
        f.write("\n")
    return facts


def unshare_prefix():
    """The command prefix that gives a child its own network namespace.

    Root only: in a user namespace (`unshare -rn`) Debian's tcpdump cannot drop
    privileges to its "tcpdump" user and refuses to capture, and vsftpd cannot
    switch to "ftp".
    """
    if os.geteuid() != 0:
        raise RuntimeError("real captures need root (unshare -n, and tcpdump's privilege drop "
                           "does not work inside a user namespace)")
    return ["unshare", "-n", "--"]


def generate(outdir: str, names=None, timeout: float = 300, script=None) -> dict:
    """Run all scenarios in a fresh network namespace; return facts.json's content.

    Raises RuntimeError (with the reason) when the namespace cannot be made or
    the run breaks down; per-scenario failures are in the result's "errors".
    """
    prefix = unshare_prefix()
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    # script: the generator to run (this file, or one that runs its own scenarios through it)
    cmd = prefix + [sys.executable, os.path.abspath(script or __file__), outdir] + list(names or [])
    env = dict(os.environ, **{ENV_INSIDE: "1"})
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    path = os.path.join(outdir, "facts.json")
    if p.returncode not in (0, 1) or not os.path.exists(path):
        raise RuntimeError("real captures failed (exit %d): %s%s"
                           % (p.returncode, p.stdout[-2000:], p.stderr[-3000:]))
    with open(path) as f:
        return json.load(f)


def main(argv=None, scenarios=None, script=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        serve(json.loads(argv[1]))
        return 0
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        print("scenarios:", " ".join(fn.__name__ for fn in scenarios or SCENARIOS),
              file=sys.stderr)
        return 2
    outdir, names = argv[0], argv[1:]
    if not in_private_netns():
        try:
            facts = generate(outdir, names, script=script)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            print("error: %s" % e, file=sys.stderr)
            return 2
    else:
        setup_loopback()
        facts = run_all(outdir, names, scenarios)
    for c in facts["captures"]:
        print("%-24s %6d bytes %5.2fs  %s" % (c["name"], c["pcap_size"], c["seconds"],
                                             c["description"]))
    for e in facts.get("skipped", []):
        print("skipped %s: %s" % (e["name"], e["reason"]), file=sys.stderr)
    for e in facts["errors"]:
        print("FAILED %s: %s" % (e["name"], e["error"]), file=sys.stderr)
    print("%d captures, %d failed, %.1fs -> %s" % (len(facts["captures"]), len(facts["errors"]),
                                                   facts["seconds"], os.path.abspath(outdir)))
    return 1 if facts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
