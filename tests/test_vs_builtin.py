"""The corner cases side by side (scripts/vs-builtin.py): ftplens must get every one right, and the
captures must really show the built-in dissector's known misses, or they do not test what they claim.

Both are judged against facts.json, which the capture generator wrote from what it put on the wire.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parent.parent

# The weaknesses of Wireshark 4.0's ftp dissector that the brief names, and the case that shows each.
BUILTIN_MISSES = {
    ("active_srcport_2020", "data"): "active data from a port other than 20",
    ("pasv_nat_private", "data"): "PASV behind NAT",
    ("eprt_ipv4", "data"): "EPRT data",
    ("split_227", "commands"): "a line split across segments",
    ("pipelined", "commands"): "several commands in one segment",
    ("control_port_2121", "commands"): "FTP on a port other than 21",
    ("auth_ssl", "tls"): "AUTH SSL",
    ("auth_tls_lower", "tls"): "lower-case auth tls",
}


@pytest.fixture(scope="module")
def results():
    if not harness.tshark_available():
        pytest.skip("tshark not installed")
    spec = importlib.util.spec_from_file_location("vs_builtin", ROOT / "scripts" / "vs-builtin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {r["case"]: r for r in mod.compare()}


def test_ftplens_gets_every_corner_case_right(results):
    assert len(results) == len(harness.handmade_names())
    wrong = [(case, check) for case, r in results.items()
             for check, ok in r["ftplens"].items() if ok is False]
    assert not wrong, wrong


@pytest.mark.parametrize("case,check", sorted(BUILTIN_MISSES))
def test_the_builtin_misses_what_the_case_shows(results, case, check):
    assert results[case]["built-in"][check] is False, BUILTIN_MISSES[(case, check)]
