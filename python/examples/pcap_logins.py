#!/usr/bin/env python3
"""Print the FTP logins and file transfers found in capture files.

    python3 pcap_logins.py capture.pcap [more.pcapng ...]

    login    192.168.1.106 -> 192.168.1.109:21  user=alice password=s3cret  success
    transfer RETR seed.txt  PASV 192.168.1.109:26758  complete  154 bytes  sha256=2585558c...

ftplens.analyze does the work (the analyser of the `ftplens log` command: capture reading, TCP
reassembly, FTP on any port, data connections matched to the command that announced them).
"""

import sys

import ftplens


def host(h: str, port: int) -> str:
    return "[%s]:%d" % (h, port) if ":" in h else "%s:%d" % (h, port)


def main() -> int:
    try:
        for r in ftplens.analyze(sys.argv[1:]):
            if r["type"] == "ftp" and r.get("command", "").upper() == "PASS":
                outcome = {2: "success", 5: "failure"}.get(r.get("reply_code", 0) // 100, "no reply")
                print("login    %s -> %s  user=%s password=%s  %s" % (
                    r["id.orig_h"], host(r["id.resp_h"], r["id.resp_p"]), r.get("user"), r.get("password"), outcome))
            elif r["type"] == "transfer":
                print("transfer %s %s  %s %s  %s  %d bytes  sha256=%s" % (
                    r.get("command"), r.get("path", ""), r.get("mode"),
                    host(r.get("data.resp_h", "?"), r.get("data.resp_p", 0)), r["state"], r["bytes"], r.get("sha256")))
    except ftplens.CaptureError as e:
        print("pcap_logins: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
