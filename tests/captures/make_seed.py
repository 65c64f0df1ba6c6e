#!/usr/bin/env python3
"""Remake samples/seed-pasv.pcap, the seed example, with a real server and client.

    sudo python3 tests/captures/make_seed.py [OUT.pcap]   (default: samples/seed-pasv.pcap)

Two private network namespaces joined by a veth pair:
  client namespace  192.168.1.106  (MAC 02:00:c0:a8:01:6a)
  server namespace  192.168.1.109  (MAC 02:00:c0:a8:01:6d)
The server is pyftpdlib on port 21 with passive_ports=[26758], so its answer to
PASV is "227 Entering Passive Mode (192,168,1,109,104,134)." (pyftpdlib's own
lower-case "passive mode" is capitalised, as in the seed example).  The client is
Python's ftplib, bound to source port 57658 for the control connection and
58985 for the data connection:
  banner 220, USER alice (331), PASS s3cret (230), PASV (227), RETR seed.txt (150),
  connect 58985 -> 26758, the file, 226, QUIT (221).
tcpdump -U in the client namespace records the veth interface (filter "tcp").
The namespaces are deleted afterwards; no packet leaves them.  Needs root,
iproute2, tcpdump and pyftpdlib.
"""
from __future__ import annotations

import ftplib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import real  # noqa: E402  (Server, Tcpdump)

REPO = os.path.dirname(os.path.dirname(HERE))
CLIENT_IP, SERVER_IP = "192.168.1.106", "192.168.1.109"
CLIENT_MAC, SERVER_MAC = "02:00:c0:a8:01:6a", "02:00:c0:a8:01:6d"
CONTROL_PORT, CLIENT_CTRL_PORT, CLIENT_DATA_PORT, PASV_PORT = 21, 57658, 58985, 26758
USER, PASSWORD = "alice", "s3cret"
FILE_NAME = "seed.txt"
# CRLF line ends: the transfer stays in the default TYPE A (no TYPE command), and
# ASCII mode leaves CRLF text as it is, so the bytes on the wire are the file.
FILE_CONTENT = (
    b"ftplens seed sample\r\n"
    b"This file was downloaded over FTP in passive mode:\r\n"
    b"PASV -> 227 Entering Passive Mode (192,168,1,109,104,134).\r\n"
    b"104*256+134 = 26758\r\n"
)
BANNER = "ftplens seed server (pyftpdlib) ready."
# pyftpdlib 2.x says "227 Entering passive mode (...)"; the seed example (and RFC 959's
# wording) is "227 Entering Passive Mode (...)".  The only change made to the server.
REPLY_REWRITE = {"227 Entering passive mode": "227 Entering Passive Mode"}


def sh(*cmd, check=True):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if check and p.returncode != 0:
        raise SystemExit("failed (%d): %s: %s" % (p.returncode, " ".join(cmd), p.stderr.strip()))
    return p


def seed_facts(pcap_name: str) -> dict:
    """The seed capture's facts, in the schema of tests/captures/README.md."""
    digest = hashlib.sha256(FILE_CONTENT).hexdigest()
    return {
        "name": "seed-pasv", "pcap": pcap_name, "origin": "real",
        "description": "The seed example: USER/PASS, PASV (227 ...,104,134), RETR seed.txt",
        "server": "pyftpdlib", "client": "python ftplib", "ip_version": 4,
        "control": {"client_ip": CLIENT_IP, "client_port": CLIENT_CTRL_PORT,
                    "server_ip": SERVER_IP, "server_port": CONTROL_PORT},
        "user": USER, "password": PASSWORD, "login_ok": True, "failed_logins": 0,
        "commands": ["USER", "PASS", "PASV", "RETR", "QUIT"], "modes": ["PASV"], "tls": False,
        "files": {FILE_NAME: {"size": len(FILE_CONTENT), "sha256": digest}},
        "transfers": [{
            "command": "RETR", "file": FILE_NAME, "path": "/" + FILE_NAME,
            "direction": "download", "mode": "PASV", "offset": 0,
            "size": len(FILE_CONTENT), "sha256": digest,
            "advertised": {"ip": SERVER_IP, "port": PASV_PORT},
            "data": {"client_ip": CLIENT_IP, "client_port": CLIENT_DATA_PORT,
                     "server_ip": SERVER_IP, "server_port": PASV_PORT},
            "initiator": "client"}],
        "anomalies": [], "decode_as": [],
        "reply_227": "227 Entering Passive Mode (192,168,1,109,104,134).",
    }


def client(path_unused=None):
    """Runs inside the client namespace (see --client)."""
    ftp = ftplib.FTP()
    ftp.connect(SERVER_IP, CONTROL_PORT, timeout=20,
                source_address=(CLIENT_IP, CLIENT_CTRL_PORT))
    ftp.login(USER, PASSWORD)
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    # RETR first, and connect once its 150 is in: pyftpdlib answers 125 instead of 150
    # when the data connection is already open, and which one wins would be a race.
    resp = ftp.sendcmd("RETR " + FILE_NAME)
    if not resp.startswith("150"):
        raise SystemExit("unexpected reply to RETR: " + resp)
    conn = socket.create_connection((host, port), timeout=20,
                                    source_address=(CLIENT_IP, CLIENT_DATA_PORT))
    data = bytearray()
    while True:
        chunk = conn.recv(8192)
        if not chunk:
            break
        data += chunk
    conn.close()
    ftp.voidresp()                                   # 226
    ftp.quit()
    if bytes(data) != FILE_CONTENT:
        raise SystemExit("downloaded bytes differ")
    print("OK", hashlib.sha256(data).hexdigest())


def make(out: str) -> None:
    if os.geteuid() != 0:
        raise SystemExit("make_seed.py needs root (ip netns, veth)")
    tag = str(os.getpid())
    ns_c, ns_s = "ftplens-seed-c-" + tag, "ftplens-seed-s-" + tag
    veth_c, veth_s = "fsc" + tag, "fss" + tag
    work = tempfile.mkdtemp(prefix="ftplens-seed-")
    os.chmod(work, 0o755)
    root = os.path.join(work, "root")
    os.makedirs(root)
    with open(os.path.join(root, FILE_NAME), "wb") as f:
        f.write(FILE_CONTENT)
    tmp_out = os.path.join(work, "seed.pcap")
    server = dump = None
    try:
        sh("ip", "netns", "add", ns_c)
        sh("ip", "netns", "add", ns_s)
        sh("ip", "link", "add", veth_c, "type", "veth", "peer", "name", veth_s)
        sh("ip", "link", "set", veth_c, "netns", ns_c)
        sh("ip", "link", "set", veth_s, "netns", ns_s)
        for ns, dev, ip, mac in ((ns_c, veth_c, CLIENT_IP, CLIENT_MAC),
                                 (ns_s, veth_s, SERVER_IP, SERVER_MAC)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
               check=False)
            sh("ip", "-n", ns, "link", "set", dev, "address", mac)
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", "lo", "up")
            sh("ip", "-n", ns, "link", "set", dev, "up")
        server = real.Server({"host": SERVER_IP, "port": CONTROL_PORT, "root": root,
                              "user": USER, "password": PASSWORD,
                              "passive_ports": [PASV_PORT], "banner": BANNER,
                              "reply_rewrite": REPLY_REWRITE},
                             prefix=("ip", "netns", "exec", ns_s))
        dump = real.Tcpdump(tmp_out, iface=veth_c, bpf="tcp",
                            netns_cmd=("ip", "netns", "exec", ns_c))
        p = subprocess.run(["ip", "netns", "exec", ns_c, sys.executable,
                            os.path.abspath(__file__), "--client"],
                           capture_output=True, text=True, timeout=60)
        if p.returncode != 0 or not p.stdout.startswith("OK"):
            raise SystemExit("client failed: %s %s" % (p.stdout, p.stderr))
        dump.stop(settle=0.3)
        dump = None
        shutil.copyfile(tmp_out, out)
        facts_path = os.path.splitext(out)[0] + ".facts.json"
        with open(facts_path, "w") as f:
            json.dump(seed_facts(os.path.basename(out)), f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %s (%d bytes); %s sha256 %s" % (
            out, os.path.getsize(out), FILE_NAME, hashlib.sha256(FILE_CONTENT).hexdigest()))
    finally:
        if dump:
            dump.stop(settle=0)
        if server:
            server.stop()
        sh("ip", "netns", "del", ns_c, check=False)
        sh("ip", "netns", "del", ns_s, check=False)
        shutil.rmtree(work, ignore_errors=True)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--client"]:
        client()
        return 0
    out = argv[0] if argv else os.path.join(REPO, "samples", "seed-pasv.pcap")
    make(os.path.abspath(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
