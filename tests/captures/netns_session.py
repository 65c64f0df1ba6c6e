"""Shared steps of the scenario scripts that make their captures as root in a private network
namespace (live_session.py, ftps_session.py): re-executing under `unshare -n`, the served files,
and the passive-then-active download both run."""
from __future__ import annotations

import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import real  # noqa: E402  (the files the servers serve)


def reexec_in_netns(script: str, args: list[str], marker: str) -> int | None:
    """Outside: run `script args` again under `unshare -n` and return its exit status. Inside
    (the marker variable is set): bring loopback up and return None."""
    if os.environ.get(marker) != "1":
        env = dict(os.environ, **{marker: "1"})
        return subprocess.run(["unshare", "-n", sys.executable, os.path.abspath(script), *args],
                              env=env).returncode
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    return None


def served_root(outdir: str) -> str:
    """A directory holding hello.txt and big.bin, as tests/captures/real.py serves them."""
    root = os.path.join(outdir, "root")
    os.makedirs(root, exist_ok=True)
    for name, content in (("hello.txt", real.HELLO), ("big.bin", real.BIG)):
        with open(os.path.join(root, name), "wb") as f:
            f.write(content)
    return root


def retr_passive_then_active(ftp) -> None:
    """hello.txt over a passive data connection, big.bin over an active one, both checked."""
    got = io.BytesIO()
    ftp.retrbinary("RETR hello.txt", got.write)
    assert got.getvalue() == real.HELLO
    ftp.set_pasv(False)
    got = io.BytesIO()
    ftp.retrbinary("RETR big.bin", got.write)
    assert got.getvalue() == real.BIG
