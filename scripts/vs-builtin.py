#!/usr/bin/env python3
"""The corner cases, decoded by Wireshark's built-in ftp dissector and by ftplens, side by side.

    python3 scripts/vs-builtin.py [--json]

Runs the real tshark twice over each hand-made corner-case capture (tests/captures/handmade/): once
as shipped (built-in `ftp`/`ftp-data`), once with the ftplens plugin installed into a throwaway HOME
(`make install-plugin`). Each run is judged against the capture's facts.json, which the generator
wrote from what it put on the wire, never from either dissector:

- commands: the command verbs the dissector shows, in order, equal the verbs sent in clear;
- data: every data packet of every transfer is shown as FTP data and tied to its command
  (`ftp-data.command` / `ftplens-data.command`);
- TLS: after the 234 that accepts AUTH, the control connection is handed to TLS.

With --defects, the same over the defect-class captures (tests/captures/defects/), plus:

- replies: every reply of the facts' exchanges is shown at its frame with its code (all of them,
  in order, where a segment carries several).

Prints a Markdown table ("yes", "no", or "-" where the check does not apply), or JSON.
Needs tshark and, as root, setpriv (tshark ignores personal plugins when run as root).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import harness  # noqa: E402

TOOLS = {
    "built-in": {"cmd": "ftp.request.command", "data": "ftp-data", "data_cmd": "ftp-data.command"},
    "ftplens": {"cmd": "ftplens.request.command", "data": "ftplens-data", "data_cmd": "ftplens-data.command"},
}
FIELDS = ["frame.protocols", "tcp.srcport", "tcp.dstport", "tcp.len"]


def judge(rows, case, tool):
    """{"commands", "data", "tls"}: True, False, or None where the check does not apply."""
    t = TOOLS[tool]
    shown = [v for r in rows for v in r[t["cmd"]].split(",") if v]
    result = {"commands": shown == case["commands"], "data": None, "tls": None}
    transfers = [x for x in case.get("transfers", []) if not x.get("opaque")]
    if transfers:
        ok = True
        for x in transfers:
            ports = {x["data"]["client_port"], x["data"]["server_port"]}
            packets = [r for r in rows if {int(r["tcp.srcport"] or 0), int(r["tcp.dstport"] or 0)} == ports
                       and int(r["tcp.len"] or 0) > 0]
            ok = ok and bool(packets) and all(
                t["data"] in r["frame.protocols"].split(":") and r[t["data_cmd"]].startswith(x["command"] or "")
                for r in packets)
        result["data"] = ok
    if case.get("tls"):
        ctrl = case["control"]
        ports = {ctrl["client_port"], ctrl["server_port"]}
        frames = [r for r in rows if {int(r["tcp.srcport"] or 0), int(r["tcp.dstport"] or 0)} == ports
                  and int(r["tcp.len"] or 0) > 0]
        after = [r for r in frames if "234" in r["_code"]]
        if after:
            later = frames[frames.index(after[0]) + 1:]
            result["tls"] = bool(later) and all("tls" in r["frame.protocols"].split(":") for r in later)
        else:
            result["tls"] = False
    return result


def judge_replies(rows, case, tool):
    """Every reply of the facts is shown at its frame with its code (several in one frame: all, in
    order): None when the capture's facts list no exchanges."""
    if "exchanges" not in case:
        return None
    want = {}
    for x in case["exchanges"]:
        want.setdefault(x["reply_frame"], []).append(str(x["code"]))
    by_frame = {int(r["frame.number"]): r for r in rows}
    return all(by_frame[f]["_code"].split(",") == codes for f, codes in want.items())


def run(tool, pcap, home):
    t = TOOLS[tool]
    code = "ftp.response.code" if tool == "built-in" else "ftplens.response.code"
    rows = harness.tshark_fields(pcap, FIELDS + [t["cmd"], t["data_cmd"], code], home=home)
    for r in rows:
        r["_code"] = r[code]
    return rows


def install_plugin() -> Path:
    home = Path(tempfile.mkdtemp(prefix="ftplens-vs-builtin-"))
    os.chmod(home, 0o755)
    p = subprocess.run(["make", "-s", "install-plugin"], cwd=ROOT, env=dict(os.environ, HOME=str(home)),
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("make install-plugin failed:\n" + p.stderr[-2000:])
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return home


def compare(directory="handmade"):
    captures = harness.load_captures(ROOT / "tests" / "captures" / directory)
    plain = Path(tempfile.mkdtemp(prefix="ftplens-vs-builtin-plain-"))
    os.chmod(plain, 0o755)
    plugin = install_plugin()
    out = []
    for name in captures.names():
        case = captures[name]
        pcap = captures.pcap(name)
        row = {"case": name, "description": case["description"]}
        for tool, home in (("built-in", plain), ("ftplens", plugin)):
            rows = run(tool, pcap, home)
            row[tool] = judge(rows, case, tool)
            if "defect" in case:
                row[tool]["replies"] = judge_replies(rows, case, tool)
        if "defect" in case:
            row["class"] = case["defect"]["class"]
        out.append(row)
    return out


def cell(v):
    return "-" if v is None else ("yes" if v else "**no**")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--defects", action="store_true",
                    help="the defect-class captures (tests/captures/defects/) instead, judged also "
                    "on the replies shown at each reply's frame")
    args = ap.parse_args()
    if not harness.tshark_available():
        sys.exit("tshark is not installed")
    results = compare("defects" if args.defects else "handmade")
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
        return
    if args.defects:
        keys = ("replies", "commands", "data")
        print("| class | case | built-in: replies, commands, data | ftplens: replies, commands, data |")
        print("|---|---|---|---|")
        for r in results:
            print("| %d | `%s` | %s | %s |" % (
                r["class"], r["case"], ", ".join(cell(r["built-in"][k]) for k in keys),
                ", ".join(cell(r["ftplens"][k]) for k in keys)))
        return
    print("| case | what | built-in: commands, data, TLS | ftplens: commands, data, TLS |")
    print("|---|---|---|---|")
    for r in results:
        b, f = r["built-in"], r["ftplens"]
        print("| `%s` | %s | %s | %s |" % (
            r["case"], r["description"],
            ", ".join(cell(b[k]) for k in ("commands", "data", "tls")),
            ", ".join(cell(f[k]) for k in ("commands", "data", "tls"))))


if __name__ == "__main__":
    main()
