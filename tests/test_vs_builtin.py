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


def _compare(directory):
    """scripts/vs-builtin.py's judgement of the captures in tests/captures/DIRECTORY, by case."""
    if not harness.tshark_available():
        pytest.skip("tshark not installed")
    spec = importlib.util.spec_from_file_location("vs_builtin", ROOT / "scripts" / "vs-builtin.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return {r["case"]: r for r in mod.compare(directory)}


@pytest.fixture(scope="module")
def results():
    return _compare("handmade")


def test_ftplens_gets_every_corner_case_right(results):
    assert len(results) == len(harness.handmade_names())
    wrong = [(case, check) for case, r in results.items()
             for check, ok in r["ftplens"].items() if ok is False]
    assert not wrong, wrong


@pytest.mark.parametrize("case,check", sorted(BUILTIN_MISSES))
def test_the_builtin_misses_what_the_case_shows(results, case, check):
    assert results[case]["built-in"][check] is False, BUILTIN_MISSES[(case, check)]


# The defect-class captures (scripts/vs-builtin.py --defects): the plugin is right on every check of
# every one of them.
DEFECTS_RIGHT = ["c01_gap_in_multiline", "c02_no_line_end_before_fin", "c02_multiline_open_at_rst",
                 "c02_cut_at_end_of_capture", "c03_multiline_over_segments",
                 "c04_data_gap", "c05_226_before_last_data", "c05_226_before_any_data",
                 "c06_no_syn_control", "c06_server_side_only", "c07_425_and_221_in_one_segment",
                 "c08_unknown_fields", "c09_multiline_text", "c10_stou", "c11_direction_reversed",
                 "c12_list_then_cwd", "c13_data_no_syn_port20"]


@pytest.fixture(scope="module")
def defect_results():
    return _compare("defects")


def test_ftplens_on_the_defect_captures(defect_results):
    assert sorted(DEFECTS_RIGHT) == sorted(set(DEFECTS_RIGHT) & set(defect_results))
    wrong = [(case, check) for case in DEFECTS_RIGHT
             for check, ok in defect_results[case]["ftplens"].items() if ok is False]
    assert not wrong, wrong


def test_the_builtin_drops_the_second_reply_of_a_segment(defect_results):
    assert defect_results["c07_425_and_221_in_one_segment"]["built-in"]["replies"] is False
