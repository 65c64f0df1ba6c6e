"""FTPS captures for tests/test_cli_tls.py, made as root inside a private network namespace (the
script re-executes itself under `unshare -n`): a real pyftpdlib TLS server (pyOpenSSL) and Python's
ftplib.FTP_TLS client over loopback, captured by tcpdump. Each scenario records, from the client's
side of the TLS connection, what ftplens must find without decrypting anything: the negotiated
version and cipher suite, the name sent as SNI, and the certificate file the server used.

usage: ftps_session.py OUTDIR
Writes OUTDIR/<scenario>.pcap, OUTDIR/cert.pem and OUTDIR/facts.json.

Scenarios:
  tls12   AUTH TLS (TLS 1.2, one pinned suite), PBSZ 0, PROT P, passive RETR, active RETR
  tls13   the same over TLS 1.3 (the certificate is encrypted in the handshake)
  refused AUTH TLS to a server without TLS (500), then a clear session with a passive RETR
"""
from __future__ import annotations

import ftplib
import io
import json
import os
import ssl
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real  # noqa: E402  (the pyftpdlib server child and the tcpdump wrapper)
from netns_session import reexec_in_netns, retr_passive_then_active, served_root  # noqa: E402

INSIDE = "FTPLENS_FTPS_NETNS"
# OpenSSL's name for the pinned TLS 1.2 suite; its IANA name (RFC 5289) is the fact to find.
TLS12_SUITE = "ECDHE-ECDSA-AES128-GCM-SHA256"
TLS12_SUITE_IANA = "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"


def context(version: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if version == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(TLS12_SUITE)
    else:
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
    return ctx


def server(root, cert, key, tls=True):
    cfg = {"user": real.USER, "password": real.PASSWORD, "root": root, "host": "127.0.0.1",
           "port": 21, "passive_ports": [40000, 40001]}
    if tls:
        cfg.update(tls=True, cert=cert, key=key)
    return real.Server(cfg)


def tls_session(version: str, root, cert, key) -> dict:
    srv = server(root, cert, key)
    try:
        # "localhost": Python sends no SNI for an address, so connect by name.
        ftp = ftplib.FTP_TLS(context=context(version), timeout=10)
        ftp.connect("localhost", 21)
        ftp.auth()
        control = {"version": ftp.sock.version(), "cipher": ftp.sock.cipher()[0]}
        ftp.login(real.USER, real.PASSWORD)
        ftp.prot_p()
        retr_passive_then_active(ftp)
        ftp.quit()
    finally:
        srv.stop()
    return {"control": control, "sni": "localhost", "data_connections": 2}


def refused(root, cert, key) -> dict:
    srv = server(root, cert, key, tls=False)
    try:
        ftp = ftplib.FTP_TLS(context=context("1.2"), timeout=10)
        ftp.connect("localhost", 21)
        try:
            ftp.auth()
            raise RuntimeError("a server without TLS accepted AUTH TLS")
        except ftplib.error_perm as e:
            reply = str(e)
        ftp.login(real.USER, real.PASSWORD, secure=False)
        got = io.BytesIO()
        ftp.retrbinary("RETR hello.txt", got.write)
        assert got.getvalue() == real.HELLO
        ftp.quit()
    finally:
        srv.stop()
    return {"auth_reply": reply[:3]}


def main() -> int:
    outdir = os.path.abspath(sys.argv[1])
    rc = reexec_in_netns(__file__, [outdir], INSIDE)
    if rc is not None:
        return rc
    root = served_root(outdir)
    cert, key = os.path.join(outdir, "cert.pem"), os.path.join(outdir, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", "/CN=localhost/O=ftplens tests"],
                   check=True, capture_output=True, timeout=60)
    facts = {}
    scenarios = {
        "tls12": lambda: tls_session("1.2", root, cert, key),
        "tls13": lambda: tls_session("1.3", root, cert, key),
        "refused": lambda: refused(root, cert, key),
    }
    for name, run in scenarios.items():
        pcap = os.path.join(outdir, name + ".pcap")
        dump = real.Tcpdump(pcap, iface="lo", bpf="tcp")
        try:
            facts[name] = run()
        finally:
            time.sleep(0.2)
            facts.setdefault(name, {})["tcpdump_dropped"] = dump.stop()
        facts[name]["pcap"] = pcap
    facts["tls12_suite_iana"] = TLS12_SUITE_IANA
    with open(os.path.join(outdir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
