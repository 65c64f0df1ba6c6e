#!/usr/bin/env python3
"""Run a command and report its own peak RSS and CPU time.

    python3 rusage.py OUT.json CMD [ARG...]

Linux counts the memory of a forked child before exec in the child's ru_maxrss, so a large parent
(a pytest process that has read big outputs) inflates every child's peak. This small process sits
between them: the command's figures are then its own, plus this interpreter's few MB. Writes
{"maxrss_kib", "cpu_seconds"} to OUT.json and exits with the command's status.
"""
import json
import os
import sys


def main() -> int:
    out, cmd = sys.argv[1], sys.argv[2:]
    pid = os.posix_spawnp(cmd[0], cmd, os.environ)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        json.dump({"maxrss_kib": usage.ru_maxrss,
                   "cpu_seconds": usage.ru_utime + usage.ru_stime}, f)
    code = os.waitstatus_to_exitcode(status)
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
