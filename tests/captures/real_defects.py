#!/usr/bin/env python3
"""Real captures of the defect classes a real server and client can show (see defects.py for the
hand-made ones, which cover every class): run through real.py's machinery (private network
namespace, tcpdump on loopback, pyftpdlib or vsftpd, ftplib).

    python3 tests/captures/real_defects.py OUTDIR [SCENARIO ...]

Writes OUTDIR/<scenario>.pcap and OUTDIR/facts.json (real.py's schema), each capture with
`defect` ({"class", "title"}) and `replies`: the replies as the client received them (ftplib's own
reading, independent of ftplens), {"command", "code", "lines"}, "lines" without the code prefix.

| name | class | what |
|---|---|---|
| `stou_ftplib` | 10 | pyftpdlib, ftplib: CWD /, STOU in passive then in active mode; pyftpdlib names each file in its 150 or 125 (`FILE: ftpd.*`, 150 when the data connection is not open yet); the names are checked against the server's directory |
| `list_then_cwd_ftplib` | 12 | pyftpdlib, ftplib: LIST sub, CWD sub, RETR dir/file.txt |
| `vsftpd_banner_feat_ftplib` | 9 | vsftpd with a three-line `banner_file`, ftplib anonymous: FEAT (a multi-line 211), RETR hello.txt (a 150 with text) |
| `vsftpd_gap_in_banner` | 1 | derived: the previous capture without the segments of the banner's last two lines (vsftpd sends each line in its own segment), so a gap falls inside the multi-line 220 and eats its closing line |
"""
from __future__ import annotations

import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real  # noqa: E402  (the namespace, servers, tcpdump and facts: reused)
from real import (HELLO, SUB, UPLOAD, _expect, _ftplib_spec, base_facts, file_facts,  # noqa: E402
                  sha256, transfer)

SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def reply_lines(text: str):
    """ftplib's reply text ('211-Features:\\n EPRT\\n211 End') as lines without the code prefix."""
    code = text[:3]
    return [line[4:] if line[:3] == code and line[3:4] in ("-", " ") else line
            for line in text.split("\n")]


def recording(ftp, f):
    """Write down every reply ftplib reads for a command (preliminary 1xx included)."""
    f["replies"] = []
    send = ftp.sendcmd

    def sendcmd(cmd):
        resp = send(cmd)
        f["replies"].append({"command": cmd.split(" ", 1)[0].upper(), "code": int(resp[:3]),
                             "lines": reply_lines(resp)})
        return resp
    ftp.sendcmd = sendcmd


@scenario
def stou_ftplib(ctx):
    first = b"".join(b"STOU upload in passive mode, line %d\n" % i for i in range(1, 9))
    second = b"".join(b"STOU upload in active mode, line %d\n" % i for i in range(1, 7))

    def body(ftp, f, spec):
        recording(ftp, f)
        ftp.cwd("/")
        ftp.storbinary("STOU", io.BytesIO(first))
        ftp.set_pasv(False)
        ftp.storbinary("STOU", io.BytesIO(second))

    spec = _ftplib_spec(ctx, "stou_ftplib",
                        "ftplib: CWD /, STOU in passive then in active mode; the server "
                        "names each file in its 125 or 150 (FILE: name)", "127.0.0.1", 21, body)
    f = spec["facts"]
    f["defect"] = {"class": 10, "title": "STOU names"}
    f.update(modes=["PASV", "PORT"], commands=["USER", "PASS", "CWD", "TYPE", "PASV", "STOU",
                                               "TYPE", "PORT", "STOU", "QUIT"])
    root = spec["root"]

    def check():
        # The server's directory is the truth: the two files STOU made, found by content.
        made = {}
        for name in os.listdir(root):
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                continue
            with open(path, "rb") as fh:
                data = fh.read()
            for content in (first, second):
                if data == content:
                    made[content] = name
        if len(made) != 2:
            raise RuntimeError("STOU files not found in %s: %s" % (root, os.listdir(root)))
        named = [r["lines"][0] for r in f["replies"] if r["command"] == "STOU"]
        if named != ["FILE: " + made[first], "FILE: " + made[second]]:
            raise RuntimeError("the client read %r, the server made %r" % (named, made))
        f["transfers"][:] = [
            transfer("STOU", None, "PASV", first, direction="upload", adv_ip="127.0.0.1",
                     adv_port=spec["dport"], path="/" + made[first]),
            transfer("STOU", None, "PORT", second, direction="upload", adv_ip="127.0.0.1",
                     adv_port=spec.get("active_port"), client_port=spec.get("active_port"),
                     path="/" + made[second])]
        f["files"] = {"/" + made[c]: {"size": len(c), "sha256": sha256(c)} for c in made}
    spec["check"] = check
    return spec


@scenario
def list_then_cwd_ftplib(ctx):
    def body(ftp, f, spec):
        recording(ftp, f)
        listing = bytearray()
        ftp.retrbinary("LIST sub", listing.extend)
        if b"dir" not in listing:
            raise RuntimeError("unexpected listing %r" % bytes(listing))
        ftp.cwd("sub")
        data = bytearray()
        ftp.retrbinary("RETR dir/file.txt", data.extend)
        _expect(bytes(data), SUB, "list_then_cwd_ftplib")
        f["transfers"][:] = [
            transfer("LIST", "sub", "PASV", bytes(listing), direction="listing",
                     adv_ip="127.0.0.1", adv_port=spec["dport"], path="/sub"),
            transfer("RETR", "dir/file.txt", "PASV", SUB, adv_ip="127.0.0.1",
                     adv_port=spec["dport"], path="/sub/dir/file.txt")]

    spec = _ftplib_spec(ctx, "list_then_cwd_ftplib",
                        "ftplib: LIST sub, CWD sub, RETR "
                        "dir/file.txt", "127.0.0.1", 21, body)
    f = spec["facts"]
    f["defect"] = {"class": 12, "title": "listing saved under a directory's name"}
    f.update(modes=["PASV"], commands=["USER", "PASS", "TYPE", "PASV", "LIST", "CWD", "TYPE",
                                       "PASV", "RETR", "QUIT"],
             files=file_facts(sub__dir__file_dot_txt=SUB), directories=["/sub"])
    return spec


BANNER = ["ftplens test server (vsftpd), three-line banner:", "  authorised use only",
          "  every command is logged"]


@scenario
def vsftpd_banner_feat_ftplib(ctx):
    if real.VSFTPD is None:
        raise real.SkipScenario("vsftpd is not installed (apt-get install vsftpd)")
    name = "vsftpd_banner_feat_ftplib"
    version = real._tool_version(["dpkg-query", "-W", "-f=${Version}\\n", "vsftpd"]).split("-")[0]
    f = base_facts(name, "vsftpd with a three-line banner_file, ftplib anonymous: FEAT, RETR "
                   "hello.txt", ctx.ftplib, "vsftpd " + version, "127.0.0.1", 21)
    f["defect"] = {"class": 9, "title": "multi-line text"}
    f.update(user=real.ANON_USER, password=real.ANON_PASSWORD, modes=["PASV"],
             commands=["USER", "PASS", "FEAT", "TYPE", "PASV", "RETR", "QUIT"],
             files=file_facts(hello_dot_txt=HELLO))
    root = ctx.root(name)
    banner = os.path.join(os.path.dirname(root), "banner.txt")
    with open(banner, "w") as fh:
        fh.write("\n".join(BANNER) + "\n")
    dport = ctx.pasv_port()

    def client():
        ftp = real.ftplib.FTP()
        ftp.connect("127.0.0.1", 21, timeout=20)
        f["control"]["client_port"] = ftp.sock.getsockname()[1]
        f["welcome"] = reply_lines(ftp.getwelcome())
        ftp.login(real.ANON_USER, real.ANON_PASSWORD)
        recording(ftp, f)
        ftp.sendcmd("FEAT")
        buf = bytearray()
        ftp.retrbinary("RETR hello.txt", buf.extend)
        _expect(bytes(buf), HELLO, name)
        ftp.quit()
        f["transfers"][:] = [transfer("RETR", "hello.txt", "PASV", HELLO, adv_ip="127.0.0.1",
                                      adv_port=dport, path="/hello.txt")]

    return {"facts": f, "root": root, "passive_ports": [dport], "client": client,
            "server": {"kind": "vsftpd", "vsftpd_conf": {"banner_file": banner}}}


# ---------------------------------------------------------------------------------- derived

def derive_gap_in_banner(outdir: str, facts: dict) -> None:
    """`vsftpd_gap_in_banner` (class 1): vsftpd_banner_feat_ftplib's capture without the segments
    that carry the last two lines of the three-line banner (vsftpd writes each line in its own
    segment): a capture gap inside a multi-line reply, closing line included, from a real
    server. Everything else is the real capture, frame for frame."""
    import dpkt
    src = next((c for c in facts["captures"] if c["name"] == "vsftpd_banner_feat_ftplib"), None)
    if src is None:
        return
    name = "vsftpd_gap_in_banner"
    path = os.path.join(outdir, name + ".pcap")
    lost, kept = [], 0
    with open(os.path.join(outdir, src["pcap"]), "rb") as fin, open(path, "wb") as fout:
        reader = dpkt.pcap.Reader(fin)
        writer = dpkt.pcap.Writer(fout, snaplen=reader.snaplen, linktype=reader.datalink())
        banner = []
        frames = list(reader)
        for ts, buf in frames:
            tcp = dpkt.ethernet.Ethernet(buf).data.data if reader.datalink() == 1 else \
                dpkt.sll.SLL(buf).data.data
            if tcp.sport == 21 and tcp.data[:4] in (b"220-", b"220 "):
                banner.append(bytes(tcp.data))
        drop = set(banner[-2:])    # the last inner line and the closing "220 "
        if len(banner) < 3 or len(drop) != 2:
            raise RuntimeError("the banner is not in separate segments: %r" % banner)
        for ts, buf in frames:
            tcp = dpkt.ethernet.Ethernet(buf).data.data if reader.datalink() == 1 else \
                dpkt.sll.SLL(buf).data.data
            if tcp.sport == 21 and bytes(tcp.data) in drop:
                lost.append(bytes(tcp.data))
                continue
            writer.writepkt(buf, ts)
            kept += 1
    f = dict(src, name=name, pcap=name + ".pcap", pcap_size=os.path.getsize(path),
             derived_from=src["name"],
             description="vsftpd_banner_feat_ftplib without the segments of the banner's last "
             "two lines (%s): a gap inside a multi-line reply" % ", ".join(map(repr, lost)),
             defect={"class": 1, "title": "capture gap inside a multi-line reply"},
             gaps=[{"direction": "to_client", "bytes": sum(map(len, lost))}],
             welcome_captured=src["welcome"][:-2])
    facts["captures"].append(f)


def generate(outdir: str, names=None) -> dict:
    """Make the real scenarios (in a private network namespace) and the derived captures."""
    facts = real.generate(outdir, names, script=__file__)
    derive_gap_in_banner(outdir, facts)
    with open(os.path.join(outdir, "facts.json"), "w") as fh:
        real.json.dump(facts, fh, indent=1, sort_keys=True)
        fh.write("\n")
    return facts


if __name__ == "__main__":
    if real.in_private_netns() or sys.argv[1:2] in (["--serve"], []):
        sys.exit(real.main(scenarios=SCENARIOS, script=__file__))
    rc = real.main(scenarios=SCENARIOS, script=__file__)
    if rc in (0, 1):
        out = sys.argv[1]
        with open(os.path.join(out, "facts.json")) as fh:
            made = real.json.load(fh)
        derive_gap_in_banner(out, made)
        with open(os.path.join(out, "facts.json"), "w") as fh:
            real.json.dump(made, fh, indent=1, sort_keys=True)
            fh.write("\n")
    sys.exit(rc)
