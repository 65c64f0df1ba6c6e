#!/usr/bin/env python3
"""Run the CLI and tshark + the C plugin over a hostile capture; measure peak RSS and time; check
what they found against the generator's facts.

    python3 tests/hostile/measure.py SCENARIO N [--cli BIN] [--tshark-home HOME] [--baseline]
                                     [--keep DIR]

Peak RSS is the child's ru_maxrss from wait4 (the process itself, as /usr/bin/time -v reports
it). tshark runs as uid 65534 with HOME=HOME (where `make install` put the plugin), reading the
capture in one pass with -T fields. --baseline also runs the same tshark with the ftplens
protocols disabled, so that the plugin's own share of the memory is visible.
Prints one JSON object per tool; exit status 1 if a check failed.

Bounds (documented in tests/hostile/README.md): the CLI's peak RSS stays under CLI_RSS_MB
whatever the size, except where state is per open connection (CLI_PER_CONN: many_connections,
idle_connections), where it is CLI_CONN_BASE_MB plus so many bytes per connection; tshark's own memory grows with the number of frames (it keeps
per-frame data for every frame), so for tshark we bound the plugin's share: the peak RSS over
the baseline, at most PLUGIN_RSS_MB plus PLUGIN_PER_UNIT bytes per unit of the scenario (per
reply, connection or segment; nothing per byte of a line or of data).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(HERE))
import gen  # noqa: E402

NOBODY = 65534
CLI_RSS_MB = 256
CLI_CONN_BASE_MB = 32
# Bytes of the CLI's peak RSS per open connection (tests/hostile/README.md, "What a connection
# costs"). Measured at full size: 121 MB for 100,000 control connections (about 1.2 KB each),
# 268 MB for 1,000,000 idle connections (about 270 bytes each); the CI slopes measure about
# 1,190 and 215 bytes.
CLI_PER_CONN = {
    "many_connections": 1536,   # an FTP session waiting for a reply: flow, connection, session
    "idle_connections": 288,    # a TCP connection that never carried a byte: its flow only
}
PLUGIN_RSS_MB = 32
# Bytes the plugin may keep per unit of each scenario: (fact that counts the units, bytes each).
PLUGIN_PER_UNIT = {
    # per 227 reply: its packed items and channel record (~400 bytes with the PASV's) and the
    # Wireshark conversation that predicts its data connection (~650 bytes; Wireshark frees
    # conversations only when the file closes). Measured: 1.05 KB.
    "pasv_storm": ("n", 1280),
    # per PORT command: the same, but two conversations (the named host, and the client's own
    # address in case it sits behind NAT) and a bounce expert note
    "port_storm": ("n", 2048),
    "many_connections": ("n", 4096),    # per control connection
    # per one-byte segment: TCP reassembles each 6-byte line from 6 segments and Wireshark keeps every
    # reassembled PDU for later passes (about 235 bytes a segment); the line's record and items
    # (about 27 bytes a segment). Measured at 10,000,000 segments: 263 bytes.
    "one_byte_segments": ("n", 320),
    "wide_replies": ("bytes", 3),       # per byte of complete long lines (TCP reassembly keeps them)
    "endless_line": ("n", 0),           # nothing per byte of a line that never ends
    "endless_data": ("frames", 100),    # per data packet (export objects), nothing per byte
    "idle_connections": ("n", 0),       # not measured: tshark's own per-connection state dominates
}


def plugin_bound_mb(facts) -> float:
    key, per = PLUGIN_PER_UNIT[facts["scenario"]]
    return PLUGIN_RSS_MB + per * facts.get(key, 0) / 1048576


def cli_conn_bound_mb(scenario, n) -> float:
    """The CLI's peak RSS bound for a scenario whose state is per open connection."""
    return CLI_CONN_BASE_MB + CLI_PER_CONN[scenario] * n / 1048576


def build_cli() -> Path:
    """`cargo build --release --bin ftplens` (quick when up to date); the binary's path."""
    p = subprocess.run(["cargo", "build", "--release", "--bin", "ftplens"], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-3000:])
    return ROOT / "target" / "release" / "ftplens"


def run_measured(cmd, on_line, env=None, cwd=None, timeout=None):
    """Run cmd, feeding each stdout line (bytes) to on_line. Returns (exit code, wall seconds,
    peak RSS in KiB, CPU seconds, stderr tail)."""
    err = tempfile.TemporaryFile()
    fd, figures = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    start = time.monotonic()
    # Through rusage.py: a child forked straight from this (possibly large) process would count this
    # process's memory in its own peak.
    p = subprocess.Popen([sys.executable, str(HERE / "rusage.py"), figures, *map(str, cmd)],
                         stdout=subprocess.PIPE, stderr=err, env=env, cwd=cwd,
                         start_new_session=True)
    deadline = start + timeout if timeout else None
    for line in p.stdout:
        on_line(line)
        if deadline and time.monotonic() > deadline:
            os.killpg(p.pid, signal.SIGKILL)  # the helper and the command under it
            break
    p.stdout.close()
    p.wait()
    secs = time.monotonic() - start
    err.seek(0)
    tail = err.read()[-4000:].decode(errors="replace")
    try:
        with open(figures) as f:
            usage = json.load(f)
    except (OSError, ValueError):  # killed before it could write them
        usage = {"maxrss_kib": 0, "cpu_seconds": 0.0}
    finally:
        os.unlink(figures)
    return p.returncode, secs, usage["maxrss_kib"], usage["cpu_seconds"], tail


def cli_counts(bin_path, pcap, timeout=None):
    c = collections.Counter()
    transfer_bytes = []

    def on_line(line):
        r = json.loads(line)
        t = r.get("type")
        c["type:" + t] += 1
        if t == "ftp":
            c["cmd:" + r.get("command", "")] += 1
            if r.get("reply_code") is not None:
                c["code:%d" % r["reply_code"]] += 1
            for a in r.get("anomalies", []):
                c["anom:" + a] += 1
        elif t == "anomaly":
            c["anom:" + r.get("name", "")] += 1
        elif t == "transfer":
            transfer_bytes.append(r.get("bytes"))
            c["outcome:" + str(r.get("outcome"))] += 1
            c["late_bound:" + str(r.get("late_bound"))] += 1
    rc, secs, rss, cpu, err = run_measured(
        [str(bin_path), "log", "--progress", "never", str(pcap)], on_line, timeout=timeout)
    return {"tool": "cli", "exit": rc, "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
            "rss_mb": round(rss / 1024, 1),
            "counts": dict(c), "transfer_bytes": transfer_bytes, "stderr": err}


TSHARK_FIELDS = [("cmd", "ftplens.request.command"), ("code", "ftplens.response.code"),
                 ("anom", "ftplens.anomaly"), ("data", "ftplens-data.command")]


def readable_copy(pcap: Path, home: Path) -> Path:
    """The capture where uid 65534 can read it (a hard link when possible: no copy of gigabytes)."""
    d = home / "hostile-input"
    d.mkdir(exist_ok=True)
    os.chmod(d, 0o755)
    dest = d / pcap.name
    if dest.exists():
        dest.unlink()
    try:
        os.link(pcap, dest)
    except OSError:
        shutil.copyfile(pcap, dest)
    os.chmod(dest, 0o644)
    return dest


def tshark_counts(home, pcap, disable=False, timeout=None):
    home = Path(home)
    src = readable_copy(Path(pcap), home)
    cmd = ["tshark", "-n", "-r", str(src), "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=;"]
    for _, f in TSHARK_FIELDS:
        cmd += ["-e", f]
    if disable:
        cmd += ["--disable-protocol", "ftplens", "--disable-protocol", "ftplens-data"]
    if os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"] + cmd
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    c = collections.Counter()
    frames = [0]
    names = [n for n, _ in TSHARK_FIELDS]

    def on_line(line):
        frames[0] += 1
        for name, col in zip(names, line.rstrip(b"\n").split(b"\t")):
            if col:
                for v in col.split(b";"):
                    c[name + ":" + v.decode(errors="replace")] += 1
    try:
        rc, secs, rss, cpu, err = run_measured(cmd, on_line, env=env, cwd=str(home),
                                               timeout=timeout)
    finally:
        src.unlink()
    return {"tool": "tshark" + ("-baseline" if disable else "+plugin"), "exit": rc,
            "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2), "rss_mb": round(rss / 1024, 1),
            "frames": frames[0],
            "counts": dict(c), "stderr": err}


def expectations(facts, tool):
    """(key, expected count) pairs the tool must report, per scenario."""
    s, n = facts["scenario"], facts["n"]
    cli = tool == "cli"
    return {
        "pasv_storm": [("cmd:PASV", n + 1), ("code:227", n + 1), ("cmd:RETR", 1)],
        "many_connections": [("cmd:USER", n), ("type:session" if cli else "code:220", n)],
        "endless_line": [("anom:line_too_long", 1)],
        "one_byte_segments": [("cmd:NOOP", facts.get("noop_commands"))],
        "endless_data": [("cmd:RETR", 1)],
        "port_storm": [("cmd:PORT", n), ("anom:bounce", n), ("cmd:RETR", 1)],
        "wide_replies": [("code:227", facts.get("wide_replies", 0) // 2)],
        "idle_connections": [("cmd:RETR", 1)] + ([("late_bound:True", 1)] if cli else []),
    }[s]


def check(facts, result):
    """A list of failed checks (empty when fine)."""
    bad = []
    counts = result["counts"]
    tool = result["tool"]
    if tool == "cli":
        if result["exit"] not in (0, 1):
            bad.append(f"cli exit {result['exit']}: {result['stderr'][-500:]}")
        if facts["scenario"] in CLI_PER_CONN:
            bound = cli_conn_bound_mb(facts["scenario"], facts["n"])
        else:
            bound = CLI_RSS_MB
        if result["rss_mb"] > bound:
            bad.append(f"cli peak RSS {result['rss_mb']} MB > {bound:.0f} MB")
        if "victim_bytes" in facts and result["transfer_bytes"] != [facts["victim_bytes"]]:
            bad.append(f"the victim's transfer after the storm: {result['transfer_bytes']}, "
                       f"expected [{facts['victim_bytes']}] (not matched to its data connection?)")
        if facts["scenario"] == "endless_data":
            if result["transfer_bytes"] != [facts["data_bytes"]]:
                bad.append(f"transfer bytes {result['transfer_bytes']} != {facts['data_bytes']}")
            if counts.get("outcome:unknown") != 1:
                bad.append(f"transfer outcome: {counts}")
    elif tool == "tshark+plugin":
        if result["exit"] != 0:
            bad.append(f"tshark exit {result['exit']}: {result['stderr'][-500:]}")
        if result["frames"] != facts["frames"]:
            bad.append(f"tshark printed {result['frames']} frames of {facts['frames']}")
        # (tshark reads in one pass, frame by frame: a data connection that came whole before
        # the reply predicting it was dissected before anything knew it, so the late victim of
        # idle_connections is checked in the CLI only.)
        if "victim_bytes" in facts and "late_bound" not in facts and counts.get("data:RETR", 0) < 1:
            bad.append("the victim's data connection after the storm has no ftplens-data")
        if facts["scenario"] == "endless_data":
            want = -(-facts["data_bytes"] // gen.MSS)
            if counts.get("data:RETR", 0) < want:
                bad.append(f"ftplens-data on {counts.get('data:RETR')} frames, not {want}+")
        base = result.get("baseline_rss_mb")
        if base is not None:
            bound = plugin_bound_mb(facts)
            if result["rss_mb"] - base > bound:
                bad.append(f"plugin share of RSS {result['rss_mb'] - base:.0f} MB > {bound:.0f} MB")
    if tool != "tshark-baseline":
        for key, want in expectations(facts, tool):
            got = counts.get(key, 0)
            if got != want:
                bad.append(f"{tool}: {key} = {got}, expected {want}")
    return bad


def measure(scenario, n, workdir, cli=None, tshark_home=None, baseline=False, timeout=None):
    """Generate, run, check. Returns (facts, [results], [failures])."""
    workdir = Path(workdir)
    pcap = workdir / f"{scenario}-{n}.pcap"
    t0 = time.monotonic()
    facts = gen.generate(scenario, n, str(pcap))
    facts["gen_seconds"] = round(time.monotonic() - t0, 1)
    results, bad = [], []
    try:
        if cli:
            r = cli_counts(cli, pcap, timeout=timeout)
            results.append(r)
            bad += check(facts, r)
        if tshark_home:
            base = None
            if baseline:
                b = tshark_counts(tshark_home, pcap, disable=True, timeout=timeout)
                results.append(b)
                base = b["rss_mb"]
            r = tshark_counts(tshark_home, pcap, timeout=timeout)
            r["baseline_rss_mb"] = base
            results.append(r)
            bad += check(facts, r)
    finally:
        pcap.unlink()
    return facts, results, bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenario", choices=sorted(gen.SCENARIOS))
    ap.add_argument("n", type=int)
    ap.add_argument("--cli", help="the ftplens binary (e.g. target/release/ftplens)")
    ap.add_argument("--tshark-home", help="a HOME where `make install` put the plugin")
    ap.add_argument("--baseline", action="store_true")
    ap.add_argument("--keep", default=None, help="work directory (default: a temp dir)")
    args = ap.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="ftplens-hostile-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        facts, results, bad = measure(args.scenario, args.n, work, args.cli, args.tshark_home,
                                      args.baseline)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"facts": facts}))
    for r in results:
        r = dict(r)
        r["counts"] = dict(sorted(r["counts"].items(), key=lambda kv: -kv[1])[:8])
        r.pop("stderr", None)
        print(json.dumps(r))
    for b in bad:
        print("FAIL", b, file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
