"""FTPS metadata: real pyftpdlib TLS servers and Python's ftplib.FTP_TLS clients over loopback in
a network namespace (tests/captures/ftps_session.py), explicit FTPS with TLS 1.2 and TLS 1.3,
PROT P data connections in passive and active mode, and AUTH TLS refused. What ftplens reads from
the clear handshake is checked against what the client's TLS stack negotiated, the certificate
file as openssl prints it, and Zeek's ssl.log for the corpus's vsftpd capture. Needs root (a
network namespace) for the made captures; skipped otherwise with the reason."""
from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_real import ftplens_bin  # noqa: F401  (the fixture)
from test_cli_real import _served_contents

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ftps(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("tcpdump"):
        pytest.skip("the FTPS captures are made as root in a network namespace with tcpdump")
    out = tmp_path_factory.mktemp("ftps")
    p = subprocess.run([sys.executable, str(ROOT / "tests/captures/ftps_session.py"), str(out)],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stdout + p.stderr
    facts = json.loads((out / "facts.json").read_text())
    facts["cert"] = str(out / "cert.pem")
    return facts


def log(binary, pcap):
    p = subprocess.run([binary, "log", pcap], capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()]


def openssl_facts(cert: str) -> dict:
    out = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-dates", "-fingerprint",
                          "-sha256", "-subject", "-nameopt", "RFC2253"],
                         capture_output=True, text=True, check=True).stdout
    fields = dict(line.split("=", 1) for line in out.splitlines())

    def when(s):
        t = datetime.datetime.strptime(s.replace("  ", " "), "%b %d %H:%M:%S %Y GMT")
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"not_before": when(fields["notBefore"]), "not_after": when(fields["notAfter"]),
            "sha256": fields["sha256 Fingerprint"].replace(":", "").lower(),
            "subject": fields["subject"]}


def by_type(recs, t):
    return [r for r in recs if r["type"] == t]


@pytest.mark.parametrize("scenario", ["tls12", "tls13"])
def test_explicit_ftps(ftplens_bin, ftps, scenario):
    facts = ftps[scenario]
    assert facts["tcpdump_dropped"] == 0
    recs = log(ftplens_bin, facts["pcap"])
    (session,) = by_type(recs, "session")
    assert session["tls"] == "TLS"
    assert session["tls.version"] == facts["control"]["version"]
    assert session["tls.sni"] == facts["sni"]
    if scenario == "tls12":
        assert session["tls.cipher"] == ftps["tls12_suite_iana"]
        cert = openssl_facts(ftps["cert"])
        # x509-parser writes the name in the order it is encoded; RFC 2253 reverses it.
        assert sorted(session["tls.cert_subject"].split(", ")) == sorted(cert["subject"].split(","))
        assert session["tls.cert_issuer"] == session["tls.cert_subject"]  # self-signed
        assert session["tls.cert_not_before"] == cert["not_before"]
        assert session["tls.cert_not_after"] == cert["not_after"]
        assert session["tls.cert_sha256"] == cert["sha256"]
    else:
        # TLS 1.3 suite names are the IANA names in OpenSSL too; the certificate is encrypted.
        assert session["tls.cipher"] == facts["control"]["cipher"]
        assert not any(k.startswith("tls.cert") for k in session)
    # The PASV/PORT replies were encrypted: the two data connections are found by their TLS
    # handshakes between the session's hosts, one to the passive port range, one active.
    transfers = by_type(recs, "transfer")
    assert len(transfers) == facts["data_connections"]
    for t in transfers:
        assert t["encrypted"] is True and t["uid"] == session["uid"]
        assert "command" not in t and "encrypted" in t["partial_reasons"]
        assert t["tls.version"] == session["tls.version"]
        assert t["tls.cipher"] == session["tls.cipher"]
    assert sorted(t["data.resp_p"] in (40000, 40001) for t in transfers) == [False, True]
    # Encrypted bytes are not the files: no digest equals a served file's.
    served = {hashlib.sha256(c).hexdigest() for c in _served_contents()}
    assert not any(t["sha256"] in served for t in transfers)


def test_auth_tls_refused(ftplens_bin, ftps):
    facts = ftps["refused"]
    recs = log(ftplens_bin, facts["pcap"])
    (session,) = by_type(recs, "session")
    assert "tls" not in session and not any(k.startswith("tls.") for k in session)
    auth = [r for r in by_type(recs, "ftp") if r["command"] == "AUTH"]
    assert [str(a["reply_code"]) for a in auth] == [facts["auth_reply"]]
    (t,) = by_type(recs, "transfer")
    assert t["encrypted"] is False and t["state"] == "complete"
    assert t["sha256"] == hashlib.sha256(_served_contents()[0]).hexdigest()


def test_vsftpd_handshake_agrees_with_zeeks_ssl_log(ftplens_bin, corpus_dir):
    """zeek/ftp-auth-tls.pcap (vsftpd 3.0.5): Zeek's ssl.log says TLSv13,
    TLS_AES_256_GCM_SHA384, server_name 127.0.0.1."""
    recs = log(ftplens_bin, str(corpus_dir / "zeek" / "ftp-auth-tls.pcap"))
    (session,) = by_type(recs, "session")
    baseline = corpus_dir / "zeek/baselines/scripts.base.protocols.ftp.ftp-auth-tls/ssl.log"
    lines = [line.split("\t") for line in baseline.read_text().splitlines()]
    fields = next(x for x in lines if x[0] == "#fields")[1:]
    row = dict(zip(fields, next(x for x in lines if not x[0].startswith("#"))))
    assert session["tls.version"] == row["version"].replace("TLSv1", "TLSv1.")
    assert session["tls.cipher"] == row["cipher"]
    assert session["tls.sni"] == row["server_name"]
