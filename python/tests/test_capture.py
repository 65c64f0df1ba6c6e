"""ftplens.analyze: capture files to the records of `ftplens log`, through the core's analyser."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Dict, List

import pytest

import ftplens
from ftplens._records import RECORD_TYPES, columns

from checkout import REPO, cli
SEED = REPO / "samples" / "seed-pasv.pcap"
HANDMADE = REPO / "tests" / "captures" / "handmade"
needs_samples = pytest.mark.skipif(not SEED.is_file(), reason="samples/ not found (not a clone)")


def seed_file() -> bytes:
    """The file the seed capture's server served, as tests/captures/make_seed.py wrote it."""
    sys.path.insert(0, str(REPO / "tests" / "captures"))
    try:
        from make_seed import FILE_CONTENT
    finally:
        sys.path.pop(0)
    return FILE_CONTENT  # type: ignore[no-any-return]


def cli_log(paths: List[Path], *args: str) -> List[Dict[str, Any]]:
    exe = cli()
    if exe is None:
        pytest.skip("no ftplens command built (cargo build --release) and none on PATH")
    proc = subprocess.run([exe, "log", "-j", "1", *args, *map(str, paths)], capture_output=True, timeout=120)
    assert proc.returncode in (0, 1, 3), proc.stderr.decode()
    return [json.loads(line) for line in proc.stdout.splitlines()]


@needs_samples
def test_the_sample_gives_its_transfer_with_the_served_files_sha256() -> None:
    content = seed_file()
    records = list(ftplens.analyze(SEED))
    transfers = [r for r in records if r["type"] == "transfer"]
    assert len(transfers) == 1
    t = transfers[0]
    assert (t["command"], t["path"], t["direction"], t["state"]) == ("RETR", "seed.txt", "download", "complete")
    assert t["bytes"] == len(content)
    assert t["sha256"] == hashlib.sha256(content).hexdigest()
    (session,) = [r for r in records if r["type"] == "session"]
    assert (session["user"], session["password"], session["login"]) == ("alice", "s3cret", "success")
    assert "file" not in t  # one input, as `ftplens log` with one capture


@needs_samples
def test_other_digests_are_the_served_files() -> None:
    content = seed_file()
    for hash_option in ("sha256,md5,sha1", ["md5", "sha1", "sha256"]):
        (t,) = [r for r in ftplens.analyze(SEED, hash=hash_option) if r["type"] == "transfer"]
        assert t["md5"] == hashlib.md5(content).hexdigest()
        assert t["sha1"] == hashlib.sha1(content).hexdigest()
        assert t["sha256"] == hashlib.sha256(content).hexdigest()
    (t,) = [r for r in ftplens.analyze(SEED, hash="md5") if r["type"] == "transfer"]
    assert "sha256" not in t and t["md5"] == hashlib.md5(content).hexdigest()
    with pytest.raises(ftplens.FtplensError):
        list(ftplens.analyze(SEED, hash="crc32"))


@needs_samples
def test_records_equal_the_commands_over_many_captures() -> None:
    paths = [SEED, *sorted(HANDMADE.glob("*.pcap"))]
    assert len(paths) > 10
    ours = list(ftplens.analyze(paths))
    assert ours == cli_log(paths)
    assert {r["type"] for r in ours} == set(RECORD_TYPES)
    assert all(r["file"] in map(str, paths) for r in ours)


@needs_samples
def test_options_reach_the_analyser_as_the_commands_flags() -> None:
    paths = sorted(HANDMADE.glob("*.pcap"))
    ours = list(ftplens.analyze(paths, hash=False, ftp_ports=[2121], limits={"max_line": 64}, late_window=0))
    theirs = cli_log(paths, "--no-hash", "--ftp-port", "2121", "--limit", "max_line=64", "--late-window", "0")
    assert ours == theirs
    assert not any("sha256" in r for r in ours)


@needs_samples
def test_every_key_and_value_is_declared_in_the_record_types() -> None:
    scalar = {str: str, int: int, float: float, bool: bool}
    for r in ftplens.analyze([SEED, *sorted(HANDMADE.glob("*.pcap"))]):
        declared = columns(r["type"])
        for key, value in r.items():
            assert key in declared, (r["type"], key)
            t = declared[key]
            if t in scalar:
                # JSON has one number type: a float column may hold an integral value.
                ok = isinstance(value, (int, float)) if t is float else type(value) is t
                assert ok or value is None, (r["type"], key, value)
            else:
                item = t.__args__[0]
                fields = getattr(item, "__annotations__", None)
                if fields is None:
                    assert all(type(v) is item for v in value), (r["type"], key, value)
                else:  # a list of TypedDicts: a transfer's listing entries
                    assert all(v.keys() <= fields.keys() for v in value), (r["type"], key, value)


def test_bad_inputs_and_options_are_clear_errors(tmp_path: Path) -> None:
    not_a_capture = tmp_path / "notes.pcap"
    not_a_capture.write_bytes(b"hello, this is not a capture\n" * 10)
    with pytest.raises(ftplens.CaptureError) as e:
        list(ftplens.analyze([not_a_capture, tmp_path / "missing.pcap"]))
    assert "not a pcap or pcapng capture" in str(e.value) and "missing.pcap" in str(e.value)
    assert [r["file"] for r in e.value.reports] == [str(not_a_capture), str(tmp_path / "missing.pcap")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert list(ftplens.analyze(not_a_capture, errors="warn")) == []
    assert len(caught) == 1
    assert list(ftplens.analyze(not_a_capture, errors="ignore")) == []
    with pytest.raises(ftplens.InvalidArgumentError):
        ftplens.analyze(not_a_capture, tcp_timeout=0)
    with pytest.raises(ftplens.InvalidArgumentError):
        ftplens.analyze(not_a_capture, limits={"no_such_limit": 3})
    with pytest.raises(ftplens.InvalidArgumentError):
        ftplens.analyze(not_a_capture, ftp_ports=[70000])


@needs_samples
def test_a_truncated_capture_warns_and_keeps_what_it_read(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    data = SEED.read_bytes()
    cut.write_bytes(data[: len(data) - 30])
    with pytest.warns(ftplens.PartialCaptureWarning):
        records = list(ftplens.analyze(cut))
    assert any(r["type"] == "ftp" for r in records)


@needs_samples
def test_stopping_early_frees_the_analysis() -> None:
    with ftplens.analyze([SEED] * 50) as a:
        first = next(a)
    assert first["type"] == "ftp"
    assert list(a) == []  # closed: nothing more, no hang


@needs_samples
def test_tables_when_pandas_and_arrow_are_installed() -> None:
    pytest.importorskip("pyarrow", reason="the arrow extra (pyarrow) is not installed")
    pd = pytest.importorskip("pandas", reason="the pandas extra is not installed")
    table = ftplens.analyze(SEED).to_arrow("transfer")
    assert table.num_rows == 1 and table.schema == ftplens.arrow_schema("transfer")
    df = ftplens.analyze(SEED).to_pandas("ftp")
    assert list(df["command"]) == ["USER", "PASS", "PASV", "RETR", "QUIT"]
    assert df["file_size"].isna().all()  # missing stays missing in an integer column
    assert isinstance(df["reply_code"].dtype, pd.ArrowDtype)
    assert list(df.columns) == list(columns("ftp"))


LISTINGS = REPO / "src" / "parse" / "listing" / "testdata"


@pytest.mark.skipif(not (LISTINGS / "proftpd" / "session.pcap").is_file(), reason="no listing fixtures")
def test_listing_entries_are_the_served_tree() -> None:
    # proftpd serving the tree of tests/captures/listings.py (its FILES: name, size, mode, mtime).
    sys.path.insert(0, str(REPO / "tests" / "captures"))
    try:
        from listings import FILES
    finally:
        sys.path.pop(0)
    recs = [r for r in ftplens.analyze(LISTINGS / "proftpd" / "session.pcap") if r["type"] == "transfer"]
    by_command: Dict[str, Any] = {r["command"]: r for r in recs}
    for command in ("LIST", "MLSD"):
        listing: List[ftplens.ListingEntry] = by_command[command]["listing"]
        by_name = {e["name"]: e for e in listing}
        assert by_name["sub"]["type"] == "dir"
        for name, size, *_ in FILES:
            assert (by_name[name]["type"], by_name[name]["size"]) == ("file", size), (command, name)
        assert {"link", "null"} <= set(by_name)
    assert by_name.keys() - {"link", "null", "sub", ".", ".."} == {f[0] for f in FILES}
    assert by_command["LIST"]["listing"][1] == {
        "name": "link", "type": "link", "size": 9, "modify": by_command["LIST"]["listing"][1]["modify"],
        "perm": "rwxrwxrwx", "target": "hello.txt"}
    assert "listing" not in {k for r in recs if r["command"] not in ("LIST", "NLST", "MLSD") for k in r}
